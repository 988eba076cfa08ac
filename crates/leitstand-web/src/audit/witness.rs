//! `leitstand witness serve`: the C2SP tlog-witness HTTP interface,
//! `POST /add-checkpoint`. Every answer — 200 with cosignature lines, 400,
//! 403, 404, 409 with the witness's size as `text/x.tlog.size`, 422 — comes
//! from the decision in `leitstand-ledger`; this module only moves bytes.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use leitstand_app::audit::witness_server::{Refusal, SIZE_CONTENT_TYPE, Witness};

/// The witness's routes (the submission prefix is the root).
pub fn witness_router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/healthz", get(|| async { "ok\n" }))
        // A checkpoint with a few signatures and 63 proof lines is < 8 KiB.
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(witness)
}

async fn add_checkpoint(State(witness): State<Arc<Witness>>, body: Bytes) -> Response {
    let Ok(body) = String::from_utf8(body.to_vec()) else {
        return answer(Err(Refusal::BadRequest("the body is not UTF-8".into())));
    };
    let result = tokio::task::spawn_blocking(move || witness.add_checkpoint(&body))
        .await
        .unwrap_or_else(|e| Err(Refusal::Unavailable(e.to_string())));
    answer(result)
}

fn answer(result: Result<String, Refusal>) -> Response {
    match result {
        Ok(lines) => (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], lines).into_response(),
        Err(refusal) => {
            let status = StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let content_type = match refusal {
                Refusal::Conflict { .. } => SIZE_CONTENT_TYPE,
                _ => "text/plain; charset=utf-8",
            };
            (status, [(header::CONTENT_TYPE, content_type)], refusal.body()).into_response()
        }
    }
}
