//! The interim audit trail: every security-relevant change is recorded here
//! through one function, `record_audit`, in the same store. The
//! tamper-evident ledger will take these events over.

use std::future::Future;

use jiff::Timestamp;
use uuid::Uuid;

use crate::{Result, Store, from_db, on_pool, tenant_filter, to_db};

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
    /// The newest events, optionally only of some tenants.
    fn audit_events(
        &self,
        tenants: Option<&[Uuid]>,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<AuditEvent>>> + Send;
}

impl AuditRepository for Store {
    async fn record_audit(&self, e: &AuditEvent) -> Result<()> {
        self.timed("audit.record", async {
            on_pool!(self, |pool| sqlx::query(
                "INSERT INTO audit_events (id, at, actor, action, tenant_id, object, outcome, details) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            )
            .bind(e.id)
            .bind(to_db(e.at))
            .bind(&e.actor)
            .bind(&e.action)
            .bind(e.tenant_id)
            .bind(&e.object)
            .bind(&e.outcome)
            .bind(&e.details)
            .execute(pool)
            .await
            .map(|_| ())?);
            Ok(())
        })
        .await
    }

    async fn clear_interim_audit(&self) -> Result<()> {
        on_pool!(self, |pool| sqlx::query("DELETE FROM audit_events").execute(pool).await.map(|_| ())?);
        Ok(())
    }

    async fn audit_events(&self, tenants: Option<&[Uuid]>, limit: i64) -> Result<Vec<AuditEvent>> {
        self.timed("audit.list", async {
            let filter = tenant_filter("tenant_id", tenants, 2);
            let sql = format!(
                "SELECT id, at, actor, action, tenant_id, object, outcome, details FROM audit_events {filter} \
                 ORDER BY at DESC, id LIMIT $1"
            );
            let rows: Vec<Row> = on_pool!(self, |pool| {
                let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(limit);
                for tenant in tenants.unwrap_or_default() {
                    query = query.bind(*tenant);
                }
                query.fetch_all(pool).await?
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
