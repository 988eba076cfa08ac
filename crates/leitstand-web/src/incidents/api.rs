//! `/api/v1/incidents`: incidents, their clocks and timeline, the DORA
//! classification and the reports submitted to authorities.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use jiff::Timestamp;
use leitstand_app::incidents::{
    ClockView, DoraAnswers, DoraClassification, IncidentChange, IncidentQuery, IncidentSeverity as Severity,
    IncidentView, OpenIncident, Phase, ReportKind, ReportSubmission, Roles, Status, SubmittedReport, TimelineEntry,
};
use leitstand_app::{AppError, UserName};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::rest::*;

/// One clock of an incident.
#[derive(Serialize, ToSchema)]
pub(crate) struct ClockJson {
    /// `reaction`, `post_mortem`, or the report (`dora_initial`, …).
    kind: String,
    /// The tenant that reports (none: the incident itself, or the platform).
    party: Option<String>,
    due: Timestamp,
    /// DORA's weekend or holiday relief moved the deadline.
    relieved: bool,
    done_at: Option<Timestamp>,
    /// `running`, `overdue`, `met`, `met_late`.
    state: String,
}

impl From<ClockView> for ClockJson {
    fn from(c: ClockView) -> Self {
        ClockJson {
            kind: c.clock.kind.as_str().into(),
            party: c.party.map(|p| p.to_string()),
            due: c.clock.due,
            relieved: c.clock.relieved,
            done_at: c.clock.done_at,
            state: c.state.as_str().into(),
        }
    }
}

/// An incident.
#[derive(Serialize, ToSchema)]
pub(crate) struct IncidentJson {
    number: i64,
    title: String,
    /// `SEV-1` … `SEV-4`.
    severity: String,
    /// `detection`, `containment`, `analysis`, `remediation`, `follow_up`.
    phase: String,
    /// `open`, `resolved`, `closed`.
    status: String,
    opened_by: String,
    opened_via: String,
    detected_at: Timestamp,
    aware_at: Option<Timestamp>,
    classified_at: Option<Timestamp>,
    first_response_at: Option<Timestamp>,
    resolved_at: Option<Timestamp>,
    commander: Option<String>,
    communication: Option<String>,
    scribe: Option<String>,
    services: Vec<String>,
    tenants: Vec<String>,
    root_cause: Option<String>,
    root_cause_category: Option<String>,
    impact: Option<String>,
    personal_data_breach: bool,
    nis2_significant: bool,
    dora_major: Option<bool>,
    /// Every clock, the most urgent open one first.
    clocks: Vec<ClockJson>,
}

impl From<IncidentView> for IncidentJson {
    fn from(v: IncidentView) -> Self {
        IncidentJson {
            number: v.number,
            title: v.title,
            severity: v.severity.to_string(),
            phase: v.phase.as_str().into(),
            status: v.status.as_str().into(),
            opened_by: v.opened_by,
            opened_via: v.opened_via,
            detected_at: v.detected_at,
            aware_at: v.aware_at,
            classified_at: v.classified_at,
            first_response_at: v.first_response_at,
            resolved_at: v.resolved_at,
            commander: v.roles.commander.map(|u| u.to_string()),
            communication: v.roles.communication.map(|u| u.to_string()),
            scribe: v.roles.scribe.map(|u| u.to_string()),
            services: v.services,
            tenants: v.tenants.into_iter().map(|t| t.to_string()).collect(),
            root_cause: v.root_cause,
            root_cause_category: v.root_cause_category,
            impact: v.impact,
            personal_data_breach: v.personal_data_breach,
            nis2_significant: v.nis2_significant,
            dora_major: v.dora_major,
            clocks: v.clocks.into_iter().map(ClockJson::from).collect(),
        }
    }
}

fn severity(text: &str) -> Result<Severity, AppError> {
    text.parse().map_err(|e: leitstand_app::incidents::UnknownSeverity| {
        AppError::invalid("severity", e.to_string(), format!("{text:?} ist keiner von SEV-1, SEV-2, SEV-3, SEV-4"))
    })
}

