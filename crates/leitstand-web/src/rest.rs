//! The JSON API's plumbing: authentication by `Authorization: Bearer <token>`
//! or by the session cookie (then unsafe methods need the session's token
//! in `X-CSRF-Token`), errors as RFC 9457 problem details carrying the
//! request id, and the router assembled from every capability's routes
//! with the OpenAPI document made from the same annotations.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use leitstand_app::{AppError, Principal, Via};
use serde::Deserialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;
use crate::TraceContext;
use crate::ctx::{SESSION_COOKIE, cookie};
use crate::origin::ClientOrigin;
use crate::problem::problem;

/// An API failure.
pub(crate) struct ApiError {
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
pub(crate) struct Caller {
    pub(crate) principal: Principal,
    pub(crate) request_id: String,
    pub(crate) ip: String,
}

impl Caller {
    /// Who is calling.
    pub(crate) fn principal(&self) -> &Principal {
        &self.principal
    }

    pub(crate) fn fail(&self, error: AppError) -> ApiError {
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
pub(crate) struct FeedCaller(pub Caller);

/// `?token=` of a calendar feed.
#[derive(Deserialize, utoipa::IntoParams)]
pub(crate) struct FeedToken {
    /// An API token with the scope `calendar` alone, for calendar apps; others
    /// are refused here (send them in the `Authorization` header).
    pub(crate) token: Option<String>,
}

impl FromRequestParts<AppState> for FeedCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let request_id = TraceContext::request_id(&parts.extensions);
        let fail = |error| ApiError { error, request_id: request_id.clone() };
        let token = Query::<FeedToken>::try_from_uri(&parts.uri)
            .map_err(|e| {
                let text = e.body_text();
                fail(AppError::invalid("token", text.clone(), format!("Ungültige Anfrage: {text}")))
            })?
            .0
            .token;
        let Some(token) = token else {
            return Caller::from_request_parts(parts, state).await.map(FeedCaller);
        };
        let principal = state.app.authenticate_token(token.trim()).await.map_err(fail)?;
        let calendar_only =
            matches!(&principal.via, Via::Token { scopes, .. } if scopes.iter().all(|s| s == "calendar"));
        if !calendar_only {
            return Err(fail(AppError::invalid(
                "token",
                "a token in the URL must have the scope \"calendar\" alone; send other tokens in the \
                 Authorization header",
                "Ein Token in der Adresse darf nur die Berechtigung \"calendar\" haben; andere Tokens gehören in \
                 den Authorization-Header",
            )));
        }
        Ok(FeedCaller(Caller { principal, request_id, ip: ClientOrigin::of(&parts.extensions).ip.to_string() }))
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// The OpenAPI document's frame: info and the bearer security scheme.
#[derive(OpenApi)]
#[openapi(
    info(title = "Leitstand API", description = "Operations and governance control plane. Errors are RFC 9457 problem details."),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub(crate) struct ApiDoc;

pub(crate) struct BearerAuth;

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
        .merge(crate::identity::api::routes())
        .merge(crate::tenants::api::routes())
        .merge(crate::audit::api::routes())
        .merge(crate::monitoring::api::routes())
        .merge(crate::alerting::api::routes())
        .merge(crate::incidents::api::routes())
        .merge(crate::policy::api::routes())
}

/// The body, or 422 naming what is wrong (as problem details, not axum's
/// plain text).
pub(crate) fn body<T>(caller: &Caller, json: Result<Json<T>, JsonRejection>) -> ApiResult<T> {
    json.map(|Json(v)| v).map_err(|e| {
        caller.fail(AppError::Invalid {
            field: "body",
            message: {
                let text = e.body_text().replace("Failed to deserialize the JSON body into the target type: ", "");
                leitstand_app::Message::new(text.clone(), format!("Ungültige Eingabe: {text}"))
            },
        })
    })
}

/// The query string, or 422 naming what is wrong (as problem details, not
/// axum's plain text).
pub(crate) fn query<T>(caller: &Caller, query: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    query.map(|Query(q)| q).map_err(|e| {
        let text = e.body_text().replace("Failed to deserialize query string: ", "");
        caller.fail(AppError::invalid("query", text.clone(), format!("Ungültige Abfrage: {text}")))
    })
}
