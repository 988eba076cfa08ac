//! Errors as RFC 9457 problem details (`application/problem+json`) for API
//! clients, and as a small accessible page for browsers; both carry the
//! request id so a user can quote it.

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::TraceContext;

/// An RFC 9457 problem.
#[derive(Debug, Serialize)]
pub struct Problem {
    /// URI reference identifying the problem type.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Short summary.
    pub title: &'static str,
    /// HTTP status.
    pub status: u16,
    /// Explanation of this occurrence.
    pub detail: String,
    /// Request id (trace id).
    pub request_id: String,
}

/// The media type of problem details.
pub(crate) const PROBLEM_JSON: &str = "application/problem+json";

/// An `application/problem+json` response.
pub fn problem(status: StatusCode, detail: impl Into<String>, request_id: &str) -> Response {
    let problem = Problem {
        kind: "about:blank",
        title: status.canonical_reason().unwrap_or("Error"),
        status: status.as_u16(),
        detail: detail.into(),
        request_id: request_id.to_string(),
    };
    let body = serde_json::to_string(&problem).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, PROBLEM_JSON)], body).into_response()
}

fn wants_json(req: &Request) -> bool {
    req.uri().path().starts_with("/api/")
        || req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("json") && !accept.contains("text/html"))
}

/// Fallback for unknown routes.
pub(crate) async fn not_found(req: Request) -> Response {
    let request_id = TraceContext::request_id(req.extensions());
    if wants_json(&req) {
        return problem(StatusCode::NOT_FOUND, "No resource exists at this path.", &request_id);
    }
    // The request id is 32 hex digits (generated or validated), safe in HTML.
    let page = include_str!("../assets/not_found.html").replace("{request_id}", &request_id);
    (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}
