//! The JSON API under `/api/v1`: everything the UI can do. Authentication by
//! `Authorization: Bearer <token>` or by the session cookie (then unsafe
//! methods need the session's token in `X-CSRF-Token`). Errors are RFC 9457
//! problem details carrying the request id.

use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use leitstand_app::{AppError, NewUserRequest, Principal, Via};
use leitstand_core::access::{Action, Role};
use leitstand_store::{ApiToken, Tenant, User};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::TraceContext;
use crate::ctx::{SESSION_COOKIE, cookie};
use crate::origin::ClientOrigin;
use crate::problem::problem;

pub(crate) mod alerting;
mod monitoring;

/// An API failure.
pub struct ApiError {
    error: AppError,
    request_id: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self.error {
            AppError::Unauthenticated
            | AppError::BadCredentials
            | AppError::BadSecondFactor
            | AppError::PasswordExpired => StatusCode::UNAUTHORIZED,
            AppError::Locked { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Forbidden { .. } | AppError::PasswordChangeRequired => StatusCode::FORBIDDEN,
            AppError::NotFound { .. } => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } | AppError::AlertRefused { .. } => StatusCode::CONFLICT,
            AppError::Invalid { .. } | AppError::InvalidEvent(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::AuditUnavailable(_) | AppError::IntakeUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let detail = if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self.error, "API request failed");
            "internal error; quote the request id".to_string()
        } else {
            self.error.to_string()
        };
        let mut response = problem(status, detail, &self.request_id);
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        if let Some(value) = retry_after(&self.error) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// `Retry-After` for a lock: the HTTP date it ends.
pub(crate) fn retry_after(error: &AppError) -> Option<header::HeaderValue> {
    match error {
        AppError::Locked { until } => {
            header::HeaderValue::from_str(&until.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string()).ok()
        }
        _ => None,
    }
}

/// The authenticated caller of an API request.
pub struct Caller {
    principal: Principal,
    request_id: String,
    ip: String,
}

impl Caller {
    /// Who is calling.
    pub(crate) fn principal(&self) -> &Principal {
        &self.principal
    }

    fn fail(&self, error: AppError) -> ApiError {
        ApiError { error, request_id: self.request_id.clone() }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let request_id = TraceContext::request_id(&parts.extensions);
        let fail = |error| ApiError { error, request_id: request_id.clone() };
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let principal = if let Some(token) = bearer {
            state.app.authenticate_token(token.trim()).await.map_err(fail)?
        } else if let Some(value) = cookie(&parts.headers, SESSION_COOKIE) {
            let session = state.app.session(value).await.map_err(fail)?;
            if !matches!(parts.method, Method::GET | Method::HEAD) {
                let sent = parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
                state.app.check_csrf(&session, sent).map_err(fail)?;
            }
            session.principal
        } else {
            return Err(fail(AppError::Unauthenticated));
        };
        Ok(Caller { principal, request_id, ip: ClientOrigin::of(&parts.extensions).ip.to_string() })
    }
}

/// The caller of a calendar feed: as [`Caller`], or by `?token=`, because a
/// calendar app subscribes to a URL and cannot send an `Authorization`
/// header. A URL ends up in the app's settings, its sync service and
/// proxies' logs, so only a token whose scopes are `calendar` alone is taken
/// there: leaked, it shows who is on call and nothing else, and it is
/// revoked like any token.
pub struct FeedCaller(pub Caller);

/// `?token=` of a calendar feed.
#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct FeedToken {
    /// An API token with the scope `calendar` alone, for calendar apps; others
    /// are refused here (send them in the `Authorization` header).
    token: Option<String>,
}

