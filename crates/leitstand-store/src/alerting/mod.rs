//! Alerting state: alert episodes and their history, the notification
//! outbox with its delivery log, silences, on-call overrides and the inbox.
//!
//! The store knows nothing of the alerting crates: labels, annotations,
//! matchers, recipients and payloads are JSON text, kinds and statuses are
//! strings. The engine owns their meaning.
//!
//! **One transaction per engine batch.** The engine evaluates a batch of
//! incoming alerts in memory and hands the store everything that batch
//! changed — alert rows, history entries, notifications to send, the inbox
//! rows it consumed — as one [`AlertChanges`]. [`AlertRepository::apply_alert_changes`]
//! writes it in one transaction, so a crash never leaves an alert whose
//! notification was lost, nor a notification for a state that was never
//! stored, nor an inbox row taken twice. It writes a few statements per
//! table, never one per row: per-row round trips would cap throughput far
//! below what a storm of alerts needs (see `BulkWrite`).
//!
//! **Fencing.** Only the holder of the engine lease may write alert state.
//! A holder that stalled (an overloaded host, a network partition) may still
//! believe it holds the lease after another replica took over, so the batch
//! transaction first re-checks the lease row (holder, fencing token,
//! unexpired at `now`); a lost lease rolls the batch back as
//! [`StoreError::LeaseLost`]. The check is a no-op `UPDATE`, the same on both
//! engines, because an update locks: on PostgreSQL the lease row stays locked
//! until the batch commits, so a takeover waits for the batch rather than
//! overtaking it; on SQLite it takes the write lock before anything is read.
//!
//! **Outbox semantics.** Notifications are rows written with the state that
//! caused them. Dispatchers (on any replica) claim due rows for a while,
//! send, and record each attempt with [`AlertRepository::finish_notifications`].
//! A claim that runs out belongs to a crashed sender and is claimed again,
//! so delivery is at least once; finishing checks the claim, so a sender
//! whose claim was taken over cannot overwrite the new sender's outcome.

mod bulk;
mod db;
mod postgres;
mod query;
mod repo;
mod sqlite;

use std::future::Future;
use std::time::Duration;

use jiff::Timestamp;
use uuid::Uuid;

use crate::Result;

/// Largest page of any listing.
const MAX_LIMIT: u32 = 10_000;

/// One alert episode: the engine's full state of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRow {
    /// Episode id (UUID v7).
    pub id: Uuid,
    /// Fingerprint of the label set, 16 hex digits.
    pub fingerprint: String,
    /// Owning tenant; `None` for the platform's own alerts.
    pub tenant_id: Option<Uuid>,
    /// Where it came from: `rule`, `api` or `webhook`.
    pub source: String,
    /// Labels, a JSON object of strings.
    pub labels: String,
    /// Annotations, a JSON object of strings.
    pub annotations: String,
    /// Link back to the source of the alert.
    pub generator_url: Option<String>,
    /// The `alertname` label.
    pub alertname: String,
    /// The `severity` label.
    pub severity: String,
    /// The `service` label.
    pub service: Option<String>,
    /// Notification group the alert belongs to.
    pub group_key: String,
    /// `firing` or `resolved`.
    pub status: String,
    /// When it began firing.
    pub starts_at: Timestamp,
    /// The end announced by the sender (API alerts).
    pub ends_at: Option<Timestamp>,
    /// When it resolved.
    pub resolved_at: Option<Timestamp>,
    /// When the source last reported it.
    pub last_seen_at: Timestamp,
    /// Escalation level, 0 = not actionable.
    pub level: i16,
    /// Since when it is at `level`.
    pub level_since: Timestamp,
    /// Who acknowledged it.
    pub acked_by: Option<String>,
    /// When it was acknowledged.
    pub acked_at: Option<Timestamp>,
    /// What suppresses it (a silence, an inhibiting alert, a maintenance window).
    pub suppressed: Option<String>,
    /// Highest level notified in this episode.
    pub notified_level: i16,
    /// The engine's persisted timer: when it must look at the alert again.
    pub next_step_at: Option<Timestamp>,
    /// When the row last changed.
    pub updated_at: Timestamp,
}

