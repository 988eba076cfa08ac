//! Service errors, grouped by what the caller shows: not found, forbidden,
//! conflict, invalid input (with the field), unauthenticated, locked, or an
//! internal failure with its source.

use leitstand_core::input::Message;
use leitstand_store::StoreError;

/// A service failure.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No valid session or token.
    #[error("authentication required")]
    Unauthenticated,
    /// Wrong user name or password (deliberately not saying which).
    #[error("user name or password is wrong")]
    BadCredentials,
    /// A second factor is required or was wrong.
    #[error("the one-time code is missing or wrong")]
    BadSecondFactor,
    /// Too many failures: locked until the given time.
    #[error("too many failed attempts; try again after {until}")]
    Locked {
        /// When the lock ends.
        until: jiff::Timestamp,
    },
    /// The one-time password was right but has expired.
    #[error("the one-time password has expired; ask an administrator for a new one")]
    PasswordExpired,
    /// Signed in with a one-time password: it must be changed first.
    #[error("change your one-time password first (PUT /api/v1/me/password or the profile page)")]
    PasswordChangeRequired,
    /// The alert's state does not allow the action (acknowledging a
    /// resolved one, …): `reason` is "already resolved", "resolved",
    /// "already acknowledged", "not acknowledged" or "closed".
    #[error("not possible: the alert is {reason}")]
    AlertRefused {
        /// Why, as the alert's state says it.
        reason: &'static str,
    },
    /// The principal may not do this.
    #[error("not allowed: {action}")]
    Forbidden {
        /// The action refused.
        action: &'static str,
    },
    /// The thing does not exist (or is not visible to the principal).
    #[error("{entity} {key:?} not found")]
    NotFound {
        /// Kind.
        entity: &'static str,
        /// Key.
        key: String,
    },
    /// Conflicts with existing data.
    #[error("{entity} {key:?} already exists")]
    Conflict {
        /// Kind.
        entity: &'static str,
        /// Key.
        key: String,
    },
    /// Invalid input.
    #[error("{field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong, in German and English.
        message: Message,
    },
    /// An audit event that does not pass the checks.
    #[error("{0}")]
    InvalidEvent(#[source] leitstand_ledger::event::EventError),
    /// The audit log cannot take events now.
    #[error("audit log unavailable: {0}")]
    AuditUnavailable(String),
    /// The alert intake log cannot take alerts now (disk full, I/O error).
    #[error("alert intake unavailable: {0}")]
    IntakeUnavailable(String),
    /// Something broke inside.
    #[error("internal error: {0}")]
    Internal(#[source] StoreError),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { entity, key } => AppError::NotFound { entity, key },
            StoreError::Conflict { entity, key } => AppError::Conflict { entity, key },
            other => AppError::Internal(other),
        }
    }
}

impl AppError {
    /// Invalid input in `field`: what is wrong in English and German.
    pub fn invalid(field: &'static str, en: impl Into<String>, de: impl Into<String>) -> Self {
        AppError::Invalid { field, message: Message::new(en, de) }
    }
}
