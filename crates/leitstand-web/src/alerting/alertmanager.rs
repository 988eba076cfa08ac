//! Alertmanager's own API v2 and webhook receiver, so the Prometheus
//! ecosystem works with Leitstand unchanged: Prometheus posts alerts
//! (`POST /api/v2/alerts`), an Alertmanager forwards them
//! (`POST /api/v1/alerts/alertmanager`, webhook version 4), and amtool,
//! Grafana's Alertmanager data source and Karma read alerts, groups,
//! receivers and status and manage silences (`/api/v2/silences`,
//! `/api/v2/silence/{id}`) — in Alertmanager's JSON, with the caller's
//! tenant scope applied. Refused input is answered 400 with the path of
//! the field, as Alertmanager answers, and nothing of it is stored.

use axum::Json;
use axum::body::Bytes;
use axum::extract::Request;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use leitstand_alerting::LabelSet;
use leitstand_alerting::matchers::{MatchOp, Matcher, parse_matcher};
use leitstand_alerting::wire::silences::{ApiMatcher, GettableSilence, SilenceStatus, parse_postable_silence};
use leitstand_alerting::wire::{AlertState, GO_ZERO_TIME, GettableAlert, Receiver};
use leitstand_app::AppError;
use leitstand_app::alerting::alertmanager::{AlertSelection, RECEIVER};
use leitstand_app::alerting::{AlertView, NewSilence, SilenceView};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::problem::{PROBLEM_JSON, problem};
use crate::rest::*;

fn bad_request(caller: &Caller, detail: impl Into<String>) -> Response {
    problem(StatusCode::BAD_REQUEST, detail, &caller.request_id)
}

/// An ingest failure: refused input is the sender's fault (400, not to be
/// retried); an engine that stopped mid-batch is ours (503, send again).
fn ingest_error(caller: &Caller, error: AppError) -> Response {
    match error {
        AppError::Invalid { field: "alerts", message } => {
            problem(StatusCode::SERVICE_UNAVAILABLE, message.to_string(), &caller.request_id)
        }
        AppError::Invalid { field: "payload", message } => bad_request(caller, message.to_string()),
        e @ AppError::Invalid { .. } => bad_request(caller, e.to_string()),
        other => caller.fail(other).into_response(),
    }
}

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
    /// A regex over the receiver's name; every alert goes to the one receiver `leitstand`.
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

/// `true`/`false` query flag `name`, default true.
fn flag(pairs: &[(String, String)], name: &'static str) -> Result<bool, String> {
    match pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str()) {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(format!("{name}: {other:?} is not true or false")),
    }
}

/// The `filter` matchers of a query string.
fn filter_matchers(pairs: &[(String, String)]) -> Result<Vec<Matcher>, String> {
    pairs
        .iter()
        .filter(|(k, _)| k == "filter")
        .map(|(_, text)| parse_matcher(text).map_err(|e| format!("filter {text:?}: {e}")))
        .collect()
}

/// What `GET /api/v2/alerts` and `/alerts/groups` ask for.
fn selection(pairs: &[(String, String)]) -> Result<AlertSelection, String> {
    // Checked like the others, though it selects nothing: no alert is
    // unprocessed when Leitstand answers.
    flag(pairs, "unprocessed")?;
    Ok(AlertSelection {
        matchers: filter_matchers(pairs)?,
        active: flag(pairs, "active")?,
        silenced: flag(pairs, "silenced")?,
        inhibited: flag(pairs, "inhibited")?,
        receiver: pairs.iter().rev().find(|(k, _)| k == "receiver").map(|(_, v)| v.clone()).filter(|v| !v.is_empty()),
    })
}

/// A service error as Alertmanager answers it: refused input 400, an
/// unknown silence 404, the rest as everywhere in the API.
fn am_error(caller: &Caller, error: AppError) -> Response {
    match error {
        AppError::Invalid { field, message } => bad_request(caller, format!("{field}: {message}")),
        e @ AppError::NotFound { .. } => problem(StatusCode::NOT_FOUND, e.to_string(), &caller.request_id),
        other => caller.fail(other).into_response(),
    }
}

type Pairs = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// `GET /api/v2/alerts`: the firing alerts visible to the caller that the
/// filters select, as Alertmanager lists them (for amtool, Karma, Grafana),
/// newest first. Every alert is considered, however many fire.
#[utoipa::path(get, path = "/api/v2/alerts", tag = "alertmanager", params(GettableQueryDoc), responses((status = 200, body = Vec<GettableAlertDoc>), (status = 400, description = "Names the filter that is wrong"), (status = 401), (status = 403)))]
pub(crate) async fn get_alerts_v2(State(state): State<AppState>, caller: Caller, query: Pairs) -> Response {
    let Ok(Query(pairs)) = query else { return bad_request(&caller, "the query string is not valid") };
    let selection = match selection(&pairs) {
        Ok(s) => s,
        Err(e) => return bad_request(&caller, e),
    };
    match state.app.select_alerts(caller.principal(), &selection).await {
        Ok(alerts) => Json(alerts.into_iter().map(gettable).collect::<Vec<_>>()).into_response(),
        Err(e) => am_error(&caller, e),
    }
}

