//! `/api/v1/audit/events`: search (JSON or CSV, keyset pages) and submit
//! (JSON array or NDJSON, all or nothing).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use leitstand_app::AppError;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

use crate::rest::*;

/// Audit search parameters. Unknown ones are refused: a mistyped filter
/// must not silently return everything.
#[derive(Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    /// Events at or after this time (RFC 3339).
    from: Option<String>,
    /// Events before this time (RFC 3339).
    to: Option<String>,
    /// A user name (pseudonymised for the search, never stored) or a pseudonym `ps:…`.
    actor: Option<String>,
    /// An action (`auth.login`) or a prefix ending in `.` (`auth.`).
    action: Option<String>,
    /// Tenant slug.
    tenant: Option<String>,
    /// Object (`order:4711`; `user:NAME` is pseudonymised for the search).
    object: Option<String>,
    /// `success`, `failure` or `denied`.
    outcome: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<u64>,
    /// Page size, 1–1000 (CSV: up to 10000); default 100.
    limit: Option<u32>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

fn parse_time(field: &'static str, value: Option<String>) -> Result<Option<jiff::Timestamp>, AppError> {
    value
        .map(|v| {
            v.parse::<jiff::Timestamp>().map_err(|e| {
                AppError::invalid(
                    field,
                    format!("not an RFC 3339 time: {e}"),
                    format!("keine Zeitangabe nach RFC 3339: {e}"),
                )
            })
        })
        .transpose()
}

fn event_json(e: &leitstand_app::audit::IndexedEvent) -> serde_json::Value {
    let stored = serde_json::from_str::<serde_json::Value>(&e.event).ok();
    let field = |name: &str| stored.as_ref().and_then(|v| v.get(name).cloned()).unwrap_or(serde_json::Value::Null);
    let (details, submitted_by) = (field("details"), field("submitted_by"));
    json!({
        "index": e.index, "logged_at": e.logged_at, "time": e.time, "actor": e.actor,
        "submitted_by": submitted_by, "action": e.action,
        "tenant": e.tenant, "object": e.object, "outcome": e.outcome, "retention": e.retention,
        "correlation_id": e.correlation_id, "details": details,
        "event": e.event, "salt": e.salt.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    })
}

/// A CSV field, quoted when needed. A value a spreadsheet would run as a
/// formula (`=`, `+`, `-`, `@`, tab, CR first) gets a leading `'` — audit
/// data comes from portals, and an export must not execute it (OWASP CSV
/// injection).
fn csv_field(value: &str) -> String {
    let value =
        if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.to_string() };
    if value.contains([',', '"', '\n', '\r']) { format!("\"{}\"", value.replace('"', "\"\"")) } else { value }
}

/// `GET /api/v1/audit/events`: search the audit trail, newest first, with
/// cursor pagination; JSON or CSV. Auditors, security and compliance see
/// everything; tenant viewers their tenants' events only.
#[utoipa::path(get, path = "/api/v1/audit/events", tag = "audit", params(AuditQuery), responses((status = 200, description = "`{events, next_cursor}`, or CSV with the next cursor in `X-Next-Cursor`"), (status = 403), (status = 422)))]
pub(crate) async fn audit_events(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let q = crate::rest::query(&caller, query)?;
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(caller.fail(AppError::invalid(
                "format",
                format!("{other:?} is not json or csv"),
                format!("{other:?} ist weder json noch csv"),
            )));
        }
    };
    let max = if csv { 10_000 } else { 1_000 };
    let search = leitstand_app::audit::AuditQuery {
        from: parse_time("from", q.from).map_err(|e| caller.fail(e))?,
        to: parse_time("to", q.to).map_err(|e| caller.fail(e))?,
        actor: q.actor,
        action: q.action,
        tenant: q.tenant,
        object: q.object,
        outcome: q.outcome.map(|o| o.parse::<leitstand_app::audit::Outcome>()).transpose().map_err(|message| {
            caller.fail(AppError::invalid("outcome", message.clone(), format!("Unbekanntes Ergebnis: {message}")))
        })?,
        scope: None,
        before: q.cursor,
        limit: q.limit.unwrap_or(100).clamp(1, max),
    };
    let page = state.app.search_audit(&caller.principal, search).await.map_err(|e| caller.fail(e))?;
    if !csv {
        let events: Vec<_> = page.events.iter().map(event_json).collect();
        return Ok(Json(json!({ "events": events, "next_cursor": page.next })).into_response());
    }
    let mut out =
        String::from("index,logged_at,time,actor,action,tenant,object,outcome,retention,correlation_id,event\r\n");
    for e in &page.events {
        let row = [
            e.index.to_string(),
            e.logged_at.to_string(),
            e.time.to_string(),
            e.actor.clone(),
            e.action.clone(),
            e.tenant.clone().unwrap_or_default(),
            e.object.clone().unwrap_or_default(),
            e.outcome.clone(),
            e.retention.clone(),
            e.correlation_id.clone().unwrap_or_default(),
            e.event.clone(),
        ];
        out.push_str(&row.iter().map(|v| csv_field(v)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    let mut response = ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response();
    if let Some(next) = page.next
        && let Ok(value) = header::HeaderValue::from_str(&next.to_string())
    {
        response.headers_mut().insert("x-next-cursor", value);
    }
    Ok(response)
}

/// An audit event as a portal submits it (documentation of the wire format;
/// the audit service checks and parses it).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct AuditEventIn {
    /// When it happened (RFC 3339); the time of arrival if absent.
    time: Option<String>,
    /// Who acted: a user name (pseudonymised before storage), or
    /// `anonymous`, `service:NAME`, `token:ID` (kept as they are). `system`
    /// is Leitstand itself and refused here.
    actor: String,
    /// `domain.verb`, e.g. `portal.login`, `order.create`,
    /// `approval.grant`. Leitstand's own domains (`auth`, `user`, `audit`,
    /// `alert`, `incident`, `tenant`, `token`, …) are refused.
    /// Who submitted the event is recorded with it from the credentials.
    action: String,
    /// Tenant slug (must exist).
    tenant: Option<String>,
    /// What was acted on, e.g. `order:4711` (`user:NAME` is pseudonymised).
    object: Option<String>,
    /// `success`, `failure` or `denied`.
    outcome: String,
    /// Client IP address (pseudonymised).
    source_ip: Option<String>,
    /// Correlation or trace id.
    correlation_id: Option<String>,
    /// `audit` (default), `security`, `application`, `access`, `performance`, `debug`.
    retention: Option<String>,
    /// Free details; configured personal keys are pseudonymised.
    #[schema(value_type = Object)]
    details: Option<serde_json::Value>,
}

/// `POST /api/v1/audit/events`: append a batch of events (a JSON array, one
/// object, or NDJSON). All or nothing; the answer comes once the events are
/// durable and names each event's log index.
#[utoipa::path(post, path = "/api/v1/audit/events", tag = "audit", request_body(content = Vec<AuditEventIn>, description = "JSON array or NDJSON (application/x-ndjson)"), responses((status = 201, description = "`{indexes}`: the log index of each event, in order"), (status = 403), (status = 422, description = "Names the event (0-based) and the field"), (status = 503)))]
pub(crate) async fn submit_audit_events(
    State(state): State<AppState>,
    caller: Caller,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let indexes = state.app.ingest_audit(&caller.principal, &body).await.map_err(|e| caller.fail(e))?;
    Ok((StatusCode::CREATED, Json(json!({ "indexes": indexes }))))
}

/// The routes, registered from the same annotations that make the OpenAPI
/// document.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(audit_events, submit_audit_events))
}