/// Filters of the incident list.
#[derive(Deserialize, ToSchema, utoipa::IntoParams)]
pub(crate) struct IncidentsQuery {
    /// `open`, `resolved`, `closed`.
    status: Option<String>,
    /// `SEV-1` … `SEV-4`.
    severity: Option<String>,
    /// Tenant short name.
    tenant: Option<String>,
    /// Only incidents with an overdue clock.
    overdue: Option<bool>,
    /// Numbers below this (paging).
    before: Option<i64>,
    /// At most this many (default 100, at most 1,000).
    limit: Option<usize>,
}

/// `GET /api/v1/incidents`.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents", params(IncidentsQuery), responses((status = 200, body = Vec<IncidentJson>), (status = 422)))]
pub(crate) async fn list_incidents(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<IncidentsQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<IncidentJson>>> {
    let q = query(&caller, q)?;
    let status = q
        .status
        .map(|s| {
            s.parse::<Status>()
                .map_err(|e| AppError::invalid("status", e.to_string(), format!("unbekannter Status {s:?}")))
        })
        .transpose()
        .map_err(|e| caller.fail(e))?;
    let severity = q.severity.as_deref().map(severity).transpose().map_err(|e| caller.fail(e))?;
    let query = IncidentQuery {
        status,
        severity,
        tenant: q.tenant,
        overdue: q.overdue.unwrap_or(false),
        before: q.before,
        limit: q.limit,
    };
    let list = state.app.incidents(&caller.principal, &query).await.map_err(|e| caller.fail(e))?;
    Ok(Json(list.into_iter().map(IncidentJson::from).collect()))
}

/// A new incident.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewIncidentJson {
    title: String,
    /// `SEV-1` … `SEV-4`.
    severity: String,
    /// Default: now.
    detected_at: Option<Timestamp>,
    /// Default: now.
    aware_at: Option<Timestamp>,
    #[serde(default)]
    services: Vec<String>,
    /// Tenant short names.
    #[serde(default)]
    tenants: Vec<String>,
    #[serde(default)]
    personal_data_breach: bool,
}

/// `POST /api/v1/incidents`.
#[utoipa::path(post, path = "/api/v1/incidents", tag = "incidents", request_body = NewIncidentJson, responses((status = 201, body = IncidentJson), (status = 403), (status = 422)))]
pub(crate) async fn open_incident(
    State(state): State<AppState>,
    caller: Caller,
    json: Result<Json<NewIncidentJson>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<IncidentJson>)> {
    let body = body(&caller, json)?;
    let req = OpenIncident {
        title: body.title,
        severity: severity(&body.severity).map_err(|e| caller.fail(e))?,
        detected_at: body.detected_at,
        aware_at: body.aware_at,
        services: body.services,
        tenants: body.tenants,
        personal_data_breach: body.personal_data_breach,
    };
    let view = state.app.open_incident(&caller.principal, req).await.map_err(|e| caller.fail(e))?;
    Ok((StatusCode::CREATED, Json(view.into())))
}

/// `GET /api/v1/incidents/{number}`.
#[utoipa::path(get, path = "/api/v1/incidents/{number}", tag = "incidents", params(("number" = i64, Path)), responses((status = 200, body = IncidentJson), (status = 404)))]
pub(crate) async fn get_incident(
    State(state): State<AppState>,
    caller: Caller,
    Path(number): Path<i64>,
) -> ApiResult<Json<IncidentJson>> {
    let view = state.app.incident(&caller.principal, number).await.map_err(|e| caller.fail(e))?;
    Ok(Json(view.into()))
}

