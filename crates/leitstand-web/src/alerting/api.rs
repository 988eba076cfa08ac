//! Alerting over HTTP. Two faces: Alertmanager's own API (`POST` and
//! `GET /api/v2/alerts`, `GET /api/v2/status`) and its webhook receiver
//! (`POST /api/v1/alerts/alertmanager`), so an existing Prometheus or
//! Alertmanager sends to Leitstand without being changed; and Leitstand's
//! API under `/api/v1` for alerts, silences, on-call schedules and
//! channels, tenant-scoped like the pages.
//!
//! Payloads are checked by `leitstand_alerting::wire`; a refused payload is
//! answered 400 with the path of the field (`[3].labels.alertname: …`), so
//! the sender's operator finds it at once, and nothing of it is stored.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use leitstand_alerting::LabelSet;
use leitstand_alerting::lifecycle::Status;
use leitstand_alerting::matchers::{matches_all, parse_matcher};
use leitstand_alerting::wire::{AlertState, GO_ZERO_TIME, GettableAlert, Receiver};
use leitstand_app::alerting::engine::Action as Respond;
use leitstand_app::alerting::{
    AlertDetail, AlertListQuery, AlertView, ChannelView, NewSilence, ScheduleView, SilenceView,
};
use leitstand_app::{App, AppError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::problem::problem;
use crate::rest::*;

// ---------------------------------------------------------------------------
// Input helpers

/// The body, or 422 naming what is wrong (as problem details, not axum's
/// plain text).
fn body<T>(caller: &Caller, json: Result<Json<T>, JsonRejection>) -> ApiResult<T> {
    json.map(|Json(v)| v).map_err(|e| {
        caller.fail(AppError::Invalid {
            field: "body",
            message: e.body_text().replace("Failed to deserialize the JSON body into the target type: ", ""),
        })
    })
}

/// An id from the path; anything that is not a UUID is simply not found.
fn id_of(caller: &Caller, entity: &'static str, text: &str) -> ApiResult<Uuid> {
    text.parse().map_err(|_| caller.fail(AppError::NotFound { entity, key: text.to_string() }))
}

/// `None` for an absent or blank query value (forms send `tenant=`).
fn given(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

fn bad_request(caller: &Caller, detail: impl Into<String>) -> Response {
    problem(StatusCode::BAD_REQUEST, detail, &caller.request_id)
}

/// An ingest failure: refused input is the sender's fault (400, not to be
/// retried); an engine that stopped mid-batch is ours (503, send again).
fn ingest_error(caller: &Caller, error: AppError) -> Response {
    match error {
        AppError::Invalid { field: "alerts", message } => {
            problem(StatusCode::SERVICE_UNAVAILABLE, message, &caller.request_id)
        }
        AppError::Invalid { field: "payload", message } => bad_request(caller, message),
        e @ AppError::Invalid { .. } => bad_request(caller, e.to_string()),
        other => caller.fail(other).into_response(),
    }
}

// ---------------------------------------------------------------------------
// Alertmanager API v2

/// A postable alert (Alertmanager API v2); documentation of the wire format,
/// parsed by `leitstand_alerting::wire`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct PostableAlertDoc {
    /// Labels; at least one with a value. `alertname`, `severity`
    /// (`warning` → level 1, `critical` → level 2; `info`/`none` are
    /// recorded, never notified), `tenant` (a tenant's slug), `service`.
    #[schema(value_type = Object)]
    labels: LabelSet,
    /// Annotations (`summary`, `description`, …).
    #[schema(value_type = Object)]
    annotations: Option<LabelSet>,
    /// RFC 3339; unset: now.
    starts_at: Option<String>,
    /// RFC 3339; in the past: the alert is resolved; in the future: the
    /// sender promises to repeat the alert before then.
    ends_at: Option<String>,
    #[schema(rename = "generatorURL")]
    generator_url: Option<String>,
}

/// `POST /api/v2/alerts`: alerts from Prometheus (or anything speaking
/// Alertmanager's API v2). Answered like Alertmanager: 200 with an empty
/// body once the alerts are durable.
#[utoipa::path(post, path = "/api/v2/alerts", tag = "alertmanager", request_body = Vec<PostableAlertDoc>, responses((status = 200, description = "Taken (empty body)"), (status = 400, description = "Names the field: `[3].labels.alertname: …`; nothing was stored"), (status = 401), (status = 403), (status = 503, description = "The engine stopped; send again")))]
pub(crate) async fn post_alerts_v2(State(state): State<AppState>, caller: Caller, raw: Bytes) -> Response {
    match state.app.ingest_alertmanager_alerts(caller.principal(), &raw).await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(e) => ingest_error(&caller, e),
    }
}