impl FromRequestParts<AppState> for FeedCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let request_id = TraceContext::request_id(&parts.extensions);
        let fail = |error| ApiError { error, request_id: request_id.clone() };
        let token = Query::<FeedToken>::try_from_uri(&parts.uri)
            .map_err(|e| fail(AppError::Invalid { field: "token", message: e.body_text() }))?
            .0
            .token;
        let Some(token) = token else {
            return Caller::from_request_parts(parts, state).await.map(FeedCaller);
        };
        let principal = state.app.authenticate_token(token.trim()).await.map_err(fail)?;
        let calendar_only =
            matches!(&principal.via, Via::Token { scopes, .. } if scopes.iter().all(|s| s == "calendar"));
        if !calendar_only {
            return Err(fail(AppError::Invalid {
                field: "token",
                message: "a token in the URL must have the scope \"calendar\" alone; send other tokens in the \
                          Authorization header"
                    .into(),
            }));
        }
        Ok(FeedCaller(Caller { principal, request_id, ip: ClientOrigin::of(&parts.extensions).ip.to_string() }))
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// A tenant.
#[derive(Serialize, ToSchema)]
pub(crate) struct TenantJson {
    id: Uuid,
    slug: String,
    name: String,
    active: bool,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<Tenant> for TenantJson {
    fn from(t: Tenant) -> Self {
        TenantJson {
            id: t.id,
            slug: t.slug.to_string(),
            name: t.name,
            active: t.active,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// A user (no secrets).
#[derive(Serialize, ToSchema)]
pub(crate) struct UserJson {
    id: Uuid,
    username: String,
    display_name: String,
    #[schema(value_type = String, example = "devops")]
    role: Role,
    active: bool,
    tenants: Vec<Uuid>,
    must_change_password: bool,
    second_factor: bool,
}

impl From<User> for UserJson {
    fn from(u: User) -> Self {
        UserJson {
            id: u.id,
            second_factor: u.totp_secret.is_some(),
            username: u.username,
            display_name: u.display_name,
            role: u.role,
            active: u.active,
            tenants: u.tenants,
            must_change_password: u.must_change_password,
        }
    }
}

/// An API token (never the secret).
#[derive(Serialize, ToSchema)]
pub(crate) struct TokenJson {
    id: Uuid,
    name: String,
    scopes: Vec<String>,
    created_at: Timestamp,
    expires_at: Option<Timestamp>,
    last_used_at: Option<Timestamp>,
    revoked_at: Option<Timestamp>,
}

impl From<ApiToken> for TokenJson {
    fn from(t: ApiToken) -> Self {
        TokenJson {
            id: t.id,
            name: t.name,
            scopes: t.scopes,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// `GET /api/v1/me`.
#[utoipa::path(get, path = "/api/v1/me", tag = "identity", responses((status = 200, description = "The caller: user, role, visible tenants (null: all)")))]
pub(crate) async fn me(caller: Caller) -> Json<serde_json::Value> {
    let p = &caller.principal;
    Json(json!({
        "user_id": p.user_id,
        "username": p.username,
        "role": p.role,
        "tenants": p.tenant_filter(),
    }))
}

/// `GET /api/v1/tenants`.
#[utoipa::path(get, path = "/api/v1/tenants", tag = "tenants", responses((status = 200, body = Vec<TenantJson>)))]
pub(crate) async fn list_tenants(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<TenantJson>>> {
    let tenants = state.app.tenants(&caller.principal).await.map_err(|e| caller.fail(e))?;
    Ok(Json(tenants.into_iter().map(TenantJson::from).collect()))
}

/// A new tenant.
#[derive(Deserialize, ToSchema)]
pub(crate) struct NewTenantJson {
    slug: String,
    name: String,
}

/// `POST /api/v1/tenants`.
#[utoipa::path(post, path = "/api/v1/tenants", tag = "tenants", request_body = NewTenantJson, responses((status = 201, body = TenantJson), (status = 403), (status = 409), (status = 422)))]
pub(crate) async fn create_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewTenantJson>,
) -> ApiResult<(StatusCode, Json<TenantJson>)> {
    let tenant =
        state.app.create_tenant(&caller.principal, &body.slug, &body.name).await.map_err(|e| caller.fail(e))?;
    Ok((StatusCode::CREATED, Json(tenant.into())))
}

/// `GET /api/v1/tenants/{slug}`.
#[utoipa::path(get, path = "/api/v1/tenants/{slug}", tag = "tenants", params(("slug" = String, Path, description = "Tenant short name")), responses((status = 200, body = TenantJson), (status = 404)))]
pub(crate) async fn get_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
) -> ApiResult<Json<TenantJson>> {
    let tenant = state.app.tenant(&caller.principal, &slug).await.map_err(|e| caller.fail(e))?;
    Ok(Json(tenant.into()))
}

/// Changes to a tenant.
#[derive(Deserialize, ToSchema)]
pub(crate) struct TenantPatch {
    name: Option<String>,
    active: Option<bool>,
}

/// `PATCH /api/v1/tenants/{slug}`.
#[utoipa::path(patch, path = "/api/v1/tenants/{slug}", tag = "tenants", params(("slug" = String, Path)), request_body = TenantPatch, responses((status = 200, body = TenantJson), (status = 403), (status = 404)))]
pub(crate) async fn patch_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Json(body): Json<TenantPatch>,
) -> ApiResult<Json<TenantJson>> {
    let p = &caller.principal;
    p.require(Action::ManageTenants).map_err(|e| caller.fail(e))?;
    let mut tenant = state.app.tenant(p, &slug).await.map_err(|e| caller.fail(e))?;
    if let Some(name) = &body.name {
        tenant = state.app.rename_tenant(p, &slug, name).await.map_err(|e| caller.fail(e))?;
    }
    if let Some(active) = body.active {
        tenant = state.app.set_tenant_active(p, &slug, active).await.map_err(|e| caller.fail(e))?;
    }
    Ok(Json(tenant.into()))
}

/// `GET /api/v1/users`.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", responses((status = 200, body = Vec<UserJson>), (status = 403)))]
pub(crate) async fn list_users(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<UserJson>>> {
    let users = state.app.users(&caller.principal).await.map_err(|e| caller.fail(e))?;
    Ok(Json(users.into_iter().map(UserJson::from).collect()))
}

/// A new user.
#[derive(Deserialize, ToSchema)]
pub(crate) struct NewUserJson {
    username: String,
    #[serde(default)]
    display_name: String,
    #[schema(value_type = String, example = "tenant_viewer")]
    role: Role,
    password: String,
    #[serde(default)]
    tenants: Vec<String>,
}

/// `POST /api/v1/users`.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUserJson, responses((status = 201, body = UserJson), (status = 403), (status = 409), (status = 422)))]
pub(crate) async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewUserJson>,
) -> ApiResult<(StatusCode, Json<UserJson>)> {
    let request = NewUserRequest {
        username: body.username,
        display_name: body.display_name,
        role: body.role,
        password: body.password,
        tenants: body.tenants,
    };
    let user = state.app.add_user(&caller.principal, request).await.map_err(|e| caller.fail(e))?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// Changes to a user.
#[derive(Deserialize, ToSchema)]
pub(crate) struct UserPatch {
    active: Option<bool>,
    #[schema(value_type = Option<String>)]
    role: Option<Role>,
    #[serde(default)]
    tenants: Vec<String>,
}

/// `PATCH /api/v1/users/{name}`.
#[utoipa::path(patch, path = "/api/v1/users/{name}", tag = "users", params(("name" = String, Path)), request_body = UserPatch, responses((status = 200, body = UserJson), (status = 403), (status = 404)))]
pub(crate) async fn patch_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(body): Json<UserPatch>,
) -> ApiResult<Json<UserJson>> {
    let p = &caller.principal;
    p.require(Action::ManageUsers).map_err(|e| caller.fail(e))?;
    let mut user = None;
    if let Some(role) = body.role {
        user = Some(state.app.change_role(p, &name, role, body.tenants).await.map_err(|e| caller.fail(e))?);
    }
    if let Some(active) = body.active {
        user = Some(state.app.set_user_active(p, &name, active).await.map_err(|e| caller.fail(e))?);
    }
    let user = user.ok_or_else(|| {
        caller.fail(AppError::Invalid { field: "body", message: "set \"role\" or \"active\"".into() })
    })?;
    Ok(Json(user.into()))
}

/// `GET /api/v1/tokens`: the caller's own tokens.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", responses((status = 200, body = Vec<TokenJson>)))]
pub(crate) async fn list_tokens(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<TokenJson>>> {
    let tokens = state.app.tokens(&caller.principal).await.map_err(|e| caller.fail(e))?;
    Ok(Json(tokens.into_iter().map(TokenJson::from).collect()))
}

/// A new API token.
#[derive(Deserialize, ToSchema)]
pub(crate) struct NewTokenJson {
    name: String,
    scopes: Vec<String>,
    expires_in_days: Option<i64>,
}

/// `POST /api/v1/tokens`: returns the secret once.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = NewTokenJson, responses((status = 201, description = "The new token: {id, token, expires_at}; the secret is shown only here"), (status = 422)))]
pub(crate) async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<NewTokenJson>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let expires = match body.expires_in_days {
        None => None,
        Some(d) if (1..=3650).contains(&d) => {
            state.app.clock.now().checked_add(SignedDuration::from_hours(24 * d)).ok()
        }
        Some(_) => return Err(caller.fail(AppError::Invalid { field: "expires_in_days", message: "1 … 3650".into() })),
    };
    let token = state
        .app
        .create_token(&caller.principal, &body.name, &body.scopes, expires)
        .await
        .map_err(|e| caller.fail(e))?;
    Ok((StatusCode::CREATED, Json(json!({ "id": token.id, "token": token.secret, "expires_at": expires }))))
}

/// `DELETE /api/v1/tokens/{id}`.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = Uuid, Path)), responses((status = 204), (status = 404)))]
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    state.app.revoke_token(&caller.principal, id).await.map_err(|e| caller.fail(e))?;
    Ok(StatusCode::NO_CONTENT)
}

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
            v.parse::<jiff::Timestamp>()
                .map_err(|e| AppError::Invalid { field, message: format!("not an RFC 3339 time: {e}") })
        })
        .transpose()
}

fn event_json(e: &leitstand_store::IndexedEvent) -> serde_json::Value {
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
    let Query(q) = query.map_err(|e| {
        caller.fail(AppError::Invalid {
            field: "query",
            message: e.body_text().replace("Failed to deserialize query string: ", ""),
        })
    })?;
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(
                caller.fail(AppError::Invalid { field: "format", message: format!("{other:?} is not json or csv") })
            );
        }
    };
    let max = if csv { 10_000 } else { 1_000 };
    let search = leitstand_store::AuditQuery {
        from: parse_time("from", q.from).map_err(|e| caller.fail(e))?,
        to: parse_time("to", q.to).map_err(|e| caller.fail(e))?,
        actor: q.actor,
        action: q.action,
        tenant: q.tenant,
        object: q.object,
        outcome: q.outcome,
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
/// parsed by `leitstand_ledger::event`).
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
    /// `alert`, … — `leitstand_ledger::event::RESERVED_DOMAINS`) are refused.
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

/// A new password.
#[derive(Deserialize, ToSchema)]
pub(crate) struct PasswordReset {
    password: String,
    /// Revoke every API token of the user too (default: they keep working).
    #[serde(default)]
    revoke_tokens: bool,
}

/// `POST /api/v1/users/{name}/password`: an administrator sets a new
/// one-time password (to be changed at the next sign-in, before it
/// expires); ends the user's sessions, and with `revoke_tokens` revokes
/// their API tokens.
#[utoipa::path(post, path = "/api/v1/users/{name}/password", tag = "users", params(("name" = String, Path)), request_body = PasswordReset, responses((status = 204), (status = 403), (status = 404), (status = 422)))]
pub(crate) async fn reset_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(body): Json<PasswordReset>,
) -> ApiResult<StatusCode> {
    state
        .app
        .reset_password(&caller.principal, &name, body.password, body.revoke_tokens)
        .await
        .map_err(|e| caller.fail(e))?;
    Ok(StatusCode::NO_CONTENT)
}