/// A change: exactly one of the keys.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum ChangeJson {
    /// Move to a phase.
    Phase(String),
    /// New severity with the reason.
    Severity { severity: String, reason: String },
    /// Roles (user names; absent: nobody).
    Roles { commander: Option<String>, communication: Option<String>, scribe: Option<String> },
    /// Resolved (default: now).
    Resolve { at: Option<Timestamp> },
    /// Root cause and impact.
    Findings { root_cause: Option<String>, root_cause_category: Option<String>, impact: Option<String> },
    /// Significant under NIS2 (§ 32 BSIG), with the reason.
    Significance { nis2: bool, reason: String },
}

fn user(field: &'static str, name: Option<String>) -> Result<Option<UserName>, AppError> {
    name.filter(|n| !n.trim().is_empty())
        .map(|n| n.parse().map_err(|_| AppError::invalid(field, UserName::RULE, UserName::RULE_DE)))
        .transpose()
}

impl ChangeJson {
    fn into_change(self) -> Result<IncidentChange, AppError> {
        Ok(match self {
            ChangeJson::Phase(p) => IncidentChange::Phase(
                p.parse::<Phase>()
                    .map_err(|e| AppError::invalid("phase", e.to_string(), format!("unbekannte Phase {p:?}")))?,
            ),
            ChangeJson::Severity { severity: s, reason } => {
                IncidentChange::Severity { severity: severity(&s)?, reason }
            }
            ChangeJson::Roles { commander, communication, scribe } => IncidentChange::Roles(Roles {
                commander: user("commander", commander)?,
                communication: user("communication", communication)?,
                scribe: user("scribe", scribe)?,
            }),
            ChangeJson::Resolve { at } => IncidentChange::Resolve { at },
            ChangeJson::Findings { root_cause, root_cause_category, impact } => {
                IncidentChange::Findings { root_cause, root_cause_category, impact }
            }
            ChangeJson::Significance { nis2, reason } => IncidentChange::Significance { nis2, reason },
        })
    }
}

/// `POST /api/v1/incidents/{number}/changes`: one change, recorded on the
/// timeline.
#[utoipa::path(post, path = "/api/v1/incidents/{number}/changes", tag = "incidents", params(("number" = i64, Path)), request_body = ChangeJson, responses((status = 200, body = IncidentJson), (status = 403), (status = 404), (status = 409), (status = 422)))]
pub(crate) async fn change_incident(
    State(state): State<AppState>,
    caller: Caller,
    Path(number): Path<i64>,
    json: Result<Json<ChangeJson>, JsonRejection>,
) -> ApiResult<Json<IncidentJson>> {
    let body = body(&caller, json)?;
    let change = body.into_change().map_err(|e| caller.fail(e))?;
    let view = state.app.change_incident(&caller.principal, number, change).await.map_err(|e| caller.fail(e))?;
    Ok(Json(view.into()))
}

/// A timeline entry.
#[derive(Serialize, ToSchema)]
pub(crate) struct TimelineJson {
    id: i64,
    at: Timestamp,
    author: String,
    kind: String,
    text: String,
    internal: bool,
    corrects: Option<i64>,
}

impl From<TimelineEntry> for TimelineJson {
    fn from(e: TimelineEntry) -> Self {
        TimelineJson {
            id: e.id,
            at: e.at,
            author: e.author,
            kind: e.kind.as_str().into(),
            text: e.text,
            internal: e.internal,
            corrects: e.corrects,
        }
    }
}

/// Paging of the timeline.
#[derive(Deserialize, ToSchema, utoipa::IntoParams)]
pub(crate) struct TimelineQuery {
    /// Entries after this id.
    after: Option<i64>,
    /// At most this many (default 1,000).
    limit: Option<usize>,
}

