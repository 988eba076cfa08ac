//! Rows as the database returns them, and their mapping to the row types.

use uuid::Uuid;

use super::*;
use crate::from_db;

#[derive(sqlx::FromRow)]
pub(super) struct AlertDb {
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
pub(super) struct HistoryDb {
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
pub(super) struct NotificationDb {
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
pub(super) struct AttemptDb {
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
pub(super) struct SilenceDb {
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
pub(super) struct OverrideDb {
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
pub(super) struct InboxDb {
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
