//! Application services against SQLite and PostgreSQL, with a manual clock.
#![allow(missing_docs, clippy::unwrap_used)]

mod identity;
mod tenants;

use std::sync::Arc;

use jiff::Timestamp;
use leitstand_app::{App, NewUserRequest, Principal};
use leitstand_core::access::{Role, Throttle};
use leitstand_core::clock::ManualClock;
use leitstand_store::Store;

pub const PASSWORD: &str = "korrekt Pferd Batterie";

pub fn app(store: &Store) -> (App, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new("2026-11-23T10:00:00Z".parse::<Timestamp>().unwrap()));
    let mut app = App::new(store.clone(), clock.clone());
    app.throttle = Throttle { base_delay: std::time::Duration::ZERO, ..Throttle::default() };
    (app, clock)
}

/// The bootstrap admin, as a session principal.
pub async fn admin(app: &App) -> Principal {
    app.bootstrap_admin(Some(PASSWORD.into())).await.unwrap();
    app.login("admin", PASSWORD, None, "127.0.0.1").await.unwrap().session.principal
}

pub async fn add(app: &App, admin: &Principal, name: &str, role: Role, tenants: &[&str]) -> Principal {
    app.add_user(
        admin,
        NewUserRequest {
            username: name.into(),
            display_name: String::new(),
            role,
            password: PASSWORD.into(),
            tenants: tenants.iter().map(|s| s.to_string()).collect(),
        },
    )
    .await
    .unwrap();
    app.login(name, PASSWORD, None, "127.0.0.1").await.unwrap().session.principal
}
