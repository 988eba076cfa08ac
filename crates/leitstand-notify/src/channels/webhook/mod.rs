//! Generic webhook: the Alertmanager webhook format (version 4) plus a
//! `leitstand` object, signed.
//!
//! Speaking Alertmanager's format means every receiver already written for
//! Alertmanager (ticket bridges, SMS gateways, pager relays) works
//! unchanged; what Alertmanager has no field for (notification id, level,
//! the signed action links, the on-call recipients, a localised text) goes
//! into the extra top-level `leitstand` object, which such receivers
//! ignore.
//!
//! Receivers must be able to trust and de-duplicate what they get:
//! - `Idempotency-Key: <notification id>`: a retry carries the same key.
//! - `X-Leitstand-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
//!   "<t>.<body>")>` when a secret is configured (the scheme Stripe uses):
//!   the timestamp is signed too, so a receiver that checks freshness with
//!   [`verify_signature`] rejects a recorded request replayed later.
//! - Extra configured headers (an API key for the receiver) are secrets and
//!   never printed.
//!
//! This module builds its JSON itself and does not depend on
//! `leitstand-alerting`: the wire format is this channel's contract.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use leitstand_core::clock::Clock;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::Sha256;

use super::text::{self, View};
use super::{
    ChannelError, Delivery, FieldError, HttpPayload, HttpSender, Secret, SendError, check_url, default_timeout,
    duration,
};
use crate::{AlertSummary, Locale, Message, MessageKind};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Leitstand-Signature";

/// `endsAt` of a firing alert, as Alertmanager writes it.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Alerts in the human-readable `leitstand.text`.
const MAX_TEXT_ALERTS: usize = 20;

/// Headers the channel sets itself.
const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "idempotency-key",
    "x-leitstand-signature",
    "transfer-encoding",
    "connection",
];

/// `kind = "webhook"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where to POST. Put tokens in `secret` or `headers`, not in the URL.
    pub url: String,
    /// Signing secret for `X-Leitstand-Signature`.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// Extra headers, e.g. `Authorization = "Bearer …"` (values are
    /// secrets).
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// Timeout of one delivery attempt.
    #[serde(default = "default_timeout", with = "duration")]
    pub timeout: Duration,
}

impl Config {
    pub(crate) fn problems(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_url("url", &self.url, &mut errors);
        if self.secret.as_ref().is_some_and(|s| s.expose().len() < 16) {
            errors.push(FieldError::new("secret", "must be at least 16 characters long"));
        }
        for (name, value) in &self.headers {
            let path = format!("headers.{name}");
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                errors.push(FieldError::new(&path, "is not a valid header name"));
            } else if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                errors.push(FieldError::new(&path, "is set by Leitstand itself and cannot be configured"));
            }
            if reqwest::header::HeaderValue::from_str(value.expose()).is_err() {
                errors.push(FieldError::new(&path, "value contains characters not allowed in a header"));
            }
        }
        if self.timeout.is_zero() {
            errors.push(FieldError::new("timeout", "must be longer than zero"));
        }
        errors
    }
}

#[derive(Template)]
#[template(path = "webhook/de.txt")]
struct TextDe<'a> {
    v: &'a View<'a>,
}

#[derive(Template)]
#[template(path = "webhook/en.txt")]
struct TextEn<'a> {
    v: &'a View<'a>,
}

/// The webhook channel.
#[derive(Debug)]
pub struct Webhook {
    id: String,
    config: Config,
    http: HttpSender,
}

