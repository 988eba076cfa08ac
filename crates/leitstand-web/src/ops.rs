//! Operations endpoints: liveness, readiness, metrics, and the start page.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::AppState;

/// `GET /healthz` — the process is alive and serving.
pub(crate) async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "alive" }))
}

/// `GET /readyz` — the store answers and its schema is this binary's; 503
/// while draining for shutdown or when the database is unreachable.
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let backend = state.app.store.backend().as_str();
    if state.draining.load(Ordering::SeqCst) {
        let body = json!({ "status": "draining", "database": backend });
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    match state.app.store.schema_status().await {
        Ok(schema) if schema.is_current() => {
            let body = json!({
                "status": "ready",
                "database": backend,
                "schema": { "applied": schema.applied, "known": schema.known },
            });
            (StatusCode::OK, Json(body)).into_response()
        }
        Ok(schema) => {
            let body = json!({
                "status": "not ready",
                "database": backend,
                "reason": "database schema is not at this release's version",
                "schema": { "applied": schema.applied, "known": schema.known },
            });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            let body = json!({ "status": "not ready", "database": backend, "reason": "database unreachable" });
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
    if let Some(log) = state.app.audit_sink.log() {
        use std::sync::atomic::Ordering::Relaxed;
        let s = log.ledger.state();
        state.metrics.set_audit_log([
            s.sequenced,
            s.published,
            log.indexed(),
            log.verify_findings.load(Relaxed),
            log.verify_runs.load(Relaxed),
        ]);
        if let Some(siem) = log.siem.get() {
            state.metrics.set_siem([
                siem.confirmed.load(Relaxed),
                u64::from(siem.connected.load(Relaxed)),
                siem.failures.load(Relaxed),
                siem.skipped.load(Relaxed),
            ]);
        }
        for w in &log.witnesses {
            let name = w.endpoint.verifier.name();
            state.metrics.set_witness(name, w.cosigned.load(Relaxed), w.refusals.load(Relaxed));
        }
    }
    let body = state.metrics.encode();
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body).into_response()
}
