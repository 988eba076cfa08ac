//! Audit events as clients submit them and as the log stores them.
//!
//! A batch arrives as a JSON array or as NDJSON. Every event is checked
//! field by field — errors name the event's position and the field — and
//! personal values are replaced by pseudonyms before the event is encoded.
//! The stored form is canonical JSON (fixed field order, no whitespace) whose
//! bytes are what the log entry commits to.

use std::collections::HashSet;
use std::net::IpAddr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::entry::RetentionClass;
use crate::pseudonym::Pseudonymiser;

/// How submitted events become stored ones.
#[derive(Debug, Clone)]
pub struct EventRules {
    /// Keys in `details` (at any depth, case-insensitive) whose values are
    /// personal and replaced by pseudonyms.
    pub personal_detail_keys: HashSet<String>,
    /// `object` prefixes after which the rest is personal (`user:anna`).
    pub personal_object_prefixes: Vec<String>,
    /// Largest stored event in bytes.
    pub max_event_bytes: usize,
    /// How far in the future an event's time may lie (clock skew).
    pub max_future: jiff::SignedDuration,
    /// Classes this installation does not record (the policy's
    /// `retention.<class>.allowed_in_production = false`: debug logs).
    pub refused_classes: Vec<RetentionClass>,
}

impl Default for EventRules {
    fn default() -> Self {
        let keys = [
            "email",
            "e_mail",
            "mail",
            "user",
            "username",
            "user_name",
            "name",
            "person",
            "ip",
            "ip_address",
            "phone",
            "iban",
        ];
        Self {
            personal_detail_keys: keys.into_iter().map(String::from).collect(),
            personal_object_prefixes: vec!["user:".into()],
            max_event_bytes: 16 * 1024,
            max_future: jiff::SignedDuration::from_mins(10),
            refused_classes: vec![RetentionClass::Debug],
        }
    }
}

impl EventRules {
    /// The stored form of an actor: a pseudonym, unless it names no person.
    pub fn actor(&self, p: &Pseudonymiser, actor: &str) -> String {
        if is_non_personal_actor(actor) { actor.to_string() } else { p.pseudonym(actor) }
    }

    /// The stored form of an object: what follows a personal prefix
    /// (`user:`) becomes a pseudonym.
    pub fn object(&self, p: &Pseudonymiser, object: &str) -> String {
        match self.personal_object_prefixes.iter().find(|prefix| object.starts_with(prefix.as_str())) {
            Some(prefix) => format!("{prefix}{}", p.pseudonym(&object[prefix.len()..])),
            None => object.to_string(),
        }
    }
}

/// An event as a client submits it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmittedEvent {
    /// When it happened (RFC 3339); the time of arrival if absent.
    #[serde(default)]
    pub time: Option<String>,
    /// Who acted: a user name (pseudonymised), or `system`, `anonymous`,
    /// `service:NAME` (kept as they are).
    pub actor: String,
    /// What happened, `domain.verb` (`auth.login`, `order.create`).
    pub action: String,
    /// The tenant (slug) concerned.
    #[serde(default)]
    pub tenant: Option<String>,
    /// What was acted on (`order:4711`; `user:NAME` is pseudonymised).
    #[serde(default)]
    pub object: Option<String>,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    /// The client's IP address (pseudonymised).
    #[serde(default)]
    pub source_ip: Option<String>,
    /// Correlation or trace id.
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// Retention class (`audit`, `security`, `application`, `access`,
    /// `performance`, `debug`); `audit` if absent.
    #[serde(default)]
    pub retention: Option<String>,
    /// Free details; personal keys are pseudonymised.
    #[serde(default)]
    pub details: Option<Map<String, Value>>,
    /// Who submitted the event, set by the receiver from the caller's
    /// credentials, never by the client: `NAME` (pseudonymised) followed by
    /// ` token:ID` or ` via:cli` when it came that way.
    #[serde(skip)]
    #[schemars(skip)]
    pub submitted_by: Option<String>,
}

/// The action domains (`domain.verb`) of Leitstand's own events. Submitted
/// events may not use them, nor the actor `system`: an event that reads as
/// Leitstand's own — a sign-in, a role change, a verification — must be
/// Leitstand's own. Domains of capabilities still to come are reserved
/// already, so no portal starts using them.
pub const RESERVED_DOMAINS: &[&str] = &[
    "account",
    "alert",
    "audit",
    "auth",
    "backup",
    "change",
    "channel",
    "deployment",
    "flag",
    "gate",
    "incident",
    "leitstand",
    "notification",
    "oncall",
    "probe",
    "report",
    "restore",
    "role",
    "rule",
    "silence",
    "statuspage",
    "tenant",
    "token",
    "totp",
    "user",
    "witness",
];

