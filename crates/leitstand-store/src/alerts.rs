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

use std::collections::HashSet;
use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use uuid::Uuid;

use crate::{Pool, Result, Store, StoreError, execute, from_db, on_pool, tenant_filter, to_db};

/// Bind parameters one SQLite statement may carry (`SQLITE_MAX_VARIABLE_NUMBER`).
const SQLITE_MAX_BINDS: usize = 32_766;
/// Most rows per SQLite bulk statement: enough that the hand-over per
/// statement does not count, few enough that compiling one stays small —
/// SQLite allocates with the C allocator on each connection's thread, and
/// every thread's arena kept the high-water mark of the largest statement.
const SQLITE_ROWS_PER_STATEMENT: usize = 256;

/// Rows per SQLite bulk statement of `columns` bound values each.
pub(crate) fn sqlite_rows_per_statement(columns: usize) -> usize {
    (SQLITE_MAX_BINDS / columns.max(1)).min(SQLITE_ROWS_PER_STATEMENT)
}

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
    /// Keyset cursor: only alerts before this `(starts_at, id)` in the
    /// listing's order (the last row of the previous page).
    pub before: Option<(Timestamp, Uuid)>,
    /// Page size (1 to 10 000).
    pub limit: u32,
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

const ALERT_COLUMNS: &str = "id, fingerprint, tenant_id, source, labels, annotations, generator_url, alertname, \
     severity, service, group_key, status, starts_at, ends_at, resolved_at, last_seen_at, level, level_since, \
     acked_by, acked_at, suppressed, notified_level, next_step_at, updated_at";
/// Upserts an [`IntakeProgress`] (both engines speak `ON CONFLICT`).
const RECORD_INTAKE: &str = "INSERT INTO alert_intake_progress (journal, applied) VALUES ($1, $2) \
     ON CONFLICT (journal) DO UPDATE SET applied = excluded.applied";
const HISTORY_COLUMNS: &str = "alert_id, at, kind, actor, detail";
const NOTIFICATION_COLUMNS: &str = "id, alert_id, group_key, channel, kind, level, recipients, payload, status, \
     attempts, not_before, created_at, delivered_at, last_error, fallback_of, claimed_by";
const ATTEMPT_COLUMNS: &str = "notification_id, at, ok, status_code, error, duration_ms";
const SILENCE_COLUMNS: &str =
    "id, tenant_id, matchers, starts_at, ends_at, created_by, comment, created_at, expired_at";
const OVERRIDE_COLUMNS: &str = "id, schedule, person, starts_at, ends_at, reason, created_by, created_at, deleted_at";

/// Number of columns in a comma-separated column list.
fn column_count(columns: &str) -> usize {
    columns.split(',').count()
}

/// Rows per PostgreSQL bulk statement: one array per column, so the bind
/// limit does not apply; the cap only bounds the size of one message.
pub(crate) const POSTGRES_ROWS_PER_STATEMENT: usize = 10_000;

/// Replaces the whole row of an existing id.
static ALERT_UPSERT: LazyLock<String> = LazyLock::new(|| {
    let set: Vec<String> =
        ALERT_COLUMNS.split(", ").skip(1).map(|column| format!("{column} = excluded.{column}")).collect();
    format!(" ON CONFLICT (id) DO UPDATE SET {}", set.join(", "))
});

/// PostgreSQL's `INSERT … SELECT * FROM UNNEST($1::type[], …)` into `table`,
/// one array parameter per column.
pub(crate) fn unnest_insert(table: &str, columns: &str, types: &[&str]) -> String {
    debug_assert_eq!(column_count(columns), types.len(), "a type for every column of {table}");
    let arrays: Vec<String> = types.iter().enumerate().map(|(i, ty)| format!("${}::{ty}[]", i + 1)).collect();
    format!("INSERT INTO {table} ({columns}) SELECT * FROM UNNEST({})", arrays.join(", "))
}

static PG_ALERT_UPSERT: LazyLock<String> = LazyLock::new(|| {
    let types = [
        "uuid", "text", "uuid", "text", "text", "text", "text", "text", "text", "text", "text", "text", "int8", "int8",
        "int8", "int8", "int2", "int8", "text", "int8", "text", "int2", "int8", "int8",
    ];
    unnest_insert("alerts", ALERT_COLUMNS, &types) + &ALERT_UPSERT
});
static PG_HISTORY_INSERT: LazyLock<String> =
    LazyLock::new(|| unnest_insert("alert_history", HISTORY_COLUMNS, &["uuid", "int8", "text", "text", "text"]));
static PG_NOTIFICATION_INSERT: LazyLock<String> = LazyLock::new(|| {
    let types = [
        "uuid", "uuid", "text", "text", "text", "int2", "text", "text", "text", "int4", "int8", "int8", "int8", "text",
        "uuid", "text",
    ];
    unnest_insert("notifications", NOTIFICATION_COLUMNS, &types)
});

/// One column of `rows` as an array parameter.
pub(crate) fn column<'a, T, U>(rows: &'a [T], value: impl Fn(&'a T) -> U) -> Vec<U> {
    rows.iter().map(value).collect()
}

