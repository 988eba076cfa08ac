//! Why a probe failed, one variant per cause. The variant is what code
//! and tests look at (a refused connection is not a timeout, a wrong
//! status is not a malformed answer); the `Display` text is what people
//! read — on the probe's page, in its history and in the audit log — so it
//! names the target or the expectation, and every kind words the same
//! cause the same way.

use std::net::IpAddr;
use std::time::Duration;

/// Why a probe run failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProbeError {
    /// Nothing listens at the target: the connection was refused.
    #[error("{}", joined(doing, detail))]
    Refused {
        /// What was being done (`connect 127.0.0.1:443`).
        doing: String,
        /// The system's words.
        detail: String,
    },
    /// The connection could not be made for another reason (no route,
    /// reset, the host is down).
    #[error("{}", joined(doing, detail))]
    Connect {
        /// What was being done.
        doing: String,
        /// The system's words.
        detail: String,
    },
    /// No answer within the time limit (a silent or overloaded target).
    #[error("{}no answer within {after:?}", doing.as_deref().map(|d| format!("{d}: ")).unwrap_or_default())]
    Timeout {
        /// What was being done, if more than waiting for the answer.
        doing: Option<String>,
        /// The time limit.
        after: Duration,
    },
    /// The name does not resolve (no such name, the resolver failed).
    #[error("resolving {name}: {detail}")]
    Dns {
        /// The name.
        name: String,
        /// The resolver's words.
        detail: String,
    },
    /// The name resolves, but to no address.
    #[error("{name} has no address")]
    NoAddress {
        /// The name.
        name: String,
    },
    /// The name resolves, but to none of the expected addresses.
    #[error("{name} resolves to {}, expected {}", list(found), list(expected))]
    UnexpectedAddress {
        /// The name.
        name: String,
        /// Every address found (a hijacked or stale record shows where it points).
        found: Vec<IpAddr>,
        /// The accepted addresses.
        expected: Vec<IpAddr>,
    },
    /// The TLS handshake failed.
    #[error("{}", joined(doing, detail))]
    Tls {
        /// What was being done (`TLS handshake with portal.example:443`).
        doing: String,
        /// rustls's words.
        detail: String,
    },
    /// The certificate does not verify: expired, for another name, from an
    /// unknown issuer.
    #[error("certificate not valid: {detail}")]
    Certificate {
        /// Why, in the verifier's words.
        detail: String,
    },
    /// An answer with a status that is not expected.
    #[error("status {status}, expected {}", expected_status(expected))]
    Status {
        /// The status.
        status: u16,
        /// The accepted statuses; empty: 200–399.
        expected: Vec<u16>,
    },
    /// The body lacks the text it must contain.
    #[error("the body does not contain {keyword:?}")]
    BodyMismatch {
        /// The text.
        keyword: String,
    },
    /// The JSON value at a pointer is not the expected one.
    #[error("JSON {pointer} is {}", found.as_ref().map_or_else(|| "missing".to_string(), |f| format!("{f}, expected {expected}")))]
    JsonMismatch {
        /// The JSON pointer (`/status`).
        pointer: String,
        /// What is there, as JSON (`None`: nothing).
        found: Option<String>,
        /// What should be, as JSON.
        expected: String,
    },
    /// The cXML answer carries a status other than 200.
    #[error("{}", format!("cXML status {code} {text}").trim_end())]
    CxmlStatus {
        /// The `code` attribute.
        code: String,
        /// The `text` attribute.
        text: String,
    },
    /// The answer is not in the format the probe speaks: not HTTP, not
    /// JSON, not cXML, not a DNS message, not TLS.
    #[error("{detail}")]
    Malformed {
        /// What is wrong with it.
        detail: String,
    },
    /// The answer is longer than the probe reads.
    #[error("the body is longer than {limit} bytes")]
    TooLarge {
        /// The most that is read, in bytes.
        limit: usize,
    },
    /// The answer broke off while it was read.
    #[error("reading the body: {detail}")]
    Read {
        /// Why.
        detail: String,
    },
    /// The request failed for another reason (a redirect loop, a bad
    /// header the server refused to take).
    #[error("{}", joined(doing, detail))]
    Request {
        /// What was being done.
        doing: String,
        /// The library's words.
        detail: String,
    },
    /// The probe could not be set up (no trusted roots, no socket).
    #[error("{detail}")]
    Setup {
        /// Why.
        detail: String,
    },
}

fn joined(doing: &str, detail: &str) -> String {
    match (doing.is_empty(), detail.is_empty()) {
        (_, true) => doing.to_string(),
        (true, false) => detail.to_string(),
        (false, false) => format!("{doing}: {detail}"),
    }
}

fn list(ips: &[IpAddr]) -> String {
    ips.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(", ")
}

fn expected_status(codes: &[u16]) -> String {
    if codes.is_empty() {
        "200–399".into()
    } else {
        codes.iter().map(u16::to_string).collect::<Vec<_>>().join(" or ")
    }
}

/// An error with its causes, `: `-separated (a library's top message alone
/// — reqwest's "error sending request" — says little).
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Sorts an I/O error of connecting: refused, timed out (by the system) or
/// otherwise failed.
pub(crate) fn connecting(doing: String, e: &std::io::Error) -> ProbeError {
    let detail = e.to_string();
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => ProbeError::Refused { doing, detail },
        _ => ProbeError::Connect { doing, detail },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_cause_and_what_was_expected() {
        let status = ProbeError::Status { status: 503, expected: vec![] };
        assert_eq!(status.to_string(), "status 503, expected 200–399");
        let status = ProbeError::Status { status: 404, expected: vec![200, 204] };
        assert_eq!(status.to_string(), "status 404, expected 200 or 204");
        let timeout = ProbeError::Timeout { doing: Some("connect a:1".into()), after: Duration::from_millis(500) };
        assert_eq!(timeout.to_string(), "connect a:1: no answer within 500ms");
        let timeout = ProbeError::Timeout { doing: None, after: Duration::from_secs(2) };
        assert_eq!(timeout.to_string(), "no answer within 2s");
        let json =
            ProbeError::JsonMismatch { pointer: "/db/ok".into(), found: Some("true".into()), expected: "false".into() };
        assert_eq!(json.to_string(), "JSON /db/ok is true, expected false");
        let json = ProbeError::JsonMismatch { pointer: "/x".into(), found: None, expected: "1".into() };
        assert_eq!(json.to_string(), "JSON /x is missing");
        let cxml = ProbeError::CxmlStatus { code: "401".into(), text: String::new() };
        assert_eq!(cxml.to_string(), "cXML status 401");
        let dns = ProbeError::UnexpectedAddress {
            name: "portal.example".into(),
            found: vec!["127.0.0.1".parse().unwrap_or(IpAddr::from([0; 4]))],
            expected: vec![IpAddr::from([192, 0, 2, 7]), IpAddr::from([192, 0, 2, 8])],
        };
        assert_eq!(dns.to_string(), "portal.example resolves to 127.0.0.1, expected 192.0.2.7, 192.0.2.8");
        let refused = connecting("connect a:1".into(), &std::io::ErrorKind::ConnectionRefused.into());
        assert!(matches!(refused, ProbeError::Refused { .. }), "{refused:?}");
    }
}
