//! The overview (`/`): every open alert whatever its source, most severe
//! first, who is on call now, the probes, the tenants.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;
use crate::ctx::Ctx;
use crate::i18n::Tr;

use crate::page::*;

#[derive(Template, WebTemplate)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    page: Page,
    /// Visible tenants (none for a role that may not read tenants).
    tenants_line: Option<String>,
    /// Firing alerts by severity; `None` for a role that may not read alerts.
    groups: Option<Vec<SeverityRows>>,
    /// Schedule, who is on call (and until when), whether nobody is.
    on_call: Vec<(String, String, bool)>,
    probes_line: Option<String>,
}

/// One severity's firing alerts on the overview.
struct SeverityRows {
    severity: String,
    heading: String,
    rows: Vec<crate::alerting::pages::AlertRow>,
    more: Option<String>,
}

/// `GET /`.
pub(crate) async fn dashboard(State(state): State<AppState>, ctx: Ctx) -> Response {
    let session = or_respond!(signed_in(&ctx));
    let tr = ctx.tr;
    let overview = match state.app.overview(&session.principal).await {
        Ok(o) => o,
        Err(e) => return error_page(&ctx, &state, &e),
    };
    let zone = crate::time::zone(&state);
    let groups = overview.alerts.map(|groups| {
        groups
            .into_iter()
            .map(|g| SeverityRows {
                heading: tr.args(
                    "dashboard-severity",
                    &[("severity", &severity_label(tr, &g.severity)), ("count", &g.count.to_string())],
                ),
                more: (g.count > g.alerts.len() as u64)
                    .then(|| tr.arg("dashboard-more", "count", &(g.count - g.alerts.len() as u64).to_string())),
                severity: g.severity.clone(),
                rows: g.alerts.into_iter().map(|a| crate::alerting::pages::alert_row(tr, &zone, a)).collect(),
            })
            .collect()
    });
    let on_call = overview
        .on_call
        .into_iter()
        .map(|o| {
            let who = match (&o.person, o.until) {
                (Some(p), Some(until)) => {
                    tr.args("dashboard-on-call-until", &[("person", p), ("until", &crate::time::local(until, &zone))])
                }
                (Some(p), None) => p.clone(),
                (None, _) => tr.get("dashboard-on-call-nobody"),
            };
            (o.schedule_name, who, o.person.is_none())
        })
        .collect();
    let probes_line = overview
        .probes
        .map(|p| tr.args("probes-summary", &[("count", &p.count.to_string()), ("down", &p.down.to_string())]));
    let page = Page::new(&ctx, &state, "dashboard-title", "/");
    DashboardPage {
        tenants_line: (overview.tenants > 0)
            .then(|| tr.arg("dashboard-tenants", "count", &overview.tenants.to_string())),
        groups,
        on_call,
        probes_line,
        page,
    }
    .into_response()
}

/// `critical` → "Kritisch (critical)"; unknown severities as written.
fn severity_label(tr: Tr, severity: &str) -> String {
    match severity {
        "critical" | "warning" | "info" => tr.get(&format!("severity-{severity}")),
        "" => tr.get("severity-none"),
        other => other.to_string(),
    }
}

/// The overview.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/", get(dashboard))
}
