//! Leitstand's HTTP edge. Handlers are thin: they extract input, call one
//! service, and render. This crate owns what every request shares — the
//! W3C trace context, the request metrics, security headers, body limits and
//! timeouts — and the operations endpoints that make Leitstand operable like
//! the systems it watches: `/healthz`, `/readyz`, `/metrics`.
//!
//! It must not contain domain rules (those live in `leitstand-core`) or SQL
//! (that lives in `leitstand-store`).

mod metrics;
mod ops;
mod problem;
mod trace;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::routing::get;
use leitstand_store::Store;
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

pub use metrics::Metrics;
pub use trace::TraceContext;

/// Limits applied to every request.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Largest accepted request body.
    pub body_limit_bytes: usize,
    /// Time after which a request is answered with 408.
    pub request_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self { body_limit_bytes: 1024 * 1024, request_timeout: Duration::from_secs(30) }
    }
}

/// Shared state of the HTTP edge.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Metrics registry.
    pub metrics: Arc<Metrics>,
    /// Set when shutdown starts: `/readyz` turns 503 so load balancers drain.
    pub draining: Arc<AtomicBool>,
}

impl AppState {
    /// State over `store`, reporting store latency into `metrics`.
    pub fn new(store: Store, metrics: Arc<Metrics>) -> Self {
        Self { store, metrics, draining: Arc::new(AtomicBool::new(false)) }
    }

    /// Marks the instance as shutting down.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }
}

/// The full router with middleware.
pub fn router(state: AppState, limits: &HttpLimits) -> Router {
    let routes = Router::new()
        .route("/", get(ops::landing))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route_layer(axum::middleware::from_fn(trace::record_route))
        .fallback(problem::not_found)
        .with_state(state.clone());

    let csp = "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
    let set = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    // Outermost first: every response, even a timeout or an oversized body,
    // is traced, counted and carries the security headers.
    routes.layer(
        ServiceBuilder::new()
            .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), trace::observe))
            .layer(set(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .layer(set(header::REFERRER_POLICY, "no-referrer"))
            .layer(set(header::X_FRAME_OPTIONS, "DENY"))
            .layer(set(header::CONTENT_SECURITY_POLICY, csp))
            .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, limits.request_timeout))
            .layer(RequestBodyLimitLayer::new(limits.body_limit_bytes)),
    )
}
