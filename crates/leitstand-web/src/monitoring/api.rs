//! `/api/v1/probes`, `/api/v1/targets`, `/api/v1/rules`: the monitoring
//! state as JSON, tenant-scoped like the pages.

use axum::Json;
use axum::extract::{Path, Query, State};
use jiff::Timestamp;
use leitstand_app::AppError;
use leitstand_app::monitoring::{AlertEvent, AlertView, AvailabilityView, ProbeView, RuleView, TargetView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::rest::*;

/// The last run of a probe.
#[derive(Serialize, ToSchema)]
pub(crate) struct LastRunJson {
    at: Timestamp,
    success: bool,
    duration_seconds: f64,
    status: Option<u16>,
    message: String,
}

/// A TLS probe's certificate.
#[derive(Serialize, ToSchema)]
pub(crate) struct CertificateJson {
    not_after: Timestamp,
    days_left: f64,
    subject: Option<String>,
}

/// A probe and its state.
#[derive(Serialize, ToSchema)]
pub(crate) struct ProbeJson {
    id: String,
    name: String,
    /// `http`, `tcp`, `dns`, `tls`, `cxml`.
    kind: &'static str,
    target: String,
    tenant: Option<String>,
    service: Option<String>,
    interval_seconds: f64,
    timeout_seconds: f64,
    retries: u32,
    /// `up`, `down` or `unknown`.
    state: &'static str,
    since: Option<Timestamp>,
    last: Option<LastRunJson>,
    certificate: Option<CertificateJson>,
}

pub(crate) fn state_name(up: Option<bool>) -> &'static str {
    match up {
        Some(true) => "up",
        Some(false) => "down",
        None => "unknown",
    }
}

impl ProbeJson {
    fn new(p: ProbeView, now: Timestamp) -> Self {
        ProbeJson {
            certificate: p.cert_not_after.map(|not_after| CertificateJson {
                not_after,
                days_left: not_after.duration_since(now).as_secs_f64() / 86_400.0,
                subject: p.cert_subject.clone(),
            }),
            state: state_name(p.up),
            last: p.last.map(|l| LastRunJson {
                at: l.at,
                success: l.success,
                duration_seconds: l.duration.as_secs_f64(),
                status: l.status,
                message: l.message,
            }),
            id: p.id,
            name: p.name,
            kind: p.kind,
            target: p.target,
            tenant: p.tenant,
            service: p.service,
            interval_seconds: p.interval.as_secs_f64(),
            timeout_seconds: p.timeout.as_secs_f64(),
            retries: p.retries,
            since: p.since,
        }
    }
}

/// One result kept in memory.
#[derive(Serialize, ToSchema)]
pub(crate) struct ProbePointJson {
    at: Timestamp,
    success: bool,
    duration_seconds: f64,
}

/// A probe with its recent results.
#[derive(Serialize, ToSchema)]
pub(crate) struct ProbeDetailJson {
    #[serde(flatten)]
    probe: ProbeJson,
    /// Results in memory, oldest first.
    results: Vec<ProbePointJson>,
}

