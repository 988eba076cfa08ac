//! Identity pages: sign-in (password, second factor, OpenID Connect),
//! sign-out, the language, users and roles, API tokens, the profile.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use leitstand_app::{AppError, NewUserRequest};
use leitstand_core::access::{Action, MATRIX, Role};
use serde::Deserialize;
use uuid::Uuid;

use crate::AppState;
use crate::ctx::{Ctx, LANG_COOKIE};
use crate::i18n::Lang;

use crate::page::*;

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    page: Page,
    next: String,
    username: String,
    oidc: bool,
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
        let e = AppError::invalid(
            "oidc",
            format!("the identity provider answered {error:?}"),
            format!("Der Identitätsanbieter antwortete {error:?}"),
        );
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
            role_label: ctx.tr.arg("users-role-for", "name", u.username.as_str()),
            tenants_label: ctx.tr.arg("users-tenants-for", "name", u.username.as_str()),
            reset_label: ctx.tr.arg("users-reset-for", "name", u.username.as_str()),
            revoke_label: ctx.tr.arg("users-revoke-tokens-for", "name", u.username.as_str()),
            tenants: u
                .tenants
                .iter()
                .filter_map(|id| tenants.iter().find(|t| t.id == *id).map(|t| t.slug.to_string()))
                .collect::<Vec<_>>()
                .join(", "),
            username: u.username.into(),
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
        Err(e) => {
            let e = AppError::invalid("role", e.to_string(), format!("Unbekannte Rolle {:?}", e.0));
            return render_users(&state, &ctx, None, vec![said(&ctx, &state, &e)]).await;
        }
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
            render_users(&state, &ctx, None, vec![said(&ctx, &state, &e)]).await
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
    let name = super::api::user_name(&name);
    let result = match (name, form.op.as_str()) {
        (Err(e), _) => Err(e),
        (Ok(name), "disable") => state.app.set_user_active(principal, &name, false).await,
        (Ok(name), "enable") => state.app.set_user_active(principal, &name, true).await,
        (Ok(name), "role") => match form.role.as_deref().unwrap_or_default().parse::<Role>() {
            Ok(role) => {
                let tenants = form.tenants.split([',', ' ']).filter(|s| !s.is_empty()).map(String::from).collect();
                state.app.change_role(principal, &name, role, tenants).await
            }
            Err(e) => Err(AppError::invalid("role", e.to_string(), format!("Unbekannte Rolle {:?}", e.0))),
        },
        (Ok(name), "reset") => {
            let password = form.password.unwrap_or_default();
            state.app.reset_password(principal, &name, password, form.revoke_tokens.is_some()).await
        }
        _ => Err(AppError::invalid("op", "unknown operation", "unbekannter Vorgang")),
    };
    match result {
        Ok(u) => Redirect::to(&format!("/users?done={}", u.username)).into_response(),
        Err(e @ AppError::Invalid { .. }) => render_users(&state, &ctx, None, vec![said(&ctx, &state, &e)]).await,
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
        Err(e @ AppError::Invalid { .. }) => render_tokens(&state, &ctx, None, vec![said(&ctx, &state, &e)]).await,
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
            username: p.username.to_string(),
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
            render_profile(&state, &ctx, None, vec![said(&ctx, &state, &e)], None).await
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
        _ => Err(AppError::invalid("op", "unknown operation", "unbekannter Vorgang")),
    };
    let keep = (form.op == "enable" && !form.secret.is_empty()).then(|| form.secret.clone());
    match result {
        Ok(()) => Redirect::to("/profile?done=totp").into_response(),
        Err(e @ (AppError::Invalid { .. } | AppError::Locked { .. })) => {
            render_profile(&state, &ctx, None, vec![said(&ctx, &state, &e)], keep).await
        }
        Err(e) => error_page(&ctx, &state, &e),
    }
}

/// The identity pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/login/oidc", get(oidc_start))
        .route("/login/oidc/callback", get(oidc_callback))
        .route("/logout", post(logout))
        .route("/language", post(language))
        .route("/users", get(users).post(create_user))
        .route("/users/{name}", post(change_user))
        .route("/tokens", get(tokens).post(create_token))
        .route("/tokens/{id}/revoke", post(revoke_token))
        .route("/profile", get(profile))
        .route("/profile/password", post(change_password))
        .route("/profile/totp", post(change_totp))
}