impl Webhook {
    /// Uses `clock` instead of the system clock.
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        Self { http: self.http.with_clock(clock), ..self }
    }

    /// Validates `config` and builds the HTTP client.
    pub fn new(id: &str, config: Config) -> Result<Self, ChannelError> {
        let errors = config.problems();
        if !errors.is_empty() {
            return Err(ChannelError::Invalid(errors));
        }
        let http = HttpSender::new(config.timeout)?;
        Ok(Self { id: id.to_string(), config, http })
    }

    /// The channel's id (sent as `receiver`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The request for a message, unsigned (pure).
    pub fn render(&self, msg: &Message) -> HttpPayload {
        HttpPayload {
            method: "POST",
            path: None,
            headers: vec![
                ("Content-Type".to_string(), "application/json".to_string()),
                ("Idempotency-Key".to_string(), msg.id.to_string()),
            ],
            body: payload(&self.id, msg).to_string(),
        }
    }

    /// One delivery attempt, signed with the current time.
    pub async fn send(&self, msg: &Message) -> Result<Delivery, SendError> {
        let rendered = self.render(msg);
        let signature =
            self.config.secret.as_ref().map(|s| sign(s.expose(), rendered.body.as_bytes(), self.http.now()));
        let mut headers: Vec<(&str, &str)> = signature.iter().map(|sig| (SIGNATURE_HEADER, sig.as_str())).collect();
        headers.extend(self.config.headers.iter().map(|(name, value)| (name.as_str(), value.expose())));
        let mut secrets: Vec<&str> = self.config.headers.values().map(Secret::expose).collect();
        secrets.extend(self.config.secret.iter().map(Secret::expose));
        let answer = self.http.send(&self.config.url, rendered, &headers, &secrets).await?;
        Ok(Delivery { status: Some(answer.status), detail: format!("HTTP {}", answer.status) })
    }
}

/// The signature header value for `body` at time `at`:
/// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub fn sign(secret: impl AsRef<[u8]>, body: &[u8], at: Timestamp) -> String {
    let t = at.as_second();
    format!("t={t},v1={}", hex(&mac(secret.as_ref(), t, body).finalize().into_bytes()))
}

/// Checks a signature header as a receiver should: a `v1` HMAC over
/// `"<t>.<body>"` matches (compared in constant time; several `v1` entries
/// are allowed, for secret rotation) and `t` is within `tolerance` of `now`
/// (so a recorded request cannot be replayed later).
pub fn verify_signature(
    secret: impl AsRef<[u8]>,
    header: &str,
    body: &[u8],
    now: Timestamp,
    tolerance: Duration,
) -> bool {
    let mut t = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => candidates.push(value),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    let age = now.as_second().abs_diff(t);
    if age > tolerance.as_secs() {
        return false;
    }
    candidates.into_iter().filter_map(unhex).any(|tag| mac(secret.as_ref(), t, body).verify_slice(&tag).is_ok())
}

fn mac(secret: &[u8], t: i64, body: &[u8]) -> Hmac<Sha256> {
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret) else {
        unreachable!("HMAC takes keys of any length")
    };
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| text.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok())).collect()
}

/// The JSON body: Alertmanager webhook v4 and the `leitstand` object.
pub fn payload(receiver: &str, msg: &Message) -> Value {
    let firing = msg.alerts.iter().any(|a| a.status != "resolved");
    let v = View::new(msg, MAX_TEXT_ALERTS);
    let text = match msg.locale {
        Locale::De => text::render(&TextDe { v: &v }, &v),
        Locale::En => text::render(&TextEn { v: &v }, &v),
    };
    let alerts: Vec<Value> = msg.alerts.iter().map(alert).collect();
    json!({
        "version": "4",
        "groupKey": msg.group_key,
        "truncatedAlerts": 0,
        "status": if firing { "firing" } else { "resolved" },
        "receiver": receiver,
        "groupLabels": group_labels(&msg.group_key),
        "commonLabels": common(msg.alerts.iter().map(|a| &a.labels)),
        "commonAnnotations": common(msg.alerts.iter().map(|a| &a.annotations)),
        "externalURL": external_url(msg),
        "alerts": alerts,
        "leitstand": {
            "notification_id": msg.id.to_string(),
            "kind": match msg.kind {
                MessageKind::Firing => "firing",
                MessageKind::Escalated => "escalated",
                MessageKind::Resolved => "resolved",
                MessageKind::Test => "test",
            },
            "level": msg.level,
            "level_name": msg.level_name,
            "locale": if msg.locale == Locale::De { "de" } else { "en" },
            "title": v.title,
            "text": text,
            // Same rule as the human channels: nothing to acknowledge or
            // resolve once resolved.
            "links": {
                "ack": if v.show_ack() { msg.links.ack.as_deref() } else { None },
                "resolve": if v.is_resolved || v.is_test { None } else { msg.links.resolve.as_deref() },
                "view": msg.links.view,
            },
            "recipients": msg.recipients,
            "created_at": msg.created_at.to_string(),
            "alerts": msg.alerts.iter().map(|a| json!({
                "id": a.id.to_string(),
                "fingerprint": a.fingerprint,
                "url": a.url,
            })).collect::<Vec<_>>(),
        },
    })
}

