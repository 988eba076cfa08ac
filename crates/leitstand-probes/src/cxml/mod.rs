//! `kind = "cxml"`: the interface probe for the portal's cXML endpoint —
//! a cXML `ProfileRequest` (the cheapest request every cXML server must
//! answer), expecting a `ProfileResponse` with `Status code="200"`. It
//! checks what an HTTP status cannot: that the procurement interface
//! itself accepts the credentials and answers in cXML.

use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::check::{Outcome, Probe, Run};
use crate::client::{self, BODY_LIMIT, Clients};
use crate::config::{FieldError, Secret};
use crate::{ProbeError, ProbeResult};

/// The keys of a `cxml` probe.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// cxml: the request header's credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cxml: Option<Credentials>,
}

/// cXML request header credentials. The shared secret never prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// From: credential domain (e.g. `NetworkID`).
    pub from_domain: String,
    /// From: identity.
    pub from_identity: String,
    /// To: credential domain.
    pub to_domain: String,
    /// To: identity.
    pub to_identity: String,
    /// Sender: credential domain.
    pub sender_domain: String,
    /// Sender: identity.
    pub sender_identity: String,
    /// Sender: shared secret (never printed or logged).
    pub shared_secret: Secret,
}

/// The cXML endpoint and the credentials to ask it with.
#[derive(Debug, Clone, PartialEq)]
pub struct CxmlProbe {
    /// The cXML endpoint.
    pub url: String,
    /// The request header's credentials.
    pub credentials: Credentials,
}

fn xml(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

fn credential(domain: &str, identity: &str, secret: Option<&str>) -> String {
    let secret = secret.map(|s| format!("<SharedSecret>{}</SharedSecret>", xml(s))).unwrap_or_default();
    format!("<Credential domain=\"{}\"><Identity>{}</Identity>{secret}</Credential>", xml(domain), xml(identity))
}

/// The request document. `timestamp` is RFC 3339.
pub fn profile_request(c: &Credentials, payload_id: &str, timestamp: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE cXML SYSTEM \"http://xml.cxml.org/schemas/cXML/1.2.063/cXML.dtd\">\n\
         <cXML payloadID=\"{}\" timestamp=\"{}\" xml:lang=\"de-DE\"><Header>\
         <From>{}</From><To>{}</To><Sender>{}<UserAgent>Leitstand</UserAgent></Sender>\
         </Header><Request><ProfileRequest/></Request></cXML>\n",
        xml(payload_id),
        xml(timestamp),
        credential(&c.from_domain, &c.from_identity, None),
        credential(&c.to_domain, &c.to_identity, None),
        credential(&c.sender_domain, &c.sender_identity, Some(c.shared_secret.expose())),
    )
}

/// The value of attribute `name` in a start tag's text.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let at = tag.find(&format!(" {name}="))? + name.len() + 2;
    let quote = tag[at..].chars().next().filter(|q| matches!(q, '"' | '\''))?;
    let rest = &tag[at + 1..];
    rest.find(quote).map(|end| &rest[..end])
}

fn malformed(detail: &str) -> ProbeError {
    ProbeError::Malformed { detail: detail.into() }
}

/// Checks a response document: a `Status` with code 200 and a
/// `ProfileResponse` element.
pub fn check_profile_response(body: &str) -> Result<(), ProbeError> {
    let Some(start) = body.find("<Status") else {
        return Err(malformed("the answer has no cXML Status"));
    };
    let tag = &body[start..start + body[start..].find('>').unwrap_or(body.len() - start)];
    match attribute(tag, "code") {
        Some("200") => {}
        Some(code) => {
            let text = attribute(tag, "text").unwrap_or("");
            return Err(ProbeError::CxmlStatus { code: code.into(), text: text.into() });
        }
        None => return Err(malformed("the cXML Status has no code")),
    }
    if !body.contains("<ProfileResponse") {
        return Err(malformed("status 200 but no ProfileResponse"));
    }
    Ok(())
}