/// `GET /api/v2/alerts` filters, as amtool and Karma send them.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct GettableQueryDoc {
    /// Include alerts that are notified (default true).
    active: Option<bool>,
    /// Include alerts held back by a silence or a maintenance window (default true).
    silenced: Option<bool>,
    /// Include alerts held back by an alert they depend on (default true).
    inhibited: Option<bool>,
    /// Leitstand processes alerts before answering: there are none (accepted, ignored).
    unprocessed: Option<bool>,
    /// A matcher such as `alertname="ProbeDown"`; repeat for several (all must match).
    filter: Option<Vec<String>>,
    /// Accepted for compatibility; every alert goes to the receiver `leitstand`.
    receiver: Option<String>,
}

/// An alert as `GET /api/v2/alerts` lists it (Alertmanager's gettableAlert).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct GettableAlertDoc {
    #[schema(value_type = Object)]
    labels: LabelSet,
    #[schema(value_type = Object)]
    annotations: LabelSet,
    starts_at: String,
    /// When it resolved; `0001-01-01T00:00:00Z` (Go's zero time) while it fires.
    ends_at: String,
    /// The latest of start, acknowledgement and resolution.
    updated_at: String,
    #[schema(rename = "generatorURL")]
    generator_url: Option<String>,
    /// 16 hex digits, Alertmanager's algorithm.
    fingerprint: String,
    /// Always `[{"name": "leitstand"}]`: Leitstand's escalation policy decides who is told.
    #[schema(value_type = Vec<Object>)]
    receivers: Vec<String>,
    /// `{state: active|suppressed, silencedBy: [silence id], inhibitedBy: [fingerprint]}`.
    #[schema(value_type = Object)]
    status: String,
}

/// The firing alert `a` as Alertmanager shows it.
fn gettable(a: AlertView) -> GettableAlert {
    let updated_at = [Some(a.starts_at), a.acked_at, a.resolved_at].into_iter().flatten().max().unwrap_or(a.starts_at);
    let ends_at = a.resolved_at.unwrap_or(GO_ZERO_TIME);
    let mut g = GettableAlert::new(a.labels, a.annotations, a.starts_at, ends_at, updated_at, a.generator_url);
    g.receivers = vec![Receiver { name: "leitstand".into() }];
    match a.suppressed.as_deref().and_then(|s| s.split_once(':')) {
        Some(("silence", id)) => {
            g.status.state = AlertState::Suppressed;
            g.status.silenced_by.push(id.to_string());
        }
        Some(("inhibited", fingerprint)) => {
            g.status.state = AlertState::Suppressed;
            g.status.inhibited_by.push(fingerprint.to_string());
        }
        // A maintenance window: held back, by nothing Alertmanager has a name for.
        Some(_) => g.status.state = AlertState::Suppressed,
        None => {}
    }
    g
}

fn flag(caller: &Caller, pairs: &[(String, String)], name: &'static str) -> ApiResult<bool> {
    match pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str()) {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => {
            Err(caller.fail(AppError::Invalid { field: name, message: format!("{other:?} is not true or false") }))
        }
    }
}

/// `GET /api/v2/alerts`: the firing alerts visible to the caller, as
/// Alertmanager lists them (for amtool, Karma, Grafana). At most 1000, newest first.
#[utoipa::path(get, path = "/api/v2/alerts", tag = "alertmanager", params(GettableQueryDoc), responses((status = 200, body = Vec<GettableAlertDoc>), (status = 400), (status = 401), (status = 403)))]
pub(crate) async fn get_alerts_v2(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let Ok(Query(pairs)) = query else { return bad_request(&caller, "the query string is not valid") };
    let flags =
        (flag(&caller, &pairs, "active"), flag(&caller, &pairs, "silenced"), flag(&caller, &pairs, "inhibited"));
    let (active, silenced, inhibited) = match flags {
        (Ok(a), Ok(s), Ok(i)) => (a, s, i),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e.into_response(),
    };
    let mut matchers = Vec::new();
    for (_, text) in pairs.iter().filter(|(k, _)| k == "filter") {
        match parse_matcher(text) {
            Ok(m) => matchers.push(m),
            Err(e) => return bad_request(&caller, format!("filter: {e}")),
        }
    }
    let q = AlertListQuery { status: Some(Status::Firing), limit: Some(1_000), ..Default::default() };
    let alerts = match state.app.alerts(caller.principal(), &q).await {
        Ok(a) => a,
        Err(e) => return caller.fail(e).into_response(),
    };
    let list: Vec<GettableAlert> = alerts
        .into_iter()
        .filter(|a| matches_all(&matchers, &a.labels))
        .map(gettable)
        .filter(|g| {
            if !g.status.inhibited_by.is_empty() {
                inhibited
            } else if g.status.state == AlertState::Suppressed {
                silenced
            } else {
                active
            }
        })
        .collect();
    Json(list).into_response()
}