/// `GET /api/v1/incidents/{number}/timeline`: oldest first; tenant viewers
/// do not see internal notes.
#[utoipa::path(get, path = "/api/v1/incidents/{number}/timeline", tag = "incidents", params(("number" = i64, Path), TimelineQuery), responses((status = 200, body = Vec<TimelineJson>), (status = 404)))]
pub(crate) async fn timeline(
    State(state): State<AppState>,
    caller: Caller,
    Path(number): Path<i64>,
    q: Result<Query<TimelineQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<TimelineJson>>> {
    let q = query(&caller, q)?;
    let list = state
        .app
        .incident_timeline(&caller.principal, number, q.after, q.limit.unwrap_or(1000))
        .await
        .map_err(|e| caller.fail(e))?;
    Ok(Json(list.into_iter().map(TimelineJson::from).collect()))
}

/// A note, or a correction of an earlier entry.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoteJson {
    text: String,
    /// Hidden from tenant viewers.
    #[serde(default)]
    internal: bool,
    /// The entry this one corrects.
    corrects: Option<i64>,
}

/// `POST /api/v1/incidents/{number}/notes`.
#[utoipa::path(post, path = "/api/v1/incidents/{number}/notes", tag = "incidents", params(("number" = i64, Path)), request_body = NoteJson, responses((status = 201, body = TimelineJson), (status = 403), (status = 404), (status = 422)))]
pub(crate) async fn add_note(
    State(state): State<AppState>,
    caller: Caller,
    Path(number): Path<i64>,
    json: Result<Json<NoteJson>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<TimelineJson>)> {
    let body = body(&caller, json)?;
    let entry = state
        .app
        .add_incident_note(&caller.principal, number, &body.text, body.internal, body.corrects)
        .await
        .map_err(|e| caller.fail(e))?;
    Ok((StatusCode::CREATED, Json(entry.into())))
}

/// The classification's result.
#[derive(Serialize, ToSchema)]
pub(crate) struct ClassificationJson {
    incident: IncidentJson,
    /// Major, the basis and every criterion with its figures.
    #[schema(value_type = Object)]
    result: DoraClassification,
}

/// `POST /api/v1/incidents/{number}/classification`: the DORA
/// classification assistant (Del. Reg. (EU) 2024/1772); the body holds the
/// answers.
#[utoipa::path(post, path = "/api/v1/incidents/{number}/classification", tag = "incidents", params(("number" = i64, Path)), request_body(content = Object, description = "The answers: critical_services_affected, malicious_unauthorised_access, clients_total, clients_affected, counterparts_total, counterparts_affected, transactions_daily, transactions_affected, transaction_value_daily_eur, transaction_value_affected_eur, relevant_client_affected, reputational_impact, duration_minutes, downtime_minutes, member_states_affected, data_availability, data_authenticity, data_integrity, data_confidentiality, economic_impact_eur"), responses((status = 200, body = ClassificationJson), (status = 403), (status = 404), (status = 422)))]
pub(crate) async fn classify(
    State(state): State<AppState>,
    caller: Caller,
    Path(number): Path<i64>,
    json: Result<Json<DoraAnswers>, JsonRejection>,
) -> ApiResult<Json<ClassificationJson>> {
    let answers = body(&caller, json)?;
    let (view, result) =
        state.app.classify_incident(&caller.principal, number, answers).await.map_err(|e| caller.fail(e))?;
    Ok(Json(ClassificationJson { incident: view.into(), result }))
}

/// A report as recorded.
#[derive(Serialize, ToSchema)]
pub(crate) struct ReportJson {
    kind: String,
    tenant: Option<String>,
    authority: String,
    submitted_at: Timestamp,
    submitted_by: String,
    reference: Option<String>,
    /// SHA-256 of the content as submitted (also in the audit log).
    sha256: String,
}

impl From<SubmittedReport> for ReportJson {
    fn from(r: SubmittedReport) -> Self {
        ReportJson {
            kind: r.kind.as_str().into(),
            tenant: r.tenant.map(|t| t.to_string()),
            authority: r.authority,
            submitted_at: r.submitted_at,
            submitted_by: r.submitted_by,
            reference: r.reference,
            sha256: r.sha256,
        }
    }
}

