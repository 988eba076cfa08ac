//! The server-rendered UI. Every page works without JavaScript; forms post
//! back and redirect (post/redirect/get), carrying the session's CSRF token.
//! Handlers extract input, call one service, render.

// An early `Response` is the natural error of a page handler.
#![allow(clippy::result_large_err)]

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use leitstand_app::{AppError, NewUserRequest, Principal, ValidSession};
use leitstand_core::access::{Action, MATRIX, Role};
use serde::Deserialize;
use uuid::Uuid;

use crate::AppState;
use crate::ctx::{Ctx, LANG_COOKIE, SESSION_COOKIE};
use crate::i18n::{Lang, Tr};

/// The value of an `Ok`, or return the `Err` (an early response) from the
/// handler.
macro_rules! or_respond {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(response) => return response,
        }
    };
}

mod alerting;
mod monitoring;
pub(crate) use alerting::{
    act_by_link, alert, alerts, channels, create_override, create_silence, delete_override, expire_silence, link,
    respond, schedules, silences, test_channel,
};
pub(crate) use monitoring::{probe, probes, rules, targets};

/// One navigation entry.
pub struct NavItem {
    href: &'static str,
    label: String,
    /// `aria-current`: `page` on the page itself, `true` on the section a
    /// page below it belongs to.
    current: Option<&'static str>,
}

/// What the layout needs.
pub struct Page {
    tr: Tr,
    title: String,
    user: Option<String>,
    nav: Vec<NavItem>,
    crumbs: Vec<(String, String)>,
    csrf: String,
    notice: Option<String>,
    errors: Vec<String>,
    request_id: String,
    contact: String,
}

impl Page {
    fn new(ctx: &Ctx, state: &AppState, title_key: &str, here: &'static str) -> Self {
        let tr = ctx.tr;
        let (user, nav, csrf) = match &ctx.session {
            Some(s) => {
                let p = &s.principal;
                let nav = [
                    ("/", "nav-dashboard", Action::ViewDashboard),
                    ("/tenants", "nav-tenants", Action::ReadTenants),
                    ("/users", "nav-users", Action::ReadUsers),
                    ("/tokens", "nav-tokens", Action::ReadOwnTokens),
                    ("/probes", "nav-probes", Action::ReadMonitoring),
                    ("/targets", "nav-targets", Action::ReadMonitoring),
                    ("/rules", "nav-rules", Action::ReadMonitoring),
                    ("/alerts", "nav-alerts", Action::ReadAlerts),
                    ("/audit", "nav-audit", Action::ReadAudit),
                    ("/profile", "nav-profile", Action::ViewDashboard),
                ];
                // Before a one-time password is changed, the profile is the
                // only place to go.
                let items = nav
                    .into_iter()
                    .filter(|(href, _, a)| p.role.may(*a) && (!s.must_change_password || *href == "/profile"))
                    .map(|(href, key, _)| NavItem {
                        href,
                        label: tr.get(key),
                        current: (href == here).then_some("page"),
                    })
                    .collect();
                let role = tr.get(&format!("role-{}", p.role.as_str()));
                let who = tr.args("signed-in-as", &[("name", &p.username), ("role", &role)]);
                (Some(who), items, s.csrf_token.clone())
            }
            None => (None, Vec::new(), String::new()),
        };
        let title = tr.get(title_key);
        let crumbs = if here == "/" || ctx.session.as_ref().is_none_or(|s| s.must_change_password) {
            Vec::new()
        } else {
            vec![("/".into(), tr.get("nav-dashboard")), (here.into(), title.clone())]
        };
        Page {
            tr,
            title,
            user,
            nav,
            crumbs,
            csrf,
            notice: None,
            errors: Vec::new(),
            request_id: ctx.request_id.clone(),
            contact: state.contact.clone(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    page: Page,
    next: String,
    username: String,
    oidc: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    page: Page,
    /// Visible tenants (none for a role that may not read tenants).
    tenants_line: Option<String>,
    /// Firing alerts by severity; `None` for a role that may not read alerts.
    groups: Option<Vec<SeverityRows>>,
    /// Schedule, who is on call (and until when), whether nobody is.
    on_call: Vec<(String, String, bool)>,
    probes_line: Option<String>,
}

/// One severity's firing alerts on the overview.
struct SeverityRows {
    severity: String,
    heading: String,
    rows: Vec<alerting::AlertRow>,
    more: Option<String>,
}

struct TenantRow {
    slug: String,
    name: String,
    active: bool,
    rename_label: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "tenants.html")]
struct TenantsPage {
    page: Page,
    tenants: Vec<TenantRow>,
    can_manage: bool,
}

struct UserRow {
    username: String,
    role: String,
    role_key: String,
    role_label: String,
    tenants_label: String,
    reset_label: String,
    revoke_label: String,
    tenants: String,
    active: bool,
    is_self: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "users.html")]
struct UsersPage {
    page: Page,
    users: Vec<UserRow>,
    can_manage: bool,
    roles: Vec<(String, String)>,
    matrix: Vec<(String, Vec<String>)>,
}

struct AuditRow {
    index: u64,
    time: String,
    action: String,
    actor: String,
    /// Who submitted it over the API (empty for Leitstand's own events).
    submitted_by: String,
    tenant: String,
    object: String,
    outcome: String,
}

struct LogStatus {
    size: u64,
    key: String,
    verified: String,
    witnesses: Vec<String>,
    siem: String,
}

/// The audit page's filter, as typed (echoed back into the form).
#[derive(Deserialize, Default)]
pub(crate) struct AuditFilter {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    object: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    cursor: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "audit.html")]
struct AuditPage {
    page: Page,
    status: Option<LogStatus>,
    filter: AuditFilter,
    outcomes: Vec<(&'static str, String)>,
    rows: Vec<AuditRow>,
    next_href: Option<String>,
    csv_href: String,
}

struct TokenRow {
    id: Uuid,
    name: String,
    scopes: String,
    expires: String,
    revoked: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "tokens.html")]