/// A group as `GET /api/v2/alerts/groups` lists it (Alertmanager's alertGroup).
#[derive(Serialize, ToSchema)]
pub(crate) struct AlertGroupJson {
    /// The grouping labels' values (`alerting.group_by`).
    #[schema(value_type = Object)]
    labels: LabelSet,
    /// Always `{"name": "leitstand"}`.
    #[schema(value_type = Object)]
    receiver: Receiver,
    /// Its alerts, as `GET /api/v2/alerts` lists them.
    #[schema(value_type = Vec<GettableAlertDoc>)]
    alerts: Vec<GettableAlert>,
}

/// `GET /api/v2/alerts/groups`: the same selection, grouped by the
/// grouping labels (Grafana's and Karma's view).
#[utoipa::path(get, path = "/api/v2/alerts/groups", tag = "alertmanager", params(GettableQueryDoc), responses((status = 200, body = Vec<AlertGroupJson>), (status = 400), (status = 401), (status = 403)))]
pub(crate) async fn get_alert_groups_v2(State(state): State<AppState>, caller: Caller, query: Pairs) -> Response {
    let Ok(Query(pairs)) = query else { return bad_request(&caller, "the query string is not valid") };
    let selection = match selection(&pairs) {
        Ok(s) => s,
        Err(e) => return bad_request(&caller, e),
    };
    match state.app.select_alert_groups(caller.principal(), &selection).await {
        Ok(groups) => Json(
            groups
                .into_iter()
                .map(|g| AlertGroupJson {
                    labels: g.labels,
                    receiver: Receiver { name: RECEIVER.into() },
                    alerts: g.alerts.into_iter().map(gettable).collect(),
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => am_error(&caller, e),
    }
}

/// `GET /api/v2/receivers`: the one receiver, `leitstand` (its escalation
/// policy decides who is told).
#[utoipa::path(get, path = "/api/v2/receivers", tag = "alertmanager", responses((status = 200, description = "`[{\"name\": \"leitstand\"}]`"), (status = 401), (status = 403)))]
pub(crate) async fn receivers_v2(State(state): State<AppState>, caller: Caller) -> Response {
    match state.app.receivers(caller.principal()) {
        Ok(names) => {
            Json(names.into_iter().map(|name| Receiver { name: name.into() }).collect::<Vec<_>>()).into_response()
        }
        Err(e) => am_error(&caller, e),
    }
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
// Silences

/// The silence as Alertmanager shows it.
fn gettable_silence(s: SilenceView) -> GettableSilence {
    GettableSilence {
        id: s.id,
        status: SilenceStatus { state: s.state.to_string() },
        updated_at: s.updated_at,
        created_by: s.created_by,
        comment: s.comment,
        starts_at: s.starts_at,
        ends_at: s.ends_at,
        matchers: s
            .matchers
            .iter()
            .filter_map(|t| parse_matcher(t).ok())
            .map(|m| ApiMatcher::from_matcher(&m))
            .collect(),
    }
}

/// `GET /api/v2/silences` filters.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct SilenceQueryDoc {
    /// A matcher over the silences' own matchers, as in Alertmanager:
    /// `alertname="ProbeDown"` selects the silences with that matcher;
    /// repeat for several (all must select).
    filter: Option<Vec<String>>,
}

/// A silence as `GET /api/v2/silences` lists it (Alertmanager's gettableSilence).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct GettableSilenceDoc {
    id: Uuid,
    /// `{state: active|pending|expired}`.
    #[schema(value_type = Object)]
    status: String,
    updated_at: String,
    /// The user who created it (Leitstand records the caller, not what
    /// the client claims).
    created_by: String,
    comment: String,
    starts_at: String,
    /// The time it was expired, if it was expired early.
    ends_at: String,
    /// `{name, value, isRegex, isEqual}` each; all must match.
    #[schema(value_type = Vec<Object>)]
    matchers: Vec<String>,
}

/// A silence as posted (Alertmanager's postableSilence).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct PostableSilenceDoc {
    /// Unset: a new silence. Set: replaces that silence (it ends, a new one
    /// with a new id begins).
    id: Option<Uuid>,
    /// `{name, value, isRegex, isEqual}` each. A matcher `tenant="…"`
    /// limits the silence to that tenant; somebody bound to tenants must
    /// give one (or is bound to exactly one).
    #[schema(value_type = Vec<Object>)]
    matchers: Vec<String>,
    starts_at: String,
    /// At most a year after the start.
    ends_at: String,
    /// Ignored: the silence names the caller.
    created_by: Option<String>,
    /// Why (required).
    comment: String,
}

/// `GET /api/v2/silences`: active ones first, then pending, then those
/// that ended within the last week.
#[utoipa::path(get, path = "/api/v2/silences", tag = "alertmanager", params(SilenceQueryDoc), responses((status = 200, body = Vec<GettableSilenceDoc>), (status = 400), (status = 401), (status = 403)))]
pub(crate) async fn get_silences_v2(State(state): State<AppState>, caller: Caller, query: Pairs) -> Response {
    let Ok(Query(pairs)) = query else { return bad_request(&caller, "the query string is not valid") };
    let filter = match filter_matchers(&pairs) {
        Ok(f) => f,
        Err(e) => return bad_request(&caller, e),
    };
    match state.app.select_silences(caller.principal(), &filter).await {
        Ok(list) => Json(list.into_iter().map(gettable_silence).collect::<Vec<_>>()).into_response(),
        Err(e) => am_error(&caller, e),
    }
}

/// `POST /api/v2/silences`: creates a silence (`amtool silence add`), or
/// replaces the one named by `id`. Answers `{"silenceID": …}`.
#[utoipa::path(post, path = "/api/v2/silences", tag = "alertmanager", request_body = PostableSilenceDoc, responses((status = 200, description = "`{\"silenceID\": \"…\"}`"), (status = 400, description = "Names the field: `matchers[0].value: …`, `ends_at: in the past`"), (status = 401), (status = 403), (status = 404, description = "The silence to replace does not exist")))]
pub(crate) async fn post_silences_v2(State(state): State<AppState>, caller: Caller, raw: Bytes) -> Response {
    let posted = match parse_postable_silence(&raw) {
        Ok(s) => s,
        Err(e) => return bad_request(&caller, e.to_string()),
    };
    // The tenant matcher becomes the silence's tenant (the service checks
    // it against the caller's scope and adds it back).
    let mut tenant = None;
    let mut matchers = Vec::with_capacity(posted.matchers.len());
    for text in posted.matchers {
        match parse_matcher(&text) {
            Ok(m) if m.name == "tenant" && m.op == MatchOp::Equal && tenant.is_none() => tenant = Some(m.value),
            _ => matchers.push(text),
        }
    }
    let new = NewSilence {
        matchers,
        starts_at: Some(posted.starts_at),
        ends_at: posted.ends_at,
        comment: posted.comment,
        tenant,
    };
    let created = match posted.id {
        Some(old) => state.app.replace_silence(caller.principal(), old, new).await,
        None => state.app.create_silence(caller.principal(), new).await,
    };
    match created {
        Ok(id) => Json(serde_json::json!({ "silenceID": id })).into_response(),
        Err(e) => am_error(&caller, e),
    }
}

fn silence_id(caller: &Caller, text: &str) -> Result<Uuid, Response> {
    text.parse().map_err(|_| {
        let e = AppError::NotFound { entity: "silence", key: text.to_string() };
        am_error(caller, e)
    })
}

/// `GET /api/v2/silence/{id}`.
#[utoipa::path(get, path = "/api/v2/silence/{id}", tag = "alertmanager", params(("id" = Uuid, Path)), responses((status = 200, body = GettableSilenceDoc), (status = 401), (status = 403), (status = 404)))]
pub(crate) async fn get_silence_v2(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Response {
    let id = match silence_id(&caller, &id) {
        Ok(id) => id,
        Err(r) => return r,
    };
    match state.app.silence(caller.principal(), id).await {
        Ok(s) => Json(gettable_silence(s)).into_response(),
        Err(e) => am_error(&caller, e),
    }
}

/// `DELETE /api/v2/silence/{id}`: ends it now (`amtool silence expire`).
#[utoipa::path(delete, path = "/api/v2/silence/{id}", tag = "alertmanager", params(("id" = Uuid, Path)), responses((status = 200), (status = 400, description = "Already ended"), (status = 401), (status = 403), (status = 404)))]
pub(crate) async fn delete_silence_v2(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let id = match silence_id(&caller, &id) {
        Ok(id) => id,
        Err(r) => return r,
    };
    match state.app.expire_silence(caller.principal(), id).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => am_error(&caller, e),
    }
}

/// Problem details as plain JSON to a client that accepts JSON but not
/// `application/problem+json`: Alertmanager's own clients (amtool,
/// generated from its OpenAPI document) know no other type and would
/// report "no consumer" instead of the refusal and its reason.
async fn problems_as_json(request: Request, next: Next) -> Response {
    let accept = request.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let plain_json = accept.contains("application/json") && !accept.contains("problem+json");
    let mut response = next.run(request).await;
    let is_problem = response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v == PROBLEM_JSON);
    if plain_json && is_problem {
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    response
}

/// The routes, registered from the same annotations that make the OpenAPI
/// document.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_alerts_v2, get_alerts_v2))
        .routes(routes!(get_alert_groups_v2))
        .routes(routes!(receivers_v2))
        .routes(routes!(status_v2))
        .routes(routes!(get_silences_v2, post_silences_v2))
        .routes(routes!(get_silence_v2, delete_silence_v2))
        .routes(routes!(alertmanager_webhook))
        .layer(middleware::from_fn(problems_as_json))
}
