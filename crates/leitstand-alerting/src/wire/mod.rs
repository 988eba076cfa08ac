//! Alertmanager's wire formats, so that Leitstand slots into an existing
//! Prometheus setup without changing it: Prometheus (or anything that
//! speaks to an Alertmanager) can post to Leitstand's `POST /api/v2/alerts`,
//! an existing Alertmanager can forward to Leitstand with a
//! `webhook_config` (payload version 4), tools such as `amtool` or Karma
//! can read `GET /api/v2/alerts`, and receivers written for Alertmanager
//! webhooks get the same JSON from Leitstand's generic webhook channel.
//!
//! Input is checked as Alertmanager checks it — label names valid, at
//! least one label, `endsAt` not before `startsAt`, an empty label value
//! meaning the label is absent, Go's zero time `0001-01-01T00:00:00Z`
//! meaning "not set" — plus limits of our own, so one request cannot
//! hold the engine's memory: at most [`MAX_ALERTS`] alerts, [`MAX_PAIRS`]
//! labels and annotations each, values of at most [`MAX_VALUE_BYTES`].
//! Every error names the path of the field, `[3].labels.alertname: …` or
//! `alerts[0].startsAt: …`, so the sender's operator finds it at once.
//! Silences as amtool and Grafana post and read them are in [`silences`].

use std::fmt;
use std::marker::PhantomData;

use jiff::Timestamp;
use serde::de::{self, DeserializeOwned, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::labels::{Fingerprint, LabelSet, fingerprint, valid_label_name};

pub mod silences;

/// Most alerts in one request.
pub const MAX_ALERTS: usize = 10_000;
/// Most labels, and most annotations, of one alert.
pub const MAX_PAIRS: usize = 64;
/// Longest label value, annotation value or generator URL, in bytes.
pub const MAX_VALUE_BYTES: usize = 16 * 1024;

/// Go's zero time, which Alertmanager writes for "not set".
pub const GO_ZERO_TIME: Timestamp = Timestamp::constant(-62_135_596_800, 0);

/// Why a payload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct WireError {
    /// Where: `[3].labels.alertname`, `alerts[0].startsAt`, `version`;
    /// `(body)` for the body as a whole.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

impl WireError {
    fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { path: path.into(), reason: reason.into() }
    }
}

const ROOT: &str = "(body)";

/// `[3].labels.alertname`; a key that is not a plain name is quoted,
/// `groupLabels["a.b"]`, so an empty or dotted key cannot blur the path.
fn render_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } if valid_label_name(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Map { key } | Segment::Enum { variant: key } => {
                out.push('[');
                out.push_str(&serde_json::Value::String(key.clone()).to_string());
                out.push(']');
            }
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    if out.is_empty() { ROOT.to_string() } else { out }
}

fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, WireError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = render_path(e.path());
        let inner = e.into_inner();
        let mut reason = inner.to_string();
        // The path says where a value is wrong; the position is kept only
        // for broken JSON, where there is no path to speak of.
        if inner.classify() == serde_json::error::Category::Data {
            let position = format!(" at line {} column {}", inner.line(), inner.column());
            if let Some(stripped) = reason.strip_suffix(&position) {
                reason = stripped.to_string();
            }
        }
        WireError::new(path, reason)
    })
}

/// An alert as a sender posts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingAlert {
    /// Labels, none empty, at least one.
    pub labels: LabelSet,
    /// Annotations.
    pub annotations: LabelSet,
    /// When it started; `None`: not said (the receiver uses "now").
    pub starts_at: Option<Timestamp>,
    /// When it ends or ended; `None`: not said. A time in the future is
    /// the sender's promise to repeat the alert before then.
    pub ends_at: Option<Timestamp>,
    /// Where it came from (the rule's page in Prometheus).
    pub generator_url: Option<String>,
}

/// A list, refused as soon as it holds more than [`MAX_ALERTS`] items.
struct Bounded<T>(Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Bounded<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Bounded<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of alerts")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                while let Some(item) = seq.next_element()? {
                    if out.len() == MAX_ALERTS {
                        return Err(de::Error::custom(format!("more than {MAX_ALERTS} alerts in one request")));
                    }
                    out.push(item);
                }
                Ok(Bounded(out))
            }
        }
        d.deserialize_seq(V(PhantomData))
    }
}

/// An optional time: `null`, `""` and Go's zero time are "not set".
fn time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    let Some(text) = Option::<String>::deserialize(d)? else { return Ok(None) };
    if text.is_empty() {
        return Ok(None);
    }
    let at: Timestamp = text.parse().map_err(|e| de::Error::custom(format!("not an RFC 3339 time: {e}")))?;
    Ok((at != GO_ZERO_TIME).then_some(at))
}

