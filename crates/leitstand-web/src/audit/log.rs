//! The public audit log at `/audit/log/`, exactly as C2SP tlog-tiles lays
//! it out: `checkpoint`, `tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`.
//! It holds no personal data, so by default anyone may fetch it and verify
//! it with any conforming client; tiles never change and are cached for a
//! year.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use leitstand_app::AppError;

use crate::AppState;
use crate::rest::{ApiError, Caller};

fn plain(status: StatusCode, text: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text.to_string()).into_response()
}

async fn serve(state: &AppState, caller: Option<Caller>, path: &str) -> Response {
    match state.app.audit_log_file(caller.as_ref().map(Caller::principal), path).await {
        Ok(Some(bytes)) => {
            let (content_type, cache) = if path == "checkpoint" {
                ("text/plain; charset=utf-8", "no-cache")
            } else {
                ("application/octet-stream", "public, max-age=31536000, immutable")
            };
            let mut response = bytes.into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            response
        }
        Ok(None) => plain(StatusCode::NOT_FOUND, "no such tile\n"),
        Err(AppError::Unauthenticated | AppError::Forbidden { .. }) => {
            plain(StatusCode::FORBIDDEN, "the audit log is not public here; sign in or use an API token\n")
        }
        Err(e) => {
            tracing::error!(error = %e, path, "audit log read failed");
            plain(StatusCode::SERVICE_UNAVAILABLE, "audit log read failed\n")
        }
    }
}

/// `GET /audit/log/checkpoint`.
pub(crate) async fn checkpoint(State(state): State<AppState>, caller: Result<Caller, ApiError>) -> Response {
    serve(&state, caller.ok(), "checkpoint").await
}

/// `GET /audit/log/tile/…`.
pub(crate) async fn tile(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(rest): Path<String>,
) -> Response {
    serve(&state, caller.ok(), &format!("tile/{rest}")).await
}
