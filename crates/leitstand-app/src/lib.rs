//! Application services: the one place where a unit of work happens.
//! Each service function checks authorisation against the role × action
//! matrix, runs the domain rules of `leitstand-core`, writes the store and
//! records the audit event — so the web handlers and CLI commands stay thin
//! and cannot forget a step.
//!
//! Must not depend on HTTP or the command line.

pub mod alerting;
pub mod audit;
mod error;
mod health;
pub mod identity;
pub mod incidents;
pub mod monitoring;
pub mod overview;
pub mod policy;
mod principal;
mod sealing;
mod secrets;
pub mod tenants;

use std::sync::Arc;

use leitstand_core::Clock;
use leitstand_core::access::Throttle;

pub use audit::{Audit, AuditLog, AuditLogSettings, AuditOpenError, AuditPage, AuditSink, INDEX_CURSOR};
pub use error::AppError;
pub use health::Readiness;
pub use identity::{
    FailedLogins, InFlight, LoginOutcome, NewApiToken, NewUserRequest, Oidc, OidcSettings, OidcStart,
    OwnPasswordChange, SessionSettings, UserView, ValidSession, generate_password, new_totp_secret, otpauth_uri,
    totp_code,
};
pub use leitstand_core::access::UserName;
pub use leitstand_core::input::Message;
/// The store's metrics hook, implemented by the HTTP edge's registry.
pub use leitstand_store::{Backend, StoreObserver};
pub use leitstand_store::{Store, StoreOptions};
#[cfg(feature = "testing")]
pub use leitstand_store::{store_test, testing};
pub use principal::{Principal, Via};
pub use sealing::{Sealer, Unsealable};
pub use tenants::TenantView;

/// Installs ring as the process's TLS crypto provider (reqwest is built
/// without a bundled one, keeping aws-lc out of the build). Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Result of a service call.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// The services over one store.
#[derive(Clone)]
pub struct App {
    /// The database: reached only through the services.
    pub(crate) store: Store,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Session timeouts.
    pub sessions: SessionSettings,
    /// Login throttling rules.
    pub throttle: Throttle,
    /// Failed-login rates for the security metrics.
    pub failed_logins: Arc<FailedLogins>,
    /// Sign-in attempts being checked now, per throttle key.
    pub attempts_in_flight: Arc<InFlight>,
    /// When expired sign-in counters were last deleted (Unix µs).
    throttle_purged_at: Arc<std::sync::atomic::AtomicI64>,
    used_totp_steps: Arc<identity::UsedSteps>,
    /// Sign-in through an identity provider, if configured.
    pub oidc: Option<Arc<Oidc>>,
    /// Where audit events go.
    pub audit_sink: AuditSink,
    /// Probes, scrapes, rules and their state.
    pub monitoring: Arc<monitoring::Monitoring>,
    /// Alerts, escalation, on-call and notifications.
    pub alerting: Arc<alerting::Alerting>,
    /// Incidents: their policies (regimes, calendars, severities).
    pub incidents: Arc<incidents::IncidentSettings>,
}

impl App {
    /// Services over `store` with `clock`, recording audit events to
    /// `audit_sink`, with default settings.
    pub fn new(store: Store, clock: Arc<dyn Clock>, audit_sink: AuditSink) -> Self {
        Self {
            store,
            clock,
            sessions: SessionSettings::default(),
            throttle: Throttle::default(),
            failed_logins: Arc::new(FailedLogins::default()),
            attempts_in_flight: Arc::default(),
            throttle_purged_at: Arc::default(),
            used_totp_steps: Arc::default(),
            oidc: None,
            audit_sink,
            monitoring: Arc::new(monitoring::Monitoring::disabled()),
            alerting: Arc::new(alerting::Alerting::disabled()),
            incidents: Arc::default(),
        }
    }

    /// The zone times are shown in: the platform policy's calendar zone.
    pub fn time_zone(&self) -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::get(&self.alerting.settings.policy.base.calendar.time_zone)
            .unwrap_or(jiff::tz::TimeZone::UTC)
    }

    /// The store, for tests that look beneath the services.
    #[cfg(feature = "testing")]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Audit recorder bound to this app.
    pub fn audit(&self) -> Audit<'_> {
        Audit::new(self)
    }
}