fn alert(a: &AlertSummary) -> Value {
    json!({
        "status": if a.status == "resolved" { "resolved" } else { "firing" },
        "labels": a.labels,
        "annotations": a.annotations,
        "startsAt": a.starts_at.to_string(),
        "endsAt": match (a.status.as_str(), a.ends_at) {
            ("resolved", Some(end)) => end.to_string(),
            _ => ZERO_TIME.to_string(),
        },
        "generatorURL": a.generator_url.clone().unwrap_or_default(),
        "fingerprint": a.fingerprint,
    })
}

/// Labels (or annotations) with the same value in every alert.
fn common<'a>(mut maps: impl Iterator<Item = &'a BTreeMap<String, String>>) -> Map<String, Value> {
    let Some(first) = maps.next() else { return Map::new() };
    let mut shared: BTreeMap<&str, &str> = first.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    for m in maps {
        shared.retain(|k, v| m.get(*k).is_some_and(|x| x == v));
    }
    shared.into_iter().map(|(k, v)| (k.to_string(), Value::String(v.to_string()))).collect()
}

/// The labels of a group key such as `{}:{alertname="ProbeDown",service="portal"}`
/// (Alertmanager's form) or `{alertname="ProbeDown"}`; empty when it does
/// not parse.
fn group_labels(key: &str) -> Map<String, Value> {
    let Some(start) = key.rfind(":{").map(|i| i + 1).or_else(|| key.find('{')) else { return Map::new() };
    let inner = key[start..].strip_prefix('{').and_then(|s| s.strip_suffix('}'));
    let Some(mut rest) = inner else { return Map::new() };
    let mut out = Map::new();
    while !rest.is_empty() {
        let Some((name, after)) = rest.split_once("=\"") else { return Map::new() };
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, other)) => value.push(other),
                    None => return Map::new(),
                },
                '"' => {
                    end = Some(i);
                    break;
                }
                c => value.push(c),
            }
        }
        let Some(end) = end else { return Map::new() };
        out.insert(name.trim().to_string(), Value::String(value));
        rest = after[end + 1..].trim_start_matches(',').trim_start();
    }
    out
}