/// Whether `action` lies in a domain reserved for Leitstand's own events.
pub fn is_reserved_action(action: &str) -> bool {
    action.split_once('.').is_some_and(|(domain, _)| RESERVED_DOMAINS.contains(&domain))
}

/// The actor reserved for Leitstand itself.
pub const RESERVED_ACTOR: &str = "system";

/// Checks that a submitted event (at `index` in its batch) does not pass
/// itself off as one of Leitstand's own.
pub fn check_not_reserved(index: usize, event: &SubmittedEvent) -> Result<(), EventError> {
    if is_reserved_action(&event.action) {
        let domain = event.action.split('.').next().unwrap_or_default();
        return Err(fail(
            index,
            "action",
            format!(
                "the domain {domain:?} is Leitstand's own; name the portal's events in a domain of their own (e.g. \"portal.{}\")",
                event.action
            ),
        ));
    }
    if event.actor == RESERVED_ACTOR {
        return Err(fail(index, "actor", "\"system\" is Leitstand itself; use \"service:NAME\" for a service"));
    }
    Ok(())
}

/// An event as stored: pseudonymised, in canonical field order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// When it happened.
    pub time: Timestamp,
    /// What happened.
    pub action: String,
    /// Who (pseudonym or a non-personal actor).
    pub actor: String,
    /// Who submitted it over the API (pseudonym, and the token): absent on
    /// Leitstand's own events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_by: Option<String>,
    /// Tenant slug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Object acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    /// Pseudonym of the source address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// Correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// Retention class.
    pub retention: String,
    /// Details (pseudonymised).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub details: Map<String, Value>,
}

/// An event ready to be appended: its class and canonical bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedEvent {
    /// Retention class.
    pub class: RetentionClass,
    /// The stored event.
    pub event: StoredEvent,
    /// Its canonical JSON.
    pub bytes: Vec<u8>,
}

/// What is wrong with one event of a batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {index}: {field}: {message}")]
pub struct EventError {
    /// Position in the batch (0-based).
    pub index: usize,
    /// The field (`action`, `details.email`), or `-` for the whole event.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// Most events in one batch.
pub const MAX_BATCH: usize = 10_000;

fn fail(index: usize, field: &str, message: impl Into<String>) -> EventError {
    EventError { index, field: field.to_string(), message: message.into() }
}

/// A parser error as an event error. serde_json ends its message with
/// " at line L column C", counted from the start of what it parsed; syntax
/// errors get the position in the whole body (`first_line` is where the
/// parsed text starts), type errors the field instead.
fn syntax(index: usize, first_line: usize, e: &serde_json::Error, path: &str) -> EventError {
    let field = if path.is_empty() || path == "." { "-".to_string() } else { path.trim_start_matches('.').to_string() };
    let text = e.to_string();
    let what = text.rsplit_once(" at line ").map_or(text.as_str(), |(what, _)| what);
    let message = match e.classify() {
        serde_json::error::Category::Data => what.to_string(),
        _ => format!("invalid JSON at line {}, column {}: {what}", first_line + e.line() - 1, e.column()),
    };
    EventError { index, field, message }
}

/// Parses a batch: a JSON array of events, one JSON object, or NDJSON (one
/// event per line). All or nothing: the first error is returned.
pub fn parse_batch(body: &[u8]) -> Result<Vec<SubmittedEvent>, EventError> {
    let text = std::str::from_utf8(body).map_err(|e| fail(0, "-", format!("the body is not UTF-8 ({e})")))?;
    let trimmed = text.trim_start();
    let events = if trimmed.starts_with('[') {
        let de = &mut serde_json::Deserializer::from_str(text);
        let events: Vec<SubmittedEvent> = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let (index, field) = split_path(&path);
            syntax(index, 1, e.inner(), &field)
        })?;
        events
    } else {
        let mut events = Vec::new();
        for (line_no, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let index = events.len();
            let de = &mut serde_json::Deserializer::from_str(line);
            let event: SubmittedEvent = serde_path_to_error::deserialize(de)
                .map_err(|e| syntax(index, line_no + 1, e.inner(), &e.path().to_string()))?;
            events.push(event);
            if events.len() > MAX_BATCH {
                break;
            }
        }
        events
    };
    if events.is_empty() {
        return Err(fail(0, "-", "the batch holds no events"));
    }
    if events.len() > MAX_BATCH {
        return Err(fail(MAX_BATCH, "-", format!("a batch holds at most {MAX_BATCH} events")));
    }
    Ok(events)
}