/// Multi-row writes inside a transaction, one implementation per engine,
/// never a round trip per row (sqlx runs each SQLite connection on a
/// thread of its own, so every statement is a hand-over and back). SQLite
/// gets multi-row `VALUES` lists chunked below its bind limit (32 766
/// parameters), prepared for the one use and not cached: each row count is
/// another statement, and a cache of a hundred such programs per
/// connection held most of the server's memory. PostgreSQL gets one array
/// per column, `UNNEST`ed: a constant statement with one parameter per
/// column, prepared once per connection, where `VALUES` lists of up to
/// 65 535 placeholders are parsed and planned for every batch (measured: a
/// batch of new alerts is written about 1.5 times faster).
trait BulkWrite {
    /// Inserts or replaces alerts (ids unique).
    async fn upsert_alerts(&mut self, rows: &[&AlertRow]) -> Result<()>;
    /// Inserts history entries in order.
    async fn insert_history(&mut self, rows: &[HistoryRow]) -> Result<()>;
    /// Inserts notifications.
    async fn insert_notifications(&mut self, rows: &[NotificationRow]) -> Result<()>;
    /// Records outcomes of rows `holder` still claims (ids unique); the ids
    /// it recorded, in no particular order.
    async fn finish_claimed(&mut self, holder: &str, items: &[Finished<'_>]) -> Result<Vec<Uuid>>;
    /// Inserts delivery attempts.
    async fn insert_attempts(&mut self, rows: &[&AttemptRow]) -> Result<()>;
}

/// An outcome in its stored form: id, status, delivered_at, not_before, error.
type Finished<'a> = (Uuid, &'static str, Option<i64>, Option<i64>, Option<&'a str>);

/// What a finished row's columns become (`v` holds the outcome).
const FINISH_SET: &str = "status = v.status, attempts = notifications.attempts + 1, \
     delivered_at = COALESCE(v.delivered_at, notifications.delivered_at), \
     not_before = COALESCE(v.not_before, notifications.not_before), \
     last_error = COALESCE(v.error, notifications.last_error), claimed_by = NULL, claimed_until = NULL";
static PG_FINISH: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE notifications SET {FINISH_SET} \
         FROM UNNEST($2::uuid[], $3::text[], $4::int8[], $5::int8[], $6::text[]) \
           AS v(id, status, delivered_at, not_before, error) \
         WHERE notifications.id = v.id AND notifications.status = 'sending' AND notifications.claimed_by = $1 \
         RETURNING notifications.id"
    )
});
static PG_ATTEMPT_INSERT: LazyLock<String> = LazyLock::new(|| {
    unnest_insert("notification_attempts", ATTEMPT_COLUMNS, &["uuid", "int8", "bool", "int4", "text", "int8"])
});

impl BulkWrite for sqlx::SqliteConnection {
    async fn upsert_alerts(&mut self, rows: &[&AlertRow]) -> Result<()> {
        for chunk in rows.chunks(sqlite_rows_per_statement(column_count(ALERT_COLUMNS))) {
            let mut query = sqlx::QueryBuilder::new(format!("INSERT INTO alerts ({ALERT_COLUMNS}) "));
            query.push_values(chunk, |mut b, a| {
                b.push_bind(a.id)
                    .push_bind(a.fingerprint.as_str())
                    .push_bind(a.tenant_id)
                    .push_bind(a.source.as_str())
                    .push_bind(a.labels.as_str())
                    .push_bind(a.annotations.as_str())
                    .push_bind(a.generator_url.as_deref())
                    .push_bind(a.alertname.as_str())
                    .push_bind(a.severity.as_str())
                    .push_bind(a.service.as_deref())
                    .push_bind(a.group_key.as_str())
                    .push_bind(a.status.as_str())
                    .push_bind(to_db(a.starts_at))
                    .push_bind(a.ends_at.map(to_db))
                    .push_bind(a.resolved_at.map(to_db))
                    .push_bind(to_db(a.last_seen_at))
                    .push_bind(a.level)
                    .push_bind(to_db(a.level_since))
                    .push_bind(a.acked_by.as_deref())
                    .push_bind(a.acked_at.map(to_db))
                    .push_bind(a.suppressed.as_deref())
                    .push_bind(a.notified_level)
                    .push_bind(a.next_step_at.map(to_db))
                    .push_bind(to_db(a.updated_at));
            });
            query.push(ALERT_UPSERT.as_str());
            query.build().persistent(false).execute(&mut *self).await?;
        }
        Ok(())
    }

    async fn insert_history(&mut self, rows: &[HistoryRow]) -> Result<()> {
        for chunk in rows.chunks(sqlite_rows_per_statement(column_count(HISTORY_COLUMNS))) {
            let mut query = sqlx::QueryBuilder::new(format!("INSERT INTO alert_history ({HISTORY_COLUMNS}) "));
            query.push_values(chunk, |mut b, h| {
                b.push_bind(h.alert_id)
                    .push_bind(to_db(h.at))
                    .push_bind(h.kind.as_str())
                    .push_bind(h.actor.as_str())
                    .push_bind(h.detail.as_str());
            });
            query.build().persistent(false).execute(&mut *self).await?;
        }
        Ok(())
    }