/// When this process started: `leitstand_process_start_time_seconds` of
/// its own metrics (the one place the start time is kept).
fn process_start(state: &AppState) -> Option<Timestamp> {
    let text = state.metrics.encode();
    let line = text.lines().find(|l| l.starts_with("leitstand_process_start_time_seconds "))?;
    let seconds: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Timestamp::from_second(seconds as i64).ok()
}

/// `GET /api/v2/status`: what tools probe before they talk to an
/// Alertmanager. Leitstand is no Alertmanager cluster (`disabled`) and has
/// no Alertmanager configuration (`original` is empty); the version is
/// Leitstand's.
#[utoipa::path(get, path = "/api/v2/status", tag = "alertmanager", responses((status = 200, description = "`{cluster: {status: \"disabled\", peers: []}, versionInfo: {…}, config: {original: \"\"}, uptime}`; `uptime` is when the process started, as in Alertmanager"), (status = 401)))]
pub(crate) async fn status_v2(State(state): State<AppState>, _caller: Caller) -> Json<serde_json::Value> {
    let started = process_start(&state).unwrap_or_else(|| state.app.clock.now());
    Json(serde_json::json!({
        "cluster": { "status": "disabled", "peers": [] },
        "versionInfo": {
            "version": env!("CARGO_PKG_VERSION"),
            "revision": "",
            "branch": "",
            "buildUser": "",
            "buildDate": "",
            "goVersion": "",
        },
        "config": { "original": "" },
        "uptime": started,
    }))
}

/// An Alertmanager webhook payload (version 4); documentation of the wire
/// format, parsed by `leitstand_alerting::wire`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct WebhookDoc {
    /// Must be `"4"`.
    version: String,
    receiver: Option<String>,
    /// `firing` or `resolved`.
    status: Option<String>,
    group_key: Option<String>,
    #[schema(value_type = Object)]
    group_labels: Option<LabelSet>,
    #[schema(rename = "externalURL")]
    external_url: Option<String>,
    truncated_alerts: Option<u64>,
    /// Each with `status` (`firing`/`resolved`), `labels`, `annotations`,
    /// `startsAt`, `endsAt`, `generatorURL`, `fingerprint`.
    #[schema(value_type = Vec<Object>)]
    alerts: Vec<String>,
}

/// `POST /api/v1/alerts/alertmanager`: the receiver for an Alertmanager's
/// `webhook_config` (with `http_config.authorization` carrying a token of
/// scope `ingest`). Resolved alerts resolve.
#[utoipa::path(post, path = "/api/v1/alerts/alertmanager", tag = "alerts", request_body = WebhookDoc, responses((status = 200, description = "`{accepted}`: how many alerts were taken"), (status = 400, description = "Names the field: `alerts[0].status: …`; nothing was stored"), (status = 401), (status = 403), (status = 503)))]
pub(crate) async fn alertmanager_webhook(State(state): State<AppState>, caller: Caller, raw: Bytes) -> Response {
    match state.app.ingest_alertmanager_webhook(caller.principal(), &raw).await {
        Ok(n) => Json(serde_json::json!({ "accepted": n })).into_response(),
        Err(e) => ingest_error(&caller, e),
    }
}

// ---------------------------------------------------------------------------
// Alerts

/// An alert episode.
#[derive(Serialize, ToSchema)]
pub(crate) struct AlertJson {
    id: Uuid,
    /// 16 hex digits (Alertmanager's fingerprint of the labels).
    fingerprint: String,
    alertname: String,
    /// Annotation `summary`, else `summary_de` (Leitstand's own rules write
    /// `summary_de` and `summary_en`; both are in `annotations`), else the
    /// alert name.
    summary: String,
    /// `firing` or `resolved`.
    status: String,
    severity: String,
    /// Escalation level; 0: not actionable (recorded, never notified).
    level: u8,
    /// The level's name in the policy (`Warnung`, `Kritisch`, `Ausfall`).
    level_name: String,
    tenant: Option<String>,
    service: Option<String>,
    starts_at: Timestamp,
    resolved_at: Option<Timestamp>,
    /// The end the sender announced (`endsAt`; for an alert sent without
    /// one, `alerting.resolve_timeout` after it was last sent): it resolves
    /// then unless sent again.
    ends_at: Option<Timestamp>,
    acknowledged_by: Option<String>,
    acknowledged_at: Option<Timestamp>,
    /// What holds it back: `silence:ID`, `inhibited:FINGERPRINT`, `maintenance:NAME`.
    suppressed_by: Option<String>,
    /// When the next escalation step is due (the deadline, or the end of
    /// what holds it back); null once acknowledged or at the top level.
    next_step_at: Option<Timestamp>,
    /// Until when someone must act (the level's `act_within`, from when
    /// the alert reached it); null once acknowledged or resolved.
    act_by: Option<Timestamp>,
    /// `rule`, `api` or `webhook`.
    source: String,
    generator_url: Option<String>,
    #[schema(value_type = Object)]
    labels: LabelSet,
    #[schema(value_type = Object)]
    annotations: LabelSet,
}