/// `[3].details.x` → (3, `details.x`).
fn split_path(path: &str) -> (usize, String) {
    let Some(rest) = path.strip_prefix('[') else { return (0, path.to_string()) };
    let Some((index, field)) = rest.split_once(']') else { return (0, path.to_string()) };
    (index.parse().unwrap_or(0), field.to_string())
}

fn check_text(index: usize, field: &str, value: &str, max: usize) -> Result<(), EventError> {
    if value.is_empty() {
        return Err(fail(index, field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(fail(index, field, format!("must be at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(fail(index, field, "must not contain control characters"));
    }
    Ok(())
}

fn check_action(index: usize, action: &str) -> Result<(), EventError> {
    check_text(index, "action", action, 100)?;
    let part_ok = |p: &str| {
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    };
    let parts: Vec<&str> = action.split('.').collect();
    if parts.len() < 2 || !parts.iter().all(|p| part_ok(p)) {
        return Err(fail(index, "action", format!("{action:?} is not of the form domain.verb (a-z, 0-9, _ and -)")));
    }
    Ok(())
}

/// Actors that name no person and are kept in clear.
pub fn is_non_personal_actor(actor: &str) -> bool {
    actor == "system" || actor == "anonymous" || actor.starts_with("service:") || actor.starts_with("token:")
}

fn pseudonymise_value(p: &Pseudonymiser, value: &mut Value) {
    match value {
        Value::String(s) => *s = p.pseudonym(s),
        Value::Number(n) => *value = Value::String(p.pseudonym(&n.to_string())),
        Value::Array(items) => items.iter_mut().for_each(|v| pseudonymise_value(p, v)),
        Value::Object(map) => map.values_mut().for_each(|v| pseudonymise_value(p, v)),
        Value::Bool(_) | Value::Null => {}
    }
}

fn pseudonymise_details(rules: &EventRules, p: &Pseudonymiser, map: &mut Map<String, Value>) {
    for (key, value) in map.iter_mut() {
        if rules.personal_detail_keys.contains(&key.to_ascii_lowercase()) {
            pseudonymise_value(p, value);
        } else {
            match value {
                Value::Object(inner) => pseudonymise_details(rules, p, inner),
                Value::Array(items) => {
                    for item in items {
                        if let Value::Object(inner) = item {
                            pseudonymise_details(rules, p, inner);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

impl SubmittedEvent {
    /// Checks the event (at `index` in its batch), replaces personal values
    /// by pseudonyms and encodes it canonically. `now` stands in for a
    /// missing time.
    pub fn prepare(
        self,
        index: usize,
        now: Timestamp,
        rules: &EventRules,
        p: &Pseudonymiser,
    ) -> Result<PreparedEvent, EventError> {
        let time = match &self.time {
            None => now,
            Some(t) => t.parse::<Timestamp>().map_err(|e| fail(index, "time", format!("not an RFC 3339 time: {e}")))?,
        };
        let time = time.round(jiff::Unit::Microsecond).map_err(|e| fail(index, "time", e.to_string()))?;
        if time > now + rules.max_future {
            return Err(fail(index, "time", format!("{time} lies more than {:#} in the future", rules.max_future)));
        }
        check_action(index, &self.action)?;
        check_text(index, "actor", &self.actor, 256)?;
        let actor = rules.actor(p, &self.actor);
        let tenant = match self.tenant {
            Some(t) => Some(
                leitstand_core::tenant::TenantSlug::parse(t)
                    .map_err(|e| fail(index, "tenant", e.reason))?
                    .as_str()
                    .to_string(),
            ),
            None => None,
        };
        let object = match self.object {
            Some(o) => {
                check_text(index, "object", &o, 256)?;
                Some(rules.object(p, &o))
            }
            None => None,
        };
        if let Err(reason) = self.outcome.parse::<leitstand_core::Outcome>() {
            return Err(fail(index, "outcome", reason));
        }
        let source_ip = match self.source_ip {
            Some(ip) => {
                let parsed: IpAddr =
                    ip.parse().map_err(|_| fail(index, "source_ip", format!("{ip:?} is not an IP address")))?;
                Some(p.pseudonym(&parsed.to_string()))
            }
            None => None,
        };
        if let Some(c) = &self.correlation_id {
            check_text(index, "correlation_id", c, 128)?;
        }
        let class = match &self.retention {
            None => RetentionClass::Audit,
            Some(name) => RetentionClass::parse(name).ok_or_else(|| {
                fail(
                    index,
                    "retention",
                    format!("{name:?} is not one of audit, security, application, access, performance, debug"),
                )
            })?,
        };
        if rules.refused_classes.contains(&class) {
            return Err(fail(
                index,
                "retention",
                format!(
                    "{:?} events are not recorded in production (retention.{0}.allowed_in_production = false)",
                    class.as_str()
                ),
            ));
        }
        let mut details = self.details.unwrap_or_default();
        pseudonymise_details(rules, p, &mut details);
        let submitted_by = self.submitted_by.map(|by| {
            let (who, via) = by.split_once(' ').map_or((by.as_str(), None), |(w, v)| (w, Some(v)));
            let who = rules.actor(p, who);
            via.map_or_else(|| who.clone(), |via| format!("{who} {via}"))
        });
        let event = StoredEvent {
            time,
            action: self.action,
            actor,
            submitted_by,
            tenant,
            object,
            outcome: self.outcome,
            source_ip,
            correlation_id: self.correlation_id,
            retention: class.as_str().to_string(),
            details,
        };
        let bytes = serde_json::to_vec(&event).map_err(|e| fail(index, "-", e.to_string()))?;
        if bytes.len() > rules.max_event_bytes {
            return Err(fail(
                index,
                "details",
                format!("the event has {} bytes, at most {} are allowed", bytes.len(), rules.max_event_bytes),
            ));
        }
        Ok(PreparedEvent { class, event, bytes })
    }
}

/// Checks and prepares a whole batch; the first error stops it.
pub fn prepare_batch(
    events: Vec<SubmittedEvent>,
    now: Timestamp,
    rules: &EventRules,
    p: &Pseudonymiser,
) -> Result<Vec<PreparedEvent>, EventError> {
    events.into_iter().enumerate().map(|(i, e)| e.prepare(i, now, rules, p)).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn now() -> Timestamp {
        "2026-11-23T10:00:00Z".parse().unwrap()
    }

    fn prepare(body: &str) -> Result<Vec<PreparedEvent>, EventError> {
        prepare_batch(parse_batch(body.as_bytes())?, now(), &EventRules::default(), &Pseudonymiser::new([9; 32]))
    }

    #[test]
    fn array_ndjson_and_single_object() {
        let one = r#"{"actor":"anna","action":"order.create","outcome":"success"}"#;
        assert_eq!(prepare(one).unwrap().len(), 1);
        assert_eq!(prepare(&format!("[{one},{one}]")).unwrap().len(), 2);
        assert_eq!(prepare(&format!("{one}\n\n{one}\n{one}\n")).unwrap().len(), 3);
    }

    #[test]
    fn personal_values_never_reach_the_stored_bytes() {
        let body = r#"{"time":"2026-11-23T09:59:00.1234567Z","actor":"anna.schmidt","action":"auth.login","tenant":"bund-a",
            "object":"user:anna.schmidt","outcome":"success","source_ip":"203.0.113.9","correlation_id":"c-1",
            "retention":"security","details":{"Email":"anna@example.org","nested":{"phone":4930123},"list":[{"iban":"DE02"}],"count":3}}"#;
        let e = prepare(&body.replace('\n', "")).unwrap().remove(0);
        let text = String::from_utf8(e.bytes.clone()).unwrap();
        for secret in ["anna", "203.0.113.9", "4930123", "DE02"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(e.class, RetentionClass::Security);
        assert!(
            text.starts_with(r#"{"time":"2026-11-23T09:59:00.123457Z","action":"auth.login","actor":"ps:"#),
            "{text}"
        );
        assert!(text.contains(r#""count":3"#), "non-personal details stay: {text}");
        assert!(text.contains(r#""object":"user:ps:"#));
        // Canonical: parsing and re-encoding gives the same bytes.
        let back: StoredEvent = serde_json::from_slice(&e.bytes).unwrap();
        assert_eq!(serde_json::to_vec(&back).unwrap(), e.bytes);
    }

    #[test]
    fn non_personal_actors_stay_readable() {
        let e = prepare(r#"{"actor":"system","action":"config.reload","outcome":"success"}"#).unwrap().remove(0);
        assert_eq!(e.event.actor, "system");
        assert!(e.event.time == now(), "a missing time is the time of arrival");
    }

    #[test]
    fn errors_name_event_and_field() {
        let ok = r#"{"actor":"a","action":"x.y","outcome":"success"}"#;
        let cases = [
            (format!("[{ok},{{\"actor\":\"a\",\"action\":\"login\",\"outcome\":\"success\"}}]"), 1, "action"),
            (format!("[{ok},{ok},{{\"actor\":\"a\",\"action\":\"x.y\",\"outcome\":\"ok\"}}]"), 2, "outcome"),
            (format!("[{ok},{{\"actor\":\"a\",\"action\":\"x.y\",\"outcome\":\"success\",\"extra\":1}}]"), 1, "extra"),
            (format!("[{ok},{{\"actor\":5,\"action\":\"x.y\",\"outcome\":\"success\"}}]"), 1, "actor"),
            (
                format!("{ok}\n{{\"actor\":\"a\",\"action\":\"x.y\",\"outcome\":\"success\",\"source_ip\":\"nope\"}}"),
                1,
                "source_ip",
            ),
            (
                format!("{ok}\n{{\"actor\":\"a\",\"action\":\"x.y\",\"outcome\":\"success\",\"tenant\":\"Bund A\"}}"),
                1,
                "tenant",
            ),
            (
                format!(
                    "{ok}\n{{\"actor\":\"a\",\"action\":\"x.y\",\"outcome\":\"success\",\"retention\":\"forever\"}}"
                ),
                1,
                "retention",
            ),
            (
                format!(
                    "{ok}\n{{\"actor\":\"a\",\"action\":\"x.y\",\"outcome\":\"success\",\"time\":\"2027-01-01T00:00:00Z\"}}"
                ),
                1,
                "time",
            ),
            (format!("{ok}\n{{\"actor\":\"\",\"action\":\"x.y\",\"outcome\":\"success\"}}"), 1, "actor"),
            (format!("{ok}\n{ok}\n{{\"actor\":"), 2, "actor"),
            (String::from("[]"), 0, "-"),
        ];
        for (body, index, field) in cases {
            let err = prepare(&body).unwrap_err();
            assert_eq!((err.index, err.field.as_str()), (index, field), "{body}: {err}");
        }
        let err = prepare(&format!("{ok}\n{{\"actor\":")).unwrap_err();
        assert!(err.message.contains("line 2"), "{err}");
    }

    #[test]
    fn the_submitter_is_stored_pseudonymised_and_old_events_keep_their_bytes() {
        let one = r#"{"actor":"anna","action":"order.create","outcome":"success"}"#;
        let mut events = parse_batch(one.as_bytes()).unwrap();
        let plain = events[0].clone().prepare(0, now(), &EventRules::default(), &Pseudonymiser::new([9; 32])).unwrap();
        assert!(!String::from_utf8(plain.bytes).unwrap().contains("submitted_by"), "absent unless set");
        events[0].submitted_by = Some("bernd token:0190f0c0-0000-7000-8000-000000000001".into());
        let e = prepare_batch(events, now(), &EventRules::default(), &Pseudonymiser::new([9; 32])).unwrap().remove(0);
        let text = String::from_utf8(e.bytes).unwrap();
        assert!(!text.contains("bernd"), "{text}");
        assert!(text.contains(r#""submitted_by":"ps:"#) && text.contains(" token:0190f0c0-"), "{text}");
        let forged = r#"{"actor":"anna","action":"order.create","outcome":"success","submitted_by":"x"}"#;
        assert_eq!(parse_batch(forged.as_bytes()).unwrap_err().field, "submitted_by", "clients cannot set it");
    }

    #[test]
    fn leitstands_own_domains_and_actor_are_reserved() {
        let event = |actor: &str, action: &str| SubmittedEvent {
            actor: actor.into(),
            action: action.into(),
            outcome: "success".into(),
            ..Default::default()
        };
        for action in ["user.create", "auth.login", "audit.verify", "incident.opened", "token.create"] {
            assert_eq!(check_not_reserved(3, &event("anna", action)).unwrap_err().field, "action", "{action}");
        }
        assert_eq!(check_not_reserved(0, &event("system", "order.create")).unwrap_err().field, "actor");
        for action in ["order.create", "portal.login", "authority.notify", "users.x"] {
            assert!(check_not_reserved(0, &event("service:portal", action)).is_ok(), "{action}");
        }
    }

    #[test]
    fn oversized_events_are_refused() {
        let big = "x".repeat(20_000);
        let body = format!(r#"{{"actor":"a","action":"x.y","outcome":"success","details":{{"blob":"{big}"}}}}"#);
        assert_eq!(prepare(&body).unwrap_err().field, "details");
    }
}
