//! What the SIEM receives. One audit event → one RFC 5424 message:
//!
//! `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] BOM MSG`
//!
//! PRI is facility × 8 + severity (facility 13, "log audit", by default;
//! severity 5 notice for success, 4 warning for failure and denied). MSGID is
//! the event's action, so SIEM rules can route on it without parsing the
//! payload. The structured data carries the log index, outcome and retention
//! class; MSG is the stored event as JSON or a CEF record. Personal values
//! are pseudonyms already — nothing here sees a clear name or address.

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Payload format of the message part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Payload {
    /// The stored event as one JSON object (plus `index` and `logged_at`).
    Json,
    /// ArcSight Common Event Format, version 0.
    Cef,
}

/// Header fields that do not come from the event.
#[derive(Debug, Clone)]
pub struct SyslogOptions {
    /// Facility (0–23); 13 is "log audit".
    pub facility: u8,
    /// HOSTNAME field (the sending host's FQDN).
    pub hostname: String,
    /// APP-NAME field.
    pub app_name: String,
    /// SD-ID of the structured data element (`name@<private enterprise number>`).
    pub sd_id: String,
    /// Payload format.
    pub payload: Payload,
}

/// An audit event as forwarded.
#[derive(Debug, Clone)]
pub struct SiemEvent {
    /// Log index.
    pub index: u64,
    /// When the log sequenced it.
    pub logged_at: Timestamp,
    /// The stored event (canonical JSON object).
    pub event: Map<String, Value>,
}

impl SiemEvent {
    fn text(&self, key: &str) -> Option<&str> {
        self.event.get(key).and_then(Value::as_str)
    }

    fn outcome(&self) -> &str {
        self.text("outcome").unwrap_or("success")
    }
}

/// Printable US-ASCII without spaces, at most `max` characters, or `-`.
fn header_field(value: &str, max: usize) -> String {
    let cleaned: String = value.chars().filter(|c| c.is_ascii_graphic()).take(max).collect();
    if cleaned.is_empty() { "-".into() } else { cleaned }
}

/// An SD-PARAM value with `"`, `\` and `]` escaped (RFC 5424 §6.3.3) and
/// control characters blanked, so no value can end the line or the element.
fn sd_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

fn severity(outcome: &str) -> u8 {
    if outcome == "success" { 5 } else { 4 }
}

/// The RFC 5424 message for `event`.
pub fn message(event: &SiemEvent, options: &SyslogOptions) -> String {
    let pri = u16::from(options.facility.min(23)) * 8 + u16::from(severity(event.outcome()));
    let time = event.text("time").and_then(|t| t.parse::<Timestamp>().ok()).unwrap_or(event.logged_at);
    let action = event.text("action").unwrap_or("-");
    let sd = format!(
        "[{} index=\"{}\" outcome=\"{}\" retention=\"{}\"]",
        header_field(&options.sd_id, 32),
        event.index,
        sd_value(event.outcome()),
        sd_value(event.text("retention").unwrap_or("-")),
    );
    let body = match options.payload {
        Payload::Json => json_payload(event),
        Payload::Cef => cef_payload(event),
    };
    format!(
        "<{pri}>1 {} {} {} - {} {sd} \u{feff}{body}",
        time.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"),
        header_field(&options.hostname, 255),
        header_field(&options.app_name, 48),
        header_field(action, 32),
    )
}

fn json_payload(event: &SiemEvent) -> String {
    let mut object = Map::new();
    object.insert("index".into(), event.index.into());
    object.insert("logged_at".into(), event.logged_at.to_string().into());
    object.extend(event.event.clone());
    Value::Object(object).to_string()
}

/// CEF header field: `\` and `|` escaped, control characters blanked.
fn cef_header(value: &str) -> String {
    value.replace('\\', "\\\\").replace('|', "\\|").replace(char::is_control, " ")
}

/// CEF extension value: `\`, `=` and line breaks escaped, other control
/// characters blanked.
fn cef_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('=', "\\=")
        .replace('\r', "\\r")
        .replace('\n', "\\n")
        .replace(char::is_control, " ")
}

