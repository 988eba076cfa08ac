//! Monitoring pages: probes (status, latency chart as an accessible SVG
//! with the same figures in a table, availability this month), scrape
//! targets, and rules with their alerts. Server-rendered, no JavaScript;
//! tenant viewers see only their tenants' probes, targets and alerts.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use leitstand_app::monitoring::{ProbePoint, ProbeView};

use crate::AppState;
use crate::ctx::Ctx;
use crate::i18n::Tr;
use crate::page::*;

fn seconds(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s >= 3600 && s % 3600 == 0 => format!("{} h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        _ if d.subsec_millis() != 0 => format!("{:.1} s", d.as_secs_f64()),
        s => format!("{s} s"),
    }
}

fn millis(secs: f64) -> String {
    format!("{:.1} ms", secs * 1000.0)
}

fn percent(ratio: f64) -> String {
    format!("{:.3} %", ratio * 100.0)
}

/// `up`, `down` or `unknown`, and its text.
fn state_text(tr: Tr, up: Option<bool>) -> (&'static str, String) {
    let key = match up {
        Some(true) => "up",
        Some(false) => "down",
        None => "unknown",
    };
    (key, tr.get(&format!("probe-state-{key}")))
}

struct ProbeRow {
    id: String,
    name: String,
    kind: &'static str,
    target: String,
    tenant: String,
    state: &'static str,
    state_text: String,
    since: String,
    last: String,
    latency: String,
}

fn probe_row(tr: Tr, zone: &TimeZone, p: &ProbeView) -> ProbeRow {
    let (key, text) = state_text(tr, p.up);
    ProbeRow {
        id: p.id.clone(),
        name: p.name.clone(),
        kind: p.kind,
        target: p.target.clone(),
        tenant: p.tenant.clone().unwrap_or_default(),
        state: key,
        state_text: text,
        since: p.since.map(|t| crate::time::local_seconds(t, zone)).unwrap_or_default(),
        last: p
            .last
            .as_ref()
            .map(|l| if l.success { tr.get("probe-ok") } else { l.message.clone() })
            .unwrap_or_default(),
        latency: p.last.as_ref().map(|l| millis(l.duration.as_secs_f64())).unwrap_or_default(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "probes.html")]
struct ProbesPage {
    page: Page,
    probes: Vec<ProbeRow>,
    down: usize,
}

/// `GET /probes`.
pub(crate) async fn probes(State(state): State<AppState>, ctx: Ctx) -> Response {
    let session = or_respond!(signed_in(&ctx));
    let probes = match state.app.probes(&session.principal).await {
        Ok(p) => p,
        Err(e) => return error_page(&ctx, &state, &e),
    };
    let page = Page::new(&ctx, &state, "probes-title", "/probes");
    let down = probes.iter().filter(|p| p.up == Some(false)).count();
    let zone = crate::time::zone(&state);
    ProbesPage { probes: probes.iter().map(|p| probe_row(ctx.tr, &zone, p)).collect(), down, page }.into_response()
}

/// The latency chart: a polyline of the durations over time, failed runs
/// as marks on the axis. Sized by its viewBox; the table beside it carries
/// the same figures for screen readers and for reading exact values.
struct Chart {
    line: String,
    failures: Vec<(f64, f64)>,
    max_label: String,
    from: String,
    to: String,
    description: String,
}

const CHART_W: f64 = 600.0;
const CHART_H: f64 = 160.0;

fn chart(tr: Tr, time: impl Fn(Timestamp) -> String, points: &[ProbePoint]) -> Option<Chart> {
    let (first, last) = (points.first()?, points.last()?);
    let t0 = first.at.as_millisecond() as f64;
    let span = (last.at.as_millisecond() as f64 - t0).max(1.0);
    let max = points.iter().map(|p| p.duration_seconds).fold(0.0_f64, f64::max).max(0.001);
    let xy = |p: &ProbePoint| {
        let x = (p.at.as_millisecond() as f64 - t0) / span * CHART_W;
        let y = CHART_H - p.duration_seconds / max * CHART_H;
        (x, y)
    };
    let line = points.iter().map(xy).map(|(x, y)| format!("{x:.1},{y:.1}")).collect::<Vec<_>>().join(" ");
    let failures = points.iter().filter(|p| !p.success).map(|p| (xy(p).0, CHART_H)).collect();
    let failed = points.iter().filter(|p| !p.success).count();
    let avg = points.iter().map(|p| p.duration_seconds).sum::<f64>() / points.len() as f64;
    let description = tr.args(
        "probe-chart-desc",
        &[
            ("count", &points.len().to_string()),
            ("from", &time(first.at)),
            ("to", &time(last.at)),
            ("avg", &millis(avg)),
            ("max", &millis(max)),
            ("failed", &failed.to_string()),
        ],
    );
    Some(Chart { line, failures, max_label: millis(max), from: time(first.at), to: time(last.at), description })
}

struct ResultRow {
    time: String,
    ok: bool,
    outcome: String,
    latency: String,
}

struct Facts {
    label: String,
    value: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "probe.html")]