struct TokensPage {
    page: Page,
    tokens: Vec<TokenRow>,
    new_secret: Option<String>,
    can_write: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "profile.html")]
struct ProfilePage {
    page: Page,
    username: String,
    role: String,
    password_change_due: bool,
    totp_on: bool,
    totp_secret: String,
    totp_uri: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "accessibility.html")]
struct AccessibilityPage {
    page: Page,
    feedback: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    page: Page,
    message: String,
}

/// A page-level failure rendered as an accessible error page.
fn error_page(ctx: &Ctx, state: &AppState, error: &AppError) -> Response {
    let (status, message) = match error {
        AppError::NotFound { .. } => (StatusCode::NOT_FOUND, ctx.tr.get("error-not-found")),
        AppError::Forbidden { .. } => (StatusCode::FORBIDDEN, ctx.tr.get("error-forbidden")),
        AppError::Invalid { .. } => {
            (StatusCode::UNPROCESSABLE_ENTITY, ctx.tr.arg("error-invalid", "detail", &error.to_string()))
        }
        AppError::Conflict { .. } => (StatusCode::CONFLICT, ctx.tr.arg("error-conflict", "detail", &error.to_string())),
        AppError::AlertRefused { reason } => (StatusCode::CONFLICT, refused(ctx.tr, reason)),
        AppError::Unauthenticated => return Redirect::to("/login").into_response(),
        AppError::PasswordChangeRequired => return Redirect::to("/profile").into_response(),
        _ => {
            tracing::error!(%error, "request failed");
            (StatusCode::INTERNAL_SERVER_ERROR, ctx.tr.get("error-internal"))
        }
    };
    let page = Page::new(ctx, state, "error-title", "");
    (status, ErrorPage { page, message }).into_response()
}

/// Why an action on an alert was refused, in the reader's language.
pub(crate) fn refused(tr: Tr, reason: &str) -> String {
    tr.get(&format!("alert-refused-{}", reason.replace(' ', "-")))
}

/// The signed-in session, or a redirect to the login page — or to the
/// profile while a one-time password must be changed: nothing else is
/// shown before that.
fn signed_in(ctx: &Ctx) -> Result<&ValidSession, Response> {
    let session = signed_in_to_change_password(ctx)?;
    if session.must_change_password {
        return Err(Redirect::to("/profile").into_response());
    }
    Ok(session)
}

/// The signed-in session, even one that must change its password first
/// (the profile, the change itself, signing out).
fn signed_in_to_change_password(ctx: &Ctx) -> Result<&ValidSession, Response> {
    ctx.session.as_ref().ok_or_else(|| Redirect::to("/login").into_response())
}

/// A valid CSRF token for the session, or 403.
fn checked<'a>(ctx: &'a Ctx, state: &AppState, csrf: &str) -> Result<&'a Principal, Response> {
    let session = signed_in(ctx)?;
    state.app.check_csrf(session, csrf).map_err(|e| error_page(ctx, state, &e))?;
    Ok(&session.principal)
}

/// [`checked`] for the forms a session may send before its one-time
/// password is changed.
fn checked_to_change_password<'a>(ctx: &'a Ctx, state: &AppState, csrf: &str) -> Result<&'a Principal, Response> {
    let session = signed_in_to_change_password(ctx)?;
    state.app.check_csrf(session, csrf).map_err(|e| error_page(ctx, state, &e))?;
    Ok(&session.principal)
}

fn session_cookie(value: &str, tls: bool, max_age: Option<i64>) -> String {
    let secure = if tls { "; Secure" } else { "" };
    let age = max_age.map(|a| format!("; Max-Age={a}")).unwrap_or_default();
    format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax{secure}{age}")
}

