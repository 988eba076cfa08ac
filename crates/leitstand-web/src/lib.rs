//! Leitstand's HTTP edge. Handlers are thin: they extract input, call one
//! service, and render. This crate owns what every request shares — the
//! W3C trace context, the request metrics, security headers, body limits and
//! timeouts — and the operations endpoints that make Leitstand operable like
//! the systems it watches: `/healthz`, `/readyz`, `/metrics`.
//!
//! It must not contain domain rules (those live in `leitstand-core`) or SQL
//! (that lives in `leitstand-store`).

// An early `Response` is the natural error of a page handler.
#![allow(clippy::result_large_err)]

// Capabilities, each with its `api.rs` and `pages.rs`.
mod alerting;
mod audit;
mod identity;
mod incidents;
mod monitoring;
mod overview;
mod policy;
mod tenants;

// What every request and page shares.
mod csrf;
mod ctx;
mod i18n;
mod metrics;
mod ops;
mod origin;
mod page;
mod problem;
mod rest;
mod time;
mod trace;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::routing::get;
use leitstand_app::App;
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

pub use audit::witness::witness_router;
pub use i18n::{Lang, Tr};
pub use identity::pages::safe_next;
pub use metrics::Metrics;
pub use origin::{BadProxy, ClientOrigin, TrustedProxies, client_origin};
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
    /// The application services (and through them the store and clock).
    pub app: App,
    /// Metrics registry.
    pub metrics: Arc<Metrics>,
    /// Set when shutdown starts: `/readyz` turns 503 so load balancers drain.
    pub draining: Arc<AtomicBool>,
    /// Contact address for accessibility feedback.
    pub contact: String,
    /// Reverse proxies whose forwarding headers are believed.
    pub trusted_proxies: Arc<TrustedProxies>,
}

impl AppState {
    /// State over the services, reporting into `metrics`.
    pub fn new(app: App, metrics: Arc<Metrics>) -> Self {
        Self {
            app,
            metrics,
            draining: Arc::new(AtomicBool::new(false)),
            contact: "barrierefreiheit@example.invalid".into(),
            trusted_proxies: Arc::default(),
        }
    }

    /// Marks the instance as shutting down.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }
}

/// The full router with middleware.
pub fn router(state: AppState, limits: &HttpLimits) -> Router {
    let (api_routes, openapi) = rest::router().split_for_parts();
    let openapi_json = ([(header::CONTENT_TYPE, "application/json")], openapi.to_pretty_json().unwrap_or_default());
    let routes = Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .merge(page::routes())
        .merge(overview::pages::routes())
        .merge(identity::pages::routes())
        .merge(tenants::pages::routes())
        .merge(audit::pages::routes())
        .merge(monitoring::pages::routes())
        .merge(alerting::pages::routes())
        .merge(policy::pages::routes())
        .merge(api_routes)
        .route("/api/v1/openapi.json", get(move || std::future::ready(openapi_json.clone())))
        .route_layer(axum::middleware::from_fn(trace::record_route))
        .fallback(problem::not_found)
        .with_state(state.clone());

    let csp = "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
    let set = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    // Outermost first: every response, even a timeout or an oversized body,
    // is traced, counted and carries the security headers. Nothing is kept
    // by caches unless its route says so (the stylesheet, the audit log's
    // public tiles): signed-in pages show secrets, new tokens among them.
    routes.layer(
        ServiceBuilder::new()
            .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), trace::observe))
            .layer(axum::middleware::from_fn_with_state(state.trusted_proxies.clone(), origin::record))
            .layer(set(header::CACHE_CONTROL, "no-store"))
            .layer(set(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .layer(set(header::REFERRER_POLICY, "no-referrer"))
            .layer(set(header::X_FRAME_OPTIONS, "DENY"))
            .layer(set(header::CONTENT_SECURITY_POLICY, csp))
            .layer(axum::middleware::from_fn(hsts))
            .layer(axum::middleware::from_fn(csrf::guard))
            .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, limits.request_timeout))
            .layer(RequestBodyLimitLayer::new(limits.body_limit_bytes)),
    )
}

/// `Strict-Transport-Security` when the request came over TLS.
async fn hsts(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let tls = ClientOrigin::of(req.extensions()).tls;
    let mut response = next.run(req).await;
    if tls {
        response
            .headers_mut()
            .insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    }
    response
}