impl From<AlertView> for AlertJson {
    fn from(a: AlertView) -> Self {
        AlertJson {
            summary: a.summary("de").to_string(),
            id: a.id,
            fingerprint: a.fingerprint,
            alertname: a.alertname,
            status: a.status,
            severity: a.severity,
            level: a.level,
            level_name: a.level_name,
            tenant: a.tenant,
            service: a.service,
            starts_at: a.starts_at,
            resolved_at: a.resolved_at,
            acknowledged_by: a.acked_by,
            acknowledged_at: a.acked_at,
            suppressed_by: a.suppressed,
            next_step_at: a.next_step_at,
            act_by: a.act_by,
            ends_at: a.ends_at,
            source: a.source,
            generator_url: a.generator_url,
            labels: a.labels,
            annotations: a.annotations,
        }
    }
}

/// Filters of `GET /api/v1/alerts`. Unknown ones are refused: a mistyped
/// filter must not silently return everything.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertsQuery {
    /// Tenant slug.
    tenant: Option<String>,
    /// `firing` or `resolved`.
    status: Option<String>,
    /// The `severity` label.
    severity: Option<String>,
    /// The `service` label.
    service: Option<String>,
    /// 1–1000; default 100.
    limit: Option<u32>,
}

/// The service's query from what was typed (an empty field filters
/// nothing); a status that is none is refused before anything is read.
pub(crate) fn list_query(
    tenant: Option<String>,
    status: Option<String>,
    severity: Option<String>,
    service: Option<String>,
    limit: Option<u32>,
) -> Result<AlertListQuery, AppError> {
    let status = given(status)
        .map(|s| s.parse::<Status>().map_err(|message| AppError::Invalid { field: "status", message }))
        .transpose()?;
    Ok(AlertListQuery { tenant: given(tenant), status, severity: given(severity), service: given(service), limit })
}