/// `GET /`.
pub(crate) async fn dashboard(State(state): State<AppState>, ctx: Ctx) -> Response {
    let session = or_respond!(signed_in(&ctx));
    let tr = ctx.tr;
    let overview = match state.app.overview(&session.principal).await {
        Ok(o) => o,
        Err(e) => return error_page(&ctx, &state, &e),
    };
    let zone = crate::time::zone(&state);
    let groups = overview.alerts.map(|groups| {
        groups
            .into_iter()
            .map(|g| SeverityRows {
                heading: tr.args(
                    "dashboard-severity",
                    &[("severity", &severity_label(tr, &g.severity)), ("count", &g.count.to_string())],
                ),
                more: (g.count > g.alerts.len() as u64)
                    .then(|| tr.arg("dashboard-more", "count", &(g.count - g.alerts.len() as u64).to_string())),
                severity: g.severity.clone(),
                rows: g.alerts.into_iter().map(|a| alerting::alert_row(tr, &zone, a)).collect(),
            })
            .collect()
    });
    let on_call = overview
        .on_call
        .into_iter()
        .map(|o| {
            let who = match (&o.person, o.until) {
                (Some(p), Some(until)) => {
                    tr.args("dashboard-on-call-until", &[("person", p), ("until", &crate::time::local(until, &zone))])
                }
                (Some(p), None) => p.clone(),
                (None, _) => tr.get("dashboard-on-call-nobody"),
            };
            (o.schedule_name, who, o.person.is_none())
        })
        .collect();
    let probes_line = overview
        .probes
        .map(|p| tr.args("probes-summary", &[("count", &p.count.to_string()), ("down", &p.down.to_string())]));
    let page = Page::new(&ctx, &state, "dashboard-title", "/");
    DashboardPage {
        tenants_line: (overview.tenants > 0)
            .then(|| tr.arg("dashboard-tenants", "count", &overview.tenants.to_string())),
        groups,
        on_call,
        probes_line,
        page,
    }
    .into_response()
}

/// `critical` → "Kritisch (critical)"; unknown severities as written.
fn severity_label(tr: Tr, severity: &str) -> String {
    match severity {
        "critical" | "warning" | "info" => tr.get(&format!("severity-{severity}")),
        "" => tr.get("severity-none"),
        other => other.to_string(),
    }
}

#[derive(Deserialize)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

/// Only local paths are followed after login (no open redirect): a path
/// that starts with one `/`, holds no control character, whitespace or
/// backslash (browsers drop tabs and newlines and read `/\t/host` as
/// `//host`), and parses as a path with nothing before it. Anything else
/// goes to `/`.
pub fn safe_next(next: Option<&str>) -> String {
    let Some(n) = next else { return "/".into() };
    let local = n.starts_with('/')
        && !n.starts_with("//")
        && !n.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        && n.parse::<axum::http::Uri>().is_ok_and(|u| u.scheme().is_none() && u.authority().is_none())
        && axum::http::HeaderValue::from_str(n).is_ok();
    if local { n.to_string() } else { "/".into() }
}

/// `GET /login`.
pub(crate) async fn login_form(State(state): State<AppState>, ctx: Ctx, Query(q): Query<NextQuery>) -> Response {
    if ctx.session.is_some() {
        return Redirect::to("/").into_response();
    }
    let page = Page::new(&ctx, &state, "login-title", "/login");
    LoginPage { page, next: safe_next(q.next.as_deref()), username: String::new(), oidc: state.app.oidc.is_some() }
        .into_response()
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    code: String,
    next: Option<String>,
}

/// `POST /login`.
pub(crate) async fn login(State(state): State<AppState>, ctx: Ctx, Form(form): Form<LoginForm>) -> Response {
    let code = Some(form.code.trim()).filter(|c| !c.is_empty());
    match state.app.login(&form.username, &form.password, code, &ctx.client_ip).await {
        Ok(outcome) => {
            let target = if outcome.session.must_change_password {
                "/profile".to_string()
            } else {
                safe_next(form.next.as_deref())
            };
            let cookie = session_cookie(&outcome.cookie, ctx.tls, None);
            ([(header::SET_COOKIE, cookie)], Redirect::to(&target)).into_response()
        }
        Err(error) => {
            let mut page = Page::new(&ctx, &state, "login-title", "/login");
            let status = match &error {
                AppError::Locked { until } => {
                    page.errors.push(ctx.tr.arg(
                        "login-locked",
                        "until",
                        &crate::time::local(*until, &crate::time::zone(&state)),
                    ));
                    StatusCode::TOO_MANY_REQUESTS
                }
                AppError::BadCredentials => {
                    page.errors.push(ctx.tr.get("login-failed"));
                    StatusCode::UNAUTHORIZED
                }
                AppError::BadSecondFactor => {
                    page.errors.push(ctx.tr.get("login-code-failed"));
                    StatusCode::UNAUTHORIZED
                }
                AppError::PasswordExpired => {
                    page.errors.push(ctx.tr.get("login-expired"));
                    StatusCode::UNAUTHORIZED
                }
                other => return error_page(&ctx, &state, other),
            };
            let username = form.username.chars().take(64).collect();
            let oidc = state.app.oidc.is_some();
            (status, LoginPage { page, next: safe_next(form.next.as_deref()), username, oidc }).into_response()
        }
    }
}

/// Cookie binding an OIDC sign-in to the browser that started it.
const OIDC_STATE_COOKIE: &str = "leitstand_oidc_state";

/// `GET /login/oidc`: off to the identity provider.
pub(crate) async fn oidc_start(State(state): State<AppState>, ctx: Ctx, Query(q): Query<NextQuery>) -> Response {
    match state.app.oidc_start(&safe_next(q.next.as_deref())).await {
        Ok(start) => {
            let secure = if ctx.tls { "; Secure" } else { "" };
            let cookie = format!(
                "{OIDC_STATE_COOKIE}={}; Path=/login/oidc; HttpOnly; SameSite=Lax; Max-Age=600{secure}",
                start.state
            );
            ([(header::SET_COOKIE, cookie)], Redirect::to(&start.redirect_to)).into_response()
        }
        Err(e) => error_page(&ctx, &state, &e),
    }
}