/// An optional fingerprint: 16 hex digits, or `""`/`null` for none.
fn optional_fingerprint<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Fingerprint>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(text) if text.is_empty() => Ok(None),
        Some(text) => text.parse().map(Some).map_err(de::Error::custom),
    }
}

/// postableAlert of the API v2.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAlert {
    #[serde(default)]
    labels: Option<LabelSet>,
    #[serde(default)]
    annotations: Option<LabelSet>,
    #[serde(default, deserialize_with = "time")]
    starts_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "time")]
    ends_at: Option<Timestamp>,
    #[serde(default, rename = "generatorURL")]
    generator_url: Option<String>,
}

/// Checks the count, names and sizes of labels or annotations.
fn check_pairs(path: &str, what: &str, pairs: &LabelSet) -> Result<(), WireError> {
    if pairs.len() > MAX_PAIRS {
        return Err(WireError::new(path, format!("more than {MAX_PAIRS} {what}")));
    }
    for (name, value) in pairs {
        if !valid_label_name(name) {
            return Err(WireError::new(path, format!("{name:?} is not a valid name ([a-zA-Z_][a-zA-Z0-9_]*)")));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(WireError::new(format!("{path}.{name}"), format!("longer than {MAX_VALUE_BYTES} bytes")));
        }
    }
    Ok(())
}

/// Validates one alert at `path` (`[3]`, `alerts[3]`).
fn validate(path: &str, raw: RawAlert) -> Result<IncomingAlert, WireError> {
    let labels_path = format!("{path}.labels");
    let Some(mut labels) = raw.labels else {
        return Err(WireError::new(labels_path, "required"));
    };
    check_pairs(&labels_path, "labels", &labels)?;
    labels.retain(|_, v| !v.is_empty());
    if labels.is_empty() {
        return Err(WireError::new(labels_path, "at least one label with a value is required"));
    }
    let annotations = raw.annotations.unwrap_or_default();
    check_pairs(&format!("{path}.annotations"), "annotations", &annotations)?;
    let generator_url = raw.generator_url.filter(|u| !u.is_empty());
    if generator_url.as_ref().is_some_and(|u| u.len() > MAX_VALUE_BYTES) {
        return Err(WireError::new(format!("{path}.generatorURL"), format!("longer than {MAX_VALUE_BYTES} bytes")));
    }
    if let (Some(start), Some(end)) = (raw.starts_at, raw.ends_at)
        && end < start
    {
        return Err(WireError::new(format!("{path}.endsAt"), format!("{end} is before startsAt {start}")));
    }
    Ok(IncomingAlert { labels, annotations, starts_at: raw.starts_at, ends_at: raw.ends_at, generator_url })
}

/// The body of `POST /api/v2/alerts`: a JSON array of alerts.
pub fn parse_postable_alerts(body: &[u8]) -> Result<Vec<IncomingAlert>, WireError> {
    let Bounded(raw) = parse_json::<Bounded<RawAlert>>(body)?;
    raw.into_iter().enumerate().map(|(i, a)| validate(&format!("[{i}]"), a)).collect()
}

/// Firing or resolved, as Alertmanager writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WireStatus {
    /// `firing`
    Firing,
    /// `resolved`
    Resolved,
}

/// An alert of a webhook payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAlert {
    /// The alert. For a resolved one, `ends_at` is when it resolved.
    pub alert: IncomingAlert,
    /// Whether it is resolved.
    pub resolved: bool,
    /// The fingerprint the Alertmanager gave it (the same as
    /// [`fingerprint`] of its labels, the algorithm being the same).
    pub fingerprint: Option<Fingerprint>,
}

/// A webhook payload (version 4) as an Alertmanager posts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookPayload {
    /// The Alertmanager receiver's name.
    pub receiver: String,
    /// Firing if any alert fires.
    pub status: WireStatus,
    /// The Alertmanager's group key.
    pub group_key: String,
    /// The Alertmanager's URL.
    pub external_url: String,
    /// The group labels.
    pub group_labels: LabelSet,
    /// How many alerts the Alertmanager left out (`max_alerts`).
    pub truncated_alerts: u64,
    /// The alerts.
    pub alerts: Vec<WebhookAlert>,
}

