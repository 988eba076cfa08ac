//! W3C Trace Context (`traceparent`) and the per-request span.
//!
//! An incoming valid `traceparent` keeps its trace id, so Leitstand's log
//! lines join the caller's trace; otherwise a new trace starts. Every response
//! carries `traceparent` (with Leitstand's own span id) and `x-request-id`
//! (the trace id), which error pages show so a user can quote it.
//!
//! The access log line names the matched route template, never the raw path
//! or query string: those can carry tokens or personal data.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::Metrics;

/// The trace context of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lower-case hex digits.
    pub trace_id: String,
    /// This request's span id, 16 hex digits.
    pub span_id: String,
    /// The caller's span id, if a valid `traceparent` came in.
    pub parent_id: Option<String>,
    /// Trace flags (sampled = `01`).
    pub flags: String,
}

impl TraceContext {
    /// The trace id of the request these extensions belong to, which every
    /// error answer carries as its request id; empty outside the tracing
    /// middleware.
    pub(crate) fn request_id(extensions: &axum::http::Extensions) -> String {
        extensions.get::<TraceContext>().map(|c| c.trace_id.clone()).unwrap_or_default()
    }
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // getrandom only fails without an OS entropy source; a fixed id then
    // still yields a working (if uncorrelated) trace.
    let _ = getrandom::fill(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl TraceContext {
    /// Parses a `traceparent` header value (version 00, or a later version
    /// read as 00 as the spec asks). Invalid values yield `None`.
    pub fn parse_traceparent(value: &str) -> Option<(String, String, String)> {
        let mut parts = value.trim().split('-');
        let (version, trace, parent, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let valid = is_hex(version, 2)
            && version != "ff"
            && (version != "00" || parts.next().is_none())
            && is_hex(trace, 32)
            && trace.bytes().any(|b| b != b'0')
            && is_hex(parent, 16)
            && parent.bytes().any(|b| b != b'0')
            && is_hex(flags, 2);
        valid.then(|| (trace.to_string(), parent.to_string(), flags.to_string()))
    }

    /// Continues the caller's trace or starts a new one.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let incoming = headers.get("traceparent").and_then(|v| v.to_str().ok()).and_then(Self::parse_traceparent);
        match incoming {
            Some((trace_id, parent, flags)) => {
                Self { trace_id, span_id: random_hex(8), parent_id: Some(parent), flags }
            }
            None => Self { trace_id: random_hex(16), span_id: random_hex(8), parent_id: None, flags: "01".into() },
        }
    }

    /// The `traceparent` value naming this request's span.
    pub fn traceparent(&self) -> String {
        format!("00-{}-{}-{}", self.trace_id, self.span_id, self.flags)
    }
}

/// Slot the inner route layer fills with the matched route template.
#[derive(Clone, Default)]
struct RouteSlot(Arc<OnceLock<String>>);

/// Outermost middleware: trace context, span, access log, metrics.
pub(crate) async fn observe(State(metrics): State<Arc<Metrics>>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let ctx = TraceContext::from_headers(req.headers());
    let method = req.method().clone();
    let slot = RouteSlot::default();
    req.extensions_mut().insert(ctx.clone());
    req.extensions_mut().insert(slot.clone());
    let span = tracing::info_span!(
        "request",
        trace_id = %ctx.trace_id,
        span_id = %ctx.span_id,
        parent_id = ctx.parent_id.as_deref().unwrap_or(""),
    );
    let mut response = next.run(req).instrument(span.clone()).await;
    let elapsed = start.elapsed();
    let route = slot.0.get().map(String::as_str).unwrap_or("unmatched");
    let status = response.status().as_u16();
    metrics.observe_request(route, method.as_str(), status, elapsed);
    span.in_scope(|| {
        tracing::info!(
            target: "leitstand::access",
            method = %method,
            route,
            status,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
    });
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&ctx.traceparent()) {
        headers.insert("traceparent", value);
    }
    if let Ok(value) = HeaderValue::from_str(&ctx.trace_id) {
        headers.insert("x-request-id", value);
    }
    response
}

/// Inner (route) middleware: records which route template matched.
pub(crate) async fn record_route(req: Request, next: Next) -> Response {
    if let (Some(path), Some(slot)) = (req.extensions().get::<MatchedPath>(), req.extensions().get::<RouteSlot>()) {
        let _ = slot.0.set(path.as_str().to_string());
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_traceparent_is_continued() {
        let (trace, parent, flags) =
            TraceContext::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(trace, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(parent, "00f067aa0ba902b7");
        assert_eq!(flags, "01");
    }

    #[test]
    fn invalid_traceparents_are_rejected() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert_eq!(TraceContext::parse_traceparent(bad), None, "{bad:?}");
        }
        // A future version may carry more fields.
        assert!(TraceContext::parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x").is_some());
    }

    #[test]
    fn new_trace_ids_are_random_hex() {
        let a = TraceContext::from_headers(&HeaderMap::new());
        let b = TraceContext::from_headers(&HeaderMap::new());
        assert!(is_hex(&a.trace_id, 32) && is_hex(&a.span_id, 16));
        assert_ne!(a.trace_id, b.trace_id);
        assert_eq!(TraceContext::parse_traceparent(&a.traceparent()).unwrap().0, a.trace_id);
    }
}
