//! Alerting in the running server: alerts from Leitstand's own rules,
//! from Prometheus (`POST /api/v2/alerts`) and from an Alertmanager
//! (webhook version 4) go through one [`engine::Engine`] that deduplicates,
//! holds back (silences, inhibition, maintenance windows), escalates and
//! creates notifications; the [`dispatch`] loop delivers them through the
//! channels of `leitstand-notify`, with retries, fallback and a delivery log.
//!
//! The decisions are the pure functions of `leitstand-alerting`; this
//! module looks up the facts they need, persists what they decide in one
//! transaction per batch (fenced by the `alerting` lease, so among replicas
//! on one PostgreSQL exactly one decides and sends) and records every state
//! change in the audit log.
//!
//! This file holds the settings, the shared state and the services people
//! call (read, acknowledge, resolve, note, silences, overrides, test
//! sends), each with its authorisation and tenant scope.

pub mod alertmanager;
pub mod dispatch;
pub mod engine;
pub mod intake;
mod rows;
pub mod runtime;
mod services;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use leitstand_alerting::group::GroupBy;
use leitstand_alerting::inhibit::InhibitRule;
use leitstand_alerting::link::LinkKey;
use leitstand_alerting::oncall::Schedule;
use leitstand_alerting::{LabelSet, wire::IncomingAlert};
use leitstand_core::policy::{Audience, ChannelKind, PolicySet};
use leitstand_notify::Locale;
use leitstand_notify::channels::{Backoff, Channel};
use tokio::sync::{Notify, mpsc, oneshot};

pub use leitstand_notify::channels::ChannelId;
pub use services::{AlertDetail, AlertListQuery, AlertView, ChannelView, NewSilence, ScheduleView, SilenceView};

/// A configured notification channel.
pub struct ChannelDef {
    /// Stable id, referenced by audiences and fallbacks.
    pub id: ChannelId,
    /// Display name.
    pub name: String,
    /// The channel (its secrets stay inside).
    pub channel: Channel,
    /// Which of the policy's channel kinds it serves.
    pub kind: ChannelKind,
    /// Language of its messages.
    pub locale: Locale,
    /// Where a copy goes when this one keeps failing.
    pub fallback: Option<String>,
}

impl std::fmt::Debug for ChannelDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelDef")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("locale", &self.locale)
            .field("fallback", &self.fallback)
            .finish_non_exhaustive()
    }
}

/// A person who can be on call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Person {
    /// Display name.
    pub name: String,
    /// E-mail address (for e-mail channels).
    pub email: Option<String>,
    /// Chat handle (Matrix user id, Slack member id, …) for chat channels.
    pub chat: Option<String>,
}

/// Who an audience is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AudienceRoute {
    /// Channels that reach it.
    pub channels: Vec<String>,
    /// For the on-call audience: the schedule whose person is added as a
    /// recipient.
    pub schedule: Option<String>,
}

/// Everything alerting is configured with.
#[derive(Debug)]
pub struct AlertingSettings {
    /// Labels alerts are grouped by into one notification.
    pub group_by: GroupBy,
    /// How long a group's first notification waits for more alerts.
    pub group_wait: Duration,
    /// An alert from the API without an end resolves this long after it was
    /// last sent (Alertmanager's `resolve_timeout`).
    pub resolve_timeout: Duration,
    /// The channels.
    pub channels: Vec<ChannelDef>,
    /// Audience → channels (and schedule).
    pub audiences: BTreeMap<Audience, AudienceRoute>,
    /// On-call schedules.
    pub schedules: Vec<Schedule>,
    /// People by id.
    pub people: BTreeMap<String, Person>,
    /// Inhibition rules (dependencies).
    pub inhibit: Vec<InhibitRule>,
    /// How long a link in a message stays valid.
    pub link_ttl: Duration,
    /// Retry schedule of deliveries.
    pub backoff: Backoff,
    /// Most deliveries in flight at once.
    pub max_in_flight: usize,
    /// Escalation and maintenance per tenant.
    pub policy: PolicySet,
}

impl Default for AlertingSettings {
    fn default() -> Self {
        Self {
            group_by: GroupBy::default(),
            group_wait: Duration::ZERO,
            resolve_timeout: Duration::from_secs(300),
            channels: Vec::new(),
            audiences: BTreeMap::new(),
            schedules: Vec::new(),
            people: BTreeMap::new(),
            inhibit: Vec::new(),
            link_ttl: Duration::from_secs(24 * 3600),
            backoff: Backoff::default(),
            max_in_flight: 64,
            policy: PolicySet::default(),
        }
    }
}

/// Where an alert came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Leitstand's own rules.
    Rule,
    /// `POST /api/v2/alerts`.
    Api,
    /// An Alertmanager's webhook.
    Webhook,
}

impl Source {
    /// `rule`, `api`, `webhook`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Rule => "rule",
            Source::Api => "api",
            Source::Webhook => "webhook",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "api" => Source::Api,
            "webhook" => Source::Webhook,
            _ => Source::Rule,
        }
    }
}