struct ProbePage {
    page: Page,
    probe: ProbeRow,
    facts: Vec<Facts>,
    chart: Option<Chart>,
    results: Vec<ResultRow>,
    availability: Vec<Facts>,
    outages: Vec<(String, String, String)>,
}

/// How many results the table lists (the newest).
const TABLE_ROWS: usize = 30;

/// `GET /probes/{id}`.
pub(crate) async fn probe(State(state): State<AppState>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let session = or_respond!(signed_in(&ctx));
    let p = &session.principal;
    let tr = ctx.tr;
    let zone = crate::time::zone(&state);
    let time = |t: Timestamp| crate::time::local_seconds(t, &zone);
    let (view, points) = match state.app.probe(p, &id).await {
        Ok(v) => v,
        Err(e) => return error_page(&ctx, &state, &e),
    };
    let availability = match state.app.probe_availability(p, &id, None, None).await {
        Ok(a) => a,
        Err(e) => return error_page(&ctx, &state, &e),
    };
    let mut page = Page::new(&ctx, &state, "probes-title", "/probes");
    page.title = view.name.clone();
    page.crumbs.insert(1, ("/probes".into(), tr.get("probes-title")));
    if let Some(last) = page.crumbs.last_mut() {
        *last = (format!("/probes/{}", view.id), view.name.clone());
    }
    for item in page.nav.iter_mut().filter(|i| i.current.is_some()) {
        item.current = Some("true"); // the section; the breadcrumb names the page
    }
    let fact = |key: &str, value: String| Facts { label: tr.get(key), value };
    let mut facts = vec![
        fact("probe-kind", view.kind.to_string()),
        fact("probe-target", view.target.clone()),
        fact("probe-interval", seconds(view.interval)),
        fact("probe-timeout", seconds(view.timeout)),
        fact("probe-retries", view.retries.to_string()),
    ];
    if let Some(service) = &view.service {
        facts.push(fact("probe-service", service.clone()));
    }
    if let Some(tenant) = &view.tenant {
        facts.push(fact("probe-tenant", tenant.clone()));
    }
    if let Some(not_after) = view.cert_not_after {
        let days = not_after.duration_since(state.app.clock.now()).as_secs_f64() / 86_400.0;
        facts.push(fact(
            "probe-cert-expiry",
            tr.args("probe-cert-days", &[("date", &time(not_after)), ("days", &format!("{days:.1}"))]),
        ));
    }
    if let Some(subject) = &view.cert_subject {
        facts.push(fact("probe-cert-subject", subject.clone()));
    }
    let f = &availability.figures;
    let minutes = |m: f64| tr.arg("probe-minutes", "minutes", &format!("{m:.1}"));
    let availability_facts = vec![
        fact("probe-avail-period", format!("{} – {}", time(availability.from), time(availability.measured_until))),
        fact("probe-avail-ratio", f.ratio.map(percent).unwrap_or_else(|| tr.get("probe-avail-none"))),
        fact("probe-avail-total", minutes(f.total_minutes)),
        fact("probe-avail-outage", minutes(f.outage_minutes)),
        fact("probe-avail-maintenance", minutes(f.maintenance_minutes)),
        fact("probe-avail-unknown", minutes(f.unknown_minutes)),
    ];
    let ts = |ms: i64| Timestamp::from_millisecond(ms).map(&time).unwrap_or_default();
    let outages = f.outages.iter().map(|&(s, e)| (ts(s), ts(e), format!("{:.1}", (e - s) as f64 / 60_000.0))).collect();
    let results = points
        .iter()
        .rev()
        .take(TABLE_ROWS)
        .map(|r| ResultRow {
            time: time(r.at),
            ok: r.success,
            outcome: tr.get(if r.success { "probe-ok" } else { "probe-failed" }),
            latency: millis(r.duration_seconds),
        })
        .collect();
    ProbePage {
        probe: probe_row(tr, &zone, &view),
        facts,
        chart: chart(tr, time, &points),
        results,
        availability: availability_facts,
        outages,
        page,
    }
    .into_response()
}

struct TargetRow {
    id: String,
    url: String,
    tenant: String,
    state: &'static str,
    state_text: String,
    last: String,
    duration: String,
    samples: String,
    error: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "targets.html")]
struct TargetsPage {
    page: Page,
    targets: Vec<TargetRow>,
    host: Option<(String, Vec<String>)>,
}