/// `GET /api/v1/probes`.
#[utoipa::path(get, path = "/api/v1/probes", tag = "monitoring", responses((status = 200, body = Vec<ProbeJson>), (status = 403)))]
pub(crate) async fn list_probes(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<ProbeJson>>> {
    let probes = state.app.probes(caller.principal()).await.map_err(|e| caller.fail(e))?;
    let now = state.app.clock.now();
    Ok(Json(probes.into_iter().map(|p| ProbeJson::new(p, now)).collect()))
}

/// `GET /api/v1/probes/{id}`.
#[utoipa::path(get, path = "/api/v1/probes/{id}", tag = "monitoring", params(("id" = String, Path)), responses((status = 200, body = ProbeDetailJson), (status = 404)))]
pub(crate) async fn get_probe(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ProbeDetailJson>> {
    let (probe, points) = state.app.probe(caller.principal(), &id).await.map_err(|e| caller.fail(e))?;
    let now = state.app.clock.now();
    Ok(Json(ProbeDetailJson {
        probe: ProbeJson::new(probe, now),
        results: points
            .into_iter()
            .map(|p| ProbePointJson { at: p.at, success: p.success, duration_seconds: p.duration_seconds })
            .collect(),
    }))
}

/// The period of an availability query.
#[derive(Deserialize, IntoParams)]
pub(crate) struct PeriodQuery {
    /// Start (RFC 3339), inclusive; unset: the start of this calendar month
    /// in the time zone of the probe's tenant.
    from: Option<String>,
    /// End (RFC 3339), exclusive; unset: the start of next month.
    to: Option<String>,
}

/// One outage.
#[derive(Serialize, ToSchema)]
pub(crate) struct OutageJson {
    from: Timestamp,
    to: Timestamp,
    minutes: f64,
}

/// Availability per the EVB-IT formula.
#[derive(Serialize, ToSchema)]
pub(crate) struct AvailabilityJson {
    probe: String,
    from: Timestamp,
    to: Timestamp,
    /// Until when it was measured (the end, or now if that is earlier).
    measured_until: Timestamp,
    /// `(total − outage) / total`; null when nothing was measured.
    availability: Option<f64>,
    total_minutes: f64,
    outage_minutes: f64,
    maintenance_minutes: f64,
    /// Minutes without results (the probe was not running); neither up nor down.
    unknown_minutes: f64,
    outages: Vec<OutageJson>,
}

impl From<AvailabilityView> for AvailabilityJson {
    fn from(v: AvailabilityView) -> Self {
        let f = v.figures;
        let ts = |ms: i64| Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
        AvailabilityJson {
            probe: v.probe,
            from: v.from,
            to: v.to,
            measured_until: v.measured_until,
            availability: f.ratio,
            total_minutes: f.total_minutes,
            outage_minutes: f.outage_minutes,
            maintenance_minutes: f.maintenance_minutes,
            unknown_minutes: f.unknown_minutes,
            outages: f
                .outages
                .iter()
                .map(|&(s, e)| OutageJson { from: ts(s), to: ts(e), minutes: (e - s) as f64 / 60_000.0 })
                .collect(),
        }
    }
}

fn timestamp(field: &'static str, text: Option<&str>) -> Result<Option<Timestamp>, AppError> {
    match text {
        None | Some("") => Ok(None),
        Some(t) => t.parse().map(Some).map_err(|e| AppError::Invalid {
            field,
            message: leitstand_app::Message::new(
                format!("{t:?} is not an RFC 3339 time such as 2026-11-01T00:00:00Z: {e}"),
                format!("{t:?} ist keine Zeitangabe nach RFC 3339 wie 2026-11-01T00:00:00Z: {e}"),
            ),
        }),
    }
}

/// `GET /api/v1/probes/{id}/availability`.
#[utoipa::path(get, path = "/api/v1/probes/{id}/availability", tag = "monitoring", params(("id" = String, Path), PeriodQuery), responses((status = 200, body = AvailabilityJson), (status = 404), (status = 422)))]
pub(crate) async fn probe_availability(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<PeriodQuery>,
) -> ApiResult<Json<AvailabilityJson>> {
    let from = timestamp("from", q.from.as_deref()).map_err(|e| caller.fail(e))?;
    let to = timestamp("to", q.to.as_deref()).map_err(|e| caller.fail(e))?;
    let view = state.app.probe_availability(caller.principal(), &id, from, to).await.map_err(|e| caller.fail(e))?;
    Ok(Json(view.into()))
}

/// A scrape target and its last scrape.
#[derive(Serialize, ToSchema)]
pub(crate) struct TargetJson {
    id: String,
    url: String,
    tenant: Option<String>,
    service: Option<String>,
    interval_seconds: f64,
    /// `up`, `down` or `unknown` (not yet scraped).
    state: &'static str,
    last_scrape: Option<Timestamp>,
    last_scrape_duration_seconds: Option<f64>,
    samples: Option<usize>,
    error: Option<String>,
}

impl From<TargetView> for TargetJson {
    fn from(t: TargetView) -> Self {
        TargetJson {
            state: state_name(t.last.as_ref().map(|l| l.up)),
            last_scrape: t.last.as_ref().map(|l| l.at),
            last_scrape_duration_seconds: t.last.as_ref().map(|l| l.duration.as_secs_f64()),
            samples: t.last.as_ref().map(|l| l.samples),
            error: t.last.and_then(|l| l.error),
            id: t.id,
            url: t.url,
            tenant: t.tenant,
            service: t.service,
            interval_seconds: t.interval.as_secs_f64(),
        }
    }
}

/// `GET /api/v1/targets`.
#[utoipa::path(get, path = "/api/v1/targets", tag = "monitoring", responses((status = 200, body = Vec<TargetJson>), (status = 403)))]
pub(crate) async fn list_targets(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<TargetJson>>> {
    let targets = state.app.scrape_targets(caller.principal()).await.map_err(|e| caller.fail(e))?;
    Ok(Json(targets.into_iter().map(TargetJson::from).collect()))
}

fn map(pairs: Vec<(String, String)>) -> serde_json::Map<String, serde_json::Value> {
    pairs.into_iter().map(|(k, v)| (k, v.into())).collect()
}

/// An alert of a rule.
#[derive(Serialize, ToSchema)]
pub(crate) struct AlertJson {
    /// `pending` or `firing`.
    state: &'static str,
    #[schema(value_type = Object)]
    labels: serde_json::Map<String, serde_json::Value>,
    #[schema(value_type = Object)]
    annotations: serde_json::Map<String, serde_json::Value>,
    active_at: Timestamp,
    fired_at: Option<Timestamp>,
    value: f64,
}

impl From<AlertView> for AlertJson {
    fn from(a: AlertView) -> Self {
        AlertJson {
            state: a.state,
            labels: map(a.labels),
            annotations: map(a.annotations),
            active_at: a.active_at,
            fired_at: a.fired_at,
            value: a.value,
        }
    }
}

/// A rule, its state and its alerts.
#[derive(Serialize, ToSchema)]
pub(crate) struct RuleJson {
    name: String,
    /// `inactive`, `pending` or `firing`.
    state: &'static str,
    expr: String,
    /// Series the rule is limited to beyond its expression (a tenant's own
    /// thresholds: `tenant="bank-a"`; the platform's rules then `tenant!~"…"`).
    scope: Option<String>,
    #[schema(value_type = Object)]
    labels: serde_json::Map<String, serde_json::Value>,
    #[schema(value_type = Object)]
    annotations: serde_json::Map<String, serde_json::Value>,
    interval_seconds: f64,
    for_seconds: f64,
    last_evaluation: Option<Timestamp>,
    last_error: Option<String>,
    /// Metrics the rule reads that no series has: it cannot fire.
    missing_metrics: Vec<String>,
    alerts: Vec<AlertJson>,
}

impl From<RuleView> for RuleJson {
    fn from(r: RuleView) -> Self {
        RuleJson {
            state: r.state(),
            name: r.name,
            expr: r.expr,
            scope: r.scope,
            labels: map(r.labels),
            annotations: map(r.annotations),
            interval_seconds: r.interval.as_secs_f64(),
            for_seconds: r.for_duration.as_secs_f64(),
            last_evaluation: r.last_eval,
            last_error: r.last_error,
            missing_metrics: r.missing_metrics,
            alerts: r.alerts.into_iter().map(AlertJson::from).collect(),
        }
    }
}

/// `GET /api/v1/rules`.
#[utoipa::path(get, path = "/api/v1/rules", tag = "monitoring", responses((status = 200, body = Vec<RuleJson>), (status = 403)))]
pub(crate) async fn list_rules(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<RuleJson>>> {
    let rules = state.app.rules(caller.principal()).await.map_err(|e| caller.fail(e))?;
    Ok(Json(rules.into_iter().map(RuleJson::from).collect()))
}

/// A change of an alert's state.
#[derive(Serialize, ToSchema)]
pub(crate) struct AlertChangeJson {
    rule: String,
    /// `pending`, `firing` or `resolved`.
    state: &'static str,
    at: Timestamp,
    active_at: Timestamp,
    value: f64,
    #[schema(value_type = Object)]
    labels: serde_json::Map<String, serde_json::Value>,
    #[schema(value_type = Object)]
    annotations: serde_json::Map<String, serde_json::Value>,
}

impl From<AlertEvent> for AlertChangeJson {
    fn from(e: AlertEvent) -> Self {
        AlertChangeJson {
            rule: e.rule,
            state: e.state,
            at: e.at,
            active_at: e.active_at,
            value: e.value,
            labels: map(e.labels),
            annotations: map(e.annotations),
        }
    }
}

/// `GET /api/v1/rules/changes`: the latest alert changes, newest first.
#[utoipa::path(get, path = "/api/v1/rules/changes", tag = "monitoring", responses((status = 200, body = Vec<AlertChangeJson>), (status = 403)))]
pub(crate) async fn alert_changes(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<AlertChangeJson>>> {
    let changes = state.app.alert_changes(caller.principal()).await.map_err(|e| caller.fail(e))?;
    Ok(Json(changes.into_iter().map(AlertChangeJson::from).collect()))
}

/// The routes, registered from the same annotations that make the OpenAPI
/// document.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_probes))
        .routes(routes!(get_probe))
        .routes(routes!(probe_availability))
        .routes(routes!(list_targets))
        .routes(routes!(list_rules))
        .routes(routes!(alert_changes))
}