/// One entry of an alert's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    /// The alert episode.
    pub alert_id: Uuid,
    /// When it happened.
    pub at: Timestamp,
    /// What happened, e.g. `fired`, `acknowledged`, `reopened`.
    pub kind: String,
    /// Who did it (a user, `engine`, a source).
    pub actor: String,
    /// Details, JSON.
    pub detail: String,
}

/// One message to send: an outbox row and its delivery state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRow {
    /// Notification id.
    pub id: Uuid,
    /// The alert episode it is about.
    pub alert_id: Uuid,
    /// Rows of the same group key, channel, kind and level due together are sent as one message.
    pub group_key: String,
    /// Channel id.
    pub channel: String,
    /// What it announces, e.g. `firing`, `escalated`, `resolved`.
    pub kind: String,
    /// Escalation level it was sent for.
    pub level: i16,
    /// Recipients, a JSON array.
    pub recipients: String,
    /// The message, JSON.
    pub payload: String,
    /// `pending`, `sending`, `delivered` or `failed`.
    pub status: String,
    /// Attempts made so far.
    pub attempts: i32,
    /// Not to be sent before.
    pub not_before: Timestamp,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was delivered.
    pub delivered_at: Option<Timestamp>,
    /// Error of the last failed attempt.
    pub last_error: Option<String>,
    /// The notification this one is the fallback copy of.
    pub fallback_of: Option<Uuid>,
    /// The sender holding the claim while `sending`.
    pub claimed_by: Option<String>,
}

/// One attempt to deliver a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    /// The notification.
    pub notification_id: Uuid,
    /// When the attempt was made.
    pub at: Timestamp,
    /// Whether it was delivered.
    pub ok: bool,
    /// Status code of the channel (HTTP, SMTP), if it gave one.
    pub status_code: Option<i32>,
    /// What went wrong.
    pub error: Option<String>,
    /// How long the attempt took.
    pub duration_ms: i64,
}

/// A silence: alerts matching all matchers are not notified in `[starts_at, ends_at)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SilenceRow {
    /// Silence id.
    pub id: Uuid,
    /// Owning tenant; `None` for platform silences.
    pub tenant_id: Option<Uuid>,
    /// Matchers, a JSON array of strings such as `service="portal"`.
    pub matchers: String,
    /// Start.
    pub starts_at: Timestamp,
    /// End.
    pub ends_at: Timestamp,
    /// Who created it.
    pub created_by: String,
    /// Why.
    pub comment: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was ended early by hand.
    pub expired_at: Option<Timestamp>,
}

/// An on-call override: `person` is on call for `schedule` in `[starts_at, ends_at)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideRow {
    /// Override id.
    pub id: Uuid,
    /// Schedule id.
    pub schedule: String,
    /// Who is on call instead.
    pub person: String,
    /// Start.
    pub starts_at: Timestamp,
    /// End.
    pub ends_at: Timestamp,
    /// Why.
    pub reason: String,
    /// Who created it.
    pub created_by: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was deleted.
    pub deleted_at: Option<Timestamp>,
}

/// The lease a write is fenced with: it succeeds only while `holder` holds
/// `lease` with fencing token `token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// Lease name.
    pub lease: String,
    /// Holder id (replica id).
    pub holder: String,
    /// Fencing token of the holder's lease.
    pub token: i64,
}

/// Everything one engine batch changed, written in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertChanges {
    /// Alerts to insert or replace (by id, the whole row; if an id occurs
    /// more than once, the last row wins).
    pub alerts: Vec<AlertRow>,
    /// History entries to add, in order.
    pub history: Vec<HistoryRow>,
    /// Notifications to add.
    pub notifications: Vec<NotificationRow>,
    /// Inbox rows consumed: those with an id up to and including this are deleted.
    pub inbox_done: Option<i64>,
    /// How far a replica's intake log is applied with this batch.
    pub intake: Option<IntakeProgress>,
}

/// A position in a replica's intake log: every record up to and including
/// `applied` is in the store (applied by the engine, or in the inbox).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeProgress {
    /// The log's id (chosen when its directory was created).
    pub journal: String,
    /// The last record applied.
    pub applied: i64,
}