/// A change of one's own password.
#[derive(Deserialize, ToSchema)]
pub(crate) struct OwnPassword {
    current_password: String,
    new_password: String,
    /// Revoke every API token of the account too (default: they keep working).
    #[serde(default)]
    revoke_tokens: bool,
}

/// `PUT /api/v1/me/password`: needs a session or a `write` token. A wrong
/// current password counts as a failed sign-in. Ends every other session
/// of the account.
#[utoipa::path(put, path = "/api/v1/me/password", tag = "identity", request_body = OwnPassword, responses((status = 204), (status = 403), (status = 422), (status = 429)))]
pub(crate) async fn change_own_password(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<OwnPassword>,
) -> ApiResult<StatusCode> {
    let change = leitstand_app::OwnPasswordChange {
        current: body.current_password,
        new: body.new_password,
        revoke_tokens: body.revoke_tokens,
    };
    state.app.change_own_password(&caller.principal, change, &caller.ip).await.map_err(|e| caller.fail(e))?;
    Ok(StatusCode::NO_CONTENT)
}

/// One's UI language.
#[derive(Deserialize, ToSchema)]
pub(crate) struct Locale {
    /// `de` or `en`.
    locale: String,
}

/// `PUT /api/v1/me/locale`: needs a session or a `write` token.
#[utoipa::path(put, path = "/api/v1/me/locale", tag = "identity", request_body = Locale, responses((status = 204), (status = 403), (status = 422)))]
pub(crate) async fn set_locale(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<Locale>,
) -> ApiResult<StatusCode> {
    state.app.set_locale(&caller.principal, &body.locale).await.map_err(|e| caller.fail(e))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Turning the second factor on (`secret` from `GET /api/v1/me/totp/secret`
/// or any base32 secret, and a `code` it shows) or off (`code` only).
#[derive(Deserialize, ToSchema)]
pub(crate) struct TotpChange {
    #[serde(default)]
    secret: String,
    code: String,
    /// When a second factor is already on: a code of it, to replace it.
    #[serde(default)]
    current_code: Option<String>,
}

/// `GET /api/v1/me/totp/secret`: a fresh secret and its `otpauth://` URI;
/// needs a session or a `write` token.
#[utoipa::path(get, path = "/api/v1/me/totp/secret", tag = "identity", responses((status = 200, description = "{secret, otpauth_uri}"), (status = 403)))]
pub(crate) async fn totp_secret(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<serde_json::Value>> {
    let (secret, uri) = state.app.new_totp_setup(&caller.principal).map_err(|e| caller.fail(e))?;
    Ok(Json(json!({ "secret": secret, "otpauth_uri": uri })))
}

/// `PUT /api/v1/me/totp`: turn the second factor on; replacing one that is
/// on needs `current_code`. Needs a session or a `write` token.
#[utoipa::path(put, path = "/api/v1/me/totp", tag = "identity", request_body = TotpChange, responses((status = 204), (status = 403), (status = 422), (status = 429)))]
pub(crate) async fn enable_totp(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<TotpChange>,
) -> ApiResult<StatusCode> {
    state
        .app
        .enable_totp(&caller.principal, &body.secret, &body.code, body.current_code.as_deref(), &caller.ip)
        .await
        .map_err(|e| caller.fail(e))?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/me/totp`: turn the second factor off (needs a code of
/// it, checked like a sign-in). Needs a session or a `write` token.
#[utoipa::path(delete, path = "/api/v1/me/totp", tag = "identity", request_body = TotpChange, responses((status = 204), (status = 403), (status = 422), (status = 429)))]
pub(crate) async fn disable_totp(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<TotpChange>,
) -> ApiResult<StatusCode> {
    state.app.disable_totp(&caller.principal, &body.code, &caller.ip).await.map_err(|e| caller.fail(e))?;
    Ok(StatusCode::NO_CONTENT)
}

/// The OpenAPI document's frame: info and the bearer security scheme.
#[derive(OpenApi)]
#[openapi(
    info(title = "Leitstand API", description = "Operations and governance control plane. Errors are RFC 9457 problem details."),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("lst_…").build()),
        );
    }
}

/// The `/api/v1` routes, registered from the same annotations that make the
/// OpenAPI document, so the two cannot drift apart.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(me))
        .routes(routes!(list_tenants, create_tenant))
        .routes(routes!(get_tenant, patch_tenant))
        .routes(routes!(list_users, create_user))
        .routes(routes!(patch_user))
        .routes(routes!(reset_password))
        .routes(routes!(change_own_password))
        .routes(routes!(set_locale))
        .routes(routes!(totp_secret))
        .routes(routes!(enable_totp, disable_totp))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(audit_events, submit_audit_events))
        .routes(routes!(monitoring::list_probes))
        .routes(routes!(monitoring::get_probe))
        .routes(routes!(monitoring::probe_availability))
        .routes(routes!(monitoring::list_targets))
        .routes(routes!(monitoring::list_rules))
        .routes(routes!(monitoring::alert_changes))
        .routes(routes!(alerting::post_alerts_v2, alerting::get_alerts_v2))
        .routes(routes!(alerting::status_v2))
        .routes(routes!(alerting::alertmanager_webhook))
        .routes(routes!(alerting::list_alerts))
        .routes(routes!(alerting::get_alert))
        .routes(routes!(alerting::ack_alert))
        .routes(routes!(alerting::unack_alert))
        .routes(routes!(alerting::resolve_alert))
        .routes(routes!(alerting::note_alert))
        .routes(routes!(alerting::list_silences, alerting::create_silence))
        .routes(routes!(alerting::expire_silence))
        .routes(routes!(alerting::list_schedules))
        .routes(routes!(alerting::on_call_now))
        .routes(routes!(alerting::schedule_calendar))
        .routes(routes!(alerting::create_override))
        .routes(routes!(alerting::delete_override))
        .routes(routes!(alerting::list_channels))
        .routes(routes!(alerting::test_channel))
}
