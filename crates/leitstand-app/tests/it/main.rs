//! Application services against SQLite and PostgreSQL, with a manual clock.
#![allow(missing_docs, clippy::unwrap_used)]

mod alerting;
mod audit;
mod identity;
mod incidents;
mod monitoring;
mod tenants;

use std::sync::Arc;

use jiff::Timestamp;
use leitstand_app::{App, NewUserRequest, OwnPasswordChange, Principal};
use leitstand_core::access::{Role, Throttle};
use leitstand_core::clock::ManualClock;
use leitstand_store::Store;

pub const PASSWORD: &str = "korrekt Pferd Batterie";
/// The one-time password a new user is created with.
pub const ONE_TIME: &str = "Einmal Kennwort 4711";

pub fn app(store: &Store) -> (App, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new("2026-11-23T10:00:00Z".parse::<Timestamp>().unwrap()));
    let mut app = App::new(store.clone(), clock.clone(), audit_sink(clock.clone()));
    app.throttle = Throttle { base_delay: std::time::Duration::ZERO, ..Throttle::default() };
    (app, clock)
}

/// A fresh audit log in a temporary directory (kept for inspection).
pub fn audit_sink(clock: Arc<ManualClock>) -> leitstand_app::AuditSink {
    audit_sink_with(clock, |_| {})
}

/// A fresh audit log whose settings `adjust` changed first.
pub fn audit_sink_with(
    clock: Arc<ManualClock>,
    adjust: impl FnOnce(&mut leitstand_app::AuditLogSettings),
) -> leitstand_app::AuditSink {
    let dir = tempfile::Builder::new().prefix("leitstand-test-").tempdir().unwrap().keep();
    let mut settings = leitstand_app::AuditLogSettings::in_data_dir(&dir);
    settings.checkpoint_interval = std::time::Duration::from_millis(5);
    adjust(&mut settings);
    leitstand_app::AuditSink::open(settings, clock, false).unwrap()
}

/// Every audit event so far, newest first (after the index caught up).
pub async fn audit(app: &App) -> Vec<leitstand_store::IndexedEvent> {
    app.index_audit_step().await.unwrap();
    let query = leitstand_store::AuditQuery { limit: 1000, ..Default::default() };
    leitstand_store::AuditLogRepository::query_audit(app.store(), &query).await.unwrap()
}

/// The bootstrap admin, as a session principal.
pub async fn admin(app: &App) -> Principal {
    app.bootstrap_admin(Some(PASSWORD.into())).await.unwrap();
    app.login("admin", PASSWORD, None, "127.0.0.1").await.unwrap().session.principal
}

/// A new user who has replaced the one-time password with [`PASSWORD`],
/// signed in.
pub async fn add(app: &App, admin: &Principal, name: &str, role: Role, tenants: &[&str]) -> Principal {
    app.add_user(
        admin,
        NewUserRequest {
            username: name.into(),
            display_name: String::new(),
            role,
            password: ONE_TIME.into(),
            tenants: tenants.iter().map(|s| s.to_string()).collect(),
        },
    )
    .await
    .unwrap();
    let first = app.login(name, ONE_TIME, None, "127.0.0.1").await.unwrap().session.principal;
    let change = OwnPasswordChange { current: ONE_TIME.into(), new: PASSWORD.into(), revoke_tokens: false };
    app.change_own_password(&first, change, "127.0.0.1").await.unwrap();
    app.login(name, PASSWORD, None, "127.0.0.1").await.unwrap().session.principal
}
