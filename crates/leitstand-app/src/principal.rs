//! Who is acting: a user through a session or an API token, with the role's
//! permissions and tenant scope resolved once per request.

use leitstand_core::access::{Action, Role, TenantScope, UserName};
use uuid::Uuid;

use crate::{AppError, Result};

/// How the principal authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A browser session.
    Session {
        /// The session's stored id (SHA-256 of the cookie): the session a
        /// password change keeps while it ends all others.
        id_hash: String,
    },
    /// An API token with its scopes (`read`, `write`, `ingest`, `calendar`).
    Token {
        /// Token id.
        id: Uuid,
        /// Granted scopes.
        scopes: Vec<String>,
    },
    /// The local command line (operator with shell access).
    Cli,
}

/// An authenticated actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// User id.
    pub user_id: Uuid,
    /// User name.
    pub username: UserName,
    /// Role.
    pub role: Role,
    /// Visible tenants.
    pub scope: TenantScope<Uuid>,
    /// Authentication path.
    pub via: Via,
    /// Signed in with a one-time password: until it is changed, the change
    /// is the only thing allowed (and signing out).
    pub password_change_due: bool,
}

/// Actions that only read.
fn is_read(action: Action) -> bool {
    matches!(
        action,
        Action::ViewDashboard
            | Action::ReadTenants
            | Action::ReadUsers
            | Action::ReadOwnTokens
            | Action::ReadAudit
            | Action::ReadPolicy
            | Action::ReadMonitoring
            | Action::ReadAlerts
            | Action::ReadOnCallCalendar
            | Action::ReadIncidents
    )
}

impl Principal {
    /// Fails with `Forbidden` unless the role (and a token's scopes) allow
    /// `action`, and with `PasswordChangeRequired` for anything but the
    /// change while a one-time password is in use.
    pub fn require(&self, action: Action) -> Result<()> {
        if self.password_change_due && action != Action::ChangeOwnPassword {
            return Err(AppError::PasswordChangeRequired);
        }
        let scoped = match &self.via {
            Via::Token { scopes, .. } => {
                // `ingest` is the least a sender of alerts needs, and
                // `calendar` the least a calendar app needs: neither can do
                // anything else, not even read.
                let needed = if is_read(action) { "read" } else { "write" };
                scopes.iter().any(|s| {
                    s == needed
                        || (needed == "read" && s == "write")
                        || (action == Action::IngestAlerts && s == "ingest")
                        || (action == Action::ReadOnCallCalendar && s == "calendar")
                })
            }
            Via::Session { .. } | Via::Cli => true,
        };
        if self.role.may(action) && scoped { Ok(()) } else { Err(AppError::Forbidden { action: action.as_str() }) }
    }

    /// The actor string for audit events. On the command line the actor is
    /// the operator at the shell, `system via:cli`, whoever the command acts
    /// for (that user is named in the event's details).
    pub fn actor(&self) -> String {
        match &self.via {
            Via::Token { id, .. } => format!("user:{} token:{id}", self.username),
            Via::Session { .. } => format!("user:{}", self.username),
            Via::Cli => "system via:cli".to_string(),
        }
    }

    /// The tenant ids this principal may see, or `None` for all.
    pub fn tenant_filter(&self) -> Option<&[Uuid]> {
        match &self.scope {
            TenantScope::All => None,
            TenantScope::Only(list) => Some(list),
        }
    }
}