/// A search for alerts; all given filters must match. Newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertFilter<'a> {
    /// Visibility scope: `None` = everything including platform alerts;
    /// `Some(list)` = only alerts of these tenants, never platform alerts
    /// (an empty list sees nothing). Set from the caller, not the request.
    pub tenants: Option<&'a [Uuid]>,
    /// Only this tenant's alerts.
    pub tenant_id: Option<Uuid>,
    /// Only this status.
    pub status: Option<&'a str>,
    /// Only this severity.
    pub severity: Option<&'a str>,
    /// Only this service.
    pub service: Option<&'a str>,
    /// Only this alert name.
    pub alertname: Option<&'a str>,
    /// Only alerts in one of these states of being held back; `None`:
    /// whatever holds them.
    pub held: Option<Held>,
    /// Keyset cursor: only alerts before this `(starts_at, id)` in the
    /// listing's order (the last row of the previous page).
    pub before: Option<(Timestamp, Uuid)>,
    /// Page size (1 to 10 000).
    pub limit: u32,
}

/// Which alerts to list by what holds their notifications back, as
/// Alertmanager's `active`, `silenced`, `inhibited` flags select them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// Nothing holds it back.
    pub active: bool,
    /// A silence or a maintenance window holds it back.
    pub silenced: bool,
    /// An alert it depends on holds it back.
    pub inhibited: bool,
}

impl Held {
    /// The `WHERE` condition on the `suppressed` column (`FALSE` if no
    /// state is wanted).
    pub(crate) fn condition(self) -> String {
        let mut parts = Vec::new();
        if self.active {
            parts.push("suppressed IS NULL");
        }
        if self.silenced {
            parts.push("suppressed LIKE 'silence:%' OR suppressed LIKE 'maintenance:%'");
        }
        if self.inhibited {
            parts.push("suppressed LIKE 'inhibited:%'");
        }
        if parts.is_empty() { "1 = 0".to_string() } else { format!("({})", parts.join(" OR ")) }
    }
}

impl Default for AlertFilter<'_> {
    /// No filter, no scope, pages of 100.
    fn default() -> Self {
        Self {
            tenants: None,
            tenant_id: None,
            status: None,
            severity: None,
            service: None,
            alertname: None,
            held: None,
            before: None,
            limit: 100,
        }
    }
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationOutcome {
    /// Delivered.
    Delivered {
        /// When.
        at: Timestamp,
    },
    /// Failed for now; try again later.
    Retry {
        /// When to try again.
        not_before: Timestamp,
        /// What went wrong.
        error: String,
    },
    /// Failed for good.
    Failed {
        /// What went wrong.
        error: String,
    },
}

/// An alert received by a replica that does not run the engine, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxRow {
    /// Position in the inbox (grows).
    pub id: i64,
    /// When it was received.
    pub received_at: Timestamp,
    /// Which endpoint received it (`api`, `webhook`).
    pub source: String,
    /// The request body.
    pub body: String,
}