/// One report of an alert from a source.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Where from.
    pub source: Source,
    /// The alert as sent.
    pub alert: IncomingAlert,
    /// The source says it is resolved.
    pub resolved: bool,
}

impl Observation {
    /// A label.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.alert.labels.get(name).map(String::as_str)
    }
}

/// A batch for the engine, answered once it is durable.
pub(crate) struct Batch {
    pub observations: Vec<Observation>,
    pub done: Option<oneshot::Sender<()>>,
    /// How far the intake log is applied with this batch (stored with it).
    pub intake: Option<leitstand_store::IntakeProgress>,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct AlertingCounts {
    /// Observations received.
    pub received: AtomicU64,
    /// Notifications delivered.
    pub delivered: AtomicU64,
    /// Delivery attempts that failed.
    pub failed_attempts: AtomicU64,
    /// Alerts open (firing) in the engine.
    pub firing: AtomicU64,
    /// Records in this replica's intake log not yet applied (or parked).
    pub intake_backlog: AtomicU64,
}

/// The shared state of alerting in one process.
pub struct Alerting {
    /// Configuration.
    pub settings: std::sync::Arc<AlertingSettings>,
    /// Key of the signed action links.
    pub link_key: LinkKey,
    /// The address of Leitstand as people reach it (links in messages).
    pub public_url: String,
    /// The running engine's intake, when this replica runs it.
    pub(crate) intake: Mutex<Option<mpsc::Sender<runtime::Command>>>,
    /// This replica's intake log; without one (tests, CLI commands) alerts
    /// go to the engine directly and are answered once it stored them.
    pub(crate) log: Option<std::sync::Arc<intake::IntakeLog>>,
    /// Another replica holds the engine's lease (as last seen).
    pub(crate) engine_elsewhere: AtomicBool,
    /// Wakes the dispatcher when notifications were created.
    pub(crate) wake_dispatch: Notify,
    /// Wakes the engine when silences or overrides changed.
    pub(crate) wake_engine: Notify,
    active: AtomicBool,
    /// Counters.
    pub counts: AlertingCounts,
}

impl std::fmt::Debug for Alerting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerting").field("active", &self.is_active()).finish_non_exhaustive()
    }
}

impl Alerting {
    /// Alerting with `settings`; nothing runs until [`runtime::spawn`].
    pub fn new(settings: impl Into<std::sync::Arc<AlertingSettings>>, link_key: LinkKey, public_url: String) -> Self {
        Self {
            settings: settings.into(),
            link_key,
            public_url: public_url.trim_end_matches('/').to_string(),
            intake: Mutex::new(None),
            log: None,
            engine_elsewhere: AtomicBool::new(false),
            wake_dispatch: Notify::new(),
            wake_engine: Notify::new(),
            active: AtomicBool::new(false),
            counts: AlertingCounts::default(),
        }
    }

    /// Alerts are taken through `log` (see [`intake`]).
    pub fn with_intake_log(mut self, log: intake::IntakeLog) -> Self {
        self.log = Some(std::sync::Arc::new(log));
        self
    }

    /// This replica's intake log, if alerts are taken through one.
    pub fn intake_log(&self) -> Option<&intake::IntakeLog> {
        self.log.as_deref()
    }

    /// Nothing configured (tests, CLI commands).
    pub fn disabled() -> Self {
        Self::new(
            AlertingSettings::default(),
            LinkKey::derive(b"unconfigured", "alert-links"),
            "http://127.0.0.1:8080".into(),
        )
    }

    /// Whether this replica runs the engine and the dispatcher.
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    pub(crate) fn set_active(&self, active: bool) {
        self.active.store(active, Ordering::Relaxed);
    }

    /// The gauges for `/metrics`: active, received, firing, delivered,
    /// failed delivery attempts, intake backlog (records).
    pub fn stats(&self) -> [u64; 6] {
        let c = &self.counts;
        [
            u64::from(self.is_active()),
            c.received.load(Ordering::Relaxed),
            c.firing.load(Ordering::Relaxed),
            c.delivered.load(Ordering::Relaxed),
            c.failed_attempts.load(Ordering::Relaxed),
            c.intake_backlog.load(Ordering::Relaxed),
        ]
    }

    /// A channel by id.
    pub fn channel(&self, id: &str) -> Option<&ChannelDef> {
        self.settings.channels.iter().find(|c| c.id == *id)
    }

    /// A schedule by id.
    pub fn schedule(&self, id: &str) -> Option<&Schedule> {
        self.settings.schedules.iter().find(|s| s.id() == id)
    }

    /// The link to an alert's page.
    pub fn alert_url(&self, id: uuid::Uuid) -> String {
        format!("{}/alerts/{id}", self.public_url)
    }
}

/// The value of `name` in `labels`.
pub(crate) fn label<'a>(labels: &'a LabelSet, name: &str) -> Option<&'a str> {
    labels.get(name).map(String::as_str).filter(|v| !v.is_empty())
}
