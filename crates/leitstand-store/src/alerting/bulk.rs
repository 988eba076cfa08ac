//! The engine batch's multi-row writes: the column lists, the statements
//! both engines share, and [`BulkWrite`], implemented per engine in
//! `sqlite.rs` and `postgres.rs`.

use std::sync::LazyLock;

use uuid::Uuid;

use super::{AlertRow, AttemptRow, HistoryRow, NotificationRow};
use crate::Result;
use crate::bulk::unnest_insert;

pub(super) const ALERT_COLUMNS: &str = "id, fingerprint, tenant_id, source, labels, annotations, generator_url, alertname, \
     severity, service, group_key, status, starts_at, ends_at, resolved_at, last_seen_at, level, level_since, \
     acked_by, acked_at, suppressed, notified_level, next_step_at, updated_at";
/// Upserts an [`IntakeProgress`] (both engines speak `ON CONFLICT`).
pub(super) const RECORD_INTAKE: &str = "INSERT INTO alert_intake_progress (journal, applied) VALUES ($1, $2) \
     ON CONFLICT (journal) DO UPDATE SET applied = excluded.applied";
pub(super) const HISTORY_COLUMNS: &str = "alert_id, at, kind, actor, detail";
pub(super) const NOTIFICATION_COLUMNS: &str = "id, alert_id, group_key, channel, kind, level, recipients, payload, status, \
     attempts, not_before, created_at, delivered_at, last_error, fallback_of, claimed_by";
pub(super) const ATTEMPT_COLUMNS: &str = "notification_id, at, ok, status_code, error, duration_ms";
pub(super) const SILENCE_COLUMNS: &str =
    "id, tenant_id, matchers, starts_at, ends_at, created_by, comment, created_at, expired_at";
pub(super) const OVERRIDE_COLUMNS: &str =
    "id, schedule, person, starts_at, ends_at, reason, created_by, created_at, deleted_at";

/// Replaces the whole row of an existing id.
pub(super) static ALERT_UPSERT: LazyLock<String> = LazyLock::new(|| {
    let set: Vec<String> =
        ALERT_COLUMNS.split(", ").skip(1).map(|column| format!("{column} = excluded.{column}")).collect();
    format!(" ON CONFLICT (id) DO UPDATE SET {}", set.join(", "))
});

pub(super) static PG_ALERT_UPSERT: LazyLock<String> = LazyLock::new(|| {
    let types = [
        "uuid", "text", "uuid", "text", "text", "text", "text", "text", "text", "text", "text", "text", "int8", "int8",
        "int8", "int8", "int2", "int8", "text", "int8", "text", "int2", "int8", "int8",
    ];
    unnest_insert("alerts", ALERT_COLUMNS, &types) + &ALERT_UPSERT
});
pub(super) static PG_HISTORY_INSERT: LazyLock<String> =
    LazyLock::new(|| unnest_insert("alert_history", HISTORY_COLUMNS, &["uuid", "int8", "text", "text", "text"]));
pub(super) static PG_NOTIFICATION_INSERT: LazyLock<String> = LazyLock::new(|| {
    let types = [
        "uuid", "uuid", "text", "text", "text", "int2", "text", "text", "text", "int4", "int8", "int8", "int8", "text",
        "uuid", "text",
    ];
    unnest_insert("notifications", NOTIFICATION_COLUMNS, &types)
});

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
pub(super) trait BulkWrite {
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
pub(super) type Finished<'a> = (Uuid, &'static str, Option<i64>, Option<i64>, Option<&'a str>);

/// What a finished row's columns become (`v` holds the outcome).
pub(super) const FINISH_SET: &str = "status = v.status, attempts = notifications.attempts + 1, \
     delivered_at = COALESCE(v.delivered_at, notifications.delivered_at), \
     not_before = COALESCE(v.not_before, notifications.not_before), \
     last_error = COALESCE(v.error, notifications.last_error), claimed_by = NULL, claimed_until = NULL";
pub(super) static PG_FINISH: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE notifications SET {FINISH_SET} \
         FROM UNNEST($2::uuid[], $3::text[], $4::int8[], $5::int8[], $6::text[]) \
           AS v(id, status, delivered_at, not_before, error) \
         WHERE notifications.id = v.id AND notifications.status = 'sending' AND notifications.claimed_by = $1 \
         RETURNING notifications.id"
    )
});
pub(super) static PG_ATTEMPT_INSERT: LazyLock<String> = LazyLock::new(|| {
    unnest_insert("notification_attempts", ATTEMPT_COLUMNS, &["uuid", "int8", "bool", "int4", "text", "int8"])
});
