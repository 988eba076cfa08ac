//! The interim audit table of the first releases, before the tamper-evident
//! log existed. On start its events are moved into the log
//! (`App::migrate_interim_audit`) and the table is emptied; `record_audit`
//! remains for the migration's tests.

use std::future::Future;

use jiff::Timestamp;
use uuid::Uuid;

use crate::{Result, Store, execute, from_db, on_pool, to_db};

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Id.
    pub id: Uuid,
    /// When it happened.
    pub at: Timestamp,
    /// Who: `user:NAME`, `token:ID`, `system`, or `anonymous`.
    pub actor: String,
    /// What, e.g. `auth.login`, `tenant.create`.
    pub action: String,
    /// Tenant concerned, if any.
    pub tenant_id: Option<Uuid>,
    /// Object acted on, e.g. `user:anna`.
    pub object: String,
    /// `success`, `failure` or `denied`.
    pub outcome: String,
    /// Further details as JSON text.
    pub details: String,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    at: i64,
    actor: String,
    action: String,
    tenant_id: Option<Uuid>,
    object: String,
    outcome: String,
    details: String,
}

/// The audit trail in the store.
pub trait AuditRepository {
    /// Appends an event.
    fn record_audit(&self, event: &AuditEvent) -> impl Future<Output = Result<()>> + Send;
    /// Empties the interim table once its events are in the audit log.
    fn clear_interim_audit(&self) -> impl Future<Output = Result<()>> + Send;
    /// Every interim event, oldest first.
    fn interim_audit_events(&self) -> impl Future<Output = Result<Vec<AuditEvent>>> + Send;
}

impl AuditRepository for Store {
    async fn record_audit(&self, e: &AuditEvent) -> Result<()> {
        execute!(
            self,
            "audit.record",
            "INSERT INTO audit_events (id, at, actor, action, tenant_id, object, outcome, details) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            e.id,
            to_db(e.at),
            &e.actor,
            &e.action,
            e.tenant_id,
            &e.object,
            &e.outcome,
            &e.details
        )
        .map(|_| ())
    }

    async fn clear_interim_audit(&self) -> Result<()> {
        execute!(self, "audit.clear_interim", "DELETE FROM audit_events").map(|_| ())
    }

    async fn interim_audit_events(&self) -> Result<Vec<AuditEvent>> {
        self.timed("audit.interim", async {
            let rows: Vec<Row> = on_pool!(self, |pool| {
                sqlx::query_as(
                "SELECT id, at, actor, action, tenant_id, object, outcome, details FROM audit_events ORDER BY at, id"
            )
            .fetch_all(pool)
            .await?
            });
            Ok(rows
                .into_iter()
                .map(|r| AuditEvent {
                    id: r.id,
                    at: from_db(r.at),
                    actor: r.actor,
                    action: r.action,
                    tenant_id: r.tenant_id,
                    object: r.object,
                    outcome: r.outcome,
                    details: r.details,
                })
                .collect())
        })
        .await
    }
}