#[derive(Deserialize)]
struct VersionOnly {
    #[serde(default)]
    version: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawWebhook {
    #[serde(default)]
    group_key: Option<String>,
    #[serde(default)]
    truncated_alerts: Option<u64>,
    #[serde(default)]
    status: Option<WireStatus>,
    #[serde(default)]
    receiver: Option<String>,
    #[serde(default)]
    group_labels: Option<LabelSet>,
    #[serde(default, rename = "externalURL")]
    external_url: Option<String>,
    #[serde(default)]
    alerts: Option<Bounded<RawWebhookAlert>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawWebhookAlert {
    #[serde(default)]
    status: Option<WireStatus>,
    #[serde(default)]
    labels: Option<LabelSet>,
    #[serde(default)]
    annotations: Option<LabelSet>,
    #[serde(default, deserialize_with = "time")]
    starts_at: Option<Timestamp>,
    #[serde(default, deserialize_with = "time")]
    ends_at: Option<Timestamp>,
    #[serde(default, rename = "generatorURL")]
    generator_url: Option<String>,
    #[serde(default, deserialize_with = "optional_fingerprint")]
    fingerprint: Option<Fingerprint>,
}

/// The body an Alertmanager posts to a `webhook_config`. Only version 4
/// is read; the version is checked first, so a payload of another version
/// is refused for that reason and not for a field it lacks.
pub fn parse_webhook(body: &[u8]) -> Result<WebhookPayload, WireError> {
    if let Ok(VersionOnly { version }) = serde_json::from_slice::<VersionOnly>(body) {
        match version {
            Some(serde_json::Value::String(v)) if v == "4" => {}
            None | Some(serde_json::Value::Null) => return Err(WireError::new("version", "required (\"4\")")),
            Some(other) => {
                return Err(WireError::new("version", format!("unsupported version {other} (only \"4\" is read)")));
            }
        }
    }
    let raw: RawWebhook = parse_json(body)?;
    let Some(Bounded(raw_alerts)) = raw.alerts else {
        return Err(WireError::new("alerts", "required"));
    };
    let mut alerts = Vec::with_capacity(raw_alerts.len());
    for (i, a) in raw_alerts.into_iter().enumerate() {
        let path = format!("alerts[{i}]");
        let Some(status) = a.status else {
            return Err(WireError::new(format!("{path}.status"), "required (\"firing\" or \"resolved\")"));
        };
        let alert = validate(
            &path,
            RawAlert {
                labels: a.labels,
                annotations: a.annotations,
                starts_at: a.starts_at,
                ends_at: a.ends_at,
                generator_url: a.generator_url,
            },
        )?;
        alerts.push(WebhookAlert { alert, resolved: status == WireStatus::Resolved, fingerprint: a.fingerprint });
    }
    let status = raw.status.unwrap_or(if alerts.iter().any(|a| !a.resolved) {
        WireStatus::Firing
    } else {
        WireStatus::Resolved
    });
    let group_labels = raw.group_labels.unwrap_or_default();
    check_pairs("groupLabels", "labels", &group_labels)?;
    Ok(WebhookPayload {
        receiver: raw.receiver.unwrap_or_default(),
        status,
        group_key: raw.group_key.unwrap_or_default(),
        external_url: raw.external_url.unwrap_or_default(),
        group_labels,
        truncated_alerts: raw.truncated_alerts.unwrap_or(0),
        alerts,
    })
}

/// The state of an alert in `GET /api/v2/alerts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// Notified as usual.
    Active,
    /// Held back by a silence, an inhibiting alert or a maintenance window.
    Suppressed,
    /// Received, not yet processed.
    Unprocessed,
}

/// `status` of a gettable alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertStatus {
    /// The state.
    pub state: AlertState,
    /// Ids of the silences muting it.
    pub silenced_by: Vec<String>,
    /// Fingerprints of the alerts inhibiting it.
    pub inhibited_by: Vec<String>,
}

/// A receiver an alert goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receiver {
    /// Its name.
    pub name: String,
}

/// An alert as `GET /api/v2/alerts` lists it (Alertmanager's
/// gettableAlert).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GettableAlert {
    /// Labels.
    pub labels: LabelSet,
    /// Annotations.
    pub annotations: LabelSet,
    /// Start.
    pub starts_at: Timestamp,
    /// End (announced or actual).
    pub ends_at: Timestamp,
    /// Last update.
    pub updated_at: Timestamp,
    /// Origin.
    #[serde(rename = "generatorURL", default, skip_serializing_if = "Option::is_none")]
    pub generator_url: Option<String>,
    /// Fingerprint of the labels.
    pub fingerprint: Fingerprint,
    /// Where it is notified.
    pub receivers: Vec<Receiver>,
    /// State and what suppresses it.
    pub status: AlertStatus,
}

impl GettableAlert {
    /// An active alert with no receivers yet; the fingerprint is computed.
    pub fn new(
        labels: LabelSet,
        annotations: LabelSet,
        starts_at: Timestamp,
        ends_at: Timestamp,
        updated_at: Timestamp,
        generator_url: Option<String>,
    ) -> Self {
        Self {
            fingerprint: fingerprint(&labels),
            labels,
            annotations,
            starts_at,
            ends_at,
            updated_at,
            generator_url,
            receivers: Vec::new(),
            status: AlertStatus { state: AlertState::Active, silenced_by: Vec::new(), inhibited_by: Vec::new() },
        }
    }
}

