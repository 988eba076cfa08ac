//! The HTTP edge over real HTTP on loopback, against SQLite and PostgreSQL.
#![allow(missing_docs, clippy::unwrap_used)]

mod ops;

use std::net::SocketAddr;
use std::sync::Arc;

use leitstand_store::Store;
use leitstand_web::{AppState, HttpLimits, Metrics, router};

/// A running server on a random loopback port.
pub struct App {
    pub addr: SocketAddr,
    pub state: AppState,
    pub client: reqwest::Client,
}

impl App {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

pub async fn spawn_app(store: Store) -> App {
    let start: jiff::Timestamp = "2026-11-23T10:00:00Z".parse().unwrap();
    let metrics = Arc::new(Metrics::new(store.backend(), start));
    let store = store.with_observer(metrics.clone());
    let clock = Arc::new(leitstand_core::clock::ManualClock::new(start));
    let state = AppState::new(leitstand_app::App::new(store, clock), metrics);
    let app = router(state.clone(), &HttpLimits::default()).into_make_service_with_connect_info::<SocketAddr>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    App { addr, state, client: reqwest::Client::new() }
}
