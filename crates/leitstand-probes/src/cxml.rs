//! The interface probe for the portal's cXML endpoint: a cXML
//! `ProfileRequest` (the cheapest request every cXML server must answer),
//! expecting a `ProfileResponse` with `Status code="200"`. It checks what
//! an HTTP status cannot: that the procurement interface itself accepts
//! the credentials and answers in cXML.

use std::time::Duration;

use crate::ProbeResult;
use crate::http::{Clients, HttpProbe};

/// The credentials of a cXML request header.
#[derive(Clone)]
pub struct Credentials {
    /// From: domain and identity (the buyer side).
    pub from: (String, String),
    /// To: domain and identity (the supplier / portal).
    pub to: (String, String),
    /// Sender: domain, identity and shared secret.
    pub sender: (String, String, String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("sender", &(&self.sender.0, &self.sender.1, "<secret>"))
            .finish()
    }
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
        credential(&c.from.0, &c.from.1, None),
        credential(&c.to.0, &c.to.1, None),
        credential(&c.sender.0, &c.sender.1, Some(&c.sender.2)),
    )
}

/// The value of attribute `name` in a start tag's text.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let at = tag.find(&format!(" {name}="))? + name.len() + 2;
    let quote = tag[at..].chars().next().filter(|q| matches!(q, '"' | '\''))?;
    let rest = &tag[at + 1..];
    rest.find(quote).map(|end| &rest[..end])
}

/// Checks a response document: a `Status` with code 200 and a
/// `ProfileResponse` element.
pub fn check_profile_response(body: &str) -> Result<(), String> {
    let Some(start) = body.find("<Status") else {
        return Err("the answer has no cXML Status".into());
    };
    let tag = &body[start..start + body[start..].find('>').unwrap_or(body.len() - start)];
    match attribute(tag, "code") {
        Some("200") => {}
        Some(code) => {
            let text = attribute(tag, "text").unwrap_or("");
            return Err(format!("cXML status {code} {text}").trim_end().to_string());
        }
        None => return Err("the cXML Status has no code".into()),
    }
    if !body.contains("<ProfileResponse") {
        return Err("status 200 but no ProfileResponse".into());
    }
    Ok(())
}

/// Sends the `ProfileRequest` to `url` and checks the answer.
pub async fn probe(
    clients: &Clients,
    url: &str,
    credentials: &Credentials,
    payload_id: &str,
    timestamp: &str,
    timeout: Duration,
) -> ProbeResult {
    let request = HttpProbe {
        method: reqwest::Method::POST,
        headers: vec![("content-type".into(), "text/xml; charset=utf-8".into())],
        body: Some(profile_request(credentials, payload_id, timestamp)),
        expect_status: vec![200],
        timeout,
        ..HttpProbe::get(url)
    };
    let (mut result, body) = crate::http::probe_with_body(clients, &request).await;
    if result.success
        && let Err(why) = check_profile_response(&body)
    {
        result.success = false;
        result.message = why;
    }
    result
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            from: ("NetworkID".into(), "AN01".into()),
            to: ("DUNS".into(), "123456789".into()),
            sender: ("NetworkID".into(), "AN01".into(), "s3cr<e>t".into()),
        }
    }

    #[test]
    fn the_request_is_escaped_cxml_and_the_secret_never_debug_printed() {
        let doc = profile_request(&creds(), "1@leitstand", "2026-11-23T10:00:00Z");
        assert!(doc.contains("<Sender><Credential domain=\"NetworkID\"><Identity>AN01</Identity><SharedSecret>s3cr&lt;e&gt;t</SharedSecret></Credential><UserAgent>Leitstand</UserAgent></Sender>"), "{doc}");
        assert!(doc.contains("<Request><ProfileRequest/></Request>"));
        assert!(!format!("{:?}", creds()).contains("s3cr"));
    }

    #[test]
    fn responses_are_judged() {
        let ok = r#"<cXML><Response><Status code="200" text="OK"/><ProfileResponse effectiveDate="2026-01-01"/></Response></cXML>"#;
        assert_eq!(check_profile_response(ok), Ok(()));
        let denied = r#"<cXML><Response><Status text="Unauthorized" code='401'/></Response></cXML>"#;
        assert_eq!(check_profile_response(denied), Err("cXML status 401 Unauthorized".into()));
        assert_eq!(check_profile_response("<html>maintenance</html>"), Err("the answer has no cXML Status".into()));
        // Not a quote: no panic on multi-byte characters, just no code.
        assert_eq!(check_profile_response("<Status code=é200é>"), Err("the cXML Status has no code".into()));
        let empty = r#"<cXML><Response><Status code="200"/></Response></cXML>"#;
        assert_eq!(check_profile_response(empty), Err("status 200 but no ProfileResponse".into()));
    }
}
