//! Alerting over HTTP: Leitstand's API under `/api/v1` for alerts,
//! silences, on-call schedules and channels, tenant-scoped like the pages;
//! Alertmanager's own API and webhook receiver are in
//! [`super::alertmanager`] and merged into these routes.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use leitstand_alerting::LabelSet;
use leitstand_alerting::lifecycle::Status;
use leitstand_app::alerting::engine::Action as Respond;
use leitstand_app::alerting::{
    AlertDetail, AlertListQuery, AlertView, ChannelId, ChannelView, NewSilence, ScheduleView, SilenceView,
};
use leitstand_app::{App, AppError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::rest::*;

// ---------------------------------------------------------------------------
// Input helpers

/// An id from the path; anything that is not a UUID is simply not found.
fn id_of(caller: &Caller, entity: &'static str, text: &str) -> ApiResult<Uuid> {
    text.parse().map_err(|_| caller.fail(AppError::NotFound { entity, key: text.to_string() }))
}

/// A channel id from the path; one no channel can have is not found.
pub(crate) fn channel_id(text: &str) -> Result<ChannelId, AppError> {
    ChannelId::parse(text).map_err(|_| AppError::NotFound { entity: "channel", key: text.to_string() })
}

/// `None` for an absent or blank query value (forms send `tenant=`).
fn given(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
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
            fingerprint: a.fingerprint.to_string(),
            alertname: a.alertname,
            status: a.status.as_str().to_string(),
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
        .map(|s| {
            s.parse::<Status>().map_err(|message| {
                AppError::invalid("status", message.clone(), format!("Unbekannter Zustand: {message}"))
            })
        })
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
    let q = crate::rest::query(&caller, query)?;
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
            id: c.id.to_string(),
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
    let id = channel_id(&id).map_err(|e| caller.fail(e))?;
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
        .merge(super::alertmanager::routes())
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
