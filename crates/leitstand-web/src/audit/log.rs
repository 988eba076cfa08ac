//! The public audit log at `/audit/log/`, exactly as C2SP tlog-tiles lays
//! it out: `checkpoint`, `tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`.
//! It holds no personal data, so by default anyone may fetch it and verify
//! it with any conforming client; tiles never change and are cached for a
//! year.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::rest::{ApiError, Caller};

fn plain(status: StatusCode, text: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text.to_string()).into_response()
}

async fn serve(state: &AppState, caller: Option<Caller>, path: &str) -> Response {
    if !state.audit_public {
        match caller {
            Some(c) if c.principal().require(leitstand_core::access::Action::ReadAudit).is_ok() => {}
            _ => {
                return plain(StatusCode::FORBIDDEN, "the audit log is not public here; sign in or use an API token\n");
            }
        }
    }
    let Some(log) = state.app.audit_sink.log() else {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "no audit log in this process\n");
    };
    let ledger = log.ledger.clone();
    let owned = path.to_string();
    let read = tokio::task::spawn_blocking(move || ledger.read(&owned)).await;
    match read {
        Ok(Ok(Some(bytes))) => {
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
        Ok(Ok(None)) | Ok(Err(leitstand_audit::ledger::LedgerError::NotATile(_))) => {
            plain(StatusCode::NOT_FOUND, "no such tile\n")
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, path, "audit log read failed");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "audit log read failed\n")
        }
        Err(e) => {
            tracing::error!(error = %e, "audit log read task failed");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "audit log read failed\n")
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
