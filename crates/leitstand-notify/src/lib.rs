//! Notification channels. A [`Message`] says what happened to which alerts
//! (in the recipient's language); a channel turns it into its wire format
//! and delivers it. Every channel lives in `channels/<kind>/` with its
//! templates beside it (`de`, `en`) and passes the same contract test
//! (`tests/contract.rs`), so adding one cannot skip a duty: idempotency
//! key, both languages, the action links, a clear retryable/permanent
//! verdict on failure, secrets kept out of logs.
//!
//! Retries, fallbacks and the delivery log belong to the caller (the alert
//! engine persists them); this crate sends once per call and says whether
//! trying again can help.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub mod channels;

/// Language of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    /// German (default: the customers are German authorities).
    #[default]
    De,
    /// English.
    En,
}

impl Locale {
    /// `de` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Locale::De => "de",
            Locale::En => "en",
        }
    }
}

/// Why a message is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// Alerts started firing (first notification at their level).
    Firing,
    /// Nobody acknowledged in time: the alerts reached a higher level.
    Escalated,
    /// The alerts resolved.
    Resolved,
    /// A test from the channels page.
    Test,
}

/// One alert as a message shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertSummary {
    /// Alert (episode) id.
    pub id: Uuid,
    /// Alertmanager fingerprint, 16 hex digits.
    pub fingerprint: String,
    /// `firing` or `resolved`.
    pub status: String,
    /// All labels (`alertname`, `severity`, `tenant`, `service`, …).
    pub labels: std::collections::BTreeMap<String, String>,
    /// All annotations (`summary`, `description`, `runbook_url`, …).
    pub annotations: std::collections::BTreeMap<String, String>,
    /// When it started firing.
    pub starts_at: Timestamp,
    /// When it resolved.
    pub ends_at: Option<Timestamp>,
    /// Where it came from (rule, Prometheus expression browser link).
    pub generator_url: Option<String>,
    /// Its page in Leitstand.
    pub url: Option<String>,
}

impl AlertSummary {
    /// A label's value, or "".
    pub fn label(&self, name: &str) -> &str {
        self.labels.get(name).map_or("", String::as_str)
    }

    /// Annotation `name` in `locale`: `name_de` / `name_en` (how Leitstand's
    /// own rules write their texts), else `name`.
    pub fn localized(&self, name: &str, locale: Locale) -> Option<&str> {
        leitstand_core::annotations::localized(&self.annotations, name, locale.code())
    }

    /// The one-line summary in `locale`: annotation `summary_de` /
    /// `summary_en`, else `summary`, else the alert name.
    pub fn summary(&self, locale: Locale) -> &str {
        self.localized("summary", locale).unwrap_or_else(|| self.label("alertname"))
    }
}

/// Signed one-click links in a message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Links {
    /// Acknowledge (stops escalation).
    pub ack: Option<String>,
    /// Resolve by hand.
    pub resolve: Option<String>,
    /// The alert's (or group's) page.
    pub view: Option<String>,
}

/// Everything one notification says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Notification id: the idempotency key (Message-ID, Matrix txn id,
    /// webhook header), so a repeated delivery is recognisable.
    pub id: Uuid,
    /// Why.
    pub kind: MessageKind,
    /// Language.
    pub locale: Locale,
    /// Escalation level (1-based), 0 for tests.
    pub level: u8,
    /// The level's name from the policy (Warnung, Kritisch, Ausfall).
    pub level_name: String,
    /// Group key (the grouping labels and values, e.g. `{alertname="ProbeDown",service="portal"}`).
    pub group_key: String,
    /// The alerts of the group (at least one).
    pub alerts: Vec<AlertSummary>,
    /// Action links.
    pub links: Links,
    /// Extra recipients for this message (the person on call): e-mail
    /// addresses for e-mail, user ids / handles for chat channels.
    pub recipients: Vec<String>,
    /// When the message was created.
    pub created_at: Timestamp,
}
