//! Leitstand's HTTP edge. Handlers are thin: they extract input, call one
//! service, and render. This crate owns what every request shares — the
//! W3C trace context, the request metrics, security headers, body limits and
//! timeouts — and the operations endpoints that make Leitstand operable like
//! the systems it watches: `/healthz`, `/readyz`, `/metrics`.
//!
//! It must not contain domain rules (those live in `leitstand-core`) or SQL
//! (that lives in `leitstand-store`).

mod api;
mod auditlog;
mod csrf;
mod ctx;
mod i18n;
mod metrics;
mod ops;
mod origin;
mod pages;
mod problem;
mod time;
mod trace;
mod witness;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::routing::{get, post};
use leitstand_app::App;
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

pub use i18n::{Lang, Tr};
pub use metrics::Metrics;
pub use origin::{BadProxy, ClientOrigin, TrustedProxies, client_origin};
pub use pages::safe_next;
pub use trace::TraceContext;
pub use witness::witness_router;

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
    /// Serve `/audit/log/` without sign-in.
    pub audit_public: bool,
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
            audit_public: true,
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
    let (api_routes, openapi) = api::router().split_for_parts();
    let openapi_json = ([(header::CONTENT_TYPE, "application/json")], openapi.to_pretty_json().unwrap_or_default());
    let routes = Router::new()
        .route("/", get(pages::dashboard))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/static/app.css", get(pages::stylesheet))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/login/oidc", get(pages::oidc_start))
        .route("/login/oidc/callback", get(pages::oidc_callback))
        .route("/logout", post(pages::logout))
        .route("/language", post(pages::language))
        .route("/barrierefreiheit", get(pages::accessibility))
        .route("/tenants", get(pages::tenants).post(pages::create_tenant))
        .route("/tenants/{slug}", post(pages::change_tenant))
        .route("/users", get(pages::users).post(pages::create_user))
        .route("/users/{name}", post(pages::change_user))
        .route("/tokens", get(pages::tokens).post(pages::create_token))
        .route("/tokens/{id}/revoke", post(pages::revoke_token))
        .route("/profile", get(pages::profile))
        .route("/profile/password", post(pages::change_password))
        .route("/profile/totp", post(pages::change_totp))
        .route("/audit", get(pages::audit))
        .route("/probes", get(pages::probes))
        .route("/probes/{id}", get(pages::probe))
        .route("/targets", get(pages::targets))
        .route("/rules", get(pages::rules))
        .route("/alerts", get(pages::alerts))
        .route("/alerts/{id}", get(pages::alert).post(pages::respond))
        .route("/alerts/silences", get(pages::silences).post(pages::create_silence))
        .route("/alerts/silences/{id}/expire", post(pages::expire_silence))
        .route("/alerts/schedules", get(pages::schedules))
        .route("/alerts/schedules/{id}/overrides", post(pages::create_override))
        .route("/alerts/overrides/{id}/delete", post(pages::delete_override))
        .route("/alerts/channels", get(pages::channels))
        .route("/alerts/channels/{id}/test", post(pages::test_channel))
        .route("/alerts/act/{token}", get(pages::link).post(pages::act_by_link))
        .route("/audit/log/checkpoint", get(auditlog::checkpoint))
        .route("/audit/log/tile/{*rest}", get(auditlog::tile))
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