/// `GET /targets`.
pub(crate) async fn targets(State(state): State<AppState>, ctx: Ctx) -> Response {
    let session = or_respond!(signed_in(&ctx));
    let tr = ctx.tr;
    let zone = crate::time::zone(&state);
    let time = |t: Timestamp| crate::time::local_seconds(t, &zone);
    let targets = match state.app.scrape_targets(&session.principal).await {
        Ok(t) => t,
        Err(e) => return error_page(&ctx, &state, &e),
    };
    let host = match state.app.host_metrics_status(&session.principal).await {
        Ok(h) => h.map(|(at, failed)| (time(at), failed)),
        Err(e) => return error_page(&ctx, &state, &e),
    };
    let rows = targets
        .into_iter()
        .map(|t| {
            let (key, text) = state_text(tr, t.last.as_ref().map(|l| l.up));
            TargetRow {
                id: t.id,
                url: t.url,
                tenant: t.tenant.unwrap_or_default(),
                state: key,
                state_text: text,
                last: t.last.as_ref().map(|l| time(l.at)).unwrap_or_default(),
                duration: t.last.as_ref().map(|l| millis(l.duration.as_secs_f64())).unwrap_or_default(),
                samples: t.last.as_ref().map(|l| l.samples.to_string()).unwrap_or_default(),
                error: t.last.and_then(|l| l.error).unwrap_or_default(),
            }
        })
        .collect();
    let page = Page::new(&ctx, &state, "targets-title", "/targets");
    TargetsPage { page, targets: rows, host }.into_response()
}

struct AlertRow {
    state: &'static str,
    state_text: String,
    labels: String,
    summary: String,
    since: String,
    value: String,
}

struct RuleRow {
    name: String,
    state: &'static str,
    state_text: String,
    severity: String,
    expr: String,
    scope: String,
    interval: String,
    for_duration: String,
    last_eval: String,
    problem: String,
    alerts: Vec<AlertRow>,
}

#[derive(Template, WebTemplate)]
#[template(path = "rules.html")]
struct RulesPage {
    page: Page,
    rules: Vec<RuleRow>,
    firing: usize,
    pending: usize,
    blind: usize,
}

/// `GET /rules`.
pub(crate) async fn rules(State(state): State<AppState>, ctx: Ctx) -> Response {
    let session = or_respond!(signed_in(&ctx));
    let tr = ctx.tr;
    let zone = crate::time::zone(&state);
    let time = |t: Timestamp| crate::time::local_seconds(t, &zone);
    let rules = match state.app.rules(&session.principal).await {
        Ok(r) => r,
        Err(e) => return error_page(&ctx, &state, &e),
    };
    let summary_key = if tr.code() == "en" { "summary_en" } else { "summary_de" };
    let rows: Vec<RuleRow> = rules
        .into_iter()
        .map(|r| {
            let state = r.state();
            let problem = if let Some(e) = &r.last_error {
                tr.arg("rules-error", "error", e)
            } else if !r.missing_metrics.is_empty() {
                tr.arg("rules-missing", "metrics", &r.missing_metrics.join(", "))
            } else if r.last_eval.is_none() {
                tr.get("rules-not-yet")
            } else {
                String::new()
            };
            RuleRow {
                state,
                state_text: tr.get(&format!("rules-state-{state}")),
                severity: r.label("severity").unwrap_or_default().to_string(),
                expr: r.expr.clone(),
                scope: r.scope.clone().map(|s| tr.arg("rules-scope", "scope", &s)).unwrap_or_default(),
                interval: seconds(r.interval),
                for_duration: seconds(r.for_duration),
                last_eval: r.last_eval.map(&time).unwrap_or_default(),
                problem,
                alerts: r
                    .alerts
                    .iter()
                    .map(|a| AlertRow {
                        state: a.state,
                        state_text: tr.get(&format!("rules-state-{}", a.state)),
                        labels: a
                            .labels
                            .iter()
                            .filter(|(k, _)| k != "alertname")
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        summary: a
                            .annotations
                            .iter()
                            .find(|(k, _)| k == summary_key)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default(),
                        since: time(a.fired_at.unwrap_or(a.active_at)),
                        value: format!("{:.4}", a.value).trim_end_matches('0').trim_end_matches('.').to_string(),
                    })
                    .collect(),
                name: r.name,
            }
        })
        .collect();
    let firing = rows.iter().flat_map(|r| &r.alerts).filter(|a| a.state == "firing").count();
    let pending = rows.iter().flat_map(|r| &r.alerts).filter(|a| a.state == "pending").count();
    let blind = rows.iter().filter(|r| !r.problem.is_empty() && !r.last_eval.is_empty()).count();
    let page = Page::new(&ctx, &state, "rules-title", "/rules");
    RulesPage { page, rules: rows, firing, pending, blind }.into_response()
}

/// The monitoring pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/probes", get(probes))
        .route("/probes/{id}", get(probe))
        .route("/targets", get(targets))
        .route("/rules", get(rules))
}