    async fn insert_notifications(&mut self, rows: &[NotificationRow]) -> Result<()> {
        for chunk in rows.chunks(sqlite_rows_per_statement(column_count(NOTIFICATION_COLUMNS))) {
            let mut query = sqlx::QueryBuilder::new(format!("INSERT INTO notifications ({NOTIFICATION_COLUMNS}) "));
            query.push_values(chunk, |mut b, n| {
                b.push_bind(n.id)
                    .push_bind(n.alert_id)
                    .push_bind(n.group_key.as_str())
                    .push_bind(n.channel.as_str())
                    .push_bind(n.kind.as_str())
                    .push_bind(n.level)
                    .push_bind(n.recipients.as_str())
                    .push_bind(n.payload.as_str())
                    .push_bind(n.status.as_str())
                    .push_bind(n.attempts)
                    .push_bind(to_db(n.not_before))
                    .push_bind(to_db(n.created_at))
                    .push_bind(n.delivered_at.map(to_db))
                    .push_bind(n.last_error.as_deref())
                    .push_bind(n.fallback_of)
                    .push_bind(n.claimed_by.as_deref());
            });
            query.build().persistent(false).execute(&mut *self).await?;
        }
        Ok(())
    }

    async fn finish_claimed(&mut self, holder: &str, items: &[Finished<'_>]) -> Result<Vec<Uuid>> {
        let mut ours = Vec::with_capacity(items.len());
        for chunk in items.chunks(sqlite_rows_per_statement(6)) {
            let mut query = sqlx::QueryBuilder::new("WITH v (id, status, delivered_at, not_before, error) AS (");
            query.push_values(chunk, |mut b, (id, status, delivered_at, not_before, error)| {
                b.push_bind(*id).push_bind(*status).push_bind(*delivered_at).push_bind(*not_before).push_bind(*error);
            });
            query.push(format!(") UPDATE notifications SET {FINISH_SET} FROM v WHERE notifications.id = v.id "));
            query.push("AND notifications.status = 'sending' AND notifications.claimed_by = ");
            query.push_bind(holder);
            query.push(" RETURNING notifications.id");
            let ids: Vec<Uuid> = query.build_query_scalar().persistent(false).fetch_all(&mut *self).await?;
            ours.extend(ids);
        }
        Ok(ours)
    }

    async fn insert_attempts(&mut self, rows: &[&AttemptRow]) -> Result<()> {
        for chunk in rows.chunks(sqlite_rows_per_statement(column_count(ATTEMPT_COLUMNS))) {
            let mut query = sqlx::QueryBuilder::new(format!("INSERT INTO notification_attempts ({ATTEMPT_COLUMNS}) "));
            query.push_values(chunk, |mut b, a| {
                b.push_bind(a.notification_id)
                    .push_bind(to_db(a.at))
                    .push_bind(a.ok)
                    .push_bind(a.status_code)
                    .push_bind(a.error.as_deref())
                    .push_bind(a.duration_ms);
            });
            query.build().persistent(false).execute(&mut *self).await?;
        }
        Ok(())
    }
}

impl BulkWrite for sqlx::PgConnection {
    async fn upsert_alerts(&mut self, rows: &[&AlertRow]) -> Result<()> {
        for c in rows.chunks(POSTGRES_ROWS_PER_STATEMENT) {
            sqlx::query(sqlx::AssertSqlSafe(PG_ALERT_UPSERT.as_str()))
                .bind(column(c, |a| a.id))
                .bind(column(c, |a| a.fingerprint.as_str()))
                .bind(column(c, |a| a.tenant_id))
                .bind(column(c, |a| a.source.as_str()))
                .bind(column(c, |a| a.labels.as_str()))
                .bind(column(c, |a| a.annotations.as_str()))
                .bind(column(c, |a| a.generator_url.as_deref()))
                .bind(column(c, |a| a.alertname.as_str()))
                .bind(column(c, |a| a.severity.as_str()))
                .bind(column(c, |a| a.service.as_deref()))
                .bind(column(c, |a| a.group_key.as_str()))
                .bind(column(c, |a| a.status.as_str()))
                .bind(column(c, |a| to_db(a.starts_at)))
                .bind(column(c, |a| a.ends_at.map(to_db)))
                .bind(column(c, |a| a.resolved_at.map(to_db)))
                .bind(column(c, |a| to_db(a.last_seen_at)))
                .bind(column(c, |a| a.level))
                .bind(column(c, |a| to_db(a.level_since)))
                .bind(column(c, |a| a.acked_by.as_deref()))
                .bind(column(c, |a| a.acked_at.map(to_db)))
                .bind(column(c, |a| a.suppressed.as_deref()))
                .bind(column(c, |a| a.notified_level))
                .bind(column(c, |a| a.next_step_at.map(to_db)))
                .bind(column(c, |a| to_db(a.updated_at)))
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }

    async fn insert_history(&mut self, rows: &[HistoryRow]) -> Result<()> {
        for c in rows.chunks(POSTGRES_ROWS_PER_STATEMENT) {
            // UNNEST yields the rows in array order, so the ids follow the order written.
            sqlx::query(sqlx::AssertSqlSafe(PG_HISTORY_INSERT.as_str()))
                .bind(column(c, |h| h.alert_id))
                .bind(column(c, |h| to_db(h.at)))
                .bind(column(c, |h| h.kind.as_str()))
                .bind(column(c, |h| h.actor.as_str()))
                .bind(column(c, |h| h.detail.as_str()))
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }

    async fn insert_notifications(&mut self, rows: &[NotificationRow]) -> Result<()> {
        for c in rows.chunks(POSTGRES_ROWS_PER_STATEMENT) {
            sqlx::query(sqlx::AssertSqlSafe(PG_NOTIFICATION_INSERT.as_str()))
                .bind(column(c, |n| n.id))
                .bind(column(c, |n| n.alert_id))
                .bind(column(c, |n| n.group_key.as_str()))
                .bind(column(c, |n| n.channel.as_str()))
                .bind(column(c, |n| n.kind.as_str()))
                .bind(column(c, |n| n.level))
                .bind(column(c, |n| n.recipients.as_str()))
                .bind(column(c, |n| n.payload.as_str()))
                .bind(column(c, |n| n.status.as_str()))
                .bind(column(c, |n| n.attempts))
                .bind(column(c, |n| to_db(n.not_before)))
                .bind(column(c, |n| to_db(n.created_at)))
                .bind(column(c, |n| n.delivered_at.map(to_db)))
                .bind(column(c, |n| n.last_error.as_deref()))
                .bind(column(c, |n| n.fallback_of))
                .bind(column(c, |n| n.claimed_by.as_deref()))
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }

    async fn finish_claimed(&mut self, holder: &str, items: &[Finished<'_>]) -> Result<Vec<Uuid>> {
        let mut ours = Vec::with_capacity(items.len());
        for c in items.chunks(POSTGRES_ROWS_PER_STATEMENT) {
            let ids: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(PG_FINISH.as_str()))
                .bind(holder)
                .bind(column(c, |f| f.0))
                .bind(column(c, |f| f.1))
                .bind(column(c, |f| f.2))
                .bind(column(c, |f| f.3))
                .bind(column(c, |f| f.4))
                .fetch_all(&mut *self)
                .await?;
            ours.extend(ids);
        }
        Ok(ours)
    }

    async fn insert_attempts(&mut self, rows: &[&AttemptRow]) -> Result<()> {
        for c in rows.chunks(POSTGRES_ROWS_PER_STATEMENT) {
            sqlx::query(sqlx::AssertSqlSafe(PG_ATTEMPT_INSERT.as_str()))
                .bind(column(c, |a| a.notification_id))
                .bind(column(c, |a| to_db(a.at)))
                .bind(column(c, |a| a.ok))
                .bind(column(c, |a| a.status_code))
                .bind(column(c, |a| a.error.as_deref()))
                .bind(column(c, |a| a.duration_ms))
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }
}

/// A bind value of a query assembled at run time.
enum Bind<'a> {
    Uuid(Uuid),
    Text(&'a str),
    Int(i64),
}

/// A `WHERE` clause built from [`tenant_filter`] and further conditions,
/// with the values to bind in placeholder order.
#[derive(Default)]
struct Conditions<'a> {
    sql: String,
    binds: Vec<Bind<'a>>,
}

impl<'a> Conditions<'a> {
    /// Starts with the tenant scope on `column` (see [`tenant_filter`]).
    fn scoped(column: &str, tenants: Option<&[Uuid]>) -> Self {
        let sql = tenant_filter(column, tenants, 1);
        let binds = tenants.unwrap_or_default().iter().map(|id| Bind::Uuid(*id)).collect();
        Self { sql, binds }
    }

    /// Adds `clause`, its `?` marks bound to `values` in order.
    fn and(&mut self, clause: &str, values: impl IntoIterator<Item = Bind<'a>>) {
        self.sql.push_str(if self.sql.is_empty() { "WHERE " } else { " AND " });
        let mut values = values.into_iter();
        for (i, part) in clause.split('?').enumerate() {
            if i > 0 {
                let value = values.next();
                debug_assert!(value.is_some(), "a value for every `?` in {clause:?}");
                self.binds.extend(value);
                self.sql.push_str(&format!("${}", self.binds.len()));
            }
            self.sql.push_str(part);
        }
    }
}

/// Runs `$sql` with `$binds` (a `Vec<Bind>`) and fetches all rows as `$row`.
macro_rules! fetch_all_bound {
    ($store:expr, $row:ty, $sql:expr, $binds:expr) => {
        on_pool!($store, |pool| {
            let mut query = sqlx::query_as::<_, $row>(sqlx::AssertSqlSafe($sql.clone()));
            for bind in $binds {
                query = match bind {
                    Bind::Uuid(v) => query.bind(*v),
                    Bind::Text(v) => query.bind(*v),
                    Bind::Int(v) => query.bind(*v),
                };
            }
            query.fetch_all(pool).await?
        })
    };
}

#[derive(sqlx::FromRow)]
struct AlertDb {
    id: Uuid,
    fingerprint: String,
    tenant_id: Option<Uuid>,
    source: String,
    labels: String,
    annotations: String,
    generator_url: Option<String>,
    alertname: String,
    severity: String,
    service: Option<String>,
    group_key: String,
    status: String,
    starts_at: i64,
    ends_at: Option<i64>,
    resolved_at: Option<i64>,
    last_seen_at: i64,
    level: i16,
    level_since: i64,
    acked_by: Option<String>,
    acked_at: Option<i64>,
    suppressed: Option<String>,
    notified_level: i16,
    next_step_at: Option<i64>,
    updated_at: i64,
}

impl From<AlertDb> for AlertRow {
    fn from(r: AlertDb) -> Self {
        AlertRow {
            id: r.id,
            fingerprint: r.fingerprint,
            tenant_id: r.tenant_id,
            source: r.source,
            labels: r.labels,
            annotations: r.annotations,
            generator_url: r.generator_url,
            alertname: r.alertname,
            severity: r.severity,
            service: r.service,
            group_key: r.group_key,
            status: r.status,
            starts_at: from_db(r.starts_at),
            ends_at: r.ends_at.map(from_db),
            resolved_at: r.resolved_at.map(from_db),
            last_seen_at: from_db(r.last_seen_at),
            level: r.level,
            level_since: from_db(r.level_since),
            acked_by: r.acked_by,
            acked_at: r.acked_at.map(from_db),
            suppressed: r.suppressed,
            notified_level: r.notified_level,
            next_step_at: r.next_step_at.map(from_db),
            updated_at: from_db(r.updated_at),
        }
    }
}

#[derive(sqlx::FromRow)]
struct HistoryDb {
    alert_id: Uuid,
    at: i64,
    kind: String,
    actor: String,
    detail: String,
}

impl From<HistoryDb> for HistoryRow {
    fn from(r: HistoryDb) -> Self {
        HistoryRow { alert_id: r.alert_id, at: from_db(r.at), kind: r.kind, actor: r.actor, detail: r.detail }
    }
}

#[derive(sqlx::FromRow)]
struct NotificationDb {
    id: Uuid,
    alert_id: Uuid,
    group_key: String,
    channel: String,
    kind: String,
    level: i16,
    recipients: String,
    payload: String,
    status: String,
    attempts: i32,
    not_before: i64,
    created_at: i64,
    delivered_at: Option<i64>,
    last_error: Option<String>,
    fallback_of: Option<Uuid>,
    claimed_by: Option<String>,
}

impl From<NotificationDb> for NotificationRow {
    fn from(r: NotificationDb) -> Self {
        NotificationRow {
            id: r.id,
            alert_id: r.alert_id,
            group_key: r.group_key,
            channel: r.channel,
            kind: r.kind,
            level: r.level,
            recipients: r.recipients,
            payload: r.payload,
            status: r.status,
            attempts: r.attempts,
            not_before: from_db(r.not_before),
            created_at: from_db(r.created_at),
            delivered_at: r.delivered_at.map(from_db),
            last_error: r.last_error,
            fallback_of: r.fallback_of,
            claimed_by: r.claimed_by,
        }
    }
}

#[derive(sqlx::FromRow)]
struct AttemptDb {
    notification_id: Uuid,
    at: i64,
    ok: bool,
    status_code: Option<i32>,
    error: Option<String>,
    duration_ms: i64,
}

impl From<AttemptDb> for AttemptRow {
    fn from(r: AttemptDb) -> Self {
        AttemptRow {
            notification_id: r.notification_id,
            at: from_db(r.at),
            ok: r.ok,
            status_code: r.status_code,
            error: r.error,
            duration_ms: r.duration_ms,
        }
    }
}

#[derive(sqlx::FromRow)]
struct SilenceDb {
    id: Uuid,
    tenant_id: Option<Uuid>,
    matchers: String,
    starts_at: i64,
    ends_at: i64,
    created_by: String,
    comment: String,
    created_at: i64,
    expired_at: Option<i64>,
}

impl From<SilenceDb> for SilenceRow {
    fn from(r: SilenceDb) -> Self {
        SilenceRow {
            id: r.id,
            tenant_id: r.tenant_id,
            matchers: r.matchers,
            starts_at: from_db(r.starts_at),
            ends_at: from_db(r.ends_at),
            created_by: r.created_by,
            comment: r.comment,
            created_at: from_db(r.created_at),
            expired_at: r.expired_at.map(from_db),
        }
    }
}

#[derive(sqlx::FromRow)]
struct OverrideDb {
    id: Uuid,
    schedule: String,
    person: String,
    starts_at: i64,
    ends_at: i64,
    reason: String,
    created_by: String,
    created_at: i64,
    deleted_at: Option<i64>,
}

impl From<OverrideDb> for OverrideRow {
    fn from(r: OverrideDb) -> Self {
        OverrideRow {
            id: r.id,
            schedule: r.schedule,
            person: r.person,
            starts_at: from_db(r.starts_at),
            ends_at: from_db(r.ends_at),
            reason: r.reason,
            created_by: r.created_by,
            created_at: from_db(r.created_at),
            deleted_at: r.deleted_at.map(from_db),
        }
    }
}

#[derive(sqlx::FromRow)]
struct InboxDb {
    id: i64,
    received_at: i64,
    source: String,
    body: String,
}

impl From<InboxDb> for InboxRow {
    fn from(r: InboxDb) -> Self {
        InboxRow { id: r.id, received_at: from_db(r.received_at), source: r.source, body: r.body }
    }
}

impl Store {
    /// Alerts matching `conditions`, newest first, at most `limit`.
    async fn fetch_alerts(
        &self,
        operation: &'static str,
        conditions: Conditions<'_>,
        limit: Option<u32>,
    ) -> Result<Vec<AlertRow>> {
        self.timed(operation, async {
            let limit = limit.map(|n| format!(" LIMIT {}", n.clamp(1, MAX_LIMIT))).unwrap_or_default();
            let sql = format!(
                "SELECT {ALERT_COLUMNS} FROM alerts {} ORDER BY starts_at DESC, id DESC{limit}",
                conditions.sql
            );
            let rows: Vec<AlertDb> = fetch_all_bound!(self, AlertDb, sql, &conditions.binds);
            Ok(rows.into_iter().map(AlertRow::from).collect())
        })
        .await
    }
}

/// The alerts to write, each id once (its last row), in their first order.
/// The columns an outcome sets: status, delivered_at, not_before, last_error.
fn outcome_columns(outcome: &NotificationOutcome) -> (&'static str, Option<i64>, Option<i64>, Option<&str>) {
    match outcome {
        NotificationOutcome::Delivered { at } => ("delivered", Some(to_db(*at)), None, None),
        NotificationOutcome::Retry { not_before, error } => {
            ("pending", None, Some(to_db(*not_before)), Some(error.as_str()))
        }
        NotificationOutcome::Failed { error } => ("failed", None, None, Some(error.as_str())),
    }
}

fn last_row_per_id(rows: &[AlertRow]) -> Vec<&AlertRow> {
    let mut seen = HashSet::with_capacity(rows.len());
    let mut unique: Vec<&AlertRow> = rows.iter().rev().filter(|row| seen.insert(row.id)).collect();
    unique.reverse();
    unique
}

fn add_duration(at: Timestamp, by: Duration) -> Timestamp {
    at.saturating_add(SignedDuration::try_from(by).unwrap_or(SignedDuration::MAX)).unwrap_or(Timestamp::MAX)
}

impl AlertRepository for Store {
    async fn apply_alert_changes(&self, fence: Option<&Fence>, now: Timestamp, changes: &AlertChanges) -> Result<()> {
        let alerts = last_row_per_id(&changes.alerts);
        self.timed_write("alert.apply", async {
            on_pool!(self, |pool| {
                let mut tx = pool.begin().await?;
                if let Some(fence) = fence {
                    // Writes (a no-op) so that it locks: see the module doc.
                    let held = sqlx::query(
                        "UPDATE leases SET token = token \
                         WHERE name = $1 AND holder = $2 AND token = $3 AND expires_at > $4",
                    )
                    .bind(&fence.lease)
                    .bind(&fence.holder)
                    .bind(fence.token)
                    .bind(to_db(now))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if held == 0 {
                        tx.rollback().await?;
                        return Err(StoreError::LeaseLost {
                            lease: fence.lease.clone(),
                            holder: fence.holder.clone(),
                            token: fence.token,
                        });
                    }
                }
                tx.upsert_alerts(&alerts).await?;
                tx.insert_history(&changes.history).await?;
                tx.insert_notifications(&changes.notifications).await?;
                if let Some(done) = changes.inbox_done {
                    sqlx::query("DELETE FROM alert_inbox WHERE id <= $1").bind(done).execute(&mut *tx).await?;
                }
                if let Some(intake) = &changes.intake {
                    sqlx::query(RECORD_INTAKE).bind(&intake.journal).bind(intake.applied).execute(&mut *tx).await?;
                }
                tx.commit().await?;
            });
            Ok(())
        })
        .await
    }

    async fn open_alerts(&self, resolved_since: Timestamp) -> Result<Vec<AlertRow>> {
        let mut conditions = Conditions::default();
        conditions.and(
            "(status = 'firing' OR (status = 'resolved' AND resolved_at >= ?))",
            [Bind::Int(to_db(resolved_since))],
        );
        self.fetch_alerts("alert.open", conditions, None).await
    }

    async fn alerts(&self, filter: &AlertFilter<'_>) -> Result<Vec<AlertRow>> {
        let mut c = Conditions::scoped("tenant_id", filter.tenants);
        if let Some(tenant) = filter.tenant_id {
            c.and("tenant_id = ?", [Bind::Uuid(tenant)]);
        }
        for (column, value) in [
            ("status", filter.status),
            ("severity", filter.severity),
            ("service", filter.service),
            ("alertname", filter.alertname),
        ] {
            if let Some(value) = value {
                c.and(&format!("{column} = ?"), [Bind::Text(value)]);
            }
        }
        if let Some((at, id)) = filter.before {
            let at = to_db(at);
            c.and("(starts_at < ? OR (starts_at = ? AND id < ?))", [Bind::Int(at), Bind::Int(at), Bind::Uuid(id)]);
        }
        self.fetch_alerts("alert.list", c, Some(filter.limit)).await
    }

    async fn alert(&self, id: Uuid) -> Result<Option<AlertRow>> {
        let mut conditions = Conditions::default();
        conditions.and("id = ?", [Bind::Uuid(id)]);
        Ok(self.fetch_alerts("alert.get", conditions, Some(1)).await?.into_iter().next())
    }

    async fn alert_history(&self, id: Uuid) -> Result<Vec<HistoryRow>> {
        self.timed("alert.history", async {
            let rows: Vec<HistoryDb> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {HISTORY_COLUMNS} FROM alert_history WHERE alert_id = $1 ORDER BY at, id"
            )))
            .bind(id)
            .fetch_all(pool)
            .await?);
            Ok(rows.into_iter().map(HistoryRow::from).collect())
        })
        .await
    }

