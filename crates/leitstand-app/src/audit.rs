//! The one function through which every security-relevant action is
//! recorded: logins, logouts, failed logins, role changes, token creation
//! and revocation, tenant changes.

use leitstand_store::{AuditEvent, AuditRepository};
use uuid::Uuid;

use crate::{App, Result};

/// Records audit events for one app.
pub struct Audit<'a> {
    app: &'a App,
}

impl<'a> Audit<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    /// Records that `actor` did `action` on `object` with `outcome`.
    pub async fn record(
        &self,
        actor: &str,
        action: &str,
        tenant: Option<Uuid>,
        object: &str,
        outcome: &str,
        details: serde_json::Value,
    ) -> Result<()> {
        let event = AuditEvent {
            id: Uuid::now_v7(),
            at: self.app.clock.now(),
            actor: actor.to_string(),
            action: action.to_string(),
            tenant_id: tenant,
            object: object.to_string(),
            outcome: outcome.to_string(),
            details: details.to_string(),
        };
        self.app.store.record_audit(&event).await?;
        Ok(())
    }
}