/// An alert of an outgoing webhook payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingAlert {
    /// Firing or resolved.
    pub status: WireStatus,
    /// Labels.
    pub labels: LabelSet,
    /// Annotations.
    pub annotations: LabelSet,
    /// Start.
    pub starts_at: Timestamp,
    /// When it resolved; written only for resolved alerts (firing ones get
    /// Go's zero time, as from Alertmanager).
    pub ends_at: Option<Timestamp>,
    /// Origin (`""` if none).
    pub generator_url: String,
    /// Fingerprint of the labels.
    pub fingerprint: Fingerprint,
}

impl OutgoingAlert {
    /// A firing alert.
    pub fn firing(labels: LabelSet, annotations: LabelSet, starts_at: Timestamp, generator_url: String) -> Self {
        Self {
            status: WireStatus::Firing,
            fingerprint: fingerprint(&labels),
            labels,
            annotations,
            starts_at,
            ends_at: None,
            generator_url,
        }
    }

    /// A resolved alert.
    pub fn resolved(
        labels: LabelSet,
        annotations: LabelSet,
        starts_at: Timestamp,
        ends_at: Timestamp,
        generator_url: String,
    ) -> Self {
        Self {
            status: WireStatus::Resolved,
            ends_at: Some(ends_at),
            ..Self::firing(labels, annotations, starts_at, generator_url)
        }
    }
}

impl Serialize for OutgoingAlert {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            status: WireStatus,
            labels: &'a LabelSet,
            annotations: &'a LabelSet,
            starts_at: Timestamp,
            ends_at: Timestamp,
            #[serde(rename = "generatorURL")]
            generator_url: &'a str,
            fingerprint: Fingerprint,
        }
        let ends_at = match self.status {
            WireStatus::Firing => GO_ZERO_TIME,
            WireStatus::Resolved => self.ends_at.unwrap_or(GO_ZERO_TIME),
        };
        Wire {
            status: self.status,
            labels: &self.labels,
            annotations: &self.annotations,
            starts_at: self.starts_at,
            ends_at,
            generator_url: &self.generator_url,
            fingerprint: self.fingerprint,
        }
        .serialize(s)
    }
}

/// A webhook payload, version 4, field for field what an Alertmanager
/// sends, so receivers written for Alertmanager work unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutgoingWebhook {
    /// The receiver (channel) name.
    pub receiver: String,
    /// Firing if any alert (of those sent) fires.
    pub status: WireStatus,
    /// The alerts sent.
    pub alerts: Vec<OutgoingAlert>,
    /// The group labels.
    pub group_labels: LabelSet,
    /// Labels all alerts sent have, with the same value.
    pub common_labels: LabelSet,
    /// Annotations all alerts sent have, with the same value.
    pub common_annotations: LabelSet,
    /// Link to Leitstand.
    #[serde(rename = "externalURL")]
    pub external_url: String,
    /// Always `"4"`.
    pub version: String,
    /// The group key.
    pub group_key: String,
    /// How many alerts were left out.
    pub truncated_alerts: u64,
}

impl OutgoingWebhook {
    /// The JSON body.
    pub fn to_json(&self) -> Vec<u8> {
        let Ok(body) = serde_json::to_vec(self) else {
            unreachable!("maps with string keys, strings and numbers always serialise")
        };
        body
    }
}

fn intersection<'a>(mut sets: impl Iterator<Item = &'a LabelSet>) -> LabelSet {
    let Some(first) = sets.next() else { return LabelSet::new() };
    let mut common = first.clone();
    for set in sets {
        if common.is_empty() {
            break;
        }
        common.retain(|k, v| set.get(k) == Some(v));
    }
    common
}

/// The v4 payload for a group's alerts. `max_alerts` > 0 keeps only the
/// first that many (Alertmanager's `max_alerts`; the rest are counted in
/// `truncatedAlerts`); status and common labels are of the alerts sent.
pub fn webhook_v4(
    receiver: &str,
    group_key: &str,
    group_labels: LabelSet,
    external_url: &str,
    mut alerts: Vec<OutgoingAlert>,
    max_alerts: usize,
) -> OutgoingWebhook {
    let mut truncated = 0;
    if max_alerts > 0 && alerts.len() > max_alerts {
        truncated = (alerts.len() - max_alerts) as u64;
        alerts.truncate(max_alerts);
    }
    let status =
        if alerts.iter().any(|a| a.status == WireStatus::Firing) { WireStatus::Firing } else { WireStatus::Resolved };
    OutgoingWebhook {
        receiver: receiver.to_string(),
        status,
        common_labels: intersection(alerts.iter().map(|a| &a.labels)),
        common_annotations: intersection(alerts.iter().map(|a| &a.annotations)),
        alerts,
        group_labels,
        external_url: external_url.to_string(),
        version: "4".to_string(),
        group_key: group_key.to_string(),
        truncated_alerts: truncated,
    }
}