#[derive(Deserialize)]
pub(crate) struct OidcCallback {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    error: Option<String>,
}

/// `GET /login/oidc/callback`: back from the identity provider.
pub(crate) async fn oidc_callback(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Query(q): Query<OidcCallback>,
) -> Response {
    if let Some(error) = q.error {
        let e = AppError::Invalid { field: "oidc", message: format!("the identity provider answered {error:?}") };
        return error_page(&ctx, &state, &e);
    }
    let cookie_state = crate::ctx::cookie(&headers, OIDC_STATE_COOKIE).unwrap_or_default().to_string();
    match state.app.oidc_finish(&q.state, &cookie_state, &q.code).await {
        Ok((outcome, next)) => {
            let session = session_cookie(&outcome.cookie, ctx.tls, None);
            let clear = format!("{OIDC_STATE_COOKIE}=; Path=/login/oidc; HttpOnly; SameSite=Lax; Max-Age=0");
            // Two cookies: append, not insert.
            (
                axum::response::AppendHeaders([(header::SET_COOKIE, session), (header::SET_COOKIE, clear)]),
                Redirect::to(&safe_next(Some(&next))),
            )
                .into_response()
        }
        Err(e) => error_page(&ctx, &state, &e),
    }
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    csrf: String,
}

/// `POST /logout`.
pub(crate) async fn logout(State(state): State<AppState>, ctx: Ctx, Form(form): Form<CsrfForm>) -> Response {
    or_respond!(checked_to_change_password(&ctx, &state, &form.csrf));
    if let Some(session) = &ctx.session {
        let _ = state.app.logout(session).await;
    }
    ([(header::SET_COOKIE, session_cookie("", ctx.tls, Some(0)))], Redirect::to("/login")).into_response()
}

