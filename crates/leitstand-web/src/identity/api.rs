//! `/api/v1/me`, `/api/v1/users`, `/api/v1/tokens`: the caller, users and
//! roles, API tokens, own password, language and second factor.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use jiff::{SignedDuration, Timestamp};
use leitstand_app::identity::{ApiToken, User, UserUpdate};
use leitstand_app::{AppError, NewUserRequest, UserName};
use leitstand_core::access::Role;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;

use crate::rest::*;

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
            username: u.username.into(),
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

/// The user named in a path; a name no account can have is not found.
pub(crate) fn user_name(text: &str) -> Result<UserName, AppError> {
    UserName::parse(text).map_err(|_| AppError::NotFound { entity: "user", key: text.to_string() })
}

/// `PATCH /api/v1/users/{name}`.
#[utoipa::path(patch, path = "/api/v1/users/{name}", tag = "users", params(("name" = String, Path)), request_body = UserPatch, responses((status = 200, body = UserJson), (status = 403), (status = 404)))]
pub(crate) async fn patch_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    Json(body): Json<UserPatch>,
) -> ApiResult<Json<UserJson>> {
    let change = UserUpdate { role: body.role, tenants: body.tenants, active: body.active };
    let name = user_name(&name).map_err(|e| caller.fail(e))?;
    let user = state.app.update_user(&caller.principal, &name, change).await.map_err(|e| caller.fail(e))?;
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
        Some(_) => return Err(caller.fail(AppError::invalid("expires_in_days", "1 … 3650", "1 … 3650"))),
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
    let name = user_name(&name).map_err(|e| caller.fail(e))?;
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

/// The routes, registered from the same annotations that make the OpenAPI
/// document.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(list_users, create_user))
        .routes(routes!(patch_user))
        .routes(routes!(reset_password))
        .routes(routes!(change_own_password))
        .routes(routes!(set_locale))
        .routes(routes!(totp_secret))
        .routes(routes!(enable_totp, disable_totp))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}