/// Alertmanager's `externalURL` is where the sender can be reached: the
/// origin of the view link.
fn external_url(msg: &Message) -> String {
    msg.links
        .view
        .as_deref()
        .or_else(|| msg.alerts.iter().find_map(|a| a.url.as_deref()))
        .and_then(|u| reqwest::Url::parse(u).ok())
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::channels::testing::message;

    fn channel(secret: Option<&str>) -> Webhook {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Webhook {
            id: "ops-hook".into(),
            config: Config {
                url: "https://hooks.example.org/leitstand".into(),
                secret: secret.map(Secret::from),
                headers: BTreeMap::from([("Authorization".to_string(), Secret::from("Bearer header-secret-1"))]),
                timeout: Duration::from_secs(5),
            },
            http: HttpSender::new(Duration::from_secs(5)).unwrap(),
        }
    }

    #[test]
    fn alertmanager_v4_shape() {
        let mut msg = message(Locale::De, MessageKind::Firing);
        msg.recipients = vec!["erika@example.org".into()];
        let body = payload("ops-hook", &msg);
        assert_eq!(body["version"], "4");
        assert_eq!(body["status"], "firing");
        assert_eq!(body["receiver"], "ops-hook");
        assert_eq!(body["truncatedAlerts"], 0);
        assert_eq!(body["groupKey"], msg.group_key);
        assert_eq!(body["groupLabels"], json!({"alertname": "ProbeDown", "service": "portal"}));
        assert_eq!(body["commonLabels"]["alertname"], "ProbeDown");
        assert_eq!(body["commonLabels"]["severity"], "critical");
        assert!(body["commonLabels"].get("instance").is_none(), "differs between the alerts");
        assert_eq!(body["externalURL"], "https://leitstand.example");
        let a = &body["alerts"][0];
        assert_eq!(a["status"], "firing");
        assert_eq!(a["endsAt"], ZERO_TIME);
        assert_eq!(a["startsAt"], "2026-12-01T10:15:00Z");
        assert_eq!(a["fingerprint"], msg.alerts[0].fingerprint);
        assert_eq!(a["generatorURL"], "https://prometheus.example/graph?g0.expr=up");
        let l = &body["leitstand"];
        assert_eq!(l["notification_id"], msg.id.to_string());
        assert_eq!(l["kind"], "firing");
        assert_eq!(l["level"], 2);
        assert_eq!(l["level_name"], "Kritisch");
        assert_eq!(l["links"]["ack"], "https://leitstand.example/alerts/act/ack-token");
        assert_eq!(l["recipients"], json!(["erika@example.org"]));
        assert!(l["text"].as_str().unwrap().contains("Bestätigen"));
        let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys[..3], ["version", "groupKey", "truncatedAlerts"], "Alertmanager's key order");
    }

    #[test]
    fn resolved_alerts_carry_ends_at() {
        let msg = message(Locale::En, MessageKind::Resolved);
        let body = payload("ops-hook", &msg);
        assert_eq!(body["status"], "resolved");
        assert_eq!(body["alerts"][0]["status"], "resolved");
        assert_eq!(body["alerts"][0]["endsAt"], "2026-12-01T10:45:00Z");
        assert!(body["leitstand"]["text"].as_str().unwrap().contains("resolved"));
    }

    #[test]
    fn group_key_forms() {
        assert_eq!(group_labels(r#"{}:{alertname="A",service="p"}"#), group_labels(r#"{alertname="A", service="p"}"#));
        assert_eq!(group_labels(r#"{a="x\"y"}"#)["a"], "x\"y");
        assert!(group_labels("nonsense").is_empty());
        assert!(group_labels(r#"{a="unterminated}"#).is_empty());
    }

    #[test]
    fn signature_round_trip_and_replay_window() {
        let secret = "webhook-signing-secret";
        let body = br#"{"version":"4"}"#;
        let at: Timestamp = "2026-12-01T10:15:00Z".parse().unwrap();
        let header = sign(secret, body, at);
        assert!(header.starts_with(&format!("t={},v1=", at.as_second())));
        let five_min = Duration::from_secs(300);
        assert!(verify_signature(secret, &header, body, at, five_min));
        let later = at.checked_add(jiff::SignedDuration::from_secs(299)).unwrap();
        assert!(verify_signature(secret, &header, body, later, five_min));
        let too_late = at.checked_add(jiff::SignedDuration::from_secs(301)).unwrap();
        assert!(!verify_signature(secret, &header, body, too_late, five_min), "replay after the window");
        assert!(!verify_signature(secret, &header, br#"{"version":"5"}"#, at, five_min), "tampered body");
        assert!(!verify_signature("other-secret", &header, body, at, five_min), "wrong secret");
        assert!(!verify_signature(secret, "v1=00", body, at, five_min), "no timestamp");
        let rotated = format!("{header},v1={}", "ab".repeat(32));
        assert!(verify_signature(secret, &rotated, body, at, five_min), "one matching v1 suffices");
    }

    #[test]
    fn render_has_idempotency_key_and_no_secrets() {
        let c = channel(Some("webhook-signing-secret"));
        let msg = message(Locale::De, MessageKind::Firing);
        let r = c.render(&msg);
        assert_eq!(r.header("Idempotency-Key"), Some(msg.id.to_string().as_str()));
        assert_eq!(r.header("content-type"), Some("application/json"));
        let all = format!("{r:?} {c:?}");
        assert!(!all.contains("webhook-signing-secret") && !all.contains("header-secret-1"), "{all}");
    }

    #[test]
    fn validation() {
        let mut c = channel(Some("short")).config;
        c.url = "http://user:pw@hooks.example.org/".into();
        c.headers.insert("Idempotency-Key".into(), Secret::from("x"));
        c.headers.insert("Bad Header".into(), Secret::from("x"));
        c.headers.insert("X-Token".into(), Secret::from("line\nbreak"));
        let mut fields: Vec<String> = c.problems().into_iter().map(|e| e.path).collect();
        fields.sort();
        assert_eq!(fields, ["headers.Bad Header", "headers.Idempotency-Key", "headers.X-Token", "secret", "url"]);
    }
}