/// A report submitted to an authority.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewReportJson {
    /// `dora_initial`, `dora_intermediate`, `dora_final`, `nis2_early_warning`,
    /// `nis2_notification`, `nis2_final`, `gdpr_notification`.
    kind: String,
    /// The affected tenant it is for.
    tenant: Option<String>,
    /// Default: now.
    submitted_at: Option<Timestamp>,
    /// The authority's reference number.
    reference: Option<String>,
    /// What was sent.
    #[schema(value_type = Object)]
    content: serde_json::Value,
}

/// `GET /api/v1/incidents/{number}/reports`.
#[utoipa::path(get, path = "/api/v1/incidents/{number}/reports", tag = "incidents", params(("number" = i64, Path)), responses((status = 200, body = Vec<ReportJson>), (status = 404)))]
pub(crate) async fn list_reports(
    State(state): State<AppState>,
    caller: Caller,
    Path(number): Path<i64>,
) -> ApiResult<Json<Vec<ReportJson>>> {
    let list = state.app.incident_reports(&caller.principal, number).await.map_err(|e| caller.fail(e))?;
    Ok(Json(list.into_iter().map(ReportJson::from).collect()))
}

/// `POST /api/v1/incidents/{number}/reports`: records a report as
/// submitted; it is frozen and its hash goes into the audit log.
#[utoipa::path(post, path = "/api/v1/incidents/{number}/reports", tag = "incidents", params(("number" = i64, Path)), request_body = NewReportJson, responses((status = 201, body = ReportJson), (status = 403), (status = 404), (status = 422)))]
pub(crate) async fn submit_report(
    State(state): State<AppState>,
    caller: Caller,
    Path(number): Path<i64>,
    json: Result<Json<NewReportJson>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<ReportJson>)> {
    let body = body(&caller, json)?;
    let kind = ReportKind::parse(&body.kind)
        .ok_or_else(|| {
            AppError::invalid(
                "kind",
                format!("unknown report {:?}", body.kind),
                format!("unbekannte Meldung {:?}", body.kind),
            )
        })
        .map_err(|e| caller.fail(e))?;
    let submission = ReportSubmission {
        kind,
        tenant: body.tenant,
        submitted_at: body.submitted_at,
        reference: body.reference,
        content: body.content,
    };
    let report =
        state.app.submit_incident_report(&caller.principal, number, submission).await.map_err(|e| caller.fail(e))?;
    Ok((StatusCode::CREATED, Json(report.into())))
}

/// Opening an incident from an alert.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct FromAlertJson {
    /// `SEV-1` … `SEV-4` (default: SEV-2 for a critical alert, SEV-3 for a
    /// warning, SEV-4 otherwise).
    severity: Option<String>,
}

/// `POST /api/v1/alerts/{id}/incident`: opens an incident from the alert,
/// or answers the one that already gathers it (or its fingerprint).
#[utoipa::path(post, path = "/api/v1/alerts/{id}/incident", tag = "incidents", params(("id" = String, Path)), request_body = FromAlertJson, responses((status = 200, body = IncidentJson), (status = 403), (status = 404), (status = 422)))]
pub(crate) async fn from_alert(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    json: Result<Json<FromAlertJson>, JsonRejection>,
) -> ApiResult<Json<IncidentJson>> {
    let body = body(&caller, json)?;
    let Ok(alert) = id.parse::<uuid::Uuid>() else {
        return Err(caller.fail(AppError::NotFound { entity: "alert", key: id }));
    };
    let severity = body.severity.as_deref().map(severity).transpose().map_err(|e| caller.fail(e))?;
    let view =
        state.app.open_incident_from_alert(&caller.principal, alert, severity).await.map_err(|e| caller.fail(e))?;
    Ok(Json(view.into()))
}

/// The routes, registered from the same annotations that make the OpenAPI
/// document.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_incidents, open_incident))
        .routes(routes!(get_incident))
        .routes(routes!(change_incident))
        .routes(routes!(timeline))
        .routes(routes!(add_note))
        .routes(routes!(classify))
        .routes(routes!(list_reports, submit_report))
        .routes(routes!(from_alert))
}