/// Alerting state in the store.
pub trait AlertRepository {
    /// Writes one engine batch in one transaction. With a `fence`, the
    /// lease must still be held (holder, token, unexpired at `now`), or
    /// nothing is written and the result is [`StoreError::LeaseLost`].
    fn apply_alert_changes(
        &self,
        fence: Option<&Fence>,
        now: Timestamp,
        changes: &AlertChanges,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Every firing alert, and the resolved ones resolved at or after
    /// `resolved_since` (the engine's working set at start).
    fn open_alerts(&self, resolved_since: Timestamp) -> impl Future<Output = Result<Vec<AlertRow>>> + Send;
    /// Alerts matching `filter`, newest first (`starts_at`, then id, descending).
    fn alerts(&self, filter: &AlertFilter<'_>) -> impl Future<Output = Result<Vec<AlertRow>>> + Send;
    /// One alert episode.
    fn alert(&self, id: Uuid) -> impl Future<Output = Result<Option<AlertRow>>> + Send;
    /// An alert's history in time order, entries of the same instant in the order written.
    fn alert_history(&self, id: Uuid) -> impl Future<Output = Result<Vec<HistoryRow>>> + Send;
    /// The newest episode of the alert with fingerprint `fingerprint`.
    fn alert_by_fingerprint(&self, fingerprint: &str) -> impl Future<Output = Result<Option<AlertRow>>> + Send;
    /// Number of alerts per (status, severity) in the scope (see [`AlertFilter::tenants`]).
    fn alert_counts(&self, tenants: Option<&[Uuid]>)
    -> impl Future<Output = Result<Vec<(String, String, i64)>>> + Send;
    /// An alert's notifications, oldest first.
    fn notifications_of_alert(&self, alert: Uuid) -> impl Future<Output = Result<Vec<NotificationRow>>> + Send;
    /// One notification.
    fn notification(&self, id: Uuid) -> impl Future<Output = Result<Option<NotificationRow>>> + Send;
    /// A notification's delivery attempts, oldest first.
    fn notification_attempts(&self, id: Uuid) -> impl Future<Output = Result<Vec<AttemptRow>>> + Send;
    /// Adds notifications outside an engine batch (e.g. a fallback copy), atomically.
    fn insert_notifications(&self, rows: &[NotificationRow]) -> impl Future<Output = Result<()>> + Send;
    /// Claims up to `limit` due notifications for `holder` until
    /// `now + claim_for`, oldest `not_before` first: pending ones due at
    /// `now`, and `sending` ones whose claim ran out (a crashed sender's).
    /// Concurrent claimers never get the same row.
    fn claim_notifications(
        &self,
        holder: &str,
        now: Timestamp,
        claim_for: Duration,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<NotificationRow>>> + Send;
    /// Records delivery attempts and their outcomes, releasing the claims, in
    /// one transaction (a dispatcher round): each only if `holder` still
    /// holds its claim (another claimer took over a lapsed one otherwise);
    /// whether each was recorded.
    fn finish_notifications(
        &self,
        holder: &str,
        items: &[(Uuid, NotificationOutcome, AttemptRow)],
    ) -> impl Future<Output = Result<Vec<bool>>> + Send;
    /// Notifications not yet finished (pending or being sent).
    fn notification_backlog(&self) -> impl Future<Output = Result<i64>> + Send;
    /// Adds a silence.
    fn insert_silence(&self, row: &SilenceRow) -> impl Future<Output = Result<()>> + Send;
    /// Ends a silence early at `at`; false if it was already expired or
    /// had ended by then.
    fn expire_silence(&self, id: Uuid, at: Timestamp) -> impl Future<Output = Result<bool>> + Send;
    /// One silence.
    fn silence(&self, id: Uuid) -> impl Future<Output = Result<Option<SilenceRow>>> + Send;
    /// Silences in the scope (see [`AlertFilter::tenants`]) not expired by
    /// hand, whether their end has passed or not; with
    /// `Some(t)` also those expired by hand after `t`. Oldest first.
    fn silences(
        &self,
        tenants: Option<&[Uuid]>,
        include_expired_after: Option<Timestamp>,
    ) -> impl Future<Output = Result<Vec<SilenceRow>>> + Send;
    /// Adds an on-call override.
    fn insert_override(&self, row: &OverrideRow) -> impl Future<Output = Result<()>> + Send;
    /// Deletes an override (kept, marked deleted at `at`); false if already deleted or unknown.
    fn delete_override(&self, id: Uuid, at: Timestamp) -> impl Future<Output = Result<bool>> + Send;
    /// Overrides not deleted that overlap `[from, to)`, of one schedule or
    /// all, in the order they were created.
    fn overrides(
        &self,
        schedule: Option<&str>,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = Result<Vec<OverrideRow>>> + Send;
    /// Parks a received alert for the engine; its inbox id. With `intake`,
    /// records in the same transaction how far that intake log is handled.
    fn push_alert_inbox(
        &self,
        received_at: Timestamp,
        source: &str,
        body: &str,
        intake: Option<&IntakeProgress>,
    ) -> impl Future<Output = Result<i64>> + Send;
    /// The last record of intake log `journal` that is in the store, if any.
    fn alert_intake_progress(&self, journal: &str) -> impl Future<Output = Result<Option<i64>>> + Send;
    /// Parked alerts with an id greater than `after`, oldest first.
    fn alert_inbox(&self, after: i64, limit: u32) -> impl Future<Output = Result<Vec<InboxRow>>> + Send;
}