impl CxmlProbe {
    /// Sends the `ProfileRequest` (payload id and timestamp as given)
    /// within `timeout` and checks the answer.
    pub async fn check(&self, clients: &Clients, payload_id: &str, timestamp: &str, timeout: Duration) -> ProbeResult {
        let start = Instant::now();
        let request = clients
            .follow()
            .post(&self.url)
            .header("content-type", "text/xml; charset=utf-8")
            .body(profile_request(&self.credentials, payload_id, timestamp));
        let response = match client::send(request, timeout).await {
            Ok(r) => r,
            Err(e) => return ProbeResult::failed(start.elapsed(), None, e),
        };
        let status = response.status().as_u16();
        let verdict = match client::read_body(response, BODY_LIMIT, timeout).await {
            Ok(_) if status != 200 => Err(ProbeError::Status { status, expected: vec![200] }),
            Ok(body) => check_profile_response(&body),
            Err(e) => Err(e),
        };
        match verdict {
            Ok(()) => ProbeResult::ok(start.elapsed(), Some(status)),
            Err(e) => ProbeResult::failed(start.elapsed(), Some(status), e),
        }
    }
}

impl Probe for CxmlProbe {
    type Config = Config;

    fn from_config(target: &str, c: &Config) -> Result<Self, Vec<FieldError>> {
        if client::http_url(target).is_none() {
            return Err(vec![FieldError::new("target", format!("{target:?} is not an http(s):// URL"))]);
        }
        match &c.cxml {
            None => Err(vec![FieldError::new(
                "cxml",
                "the credentials are needed: [monitoring.probes.cxml] with from_domain, …, shared_secret",
            )]),
            Some(credentials) => Ok(Self { url: target.into(), credentials: credentials.clone() }),
        }
    }

    fn target(&self) -> &str {
        &self.url
    }

    async fn run(&self, run: &Run<'_>) -> Outcome {
        let payload_id = format!("{}@leitstand", run.id);
        self.check(run.clients, &payload_id, run.now_rfc3339, run.timeout).await.into()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            from_domain: "NetworkID".into(),
            from_identity: "AN01".into(),
            to_domain: "DUNS".into(),
            to_identity: "123456789".into(),
            sender_domain: "NetworkID".into(),
            sender_identity: "AN01".into(),
            shared_secret: "s3cr<e>t".into(),
        }
    }

    #[test]
    fn the_request_is_escaped_cxml_and_the_secret_never_debug_printed() {
        let doc = profile_request(&creds(), "1@leitstand", "2026-11-23T10:00:00Z");
        assert!(doc.contains("<Sender><Credential domain=\"NetworkID\"><Identity>AN01</Identity><SharedSecret>s3cr&lt;e&gt;t</SharedSecret></Credential><UserAgent>Leitstand</UserAgent></Sender>"), "{doc}");
        assert!(doc.contains("<Request><ProfileRequest/></Request>"));
        assert!(!format!("{:?}", creds()).contains("s3cr"));
    }

    fn judged(body: &str) -> Result<(), String> {
        check_profile_response(body).map_err(|e| e.to_string())
    }

    #[test]
    fn responses_are_judged() {
        let ok = r#"<cXML><Response><Status code="200" text="OK"/><ProfileResponse effectiveDate="2026-01-01"/></Response></cXML>"#;
        assert_eq!(judged(ok), Ok(()));
        let denied = r#"<cXML><Response><Status text="Unauthorized" code='401'/></Response></cXML>"#;
        assert_eq!(judged(denied), Err("cXML status 401 Unauthorized".into()));
        assert_eq!(judged("<html>maintenance</html>"), Err("the answer has no cXML Status".into()));
        // Not a quote: no panic on multi-byte characters, just no code.
        assert_eq!(judged("<Status code=é200é>"), Err("the cXML Status has no code".into()));
        let empty = r#"<cXML><Response><Status code="200"/></Response></cXML>"#;
        assert_eq!(judged(empty), Err("status 200 but no ProfileResponse".into()));
    }
}
