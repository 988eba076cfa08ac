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
    /// Open incidents: the line and whether its nearest clock is overdue;
    /// `None` for a role that may not read incidents.
    incidents: Option<Vec<(String, bool)>>,
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
    let incidents = overview.incidents.map(|list| {
        list.into_iter()
            .map(|i| {
                let head = format!("INC-{} {} – {}", i.number, i.severity, i.title);
                match i.nearest {
                    Some(c) => {
                        let overdue = c.state == leitstand_app::incidents::ClockState::Overdue;
                        let clock = clock_label(tr, c.clock.kind);
                        let clock = match &c.party {
                            Some(p) => format!("{clock} ({p})"),
                            None => clock,
                        };
                        let key = if overdue { "dashboard-incident-overdue" } else { "dashboard-incident-next" };
                        let due = crate::time::local(c.clock.due, &zone);
                        (format!("{head} · {}", tr.args(key, &[("clock", &clock), ("due", &due)])), overdue)
                    }
                    None => (head, false),
                }
            })
            .collect()
    });
    let page = Page::new(&ctx, &state, "dashboard-title", "/");
    DashboardPage {
        tenants_line: (overview.tenants > 0)
            .then(|| tr.arg("dashboard-tenants", "count", &overview.tenants.to_string())),
        groups,
        on_call,
        probes_line,
        incidents,
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

/// A clock's name in the reader's language.
fn clock_label(tr: Tr, kind: leitstand_app::incidents::ClockKind) -> String {
    use leitstand_app::incidents::ClockKind;
    match kind {
        ClockKind::Reaction => tr.get("clock-reaction"),
        ClockKind::PostMortem => tr.get("clock-post-mortem"),
        ClockKind::Report(r) => tr.get(&format!("report-{}", r.as_str().replace('_', "-"))),
    }
}

/// The overview.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/", get(dashboard))
}