/// `GET /api/v1/alerts`: newest first.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", params(AlertsQuery), responses((status = 200, body = Vec<AlertJson>), (status = 403), (status = 422)))]
pub(crate) async fn list_alerts(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<AlertsQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<AlertJson>>> {
    let Query(q) = query.map_err(|e| {
        caller.fail(AppError::Invalid {
            field: "query",
            message: e.body_text().replace("Failed to deserialize query string: ", ""),
        })
    })?;
    let q = list_query(q.tenant, q.status, q.severity, q.service, q.limit).map_err(|e| caller.fail(e))?;
    let alerts = state.app.alerts(caller.principal(), &q).await.map_err(|e| caller.fail(e))?;
    Ok(Json(alerts.into_iter().map(AlertJson::from).collect()))
}

/// One entry of an alert's history.
#[derive(Serialize, ToSchema)]
pub(crate) struct HistoryJson {
    at: Timestamp,
    /// `firing`, `reopened`, `acknowledged`, `escalated`, `silenced`, `notified`, `note`, `resolved`, …
    kind: String,
    /// `user:NAME`, `engine`, `system`, `service:signed-link`, …
    actor: String,
    #[schema(value_type = Object)]
    detail: serde_json::Value,
}

/// One delivery attempt.
#[derive(Serialize, ToSchema)]
pub(crate) struct AttemptJson {
    at: Timestamp,
    ok: bool,
    /// The channel's status code (HTTP, SMTP), if it gave one.
    status_code: Option<i32>,
    error: Option<String>,
    duration_ms: i64,
}

/// A notification and its delivery log (recipients and message stay out).
#[derive(Serialize, ToSchema)]
pub(crate) struct NotificationJson {
    id: Uuid,
    channel: String,
    /// `firing`, `escalated`, `resolved`, …
    kind: String,
    level: i16,
    /// `pending`, `sending`, `delivered` or `failed`.
    status: String,
    attempts: i32,
    not_before: Timestamp,
    created_at: Timestamp,
    delivered_at: Option<Timestamp>,
    last_error: Option<String>,
    /// The notification this one is the fallback copy of.
    fallback_of: Option<Uuid>,
    /// Every attempt, oldest first.
    attempt_log: Vec<AttemptJson>,
}

/// An alert with its history and notifications.
#[derive(Serialize, ToSchema)]
pub(crate) struct AlertDetailJson {
    #[serde(flatten)]
    alert: AlertJson,
    history: Vec<HistoryJson>,
    notifications: Vec<NotificationJson>,
}

impl From<AlertDetail> for AlertDetailJson {
    fn from(d: AlertDetail) -> Self {
        AlertDetailJson {
            alert: d.alert.into(),
            history: d
                .history
                .into_iter()
                .map(|h| HistoryJson {
                    detail: serde_json::from_str(&h.detail).unwrap_or(serde_json::Value::Null),
                    at: h.at,
                    kind: h.kind,
                    actor: h.actor,
                })
                .collect(),
            notifications: d
                .notifications
                .into_iter()
                .map(|n| NotificationJson {
                    id: n.row.id,
                    channel: n.row.channel,
                    kind: n.row.kind,
                    level: n.row.level,
                    status: n.row.status,
                    attempts: n.row.attempts,
                    not_before: n.row.not_before,
                    created_at: n.row.created_at,
                    delivered_at: n.row.delivered_at,
                    last_error: n.row.last_error,
                    fallback_of: n.row.fallback_of,
                    attempt_log: n
                        .attempts
                        .into_iter()
                        .map(|a| AttemptJson {
                            at: a.at,
                            ok: a.ok,
                            status_code: a.status_code,
                            error: a.error,
                            duration_ms: a.duration_ms,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// `GET /api/v1/alerts/{id}`.
#[utoipa::path(get, path = "/api/v1/alerts/{id}", tag = "alerts", params(("id" = Uuid, Path)), responses((status = 200, body = AlertDetailJson), (status = 403), (status = 404)))]
pub(crate) async fn get_alert(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<AlertDetailJson>> {
    let id = id_of(&caller, "alert", &id)?;
    let detail = state.app.alert_detail(caller.principal(), id).await.map_err(|e| caller.fail(e))?;
    Ok(Json(detail.into()))
}

/// The outcome of an action on an alert.
#[derive(Serialize, ToSchema)]
pub(crate) struct ActionJson {
    alert: Uuid,
    /// `ack`, `unack`, `resolve` or `note`.
    action: &'static str,
    /// `false` (with 202): queued for the replica that runs the alert
    /// engine; it applies it within seconds.
    done: bool,
}

async fn respond(state: &AppState, caller: &Caller, id: &str, action: Respond) -> ApiResult<Response> {
    let id = id_of(caller, "alert", id)?;
    let name = match &action {
        Respond::Ack => "ack",
        Respond::Unack => "unack",
        Respond::Resolve => "resolve",
        Respond::Note(_) => "note",
    };
    let done = state.app.respond_to_alert(caller.principal(), id, action).await.map_err(|e| caller.fail(e))?;
    let status = if done { StatusCode::OK } else { StatusCode::ACCEPTED };
    Ok((status, Json(ActionJson { alert: id, action: name, done })).into_response())
}

/// `POST /api/v1/alerts/{id}/ack`: acknowledge (stops the escalation).
#[utoipa::path(post, path = "/api/v1/alerts/{id}/ack", tag = "alerts", params(("id" = Uuid, Path)), responses((status = 200, body = ActionJson), (status = 202, body = ActionJson, description = "Queued"), (status = 403), (status = 404), (status = 422, description = "Not possible now (resolved, already acknowledged, closed)")))]
pub(crate) async fn ack_alert(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    respond(&state, &caller, &id, Respond::Ack).await
}

/// `POST /api/v1/alerts/{id}/unack`: take the acknowledgement back.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/unack", tag = "alerts", params(("id" = Uuid, Path)), responses((status = 200, body = ActionJson), (status = 202, body = ActionJson, description = "Queued"), (status = 403), (status = 404), (status = 422)))]
pub(crate) async fn unack_alert(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    respond(&state, &caller, &id, Respond::Unack).await
}

/// `POST /api/v1/alerts/{id}/resolve`: resolve by hand.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/resolve", tag = "alerts", params(("id" = Uuid, Path)), responses((status = 200, body = ActionJson), (status = 202, body = ActionJson, description = "Queued"), (status = 403), (status = 404), (status = 422)))]
pub(crate) async fn resolve_alert(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    respond(&state, &caller, &id, Respond::Resolve).await
}

/// A note on an alert.
#[derive(Deserialize, ToSchema)]
pub(crate) struct NoteJson {
    /// 1–4000 characters.
    text: String,
}

/// `POST /api/v1/alerts/{id}/notes`: add a note to the history.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/notes", tag = "alerts", params(("id" = Uuid, Path)), request_body = NoteJson, responses((status = 200, body = ActionJson), (status = 202, body = ActionJson, description = "Queued"), (status = 403), (status = 404), (status = 422)))]
pub(crate) async fn note_alert(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    json: Result<Json<NoteJson>, JsonRejection>,
) -> ApiResult<Response> {
    let note = body(&caller, json)?;
    respond(&state, &caller, &id, Respond::Note(note.text)).await
}

// ---------------------------------------------------------------------------
// Silences

/// A silence.
#[derive(Serialize, ToSchema)]
pub(crate) struct SilenceJson {
    id: Uuid,
    tenant: Option<String>,
    /// `alertname="ProbeDown"`, `service=~"portal|shop"`, …
    matchers: Vec<String>,
    starts_at: Timestamp,
    /// When it ends (or ended, if expired early).
    ends_at: Timestamp,
    /// `pending`, `active` or `expired`.
    state: &'static str,
    created_by: String,
    comment: String,
}

impl From<SilenceView> for SilenceJson {
    fn from(s: SilenceView) -> Self {
        SilenceJson {
            id: s.id,
            tenant: s.tenant,
            matchers: s.matchers,
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            state: s.state,
            created_by: s.created_by,
            comment: s.comment,
        }
    }
}

/// `GET /api/v1/silences`: active and pending ones, and those that ended
/// in the last 7 days.
#[utoipa::path(get, path = "/api/v1/silences", tag = "silences", responses((status = 200, body = Vec<SilenceJson>), (status = 403)))]
pub(crate) async fn list_silences(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<SilenceJson>>> {
    let silences = state.app.silences(caller.principal()).await.map_err(|e| caller.fail(e))?;
    Ok(Json(silences.into_iter().map(SilenceJson::from).collect()))
}

/// A silence's matcher: PromQL's text form (`alertname="DiskWarning"`,
/// `service=~"portal|shop"`, `!=`, `!~`), or Alertmanager's object
/// (`{"name": "alertname", "value": "DiskWarning", "isRegex": false,
/// "isEqual": true}`) — amtool and Alertmanager clients send those.
#[derive(ToSchema)]
#[schema(value_type = Object)]
pub(crate) struct MatcherJson(String);

impl<'de> Deserialize<'de> for MatcherJson {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let expected = || {
            serde::de::Error::custom(
                "a matcher is text like `alertname=\"DiskWarning\"` (=, !=, =~, !~) or an Alertmanager \
                 matcher object {\"name\", \"value\", \"isRegex\", \"isEqual\"}",
            )
        };
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(text) => Ok(MatcherJson(text)),
            serde_json::Value::Object(o) => {
                let text = |key: &str| o.get(key).and_then(serde_json::Value::as_str);
                let flag = |key: &str, default: bool| o.get(key).map_or(Some(default), serde_json::Value::as_bool);
                let (Some(name), Some(value)) = (text("name"), text("value")) else { return Err(expected()) };
                let (Some(regex), Some(equal)) = (flag("isRegex", false), flag("isEqual", true)) else {
                    return Err(expected());
                };
                if o.keys().any(|k| !["name", "value", "isRegex", "isEqual"].contains(&k.as_str())) {
                    return Err(expected());
                }
                let op = match (regex, equal) {
                    (false, true) => "=",
                    (false, false) => "!=",
                    (true, true) => "=~",
                    (true, false) => "!~",
                };
                Ok(MatcherJson(format!("{name}{op}{}", serde_json::Value::String(value.to_string()))))
            }
            _ => Err(expected()),
        }
    }
}

/// A new silence.
#[derive(Deserialize, ToSchema)]
pub(crate) struct NewSilenceJson {
    /// At least one; all must match. At least one must need a non-empty value.
    matchers: Vec<MatcherJson>,
    /// Unset: now.
    starts_at: Option<Timestamp>,
    /// At most a year after the start.
    ends_at: Timestamp,
    /// Why (required).
    comment: String,
    /// Limits it to a tenant's alerts.
    tenant: Option<String>,
}

/// The id of what was created.
#[derive(Serialize, ToSchema)]
pub(crate) struct CreatedJson {
    id: Uuid,
}

/// `POST /api/v1/silences`.
#[utoipa::path(post, path = "/api/v1/silences", tag = "silences", request_body = NewSilenceJson, responses((status = 201, body = CreatedJson), (status = 403), (status = 422, description = "Names each wrong field: `matchers[0]: …; ends_at: in the past`")))]
pub(crate) async fn create_silence(
    State(state): State<AppState>,
    caller: Caller,
    json: Result<Json<NewSilenceJson>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<CreatedJson>)> {
    let b = body(&caller, json)?;
    let new = NewSilence {
        matchers: b.matchers.into_iter().map(|m| m.0).collect(),
        starts_at: b.starts_at,
        ends_at: b.ends_at,
        comment: b.comment,
        tenant: given(b.tenant),
    };
    let id = state.app.create_silence(caller.principal(), new).await.map_err(|e| caller.fail(e))?;
    Ok((StatusCode::CREATED, Json(CreatedJson { id })))
}

/// `DELETE /api/v1/silences/{id}`: end it now.
#[utoipa::path(delete, path = "/api/v1/silences/{id}", tag = "silences", params(("id" = Uuid, Path)), responses((status = 204), (status = 403), (status = 404), (status = 422, description = "Already ended")))]
pub(crate) async fn expire_silence(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = id_of(&caller, "silence", &id)?;
    state.app.expire_silence(caller.principal(), id).await.map_err(|e| caller.fail(e))?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------
// On call

/// `Timestamp::MAX` ("never changes") as `None`.
fn finite(t: Timestamp) -> Option<Timestamp> {
    (t != Timestamp::MAX).then_some(t)
}

/// Who is on call.
#[derive(Serialize, ToSchema)]
pub(crate) struct OnCallJson {
    /// Person id.
    person: String,
    /// Display name.
    name: String,
    /// The rotation; `null` for an override.
    rotation: Option<String>,
    since: Timestamp,
    /// When that changes; `null`: never.
    until: Option<Timestamp>,
}

/// One shift of the timeline.
#[derive(Serialize, ToSchema)]
pub(crate) struct ShiftJson {
    person: String,
    name: String,
    /// `null` for an override.
    rotation: Option<String>,
    starts_at: Timestamp,
    ends_at: Timestamp,
}

/// An override.
#[derive(Serialize, ToSchema)]
pub(crate) struct OverrideJson {
    id: Uuid,
    person: String,
    name: String,
    starts_at: Timestamp,
    ends_at: Timestamp,
    reason: String,
    created_by: String,
}

/// A schedule, who is on call and the next 14 days.
#[derive(Serialize, ToSchema)]
pub(crate) struct ScheduleJson {
    id: String,
    name: String,
    time_zone: String,
    on_call: Option<OnCallJson>,
    shifts: Vec<ShiftJson>,
    /// Active and future overrides.
    overrides: Vec<OverrideJson>,
}

impl ScheduleJson {
    fn new(app: &App, s: ScheduleView) -> Self {
        ScheduleJson {
            on_call: s.now.map(|o| OnCallJson {
                name: s.now_name.clone().unwrap_or_else(|| app.person_name(&o.person)),
                person: o.person,
                rotation: o.rotation,
                since: o.since,
                until: finite(o.until),
            }),
            shifts: s
                .shifts
                .into_iter()
                .map(|sh| ShiftJson {
                    name: app.person_name(&sh.person),
                    person: sh.person,
                    rotation: sh.rotation,
                    starts_at: sh.starts_at,
                    ends_at: sh.ends_at,
                })
                .collect(),
            overrides: s
                .overrides
                .into_iter()
                .map(|o| OverrideJson {
                    id: o.id,
                    name: app.person_name(&o.person),
                    person: o.person,
                    starts_at: o.starts_at,
                    ends_at: o.ends_at,
                    reason: o.reason,
                    created_by: o.created_by.strip_prefix("user:").unwrap_or(&o.created_by).to_string(),
                })
                .collect(),
            id: s.id,
            name: s.name,
            time_zone: s.time_zone,
        }
    }
}

/// `GET /api/v1/schedules`.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "oncall", responses((status = 200, body = Vec<ScheduleJson>), (status = 403)))]
pub(crate) async fn list_schedules(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<ScheduleJson>>> {
    let schedules = state.app.schedules(caller.principal()).await.map_err(|e| caller.fail(e))?;
    Ok(Json(schedules.into_iter().map(|s| ScheduleJson::new(&state.app, s)).collect()))
}

/// Who is on call in a schedule now (all `null` when nobody is).
#[derive(Serialize, ToSchema)]
pub(crate) struct OnCallNowJson {
    schedule: String,
    person: Option<String>,
    name: Option<String>,
    rotation: Option<String>,
    since: Option<Timestamp>,
    /// `null` also when it never changes.
    until: Option<Timestamp>,
}

/// `GET /api/v1/schedules/{id}/oncall`.
#[utoipa::path(get, path = "/api/v1/schedules/{id}/oncall", tag = "oncall", params(("id" = String, Path)), responses((status = 200, body = OnCallNowJson), (status = 403), (status = 404)))]
pub(crate) async fn on_call_now(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<OnCallNowJson>> {
    let view = state.app.on_call_now(caller.principal(), &id).await.map_err(|e| caller.fail(e))?;
    let name = view.now.as_ref().map(|o| view.now_name.clone().unwrap_or_else(|| state.app.person_name(&o.person)));
    Ok(Json(OnCallNowJson {
        schedule: view.id,
        person: view.now.as_ref().map(|o| o.person.clone()),
        name,
        rotation: view.now.as_ref().and_then(|o| o.rotation.clone()),
        since: view.now.as_ref().map(|o| o.since),
        until: view.now.as_ref().and_then(|o| finite(o.until)),
    }))
}

/// The host of Leitstand's public address (for calendar UIDs).
fn public_host(app: &App) -> String {
    let url = &app.alerting.public_url;
    let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') { host } else { host.split(':').next().unwrap_or(host) };
    if host.is_empty() { "leitstand".into() } else { host.to_string() }
}

/// `GET /api/v1/schedules/{id}/calendar.ics`: the shifts from 7 days back
/// to 90 days ahead as iCalendar, to subscribe to; a calendar app gives its
/// token as `?token=` ([`FeedCaller`]).
#[utoipa::path(get, path = "/api/v1/schedules/{id}/calendar.ics", tag = "oncall", params(("id" = String, Path), FeedToken), responses((status = 200, content_type = "text/calendar", description = "RFC 5545"), (status = 401), (status = 403), (status = 404), (status = 422, description = "a token in the URL without the scope `calendar` alone")))]
pub(crate) async fn schedule_calendar(
    State(state): State<AppState>,
    FeedCaller(caller): FeedCaller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let host = public_host(&state.app);
    let ical = state.app.schedule_ical(caller.principal(), &id, &host).await.map_err(|e| caller.fail(e))?;
    Ok(([(header::CONTENT_TYPE, "text/calendar; charset=utf-8")], ical).into_response())
}

/// A new override.
#[derive(Deserialize, ToSchema)]
pub(crate) struct NewOverrideJson {
    /// Person id.
    person: String,
    starts_at: Timestamp,
    /// After the start and in the future; at most 90 days after the start.
    ends_at: Timestamp,
    #[serde(default)]
    reason: String,
}

/// `POST /api/v1/schedules/{id}/overrides`: `person` is on call instead.
#[utoipa::path(post, path = "/api/v1/schedules/{id}/overrides", tag = "oncall", params(("id" = String, Path)), request_body = NewOverrideJson, responses((status = 201, body = CreatedJson), (status = 403), (status = 404), (status = 422)))]
pub(crate) async fn create_override(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    json: Result<Json<NewOverrideJson>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<CreatedJson>)> {
    let b = body(&caller, json)?;
    let created = state
        .app
        .create_override(caller.principal(), &id, &b.person, b.starts_at, b.ends_at, &b.reason)
        .await
        .map_err(|e| caller.fail(e))?;
    Ok((StatusCode::CREATED, Json(CreatedJson { id: created })))
}

/// `DELETE /api/v1/overrides/{id}`.
#[utoipa::path(delete, path = "/api/v1/overrides/{id}", tag = "oncall", params(("id" = Uuid, Path)), responses((status = 204), (status = 403), (status = 404)))]
pub(crate) async fn delete_override(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = id_of(&caller, "override", &id)?;
    state.app.delete_override(caller.principal(), id).await.map_err(|e| caller.fail(e))?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------
// Channels

/// A notification channel (no secrets).
#[derive(Serialize, ToSchema)]
pub(crate) struct ChannelJson {
    id: String,
    name: String,
    /// `email`, `webhook`, `slack`, `teams`, `matrix`.
    kind: String,
    /// Language of its messages: `de` or `en`.
    language: &'static str,
    /// Where a copy goes when it keeps failing.
    fallback: Option<String>,
    /// The audiences it serves (`devops`, `on_call`, …).
    audiences: Vec<String>,
}

impl From<ChannelView> for ChannelJson {
    fn from(c: ChannelView) -> Self {
        ChannelJson {
            id: c.id,
            name: c.name,
            kind: c.kind,
            language: c.locale,
            fallback: c.fallback,
            audiences: c.audiences,
        }
    }
}

/// `GET /api/v1/channels`.
#[utoipa::path(get, path = "/api/v1/channels", tag = "channels", responses((status = 200, body = Vec<ChannelJson>), (status = 403)))]
pub(crate) async fn list_channels(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<ChannelJson>>> {
    let channels = state.app.channels(caller.principal()).map_err(|e| caller.fail(e))?;
    Ok(Json(channels.into_iter().map(ChannelJson::from).collect()))
}

/// The outcome of a test message.
#[derive(Serialize, ToSchema)]
pub(crate) struct ChannelTestJson {
    ok: bool,
    /// The channel's status code, if it gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// `POST /api/v1/channels/{id}/test`: send a test message now. A failed
/// delivery is an answer too (200 with `ok: false`).
#[utoipa::path(post, path = "/api/v1/channels/{id}/test", tag = "channels", params(("id" = String, Path)), responses((status = 200, body = ChannelTestJson), (status = 403), (status = 404)))]
pub(crate) async fn test_channel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ChannelTestJson>> {
    let outcome = state.app.test_channel(caller.principal(), &id).await.map_err(|e| caller.fail(e))?;
    Ok(Json(match outcome {
        Ok(status) => ChannelTestJson { ok: true, status, error: None },
        Err(error) => ChannelTestJson { ok: false, status: None, error: Some(error) },
    }))
}

/// The routes, registered from the same annotations that make the OpenAPI
/// document.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_alerts_v2, get_alerts_v2))
        .routes(routes!(status_v2))
        .routes(routes!(alertmanager_webhook))
        .routes(routes!(list_alerts))
        .routes(routes!(get_alert))
        .routes(routes!(ack_alert))
        .routes(routes!(unack_alert))
        .routes(routes!(resolve_alert))
        .routes(routes!(note_alert))
        .routes(routes!(list_silences, create_silence))
        .routes(routes!(expire_silence))
        .routes(routes!(list_schedules))
        .routes(routes!(on_call_now))
        .routes(routes!(schedule_calendar))
        .routes(routes!(create_override))
        .routes(routes!(delete_override))
        .routes(routes!(list_channels))
        .routes(routes!(test_channel))
}
