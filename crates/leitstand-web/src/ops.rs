//! Operations endpoints: liveness, readiness, metrics, and the start page.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use leitstand_app::Readiness;
use serde_json::json;

use crate::AppState;

/// `GET /healthz` — the process is alive and serving.
pub(crate) async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "alive" }))
}

/// `GET /readyz` — the store answers and its schema is this binary's; 503
/// while draining for shutdown or when the database is unreachable.
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let database = state.app.database();
    if state.draining.load(Ordering::SeqCst) {
        let body = json!({ "status": "draining", "database": database });
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    match state.app.readiness().await {
        Readiness::Ready { applied, known } => {
            let body = json!({
                "status": "ready",
                "database": database,
                "schema": { "applied": applied, "known": known },
            });
            (StatusCode::OK, Json(body)).into_response()
        }
        Readiness::SchemaMismatch { applied, known } => {
            let body = json!({
                "status": "not ready",
                "database": database,
                "reason": "database schema is not at this release's version",
                "schema": { "applied": applied, "known": known },
            });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
        Readiness::Unreachable(error) => {
            tracing::warn!(%error, "readiness check failed");
            let body = json!({ "status": "not ready", "database": database, "reason": "database unreachable" });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

/// `GET /metrics` — Prometheus / OpenMetrics exposition.
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    state.metrics.set_monitoring(state.app.monitoring.stats());
    state.metrics.set_alerting(state.app.alerting.stats());
    let (per_ip, per_account, total) = state.app.failed_logins.snapshot(state.app.clock.now());
    state.metrics.set_failed_logins(per_ip, per_account, total);
    if let Some(audit) = state.app.audit_figures() {
        state.metrics.set_audit_log(audit.log);
        if let Some(siem) = audit.siem {
            state.metrics.set_siem(siem);
        }
        for (name, cosigned, refusals) in &audit.witnesses {
            state.metrics.set_witness(name, *cosigned, *refusals);
        }
    }
    let body = state.metrics.encode();
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body).into_response()
}