fn cef_payload(event: &SiemEvent) -> String {
    let action = event.text("action").unwrap_or("unknown");
    let severity = match event.outcome() {
        "denied" => 7,
        "failure" => 5,
        _ => 3,
    };
    let time = event.text("time").and_then(|t| t.parse::<Timestamp>().ok()).unwrap_or(event.logged_at);
    let mut ext = vec![
        ("rt", time.as_millisecond().to_string()),
        ("externalId", event.index.to_string()),
        ("suser", event.text("actor").unwrap_or("-").to_string()),
        ("outcome", event.outcome().to_string()),
        ("act", action.to_string()),
    ];
    // Custom strings carry their label, as CEF asks.
    let optional = [
        ("duser", "object", None),
        ("src", "source_ip", None),
        ("cs1", "tenant", Some(("cs1Label", "tenant"))),
        ("cs2", "correlation_id", Some(("cs2Label", "correlationId"))),
        ("cs3", "retention", Some(("cs3Label", "retention"))),
        ("cs4", "submitted_by", Some(("cs4Label", "submittedBy"))),
    ];
    for (key, field, label) in optional {
        if let Some(v) = event.text(field) {
            ext.push((key, v.to_string()));
            if let Some((label_key, name)) = label {
                ext.push((label_key, name.to_string()));
            }
        }
    }
    if let Some(details) = event.event.get("details").filter(|d| d.as_object().is_some_and(|m| !m.is_empty())) {
        ext.push(("msg", details.to_string()));
    }
    let ext: Vec<String> = ext.into_iter().map(|(k, v)| format!("{k}={}", cef_value(&v))).collect();
    format!(
        "CEF:0|Leitstand|Leitstand|{}|{}|{}|{severity}|{}",
        env!("CARGO_PKG_VERSION"),
        cef_header(action),
        cef_header(action),
        ext.join(" ")
    )
}

/// The message framed for the stream: `MSG-LEN SP MSG` (RFC 5425 §4.3,
/// octet counting).
pub fn frame(message: &str) -> Vec<u8> {
    let mut out = format!("{} ", message.len()).into_bytes();
    out.extend_from_slice(message.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn event(outcome: &str) -> SiemEvent {
        let stored = serde_json::json!({
            "time": "2026-11-23T10:15:00.25Z",
            "action": "approval.grant",
            "actor": "ps:0123456789abcdef0123456789abcdef",
            "submitted_by": "ps:fedcba9876543210fedcba9876543210 token:0190f0c0-0000-7000-8000-000000000001",
            "tenant": "bank-7",
            "object": "change|42=a",
            "outcome": outcome,
            "retention": "audit",
            "details": { "note": "line1\nline2 \"quoted\"]" }
        });
        SiemEvent {
            index: 4711,
            logged_at: "2026-11-23T10:15:01Z".parse().unwrap(),
            event: stored.as_object().unwrap().clone(),
        }
    }

    fn options(payload: Payload) -> SyslogOptions {
        SyslogOptions {
            facility: 13,
            hostname: "leitstand.example".into(),
            app_name: "leitstand".into(),
            sd_id: "leitstand@32473".into(),
            payload,
        }
    }

    #[test]
    fn rfc5424_header_and_json_payload() {
        let msg = message(&event("success"), &options(Payload::Json));
        let (head, body) = msg.split_once('\u{feff}').unwrap();
        assert_eq!(
            head,
            "<109>1 2026-11-23T10:15:00.250000Z leitstand.example leitstand - approval.grant \
             [leitstand@32473 index=\"4711\" outcome=\"success\" retention=\"audit\"] "
        );
        let json: Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["index"], 4711);
        assert_eq!(json["actor"], "ps:0123456789abcdef0123456789abcdef");
        assert_eq!(
            json["submitted_by"],
            "ps:fedcba9876543210fedcba9876543210 token:0190f0c0-0000-7000-8000-000000000001"
        );
        assert_eq!(json["details"]["note"], "line1\nline2 \"quoted\"]");
        // A failure is a warning: 13 * 8 + 4.
        assert!(message(&event("failure"), &options(Payload::Json)).starts_with("<108>1 "));
    }

    #[test]
    fn cef_escapes_header_and_extension() {
        let msg = message(&event("denied"), &options(Payload::Cef));
        let cef = msg.split_once('\u{feff}').unwrap().1;
        assert!(cef.starts_with("CEF:0|Leitstand|Leitstand|"), "{cef}");
        assert!(cef.contains("|approval.grant|approval.grant|7|rt=1795428900250 externalId=4711 "), "{cef}");
        assert!(cef.contains(" duser=change|42\\=a "), "{cef}");
        assert!(cef.contains(" cs1=bank-7 cs1Label=tenant "), "{cef}");
        assert!(cef.contains(" cs4=ps:fedcba9876543210fedcba9876543210 token:0190f0c0-"), "the submitter: {cef}");
        assert!(cef.contains(" cs4Label=submittedBy "), "{cef}");
        assert!(cef.ends_with(r#"msg={"note":"line1\\nline2 \\"quoted\\"]"}"#), "{cef}");
        assert!(!cef.contains('\n'), "one line: {cef}");
    }

    #[test]
    fn hostile_header_values_cannot_break_the_frame() {
        let mut e = event("success");
        e.event.insert("action".into(), "a b\nc".into());
        e.event.insert("retention".into(), "x\"] [evil".into());
        let msg = message(&e, &options(Payload::Json));
        assert!(msg.contains(" abc [leitstand@32473 "), "{msg}");
        assert!(msg.contains("retention=\"x\\\"\\] [evil\"]"), "{msg}");
        let framed = frame(&msg);
        let (len, rest) = std::str::from_utf8(&framed).unwrap().split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), rest.len());
    }
}