    async fn alert_by_fingerprint(&self, fingerprint: &str) -> Result<Option<AlertRow>> {
        self.timed("alert.by_fingerprint", async {
            let row: Option<AlertDb> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {ALERT_COLUMNS} FROM alerts WHERE fingerprint = $1 ORDER BY starts_at DESC, id DESC LIMIT 1"
            )))
            .bind(fingerprint)
            .fetch_optional(pool)
            .await?);
            Ok(row.map(AlertRow::from))
        })
        .await
    }

    async fn alert_counts(&self, tenants: Option<&[Uuid]>) -> Result<Vec<(String, String, i64)>> {
        self.timed("alert.counts", async {
            let c = Conditions::scoped("tenant_id", tenants);
            let sql = format!(
                "SELECT status, severity, COUNT(*) FROM alerts {} GROUP BY status, severity ORDER BY status, severity",
                c.sql
            );
            let rows: Vec<(String, String, i64)> = fetch_all_bound!(self, (String, String, i64), sql, &c.binds);
            Ok(rows)
        })
        .await
    }

    async fn notifications_of_alert(&self, alert: Uuid) -> Result<Vec<NotificationRow>> {
        self.timed("alert.notifications", async {
            let rows: Vec<NotificationDb> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE alert_id = $1 ORDER BY created_at, id"
            )))
            .bind(alert)
            .fetch_all(pool)
            .await?);
            Ok(rows.into_iter().map(NotificationRow::from).collect())
        })
        .await
    }

    async fn notification(&self, id: Uuid) -> Result<Option<NotificationRow>> {
        self.timed("alert.notification", async {
            let row: Option<NotificationDb> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?);
            Ok(row.map(NotificationRow::from))
        })
        .await
    }

    async fn notification_attempts(&self, id: Uuid) -> Result<Vec<AttemptRow>> {
        self.timed("alert.notification_attempts", async {
            let rows: Vec<AttemptDb> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {ATTEMPT_COLUMNS} FROM notification_attempts WHERE notification_id = $1 ORDER BY at, id"
            )))
            .bind(id)
            .fetch_all(pool)
            .await?);
            Ok(rows.into_iter().map(AttemptRow::from).collect())
        })
        .await
    }

    async fn insert_notifications(&self, rows: &[NotificationRow]) -> Result<()> {
        self.timed_write("alert.insert_notifications", async {
            on_pool!(self, |pool| {
                let mut tx = pool.begin().await?;
                tx.insert_notifications(rows).await?;
                tx.commit().await?;
            });
            Ok(())
        })
        .await
    }

    async fn claim_notifications(
        &self,
        holder: &str,
        now: Timestamp,
        claim_for: Duration,
        limit: u32,
    ) -> Result<Vec<NotificationRow>> {
        const DUE: &str = "SELECT id FROM notifications \
             WHERE (status = 'pending' AND not_before <= $3) OR (status = 'sending' AND claimed_until < $3) \
             ORDER BY not_before, id LIMIT $4";
        const SET: &str = "UPDATE notifications SET status = 'sending', claimed_by = $1, claimed_until = $2";
        let until = add_duration(now, claim_for);
        let limit = i64::from(limit.clamp(1, MAX_LIMIT));
        self.timed_write("alert.claim_notifications", async {
            // SQLite runs one writer at a time, so a single UPDATE is atomic;
            // PostgreSQL locks the chosen rows and skips those another
            // claimer has locked, so concurrent claims stay disjoint.
            let sql = match self.pool {
                Pool::Sqlite(_) => format!("{SET} WHERE id IN ({DUE}) RETURNING {NOTIFICATION_COLUMNS}"),
                Pool::Postgres(_) => format!(
                    "WITH due AS MATERIALIZED ({DUE} FOR UPDATE SKIP LOCKED) \
                     {SET} WHERE id IN (SELECT id FROM due) RETURNING {NOTIFICATION_COLUMNS}"
                ),
            };
            let rows: Vec<NotificationDb> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(holder)
                .bind(to_db(until))
                .bind(to_db(now))
                .bind(limit)
                .fetch_all(pool)
                .await?);
            let mut rows: Vec<NotificationRow> = rows.into_iter().map(NotificationRow::from).collect();
            // RETURNING promises no order.
            rows.sort_by_key(|row| (row.not_before, row.id));
            Ok(rows)
        })
        .await
    }

    async fn finish_notifications(
        &self,
        holder: &str,
        items: &[(Uuid, NotificationOutcome, AttemptRow)],
    ) -> Result<Vec<bool>> {
        // A row is recorded only while its claim is still ours (another
        // claimer took over a lapsed claim otherwise); a row named twice is
        // recorded once, as its first outcome.
        let mut seen = std::collections::HashSet::with_capacity(items.len());
        let first: Vec<&(Uuid, NotificationOutcome, AttemptRow)> =
            items.iter().filter(|(id, _, _)| seen.insert(*id)).collect();
        let finished: Vec<Finished<'_>> = first
            .iter()
            .map(|(id, outcome, _)| {
                let (status, delivered_at, not_before, error) = outcome_columns(outcome);
                (*id, status, delivered_at, not_before, error)
            })
            .collect();
        self.timed_write("alert.finish_notifications", async {
            let ours: std::collections::HashSet<Uuid> = on_pool!(self, |pool| {
                let mut tx = pool.begin().await?;
                let ours: std::collections::HashSet<Uuid> =
                    tx.finish_claimed(holder, &finished).await?.into_iter().collect();
                let attempts: Vec<&AttemptRow> =
                    first.iter().filter(|(id, _, _)| ours.contains(id)).map(|(_, _, attempt)| attempt).collect();
                tx.insert_attempts(&attempts).await?;
                tx.commit().await?;
                ours
            });
            // Each row's verdict, its repeats false: the first outcome counted.
            let mut answered = std::collections::HashSet::with_capacity(ours.len());
            Ok(items.iter().map(|(id, _, _)| ours.contains(id) && answered.insert(*id)).collect())
        })
        .await
    }

    async fn notification_backlog(&self) -> Result<i64> {
        self.timed("alert.notification_backlog", async {
            Ok(on_pool!(self, |pool| sqlx::query_scalar(
                "SELECT COUNT(*) FROM notifications WHERE status IN ('pending', 'sending')"
            )
            .fetch_one(pool)
            .await?))
        })
        .await
    }

    async fn insert_silence(&self, row: &SilenceRow) -> Result<()> {
        let sql = "INSERT INTO silences (id, tenant_id, matchers, starts_at, ends_at, created_by, comment, \
                   created_at, expired_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        execute!(
            self,
            "alert.insert_silence",
            sql,
            row.id,
            row.tenant_id,
            &row.matchers,
            to_db(row.starts_at),
            to_db(row.ends_at),
            &row.created_by,
            &row.comment,
            to_db(row.created_at),
            row.expired_at.map(to_db),
        )
        .map(|_| ())
    }

    async fn expire_silence(&self, id: Uuid, at: Timestamp) -> Result<bool> {
        let sql = "UPDATE silences SET expired_at = $2 WHERE id = $1 AND expired_at IS NULL AND ends_at > $2";
        execute!(self, "alert.expire_silence", sql, id, to_db(at)).map(|done| done == 1)
    }

    async fn silence(&self, id: Uuid) -> Result<Option<SilenceRow>> {
        self.timed("alert.silence", async {
            let row: Option<SilenceDb> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {SILENCE_COLUMNS} FROM silences WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?);
            Ok(row.map(SilenceRow::from))
        })
        .await
    }

    async fn silences(
        &self,
        tenants: Option<&[Uuid]>,
        include_expired_after: Option<Timestamp>,
    ) -> Result<Vec<SilenceRow>> {
        self.timed("alert.silences", async {
            let mut c = Conditions::scoped("tenant_id", tenants);
            match include_expired_after {
                None => c.and("expired_at IS NULL", []),
                Some(after) => c.and("(expired_at IS NULL OR expired_at > ?)", [Bind::Int(to_db(after))]),
            }
            let sql = format!("SELECT {SILENCE_COLUMNS} FROM silences {} ORDER BY created_at, id", c.sql);
            let rows: Vec<SilenceDb> = fetch_all_bound!(self, SilenceDb, sql, &c.binds);
            Ok(rows.into_iter().map(SilenceRow::from).collect())
        })
        .await
    }

    async fn insert_override(&self, row: &OverrideRow) -> Result<()> {
        let sql = "INSERT INTO oncall_overrides (id, schedule, person, starts_at, ends_at, reason, created_by, \
                   created_at, deleted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        execute!(
            self,
            "alert.insert_override",
            sql,
            row.id,
            &row.schedule,
            &row.person,
            to_db(row.starts_at),
            to_db(row.ends_at),
            &row.reason,
            &row.created_by,
            to_db(row.created_at),
            row.deleted_at.map(to_db),
        )
        .map(|_| ())
    }

    async fn delete_override(&self, id: Uuid, at: Timestamp) -> Result<bool> {
        let sql = "UPDATE oncall_overrides SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL";
        execute!(self, "alert.delete_override", sql, id, to_db(at)).map(|done| done == 1)
    }

    async fn overrides(&self, schedule: Option<&str>, from: Timestamp, to: Timestamp) -> Result<Vec<OverrideRow>> {
        self.timed("alert.overrides", async {
            let mut c = Conditions::default();
            c.and(
                "deleted_at IS NULL AND starts_at < ? AND ends_at > ?",
                [Bind::Int(to_db(to)), Bind::Int(to_db(from))],
            );
            if let Some(schedule) = schedule {
                c.and("schedule = ?", [Bind::Text(schedule)]);
            }
            let sql = format!("SELECT {OVERRIDE_COLUMNS} FROM oncall_overrides {} ORDER BY created_at, id", c.sql);
            let rows: Vec<OverrideDb> = fetch_all_bound!(self, OverrideDb, sql, &c.binds);
            Ok(rows.into_iter().map(OverrideRow::from).collect())
        })
        .await
    }

    async fn push_alert_inbox(
        &self,
        received_at: Timestamp,
        source: &str,
        body: &str,
        intake: Option<&IntakeProgress>,
    ) -> Result<i64> {
        self.timed_write("alert.inbox_push", async {
            Ok(on_pool!(self, |pool| {
                let mut tx = pool.begin().await?;
                let id = sqlx::query_scalar(
                    "INSERT INTO alert_inbox (received_at, source, body) VALUES ($1, $2, $3) RETURNING id",
                )
                .bind(to_db(received_at))
                .bind(source)
                .bind(body)
                .fetch_one(&mut *tx)
                .await?;
                if let Some(intake) = intake {
                    sqlx::query(RECORD_INTAKE).bind(&intake.journal).bind(intake.applied).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                id
            }))
        })
        .await
    }

    async fn alert_intake_progress(&self, journal: &str) -> Result<Option<i64>> {
        self.timed("alert.intake_progress", async {
            Ok(on_pool!(self, |pool| sqlx::query_scalar(
                "SELECT applied FROM alert_intake_progress WHERE journal = $1"
            )
            .bind(journal)
            .fetch_optional(pool)
            .await?))
        })
        .await
    }

    async fn alert_inbox(&self, after: i64, limit: u32) -> Result<Vec<InboxRow>> {
        self.timed("alert.inbox", async {
            let rows: Vec<InboxDb> = on_pool!(self, |pool| sqlx::query_as(
                "SELECT id, received_at, source, body FROM alert_inbox WHERE id > $1 ORDER BY id LIMIT $2"
            )
            .bind(after)
            .bind(i64::from(limit.clamp(1, MAX_LIMIT)))
            .fetch_all(pool)
            .await?);
            Ok(rows.into_iter().map(InboxRow::from).collect())
        })
        .await
    }
}