#[derive(Deserialize)]
pub(crate) struct LanguageForm {
    lang: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /language`: for everyone (cookie), and stored for a signed-in user.
pub(crate) async fn language(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    Form(form): Form<LanguageForm>,
) -> Response {
    let lang = Lang::parse(&form.lang).unwrap_or(Lang::De);
    if ctx.session.is_some() {
        match checked_to_change_password(&ctx, &state, &form.csrf) {
            // Refused while a one-time password must be changed: the
            // cookie still switches the language.
            Ok(p) => {
                let _ = state.app.set_locale(p, lang.code()).await;
            }
            Err(r) => return r,
        }
    }
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.find('/').map(|i| rest[i..].to_string()))
        .unwrap_or_else(|| "/".into());
    let cookie = format!("{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000", lang.code());
    ([(header::SET_COOKIE, cookie)], Redirect::to(&safe_next(Some(&back)))).into_response()
}

/// 422 when a posted form had problems (they are shown on the page), else 200.
fn form_status<E>(errors: &[E]) -> StatusCode {
    if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY }
}

async fn render_tenants(state: &AppState, ctx: &Ctx, notice: Option<String>, errors: Vec<String>) -> Response {
    let session = or_respond!(signed_in(ctx));
    let tenants = match state.app.tenants(&session.principal).await {
        Ok(t) => t,
        Err(e) => return error_page(ctx, state, &e),
    };
    let mut page = Page::new(ctx, state, "tenants-title", "/tenants");
    page.notice = notice;
    let status = form_status(&errors);
    page.errors = errors;
    let rows = tenants
        .into_iter()
        .map(|t| TenantRow {
            rename_label: ctx.tr.arg("tenants-new-name", "slug", t.slug.as_str()),
            slug: t.slug.to_string(),
            name: t.name,
            active: t.active,
        })
        .collect();
    (status, TenantsPage { page, tenants: rows, can_manage: session.principal.role.may(Action::ManageTenants) })
        .into_response()
}

#[derive(Deserialize)]
pub(crate) struct NoticeQuery {
    done: Option<String>,
}

/// `GET /tenants`.
pub(crate) async fn tenants(State(state): State<AppState>, ctx: Ctx, Query(q): Query<NoticeQuery>) -> Response {
    let notice = q.done.map(|slug| ctx.tr.arg("tenants-changed", "slug", &slug));
    render_tenants(&state, &ctx, notice, Vec::new()).await
}

#[derive(Deserialize)]
pub(crate) struct TenantForm {
    csrf: String,
    slug: String,
    name: String,
}

/// `POST /tenants`.
pub(crate) async fn create_tenant(State(state): State<AppState>, ctx: Ctx, Form(form): Form<TenantForm>) -> Response {
    let principal = or_respond!(checked(&ctx, &state, &form.csrf));
    match state.app.create_tenant(principal, &form.slug, &form.name).await {
        Ok(t) => Redirect::to(&format!("/tenants?done={}", t.slug)).into_response(),
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => {
            render_tenants(&state, &ctx, None, vec![e.to_string()]).await
        }
        Err(e) => error_page(&ctx, &state, &e),
    }
}

#[derive(Deserialize)]
pub(crate) struct TenantChangeForm {
    csrf: String,
    op: String,
    name: Option<String>,
}

/// `POST /tenants/{slug}`: rename, activate, deactivate.
pub(crate) async fn change_tenant(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(slug): Path<String>,
    Form(form): Form<TenantChangeForm>,
) -> Response {
    let principal = or_respond!(checked(&ctx, &state, &form.csrf));
    let result = match form.op.as_str() {
        "rename" => state.app.rename_tenant(principal, &slug, form.name.as_deref().unwrap_or_default()).await,
        "activate" => state.app.set_tenant_active(principal, &slug, true).await,
        "deactivate" => state.app.set_tenant_active(principal, &slug, false).await,
        _ => Err(AppError::Invalid { field: "op", message: "unknown operation".into() }),
    };
    match result {
        Ok(t) => Redirect::to(&format!("/tenants?done={}", t.slug)).into_response(),
        Err(e @ AppError::Invalid { .. }) => render_tenants(&state, &ctx, None, vec![e.to_string()]).await,
        Err(e) => error_page(&ctx, &state, &e),
    }
}

async fn render_users(state: &AppState, ctx: &Ctx, notice: Option<String>, errors: Vec<String>) -> Response {
    let session = or_respond!(signed_in(ctx));
    let p = &session.principal;
    let (users, tenants) = match (state.app.users(p).await, state.app.tenants(p).await) {
        (Ok(u), Ok(t)) => (u, t),
        (Err(e), _) | (_, Err(e)) => return error_page(ctx, state, &e),
    };
    let mut page = Page::new(ctx, state, "users-title", "/users");
    page.notice = notice;
    let status = form_status(&errors);
    page.errors = errors;
    let role_label = |r: Role| ctx.tr.get(&format!("role-{}", r.as_str()));
    let rows = users
        .into_iter()
        .map(|u| UserRow {
            is_self: u.id == p.user_id,
            role: role_label(u.role),
            role_key: u.role.as_str().to_string(),
            role_label: ctx.tr.arg("users-role-for", "name", &u.username),
            tenants_label: ctx.tr.arg("users-tenants-for", "name", &u.username),
            reset_label: ctx.tr.arg("users-reset-for", "name", &u.username),
            revoke_label: ctx.tr.arg("users-revoke-tokens-for", "name", &u.username),
            tenants: u
                .tenants
                .iter()
                .filter_map(|id| tenants.iter().find(|t| t.id == *id).map(|t| t.slug.to_string()))
                .collect::<Vec<_>>()
                .join(", "),
            username: u.username,
            active: u.active,
        })
        .collect();
    let roles = Role::ALL.iter().map(|r| (r.as_str().to_string(), role_label(*r))).collect();
    let matrix = MATRIX
        .iter()
        .map(|(action, _)| {
            let cells = Role::ALL
                .iter()
                .map(|r| match (r.may(*action), r.is_tenant_bound() && action.is_tenant_scoped()) {
                    (true, true) => "✓ (eigene Mandanten / own tenants)".to_string(),
                    (true, false) => "✓".to_string(),
                    (false, _) => "–".to_string(),
                })
                .collect();
            (action.as_str().to_string(), cells)
        })
        .collect();
    (status, UsersPage { page, users: rows, can_manage: p.role.may(Action::ManageUsers), roles, matrix })
        .into_response()
}

/// `GET /users`.
pub(crate) async fn users(State(state): State<AppState>, ctx: Ctx, Query(q): Query<NoticeQuery>) -> Response {
    let notice = q.done.map(|name| ctx.tr.arg("users-changed", "name", &name));
    render_users(&state, &ctx, notice, Vec::new()).await
}

#[derive(Deserialize)]
pub(crate) struct UserForm {
    csrf: String,
    username: String,
    #[serde(default)]
    display_name: String,
    role: String,
    password: String,
    #[serde(default)]
    tenants: String,
}

/// `POST /users`.
pub(crate) async fn create_user(State(state): State<AppState>, ctx: Ctx, Form(form): Form<UserForm>) -> Response {
    let principal = or_respond!(checked(&ctx, &state, &form.csrf));
    let role = match form.role.parse::<Role>() {
        Ok(r) => r,
        Err(e) => return render_users(&state, &ctx, None, vec![e.to_string()]).await,
    };
    let request = NewUserRequest {
        username: form.username,
        display_name: form.display_name,
        role,
        password: form.password,
        tenants: form.tenants.split([',', ' ']).filter(|s| !s.is_empty()).map(String::from).collect(),
    };
    match state.app.add_user(principal, request).await {
        Ok(u) => Redirect::to(&format!("/users?done={}", u.username)).into_response(),
        Err(e @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => {
            render_users(&state, &ctx, None, vec![e.to_string()]).await
        }
        Err(e) => error_page(&ctx, &state, &e),
    }
}

#[derive(Deserialize)]
pub(crate) struct UserChangeForm {
    csrf: String,
    op: String,
    role: Option<String>,
    #[serde(default)]
    tenants: String,
    password: Option<String>,
    /// Checkbox: revoke the user's API tokens with the reset.
    #[serde(default)]
    revoke_tokens: Option<String>,
}

/// `POST /users/{name}`: disable, enable.
pub(crate) async fn change_user(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(name): Path<String>,
    Form(form): Form<UserChangeForm>,
) -> Response {
    let principal = or_respond!(checked(&ctx, &state, &form.csrf));
    let result = match form.op.as_str() {
        "disable" => state.app.set_user_active(principal, &name, false).await,
        "enable" => state.app.set_user_active(principal, &name, true).await,
        "role" => match form.role.as_deref().unwrap_or_default().parse::<Role>() {
            Ok(role) => {
                let tenants = form.tenants.split([',', ' ']).filter(|s| !s.is_empty()).map(String::from).collect();
                state.app.change_role(principal, &name, role, tenants).await
            }
            Err(e) => Err(AppError::Invalid { field: "role", message: e.to_string() }),
        },
        "reset" => {
            let password = form.password.unwrap_or_default();
            state.app.reset_password(principal, &name, password, form.revoke_tokens.is_some()).await
        }
        _ => Err(AppError::Invalid { field: "op", message: "unknown operation".into() }),
    };
    match result {
        Ok(u) => Redirect::to(&format!("/users?done={}", u.username)).into_response(),
        Err(e @ AppError::Invalid { .. }) => render_users(&state, &ctx, None, vec![e.to_string()]).await,
        Err(e) => error_page(&ctx, &state, &e),
    }
}

async fn render_tokens(state: &AppState, ctx: &Ctx, new_secret: Option<String>, errors: Vec<String>) -> Response {
    let session = or_respond!(signed_in(ctx));
    let p = &session.principal;
    let tokens = match state.app.tokens(p).await {
        Ok(t) => t,
        Err(e) => return error_page(ctx, state, &e),
    };
    let mut page = Page::new(ctx, state, "tokens-title", "/tokens");
    let zone = crate::time::zone(state);
    let status = form_status(&errors);
    page.errors = errors;
    let rows = tokens
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            scopes: t.scopes.join(", "),
            expires: t.expires_at.map(|e| crate::time::local(e, &zone)).unwrap_or_else(|| ctx.tr.get("tokens-never")),
            revoked: t.revoked_at.is_some(),
            name: t.name,
        })
        .collect();
    (status, TokensPage { page, tokens: rows, new_secret, can_write: !p.role.is_tenant_bound() }).into_response()
}

/// `GET /tokens`.
pub(crate) async fn tokens(State(state): State<AppState>, ctx: Ctx) -> Response {
    render_tokens(&state, &ctx, None, Vec::new()).await
}

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    csrf: String,
    name: String,
    scopes: String,
    #[serde(default)]
    days: String,
}

/// `POST /tokens`: shows the new secret once (no redirect, so it is not
/// kept in history or logs).
pub(crate) async fn create_token(State(state): State<AppState>, ctx: Ctx, Form(form): Form<TokenForm>) -> Response {
    let principal = or_respond!(checked(&ctx, &state, &form.csrf));
    let expires = match form.days.trim() {
        "" => None,
        days => match days.parse::<i64>() {
            Ok(d) if (1..=3650).contains(&d) => {
                state.app.clock.now().checked_add(jiff::SignedDuration::from_hours(24 * d)).ok()
            }
            _ => return render_tokens(&state, &ctx, None, vec!["days: 1 … 3650".into()]).await,
        },
    };
    let scopes: Vec<String> = form.scopes.split_whitespace().map(String::from).collect();
    match state.app.create_token(principal, &form.name, &scopes, expires).await {
        Ok(token) => render_tokens(&state, &ctx, Some(token.secret), Vec::new()).await,
        Err(e @ AppError::Invalid { .. }) => render_tokens(&state, &ctx, None, vec![e.to_string()]).await,
        Err(e) => error_page(&ctx, &state, &e),
    }
}

/// `POST /tokens/{id}/revoke`.
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<Uuid>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let principal = or_respond!(checked(&ctx, &state, &form.csrf));
    match state.app.revoke_token(principal, id).await {
        Ok(()) => Redirect::to("/tokens").into_response(),
        Err(e) => error_page(&ctx, &state, &e),
    }
}

/// `keep_secret`: a TOTP secret the user is setting up (kept when the code
/// was wrong, so the key already added to the app stays valid).
async fn render_profile(
    state: &AppState,
    ctx: &Ctx,
    notice: Option<String>,
    errors: Vec<String>,
    keep_secret: Option<String>,
) -> Response {
    let session = or_respond!(signed_in_to_change_password(ctx));
    let mut page = Page::new(ctx, state, "profile-title", "/profile");
    if session.must_change_password && notice.is_none() {
        page.notice = Some(ctx.tr.get("profile-must-change"));
    } else {
        page.notice = notice;
    }
    let status = form_status(&errors);
    page.errors = errors;
    let p = &session.principal;
    let totp_on = match state.app.has_totp(p).await {
        Ok(on) => on,
        Err(e) => return error_page(ctx, state, &e),
    };
    // The set-up of a second factor waits until a one-time password is changed.
    let (totp_secret, totp_uri) = match (totp_on || session.must_change_password, keep_secret) {
        (true, _) => (String::new(), String::new()),
        (false, Some(secret)) => {
            let uri = leitstand_app::otpauth_uri(&secret, &p.username);
            (secret, uri)
        }
        (false, None) => match state.app.new_totp_setup(p) {
            Ok(setup) => setup,
            Err(e) => return error_page(ctx, state, &e),
        },
    };
    (
        status,
        ProfilePage {
            page,
            username: p.username.clone(),
            role: ctx.tr.get(&format!("role-{}", p.role.as_str())),
            password_change_due: session.must_change_password,
            totp_on,
            totp_uri,
            totp_secret,
        },
    )
        .into_response()
}

/// `GET /profile`.
pub(crate) async fn profile(State(state): State<AppState>, ctx: Ctx, Query(q): Query<NoticeQuery>) -> Response {
    let notice =
        q.done.map(|what| ctx.tr.get(if what == "totp" { "profile-totp-changed" } else { "profile-password-changed" }));
    render_profile(&state, &ctx, notice, Vec::new(), None).await
}

#[derive(Deserialize)]
pub(crate) struct PasswordForm {
    csrf: String,
    current_password: String,
    new_password: String,
    /// Checkbox: revoke one's API tokens too.
    #[serde(default)]
    revoke_tokens: Option<String>,
}

/// `POST /profile/password`.
pub(crate) async fn change_password(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(form): Form<PasswordForm>,
) -> Response {
    let principal = or_respond!(checked_to_change_password(&ctx, &state, &form.csrf));
    let change = leitstand_app::OwnPasswordChange {
        current: form.current_password,
        new: form.new_password,
        revoke_tokens: form.revoke_tokens.is_some(),
    };
    match state.app.change_own_password(principal, change, &ctx.client_ip).await {
        Ok(()) => Redirect::to("/profile?done=password").into_response(),
        Err(e @ (AppError::Invalid { .. } | AppError::Locked { .. })) => {
            render_profile(&state, &ctx, None, vec![e.to_string()], None).await
        }
        Err(e) => error_page(&ctx, &state, &e),
    }
}

#[derive(Deserialize)]
pub(crate) struct TotpForm {
    csrf: String,
    op: String,
    code: String,
    #[serde(default)]
    secret: String,
}

/// `POST /profile/totp`: enable or disable the second factor.
pub(crate) async fn change_totp(State(state): State<AppState>, ctx: Ctx, Form(form): Form<TotpForm>) -> Response {
    let principal = or_respond!(checked(&ctx, &state, &form.csrf));
    let result = match form.op.as_str() {
        "enable" => state.app.enable_totp(principal, &form.secret, &form.code, None, &ctx.client_ip).await,
        "disable" => state.app.disable_totp(principal, &form.code, &ctx.client_ip).await,
        _ => Err(AppError::Invalid { field: "op", message: "unknown operation".into() }),
    };
    let keep = (form.op == "enable" && !form.secret.is_empty()).then(|| form.secret.clone());
    match result {
        Ok(()) => Redirect::to("/profile?done=totp").into_response(),
        Err(e @ (AppError::Invalid { .. } | AppError::Locked { .. })) => {
            render_profile(&state, &ctx, None, vec![e.to_string()], keep).await
        }
        Err(e) => error_page(&ctx, &state, &e),
    }
}

/// `GET /barrierefreiheit` — public.
pub(crate) async fn accessibility(State(state): State<AppState>, ctx: Ctx) -> Response {
    let page = Page::new(&ctx, &state, "a11y-title", "/barrierefreiheit");
    let feedback = ctx.tr.arg("a11y-feedback", "contact", &state.contact);
    AccessibilityPage { page, feedback }.into_response()
}

/// `GET /static/app.css`.
pub(crate) async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../static/app.css"),
    )
        .into_response()
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
fn query_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn some(value: &str) -> Option<String> {
    Some(value.trim().to_string()).filter(|v| !v.is_empty())
}

impl AuditFilter {
    /// The store query, or the fields that are wrong.
    fn query(&self, zone: &jiff::tz::TimeZone) -> Result<leitstand_store::AuditQuery, Vec<String>> {
        let mut errors = Vec::new();
        let mut day = |field: &str, value: &str, next: bool| -> Option<jiff::Timestamp> {
            let value = some(value)?;
            match value.parse::<jiff::civil::Date>() {
                Ok(d) => {
                    let d = if next { d.tomorrow().ok()? } else { d };
                    crate::time::start_of(d, zone)
                }
                Err(_) => {
                    errors.push(format!("{field}: {value:?} is not a date (YYYY-MM-DD)"));
                    None
                }
            }
        };
        let from = day("from", &self.from, false);
        let to = day("to", &self.to, true);
        let outcome = some(&self.outcome);
        if let Some(o) = &outcome
            && !["success", "failure", "denied"].contains(&o.as_str())
        {
            errors.push(format!("outcome: {o:?} is not success, failure or denied"));
        }
        let before = match some(&self.cursor).map(|c| c.parse::<u64>()) {
            Some(Ok(c)) => Some(c),
            Some(Err(_)) => {
                errors.push("cursor: not a log index".into());
                None
            }
            None => None,
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(leitstand_store::AuditQuery {
            from,
            to,
            actor: some(&self.actor),
            action: some(&self.action),
            tenant: some(&self.tenant),
            object: some(&self.object),
            outcome,
            scope: None,
            before,
            limit: 50,
        })
    }

    /// The filter as typed, for the next page's link (without the cursor).
    fn typed(&self) -> Vec<(&'static str, String)> {
        [
            ("from", &self.from),
            ("to", &self.to),
            ("actor", &self.actor),
            ("action", &self.action),
            ("tenant", &self.tenant),
            ("object", &self.object),
            ("outcome", &self.outcome),
        ]
        .into_iter()
        .filter_map(|(k, v)| some(v).map(|v| (k, v)))
        .collect()
    }
}

/// `k=v&…` with the values percent-encoded.
fn query_string(pairs: &[(&str, String)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={}", query_value(v))).collect::<Vec<_>>().join("&")
}

/// The API export of a search as CSV: dates as the times they stand for,
/// up to 10 000 rows.
fn export_href(q: &leitstand_store::AuditQuery) -> String {
    let mut pairs = vec![("format", "csv".to_string()), ("limit", "10000".to_string())];
    pairs.extend([("from", q.from), ("to", q.to)].into_iter().filter_map(|(k, t)| t.map(|t| (k, t.to_string()))));
    let texts = [
        ("actor", &q.actor),
        ("action", &q.action),
        ("tenant", &q.tenant),
        ("object", &q.object),
        ("outcome", &q.outcome),
    ];
    pairs.extend(texts.into_iter().filter_map(|(k, v)| v.clone().map(|v| (k, v))));
    format!("/api/v1/audit/events?{}", query_string(&pairs))
}

fn log_status(state: &AppState, tr: Tr) -> Option<LogStatus> {
    use std::sync::atomic::Ordering::Relaxed;
    let log = state.app.audit_sink.log()?;
    let findings = log.verify_findings.load(Relaxed);
    let verified = if findings == 0 {
        tr.arg("audit-log-verified", "runs", &log.verify_runs.load(Relaxed).to_string())
    } else {
        tr.arg("audit-log-findings", "findings", &findings.to_string())
    };
    let witnesses = log
        .witnesses
        .iter()
        .map(|w| {
            tr.args(
                "audit-log-witness",
                &[
                    ("name", w.endpoint.verifier.name()),
                    ("size", &w.cosigned.load(Relaxed).to_string()),
                    ("refusals", &w.refusals.load(Relaxed).to_string()),
                ],
            )
        })
        .collect();
    let siem = match log.siem.get() {
        Some(s) => {
            let connection =
                tr.get(if s.connected.load(Relaxed) { "audit-log-siem-up" } else { "audit-log-siem-down" });
            tr.args(
                "audit-log-siem-state",
                &[("forwarded", &s.confirmed.load(Relaxed).to_string()), ("state", &connection)],
            )
        }
        None => tr.get("audit-log-none"),
    };
    Some(LogStatus {
        size: log.ledger.state().published,
        key: log.ledger.verifier().to_string(),
        verified,
        witnesses,
        siem,
    })
}

/// `GET /audit`: the audit trail with filters, pages and CSV export, and
/// the state of the log (checkpoint, witnesses, SIEM, self-verification).
pub(crate) async fn audit(State(state): State<AppState>, ctx: Ctx, Query(filter): Query<AuditFilter>) -> Response {
    let session = or_respond!(signed_in(&ctx));
    let p = &session.principal;
    if let Err(e) = p.require(Action::ReadAudit) {
        return error_page(&ctx, &state, &e);
    }
    let tr = ctx.tr;
    let mut page = Page::new(&ctx, &state, "audit-title", "/audit");
    let mut csv = None;
    let zone = crate::time::zone(&state);
    let (rows, next, status) = match filter.query(&zone) {
        Ok(query) => {
            csv = Some(export_href(&query));
            match state.app.search_audit(p, query).await {
                Ok(found) => (found.events, found.next, StatusCode::OK),
                Err(AppError::Invalid { field, message }) => {
                    page.errors.push(format!("{field}: {message}"));
                    (Vec::new(), None, StatusCode::UNPROCESSABLE_ENTITY)
                }
                Err(e) => return error_page(&ctx, &state, &e),
            }
        }
        Err(errors) => {
            page.errors = errors;
            (Vec::new(), None, StatusCode::UNPROCESSABLE_ENTITY)
        }
    };
    let outcome_label = |o: &str| match o {
        "success" | "failure" | "denied" => tr.get(&format!("audit-outcome-{o}")),
        other => other.to_string(),
    };
    let rows = rows
        .into_iter()
        .map(|e| AuditRow {
            index: e.index,
            submitted_by: serde_json::from_str::<serde_json::Value>(&e.event)
                .ok()
                .and_then(|v| v.get("submitted_by").and_then(|s| s.as_str()).map(str::to_string))
                .unwrap_or_default(),
            time: crate::time::local_seconds(e.time, &zone),
            outcome: outcome_label(&e.outcome),
            action: e.action,
            actor: e.actor,
            tenant: e.tenant.unwrap_or_default(),
            object: e.object.unwrap_or_default(),
        })
        .collect();
    let next_href = next.map(|c| {
        let mut pairs = filter.typed();
        pairs.push(("cursor", c.to_string()));
        format!("/audit?{}", query_string(&pairs))
    });
    let csv_href = csv.unwrap_or_else(|| export_href(&leitstand_store::AuditQuery::default()));
    let outcomes = ["", "success", "failure", "denied"]
        .into_iter()
        .map(|o| (o, if o.is_empty() { tr.get("audit-outcome-any") } else { outcome_label(o) }))
        .collect();
    let status_panel = log_status(&state, tr);
    (status, AuditPage { page, status: status_panel, filter, outcomes, rows, next_href, csv_href }).into_response()
}
