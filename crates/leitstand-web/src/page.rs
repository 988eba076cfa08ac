//! The frame every page shares: navigation, breadcrumbs, the session and
//! CSRF checks, the error page, and the site's own pages (the
//! accessibility statement, the stylesheet).

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use leitstand_app::{AppError, Principal, ValidSession};
use leitstand_core::access::Action;
use serde::Deserialize;

use crate::AppState;
use crate::ctx::{Ctx, SESSION_COOKIE};
use crate::i18n::Tr;

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
pub(crate) use or_respond;

/// One navigation entry.
pub(crate) struct NavItem {
    pub(crate) href: &'static str,
    pub(crate) label: String,
    /// `aria-current`: `page` on the page itself, `true` on the section a
    /// page below it belongs to.
    pub(crate) current: Option<&'static str>,
}

/// What the layout needs.
pub(crate) struct Page {
    pub(crate) tr: Tr,
    pub(crate) title: String,
    pub(crate) user: Option<String>,
    pub(crate) nav: Vec<NavItem>,
    pub(crate) crumbs: Vec<(String, String)>,
    pub(crate) csrf: String,
    pub(crate) notice: Option<String>,
    pub(crate) errors: Vec<String>,
    pub(crate) request_id: String,
    pub(crate) contact: String,
}

impl Page {
    pub(crate) fn new(ctx: &Ctx, state: &AppState, title_key: &str, here: &'static str) -> Self {
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
                    ("/policy", "nav-policy", Action::ReadPolicy),
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
                let who = tr.args("signed-in-as", &[("name", p.username.as_str()), ("role", &role)]);
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
#[template(path = "accessibility.html")]
pub(crate) struct AccessibilityPage {
    page: Page,
    feedback: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage {
    page: Page,
    message: String,
}

/// A service's refusal as the reader reads it: invalid input names the
/// field and says what is wrong in the reader's language, a conflict what
/// exists already, a lock until when. (The API says the same in English.)
pub(crate) fn said(ctx: &Ctx, state: &AppState, error: &AppError) -> String {
    match error {
        AppError::Invalid { field, message } => {
            let label = ctx.tr.find(&format!("field-{}", field.replace(['.', '_'], "-"))).unwrap_or(field.to_string());
            format!("{label}: {}", message.get(ctx.tr.code()))
        }
        AppError::Conflict { key, .. } => ctx.tr.arg("error-conflict", "detail", key),
        AppError::Locked { until } => {
            ctx.tr.arg("login-locked", "until", &crate::time::local(*until, &crate::time::zone(state)))
        }
        other => other.to_string(),
    }
}

/// A page-level failure rendered as an accessible error page.
pub(crate) fn error_page(ctx: &Ctx, state: &AppState, error: &AppError) -> Response {
    let (status, message) = match error {
        AppError::NotFound { .. } => (StatusCode::NOT_FOUND, ctx.tr.get("error-not-found")),
        AppError::Forbidden { .. } => (StatusCode::FORBIDDEN, ctx.tr.get("error-forbidden")),
        AppError::Invalid { .. } => {
            (StatusCode::UNPROCESSABLE_ENTITY, ctx.tr.arg("error-invalid", "detail", &said(ctx, state, error)))
        }
        AppError::Conflict { .. } => (StatusCode::CONFLICT, said(ctx, state, error)),
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
pub(crate) fn signed_in(ctx: &Ctx) -> Result<&ValidSession, Response> {
    let session = signed_in_to_change_password(ctx)?;
    if session.must_change_password {
        return Err(Redirect::to("/profile").into_response());
    }
    Ok(session)
}

/// The signed-in session, even one that must change its password first
/// (the profile, the change itself, signing out).
pub(crate) fn signed_in_to_change_password(ctx: &Ctx) -> Result<&ValidSession, Response> {
    ctx.session.as_ref().ok_or_else(|| Redirect::to("/login").into_response())
}

/// A valid CSRF token for the session, or 403.
pub(crate) fn checked<'a>(ctx: &'a Ctx, state: &AppState, csrf: &str) -> Result<&'a Principal, Response> {
    let session = signed_in(ctx)?;
    state.app.check_csrf(session, csrf).map_err(|e| error_page(ctx, state, &e))?;
    Ok(&session.principal)
}

/// [`checked`] for the forms a session may send before its one-time
/// password is changed.
pub(crate) fn checked_to_change_password<'a>(
    ctx: &'a Ctx,
    state: &AppState,
    csrf: &str,
) -> Result<&'a Principal, Response> {
    let session = signed_in_to_change_password(ctx)?;
    state.app.check_csrf(session, csrf).map_err(|e| error_page(ctx, state, &e))?;
    Ok(&session.principal)
}

pub(crate) fn session_cookie(value: &str, tls: bool, max_age: Option<i64>) -> String {
    let secure = if tls { "; Secure" } else { "" };
    let age = max_age.map(|a| format!("; Max-Age={a}")).unwrap_or_default();
    format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax{secure}{age}")
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    pub(crate) csrf: String,
}

/// 422 when a posted form had problems (they are shown on the page), else 200.
pub(crate) fn form_status<E>(errors: &[E]) -> StatusCode {
    if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY }
}

#[derive(Deserialize)]
pub(crate) struct NoticeQuery {
    pub(crate) done: Option<String>,
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

pub(crate) fn some(value: &str) -> Option<String> {
    Some(value.trim().to_string()).filter(|v| !v.is_empty())
}

/// The site's own pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/static/app.css", get(stylesheet)).route("/barrierefreiheit", get(accessibility))
}
