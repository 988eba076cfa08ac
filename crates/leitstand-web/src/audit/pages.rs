//! The audit trail page: filters, pages, CSV export, and the state of the
//! log (checkpoint, witnesses, SIEM, self-verification).

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use leitstand_app::AppError;
use serde::Deserialize;

use leitstand_app::audit::Outcome;

use crate::AppState;
use crate::ctx::Ctx;
use crate::i18n::Tr;

use crate::page::*;

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

impl AuditFilter {
    /// The store query, or the fields that are wrong.
    fn query(&self, zone: &jiff::tz::TimeZone) -> Result<leitstand_app::audit::AuditQuery, Vec<String>> {
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
        let outcome = match some(&self.outcome).map(|o| o.parse::<Outcome>()) {
            Some(Ok(o)) => Some(o),
            Some(Err(reason)) => {
                errors.push(format!("outcome: {reason}"));
                None
            }
            None => None,
        };
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
        Ok(leitstand_app::audit::AuditQuery {
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
fn export_href(q: &leitstand_app::audit::AuditQuery) -> String {
    let mut pairs = vec![("format", "csv".to_string()), ("limit", "10000".to_string())];
    pairs.extend([("from", q.from), ("to", q.to)].into_iter().filter_map(|(k, t)| t.map(|t| (k, t.to_string()))));
    let texts = [("actor", &q.actor), ("action", &q.action), ("tenant", &q.tenant), ("object", &q.object)];
    pairs.extend(texts.into_iter().filter_map(|(k, v)| v.clone().map(|v| (k, v))));
    pairs.extend(q.outcome.map(|o| ("outcome", o.to_string())));
    format!("/api/v1/audit/events?{}", query_string(&pairs))
}

fn log_status(log: leitstand_app::audit::AuditLogState, tr: Tr) -> LogStatus {
    let [_, _, _, findings, runs] = log.figures.log;
    let verified = if findings == 0 {
        tr.arg("audit-log-verified", "runs", &runs.to_string())
    } else {
        tr.arg("audit-log-findings", "findings", &findings.to_string())
    };
    let witnesses = log
        .figures
        .witnesses
        .iter()
        .map(|(name, cosigned, refusals)| {
            tr.args(
                "audit-log-witness",
                &[("name", name), ("size", &cosigned.to_string()), ("refusals", &refusals.to_string())],
            )
        })
        .collect();
    let siem = match log.figures.siem {
        Some([confirmed, connected, ..]) => {
            let connection = tr.get(if connected == 1 { "audit-log-siem-up" } else { "audit-log-siem-down" });
            tr.args("audit-log-siem-state", &[("forwarded", &confirmed.to_string()), ("state", &connection)])
        }
        None => tr.get("audit-log-none"),
    };
    LogStatus { size: log.size, key: log.key, verified, witnesses, siem }
}

/// `GET /audit`: the audit trail with filters, pages and CSV export, and
/// the state of the log (checkpoint, witnesses, SIEM, self-verification).
pub(crate) async fn audit(State(state): State<AppState>, ctx: Ctx, Query(filter): Query<AuditFilter>) -> Response {
    let session = or_respond!(signed_in(&ctx));
    let p = &session.principal;
    let tr = ctx.tr;
    let status_panel = match state.app.audit_log_state(p) {
        Ok(log) => log.map(|log| log_status(log, tr)),
        Err(e) => return error_page(&ctx, &state, &e),
    };
    let mut page = Page::new(&ctx, &state, "audit-title", "/audit");
    let mut csv = None;
    let zone = crate::time::zone(&state);
    let (rows, next, status) = match filter.query(&zone) {
        Ok(query) => {
            csv = Some(export_href(&query));
            match state.app.search_audit(p, query).await {
                Ok(found) => (found.events, found.next, StatusCode::OK),
                Err(AppError::Invalid { field, message }) => {
                    page.errors.push(format!("{field}: {}", message.get(ctx.tr.code())));
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
    let csv_href = csv.unwrap_or_else(|| export_href(&leitstand_app::audit::AuditQuery::default()));
    let outcomes = ["", "success", "failure", "denied"]
        .into_iter()
        .map(|o| (o, if o.is_empty() { tr.get("audit-outcome-any") } else { outcome_label(o) }))
        .collect();
    (status, AuditPage { page, status: status_panel, filter, outcomes, rows, next_href, csv_href }).into_response()
}

/// The audit trail page and the public log.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/audit", get(audit))
        .route("/audit/log/checkpoint", get(super::log::checkpoint))
        .route("/audit/log/tile/{*rest}", get(super::log::tile))
}