/// [`webhook_v4`] as its JSON body.
pub fn webhook_v4_json(
    receiver: &str,
    group_key: &str,
    group_labels: LabelSet,
    external_url: &str,
    alerts: Vec<OutgoingAlert>,
    max_alerts: usize,
) -> Vec<u8> {
    webhook_v4(receiver, group_key, group_labels, external_url, alerts, max_alerts).to_json()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn set(pairs: &[(&str, &str)]) -> LabelSet {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn err(body: serde_json::Value) -> String {
        parse_postable_alerts(body.to_string().as_bytes()).unwrap_err().to_string()
    }

    fn webhook_err(body: serde_json::Value) -> String {
        parse_webhook(body.to_string().as_bytes()).unwrap_err().to_string()
    }

    /// What Prometheus 2.x/3.x posts (`notifier.Manager`): labels, the
    /// rule's annotations, startsAt with nanoseconds, endsAt a few
    /// evaluation intervals ahead, the generator URL.
    const PROMETHEUS: &str = r#"[
      {
        "annotations": {"summary": "Instance portal:443 down", "description": "probe_success is 0"},
        "endsAt": "2026-12-01T10:04:00.123456789Z",
        "startsAt": "2026-12-01T10:00:00.123456789Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=probe_success+%3D%3D+0&g0.tab=1",
        "labels": {"alertname": "ProbeDown", "instance": "portal:443", "job": "blackbox", "severity": "critical"}
      },
      {
        "annotations": {"summary": "Disk almost full"},
        "endsAt": "2026-12-01T10:04:00Z",
        "startsAt": "2026-12-01T09:00:00+01:00",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=disk",
        "labels": {"alertname": "DiskFull", "instance": "db1:9100", "job": "node", "severity": "warning", "team": ""}
      }
    ]"#;

    #[test]
    fn what_prometheus_posts() {
        let alerts = parse_postable_alerts(PROMETHEUS.as_bytes()).unwrap();
        assert_eq!(alerts.len(), 2);
        let a = &alerts[0];
        assert_eq!(
            a.labels,
            set(&[
                ("alertname", "ProbeDown"),
                ("instance", "portal:443"),
                ("job", "blackbox"),
                ("severity", "critical")
            ])
        );
        assert_eq!(a.annotations["summary"], "Instance portal:443 down");
        assert_eq!(a.starts_at, Some(ts("2026-12-01T10:00:00.123456789Z")));
        assert_eq!(a.starts_at.unwrap().subsec_nanosecond(), 123_456_789);
        assert_eq!(a.ends_at, Some(ts("2026-12-01T10:04:00.123456789Z")));
        assert!(a.generator_url.as_deref().unwrap().starts_with("http://prometheus:9090/graph"));
        assert_eq!(alerts[1].starts_at, Some(ts("2026-12-01T08:00:00Z")), "offsets are understood");
        assert!(!alerts[1].labels.contains_key("team"), "an empty value is an absent label");
    }

    #[test]
    fn minimal_alerts_and_unset_times() {
        let body = json!([
            {"labels": {"alertname": "A"}},
            {"labels": {"alertname": "B"}, "annotations": null, "startsAt": "0001-01-01T00:00:00Z",
             "endsAt": "", "generatorURL": ""}
        ]);
        let alerts = parse_postable_alerts(body.to_string().as_bytes()).unwrap();
        for a in &alerts {
            assert!(a.annotations.is_empty());
            assert_eq!((a.starts_at, a.ends_at, &a.generator_url), (None, None, &None));
        }
        assert!(parse_postable_alerts(b"[]").unwrap().is_empty());
        assert!(parse_postable_alerts(b" [ ] ").unwrap().is_empty());
    }

    #[test]
    fn postable_errors_name_the_field() {
        let e = err(json!([{"labels": {"alertname": "A"}}, {"labels": {"alertname": 5}}]));
        assert!(e.starts_with("[1].labels.alertname: invalid type: integer `5`"), "{e}");
        assert_eq!(err(json!([{"annotations": {}}])), "[0].labels: required");
        assert_eq!(err(json!([{"labels": {}}])), "[0].labels: at least one label with a value is required");
        assert_eq!(err(json!([{"labels": {"a": ""}}])), "[0].labels: at least one label with a value is required");
        assert_eq!(
            err(json!([{"labels": {"alertname": "A", "bad-name": "x"}}])),
            r#"[0].labels: "bad-name" is not a valid name ([a-zA-Z_][a-zA-Z0-9_]*)"#
        );
        assert_eq!(
            err(json!([{"labels": {"a": "b"}, "annotations": {"1x": "y"}}])),
            r#"[0].annotations: "1x" is not a valid name ([a-zA-Z_][a-zA-Z0-9_]*)"#
        );
        let e = err(json!([{"labels": {"a": "b"}, "startsAt": "yesterday"}]));
        assert!(e.starts_with("[0].startsAt: not an RFC 3339 time: "), "{e}");
        let e = err(json!([{"labels": {"a": "b"}, "endsAt": "2026-12-01T10:00:00"}]));
        assert!(e.starts_with("[0].endsAt: not an RFC 3339 time: "), "a time needs its offset: {e}");
        assert_eq!(
            err(json!([{"labels": {"a": "b"}, "startsAt": "2026-12-01T10:00:00Z", "endsAt": "2026-12-01T09:00:00Z"}])),
            "[0].endsAt: 2026-12-01T09:00:00Z is before startsAt 2026-12-01T10:00:00Z"
        );
        let e = err(json!({"labels": {"a": "b"}}));
        assert!(e.starts_with("(body): invalid type: map, expected an array of alerts"), "{e}");
        assert!(err(json!([{"labels": {"": 1}}])).starts_with(r#"[0].labels[""]: invalid type"#));
        assert!(err(json!([{"labels": {"a.b": 1}}])).starts_with(r#"[0].labels["a.b"]: invalid type"#));
        let e = parse_postable_alerts(b"[{\"labels\": {\"a\": \"b\"}").unwrap_err();
        assert!(e.reason.contains("EOF"), "{e}");
        assert!(parse_postable_alerts(b"[{\"labels\": {\"a\": \"\xff\"}}]").is_err(), "not UTF-8");
    }

    #[test]
    fn limits_are_refused_with_the_path() {
        let many: Vec<_> = (0..=MAX_ALERTS).map(|_| json!({"labels": {"a": "b"}})).collect();
        assert_eq!(err(json!(many)), format!("(body): more than {MAX_ALERTS} alerts in one request"));
        let exactly: Vec<_> = (0..MAX_ALERTS).map(|_| json!({"labels": {"a": "b"}})).collect();
        assert_eq!(parse_postable_alerts(json!(exactly).to_string().as_bytes()).unwrap().len(), MAX_ALERTS);

        let labels: serde_json::Map<_, _> = (0..=MAX_PAIRS).map(|i| (format!("l{i}"), json!("v"))).collect();
        assert_eq!(err(json!([{"labels": labels}])), "[0].labels: more than 64 labels");
        let annotations: serde_json::Map<_, _> = (0..=MAX_PAIRS).map(|i| (format!("l{i}"), json!("v"))).collect();
        assert_eq!(
            err(json!([{"labels": {"a": "b"}, "annotations": annotations}])),
            "[0].annotations: more than 64 annotations"
        );
        let long = "x".repeat(MAX_VALUE_BYTES + 1);
        assert_eq!(
            err(json!([{"labels": {"a": "b"}}, {"labels": {"alertname": long}}])),
            "[1].labels.alertname: longer than 16384 bytes"
        );
        assert_eq!(
            err(json!([{"labels": {"a": "b"}, "annotations": {"description": long}}])),
            "[0].annotations.description: longer than 16384 bytes"
        );
        assert_eq!(
            err(json!([{"labels": {"a": "b"}, "generatorURL": long}])),
            "[0].generatorURL: longer than 16384 bytes"
        );
        let fine = "x".repeat(MAX_VALUE_BYTES);
        assert!(parse_postable_alerts(json!([{"labels": {"a": fine}}]).to_string().as_bytes()).is_ok());
    }

    /// A notification of Alertmanager 0.27 to a webhook receiver.
    const ALERTMANAGER: &str = r#"{
      "receiver": "leitstand",
      "status": "firing",
      "alerts": [
        {
          "status": "firing",
          "labels": {"alertname": "ProbeDown", "instance": "portal:443", "job": "blackbox", "severity": "critical"},
          "annotations": {"summary": "Instance portal:443 down"},
          "startsAt": "2026-12-01T10:00:00.123456789Z",
          "endsAt": "0001-01-01T00:00:00Z",
          "generatorURL": "http://prometheus:9090/graph?g0.expr=probe_success+%3D%3D+0&g0.tab=1",
          "fingerprint": "c4a3d1b2e5f60718"
        },
        {
          "status": "resolved",
          "labels": {"alertname": "ProbeDown", "instance": "shop:443", "job": "blackbox", "severity": "critical"},
          "annotations": {"summary": "Instance shop:443 down"},
          "startsAt": "2026-12-01T09:00:00Z",
          "endsAt": "2026-12-01T09:30:00.5Z",
          "generatorURL": "http://prometheus:9090/graph?g0.expr=probe_success+%3D%3D+0&g0.tab=1",
          "fingerprint": "0a1b2c3d4e5f6071"
        }
      ],
      "groupLabels": {"alertname": "ProbeDown"},
      "commonLabels": {"alertname": "ProbeDown", "job": "blackbox", "severity": "critical"},
      "commonAnnotations": {},
      "externalURL": "http://alertmanager:9093",
      "version": "4",
      "groupKey": "{}:{alertname=\"ProbeDown\"}",
      "truncatedAlerts": 0
    }"#;

    #[test]
    fn what_an_alertmanager_posts_to_a_webhook() {
        let p = parse_webhook(ALERTMANAGER.as_bytes()).unwrap();
        assert_eq!(p.receiver, "leitstand");
        assert_eq!(p.status, WireStatus::Firing);
        assert_eq!(p.group_key, r#"{}:{alertname="ProbeDown"}"#);
        assert_eq!(p.external_url, "http://alertmanager:9093");
        assert_eq!(p.group_labels, set(&[("alertname", "ProbeDown")]));
        assert_eq!(p.truncated_alerts, 0);
        let [firing, resolved] = &p.alerts[..] else { panic!("two alerts") };
        assert!(!firing.resolved);
        assert_eq!(firing.alert.ends_at, None, "the zero time is no end");
        assert_eq!(firing.alert.starts_at, Some(ts("2026-12-01T10:00:00.123456789Z")));
        assert_eq!(firing.fingerprint, Some(Fingerprint(0xc4a3_d1b2_e5f6_0718)));
        assert!(resolved.resolved);
        assert_eq!(resolved.alert.ends_at, Some(ts("2026-12-01T09:30:00.5Z")), "when it resolved");
        assert_eq!(resolved.alert.labels["instance"], "shop:443");
    }

    #[test]
    fn webhook_errors_name_the_field() {
        let mut v: serde_json::Value = serde_json::from_str(ALERTMANAGER).unwrap();
        let with = |path: &str, value: serde_json::Value| {
            let mut v = v.clone();
            *v.pointer_mut(path).unwrap() = value;
            webhook_err(v)
        };
        assert_eq!(with("/version", json!("3")), r#"version: unsupported version "3" (only "4" is read)"#);
        assert_eq!(with("/version", json!(4)), r#"version: unsupported version 4 (only "4" is read)"#);
        assert_eq!(webhook_err(json!({"alerts": "nonsense"})), r#"version: required ("4")"#);
        assert!(with("/alerts/1/status", json!("pending")).starts_with("alerts[1].status: unknown variant `pending`"));
        let e = with("/alerts/0/startsAt", json!("2026-13-01T00:00:00Z"));
        assert!(e.starts_with("alerts[0].startsAt: not an RFC 3339 time: "), "{e}");
        let e = with("/alerts/0/fingerprint", json!("xyz"));
        assert_eq!(e, r#"alerts[0].fingerprint: a fingerprint is 16 hexadecimal digits, not "xyz""#);
        assert_eq!(
            with("/alerts/1/labels", json!({"a-b": "c"})),
            r#"alerts[1].labels: "a-b" is not a valid name ([a-zA-Z_][a-zA-Z0-9_]*)"#
        );
        assert_eq!(
            with("/alerts/1/endsAt", json!("2026-12-01T08:00:00Z")),
            "alerts[1].endsAt: 2026-12-01T08:00:00Z is before startsAt 2026-12-01T09:00:00Z"
        );
        assert!(with("/truncatedAlerts", json!(-1)).starts_with("truncatedAlerts: invalid value"));
        v.as_object_mut().unwrap().remove("alerts");
        assert_eq!(webhook_err(v.clone()), "alerts: required");
        v["alerts"] = json!([{"labels": {"a": "b"}}]);
        assert_eq!(webhook_err(v), r#"alerts[0].status: required ("firing" or "resolved")"#);
    }

    #[test]
    fn fuzz_empty_key_at_the_top_still_has_a_path() {
        // Found by the `alertmanager_payload` fuzz target: an empty key
        // used to give an empty path.
        let e = parse_webhook(b"{\"\": e\":F\x7flnsDisk]\n").unwrap_err();
        assert_eq!(e.path, r#"[""]"#, "{e}");
        assert!(!parse_postable_alerts(b"{\"\": e").unwrap_err().path.is_empty());
    }

    #[test]
    fn outgoing_webhooks_look_like_alertmanagers() {
        let portal = set(&[("alertname", "ProbeDown"), ("service", "portal"), ("severity", "critical")]);
        let shop = set(&[("alertname", "ProbeDown"), ("service", "shop"), ("severity", "critical")]);
        let summary = |s: &str| set(&[("summary", s), ("runbook", "https://wiki/probe")]);
        let alerts = vec![
            OutgoingAlert::firing(
                portal.clone(),
                summary("portal down"),
                ts("2026-12-01T10:00:00.123456789Z"),
                "https://leitstand/alerts/1".into(),
            ),
            OutgoingAlert::resolved(
                shop.clone(),
                summary("shop down"),
                ts("2026-12-01T09:00:00Z"),
                ts("2026-12-01T09:30:00Z"),
                String::new(),
            ),
        ];
        let w = webhook_v4(
            "ops",
            "{}:{alertname=\"ProbeDown\"}",
            set(&[("alertname", "ProbeDown")]),
            "https://leitstand",
            alerts.clone(),
            0,
        );
        let body: serde_json::Value = serde_json::from_slice(&w.to_json()).unwrap();
        assert_eq!(
            body,
            json!({
                "receiver": "ops",
                "status": "firing",
                "alerts": [
                    {"status": "firing", "labels": portal, "annotations": summary("portal down"),
                     "startsAt": "2026-12-01T10:00:00.123456789Z", "endsAt": "0001-01-01T00:00:00Z",
                     "generatorURL": "https://leitstand/alerts/1", "fingerprint": fingerprint(&portal).to_string()},
                    {"status": "resolved", "labels": shop, "annotations": summary("shop down"),
                     "startsAt": "2026-12-01T09:00:00Z", "endsAt": "2026-12-01T09:30:00Z",
                     "generatorURL": "", "fingerprint": fingerprint(&shop).to_string()},
                ],
                "groupLabels": {"alertname": "ProbeDown"},
                "commonLabels": {"alertname": "ProbeDown", "severity": "critical"},
                "commonAnnotations": {"runbook": "https://wiki/probe"},
                "externalURL": "https://leitstand",
                "version": "4",
                "groupKey": "{}:{alertname=\"ProbeDown\"}",
                "truncatedAlerts": 0,
            })
        );

        // What we send, an Alertmanager webhook receiver (and we) can read.
        let back = parse_webhook(&w.to_json()).unwrap();
        assert_eq!(back.alerts.len(), 2);
        assert_eq!(back.alerts[0].fingerprint, Some(fingerprint(&portal)));
        assert_eq!(back.alerts[1].alert.ends_at, Some(ts("2026-12-01T09:30:00Z")));

        let cut =
            webhook_v4("ops", "k", LabelSet::new(), "", alerts[1..].iter().chain(&alerts[..1]).cloned().collect(), 1);
        assert_eq!((cut.alerts.len(), cut.truncated_alerts, cut.status), (1, 1, WireStatus::Resolved));
        assert_eq!(cut.common_labels, shop, "common labels of the alerts sent");
        let empty = webhook_v4_json("ops", "k", LabelSet::new(), "", Vec::new(), 0);
        let empty: serde_json::Value = serde_json::from_slice(&empty).unwrap();
        assert_eq!(
            (&empty["status"], &empty["commonLabels"], &empty["alerts"]),
            (&json!("resolved"), &json!({}), &json!([]))
        );
    }

    #[test]
    fn gettable_alerts_in_alertmanagers_format() {
        let labels = set(&[("alertname", "ProbeDown")]);
        let mut a = GettableAlert::new(
            labels.clone(),
            LabelSet::new(),
            ts("2026-12-01T10:00:00Z"),
            ts("2026-12-01T10:05:00Z"),
            ts("2026-12-01T10:01:00.5Z"),
            None,
        );
        a.receivers.push(Receiver { name: "ops".into() });
        a.status.state = AlertState::Suppressed;
        a.status.silenced_by.push("0192f0c1-7a4e-7c3b-9d2e-1f0a2b3c4d5e".into());
        let body = serde_json::to_value(&a).unwrap();
        assert_eq!(
            body,
            json!({
                "labels": {"alertname": "ProbeDown"},
                "annotations": {},
                "startsAt": "2026-12-01T10:00:00Z",
                "endsAt": "2026-12-01T10:05:00Z",
                "updatedAt": "2026-12-01T10:01:00.5Z",
                "fingerprint": fingerprint(&labels).to_string(),
                "receivers": [{"name": "ops"}],
                "status": {"state": "suppressed", "silencedBy": ["0192f0c1-7a4e-7c3b-9d2e-1f0a2b3c4d5e"], "inhibitedBy": []},
            })
        );
        assert_eq!(serde_json::from_value::<GettableAlert>(body).unwrap(), a);
        assert_eq!(GO_ZERO_TIME.to_string(), "0001-01-01T00:00:00Z");
    }
}
