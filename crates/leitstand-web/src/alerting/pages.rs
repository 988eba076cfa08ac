//! Alerting pages: the alert list and each alert with its history and
//! delivery log (acknowledge, resolve, note), silences with the agreed
//! maintenance windows, on-call schedules with overrides, channels with a
//! test send, and the page behind a signed link in a notification.
//!
//! Server-rendered, no JavaScript; every form posts back with the session's
//! CSRF token and redirects (post/redirect/get), except a channel test,
//! whose result is the answer itself. Form errors are listed in a summary
//! whose entries link to their fields. Times are shown in the platform's
//! time zone (the policy's calendar) with the zone named, schedules in
//! their own zone; `datetime-local` inputs are read in the zone the label
//! names.
//!
//! The signed-link page needs no session: the token is the authority. A
//! GET only shows what would happen (mail scanners fetch links), the POST
//! acts; a bad or expired token gets a plain 400 page that says so and
//! nothing else.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use leitstand_alerting::link::LinkAction;
use leitstand_app::alerting::engine::Action as Respond;
use leitstand_app::alerting::{AlertView, NewSilence};
use leitstand_app::{AppError, Principal};
use leitstand_core::access::Action;
use serde::Deserialize;
use uuid::Uuid;

use leitstand_alerting::lifecycle::Status;

use crate::AppState;
use crate::ctx::Ctx;
use crate::i18n::Tr;
use crate::page::*;
use crate::time::{local, parse_local, zone_name};

// ---------------------------------------------------------------------------
// Shared pieces

/// A field's problem, shown in the summary (linking to `#id`) and beside
/// the field.
pub struct FieldError {
    id: String,
    message: String,
}

impl FieldError {
    fn new(id: impl Into<String>, message: impl Into<String>) -> Self {
        Self { id: id.into(), message: message.into() }
    }
}

/// The message for field `id`, if it has one (for the template).
fn message_for<'a>(errors: &'a [FieldError], id: &str) -> Option<&'a str> {
    errors.iter().find(|e| e.id == id).map(|e| e.message.as_str())
}

/// An entry of the section's own navigation.
pub struct SubNav {
    href: &'static str,
    label: String,
    /// `aria-current`: `page` on the page itself, `true` below it.
    current: Option<&'static str>,
}

fn subnav(tr: Tr, here: &str) -> Vec<SubNav> {
    [
        ("/alerts", "alerts-title"),
        ("/alerts/silences", "silences-title"),
        ("/alerts/schedules", "schedules-title"),
        ("/alerts/channels", "channels-title"),
    ]
    .into_iter()
    .map(|(href, key)| SubNav { href, label: tr.get(key), current: (href == here).then_some("page") })
    .collect()
}

/// The layout for a page of the section: below `/alerts` the main
/// navigation marks the section (`aria-current="true"`) and the breadcrumb
/// passes through the alert list.
fn section_page(ctx: &Ctx, state: &AppState, title_key: &str, here: &'static str, notice: Option<String>) -> Page {
    let mut page = Page::new(ctx, state, title_key, here);
    page.notice = notice;
    if here != "/alerts" {
        for item in page.nav.iter_mut().filter(|i| i.href == "/alerts") {
            item.current = Some("true");
        }
        if page.crumbs.len() == 2 {
            page.crumbs.insert(1, ("/alerts".into(), ctx.tr.get("alerts-title")));
        }
    }
    page
}

/// The id in a path; a malformed one is a 404 page, like an unknown one.
fn path_id(ctx: &Ctx, state: &AppState, entity: &'static str, id: &str) -> Result<Uuid, Response> {
    id.parse().map_err(|_| error_page(ctx, state, &AppError::NotFound { entity, key: id.to_string() }))
}

/// After a successful post, back to the page (post/redirect/get), else the
/// error page.
fn redirect_after_post<T>(ctx: &Ctx, state: &AppState, done: Result<T, AppError>, to: &str) -> Response {
    match done {
        Ok(_) => Redirect::to(to).into_response(),
        Err(e) => error_page(ctx, state, &e),
    }
}

/// The tenants `p` may see, as (slug, name) for a select.
async fn tenant_choices(state: &AppState, p: &Principal) -> Result<Vec<(String, String)>, AppError> {
    Ok(state.app.tenants(p).await?.into_iter().map(|t| (t.slug.to_string(), t.name)).collect())
}

fn some(value: &str) -> Option<String> {
    Some(value.trim().to_string()).filter(|v| !v.is_empty())
}

/// `user:anna` → `anna`.
fn person(actor: &str) -> String {
    actor.strip_prefix("user:").unwrap_or(actor).to_string()
}

fn state_text(tr: Tr, status: Status) -> (&'static str, String) {
    match status {
        Status::Firing => ("firing", tr.get("alert-state-firing")),
        Status::Resolved => ("inactive", tr.get("alert-state-resolved")),
    }
}

fn level_text(tr: Tr, a: &AlertView) -> String {
    if a.level == 0 { tr.get("alert-level-none") } else { format!("{} – {}", a.level, a.level_name) }
}

/// What holds an alert back, in words.
fn held_back(tr: Tr, suppressed: Option<&str>) -> String {
    match suppressed.and_then(|s| s.split_once(':')) {
        Some(("silence", _)) => tr.get("alert-held-silence"),
        Some(("inhibited", fp)) => tr.arg("alert-held-inhibited", "fingerprint", fp),
        Some(("maintenance", name)) => tr.arg("alert-held-maintenance", "name", name),
        Some(_) | None => String::new(),
    }
}

/// An invalid input of a service as a field error: `field` is the form
/// field's id for each service field name.
fn service_errors(tr: Tr, error: &AppError, ids: &[(&str, &str)], fallback: &str) -> Vec<FieldError> {
    let AppError::Invalid { field, message } = error else { return Vec::new() };
    let message = message.get(tr.code());
    // Silences report several problems at once: "matchers[0]: …; ends_at: …".
    let parts: Vec<&str> = if *field == "silence" { message.split("; ").collect() } else { vec![message] };
    parts
        .into_iter()
        .map(|part| {
            let (name, text) =
                if *field == "silence" { part.split_once(": ").unwrap_or((field, part)) } else { (*field, part) };
            let base = name.split('[').next().unwrap_or(name);
            let id = ids.iter().find(|(f, _)| *f == base).map_or(fallback, |(_, id)| id);
            FieldError::new(id, format!("{name}: {text}"))
        })
        .collect()
}

// ---------------------------------------------------------------------------
// /alerts

pub(crate) struct AlertRow {
    pub(crate) id: Uuid,
    pub(crate) state: &'static str,
    pub(crate) state_text: String,
    pub(crate) level: String,
    pub(crate) alertname: String,
    pub(crate) summary: String,
    pub(crate) service: String,
    pub(crate) tenant: String,
    pub(crate) since: String,
    pub(crate) acked_by: String,
    pub(crate) held_back: String,
}

/// The filter as typed (echoed back into the form).
#[derive(Deserialize, Default)]
pub(crate) struct AlertFilter {
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    status: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "alerts.html")]
struct AlertsPage {
    page: Page,
    sub: Vec<SubNav>,
    filter: AlertFilter,
    tenants: Vec<(String, String)>,
    states: Vec<(&'static str, String)>,
    rows: Vec<AlertRow>,
    firing: usize,
    errors: Vec<FieldError>,
    zone: String,
}

impl AlertsPage {
    fn error_for(&self, id: &str) -> Option<&str> {
        message_for(&self.errors, id)
    }
}

/// How many alerts the list shows.
const LIST_LIMIT: u32 = 200;

pub(crate) fn alert_row(tr: Tr, zone: &TimeZone, a: AlertView) -> AlertRow {
    let (state, text) = state_text(tr, a.status);
    AlertRow {
        state,
        state_text: text,
        level: level_text(tr, &a),
        held_back: held_back(tr, a.suppressed.as_deref()),
        since: local(a.starts_at, zone),
        acked_by: a.acked_by.clone().unwrap_or_default(),
        id: a.id,
        summary: Some(a.summary(tr.code())).filter(|s| *s != a.alertname).unwrap_or_default().to_string(),
        alertname: a.alertname,
        service: a.service.unwrap_or_default(),
        tenant: a.tenant.unwrap_or_default(),
    }
}

/// `GET /alerts`.
pub(crate) async fn alerts(State(state): State<AppState>, ctx: Ctx, Query(filter): Query<AlertFilter>) -> Response {
    let session = or_respond!(signed_in(&ctx));
    let p = &session.principal;
    let tr = ctx.tr;
    let zone = crate::time::zone(&state);
    let mut errors = Vec::new();
    let query = super::api::list_query(
        Some(filter.tenant.clone()),
        Some(filter.status.clone()),
        Some(filter.severity.clone()),
        Some(filter.service.clone()),
        Some(LIST_LIMIT),
    );
    let found = match query {
        Ok(q) => state.app.alerts(p, &q).await,
        Err(e) => Err(e),
    };
    let list = match found {
        Ok(list) => list,
        Err(e @ AppError::Invalid { .. }) => {
            errors = service_errors(ctx.tr, &e, &[("tenant", "f-tenant"), ("status", "f-status")], "f-tenant");
            Vec::new()
        }
        Err(e) => return error_page(&ctx, &state, &e),
    };
    let tenants = match tenant_choices(&state, p).await {
        Ok(t) => t,
        Err(e) => return error_page(&ctx, &state, &e),
    };
    let firing = list.iter().filter(|a| a.status == Status::Firing).count();
    let rows = list.into_iter().map(|a| alert_row(tr, &zone, a)).collect();
    let states = [("", "alerts-state-any"), ("firing", "alert-state-firing"), ("resolved", "alert-state-resolved")]
        .into_iter()
        .map(|(v, k)| (v, tr.get(k)))
        .collect();
    let status = form_status(&errors);
    let page = section_page(&ctx, &state, "alerts-title", "/alerts", None);
    (
        status,
        AlertsPage {
            sub: subnav(tr, "/alerts"),
            page,
            filter,
            tenants,
            states,
            rows,
            firing,
            errors,
            zone: zone_name(&zone),
        },
    )
        .into_response()
}

// ---------------------------------------------------------------------------
// /alerts/{id}

struct Fact {
    label: String,
    value: String,
}

struct HistoryRow {
    time: String,
    what: String,
    who: String,
    details: String,
}

struct AttemptLine {
    time: String,
    outcome: String,
    ok: bool,
}

struct NotificationRow {
    channel: String,
    kind: String,
    level: i16,
    status: String,
    attempts: i32,
    last_error: String,
    delivered_at: String,
    log: Vec<AttemptLine>,
}

#[derive(Template, WebTemplate)]
#[template(path = "alert.html")]
struct AlertPage {
    page: Page,
    sub: Vec<SubNav>,
    id: Uuid,
    state: &'static str,
    state_text: String,
    facts: Vec<Fact>,
    labels: Vec<(String, String)>,
    annotations: Vec<(String, String)>,
    can_respond: bool,
    can_ack: bool,
    can_unack: bool,
    can_resolve: bool,
    history: Vec<HistoryRow>,
    notifications: Vec<NotificationRow>,
    errors: Vec<FieldError>,
    note: String,
    zone: String,
}

impl AlertPage {
    fn error_for(&self, id: &str) -> Option<&str> {
        message_for(&self.errors, id)
    }
}

/// The details of a history entry in words: its values, `key: value`.
fn details_text(detail: &str) -> String {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(detail) else {
        return String::new();
    };
    map.iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) if k == "text" => s.clone(),
            serde_json::Value::String(s) => format!("{k}: {s}"),
            other => format!("{k}: {other}"),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A translated name for `kind` under `prefix`, or the kind itself.
fn known(tr: Tr, prefix: &str, kind: &str, kinds: &[&str]) -> String {
    if kinds.contains(&kind) { tr.get(&format!("{prefix}-{}", kind.replace('_', "-"))) } else { kind.to_string() }
}

const HISTORY_KINDS: &[&str] = &[
    "firing",
    "reopened",
    "resolved",
    "acknowledged",
    "unacknowledged",
    "escalated",
    "silenced",
    "inhibited",
    "maintenance",
    "released",
    "notified",
    "notification_failed",
    "note",
    "incident_opened",
];

const DELIVERY_STATES: &[&str] = &["pending", "sending", "delivered", "failed"];

async fn render_alert(
    state: &AppState,
    ctx: &Ctx,
    id: &str,
    notice: Option<String>,
    errors: Vec<FieldError>,
    note: String,
) -> Response {
    let session = or_respond!(signed_in(ctx));
    let p = &session.principal;
    let tr = ctx.tr;
    let uuid = or_respond!(path_id(ctx, state, "alert", id));
    let detail = match state.app.alert_detail(p, uuid).await {
        Ok(d) => d,
        Err(e) => return error_page(ctx, state, &e),
    };
    let zone = crate::time::zone(state);
    let a = detail.alert;
    let mut page = section_page(ctx, state, "alerts-title", "/alerts/{id}", notice);
    page.title = a.alertname.clone();
    page.crumbs = vec![
        ("/".into(), tr.get("nav-dashboard")),
        ("/alerts".into(), tr.get("alerts-title")),
        (format!("/alerts/{}", a.id), a.alertname.clone()),
    ];
    let (state_key, state_label) = state_text(tr, a.status);
    let fact = |key: &str, value: String| Fact { label: tr.get(key), value };
    let mut facts =
        vec![fact("alert-summary", a.summary(tr.code()).to_string()), fact("alert-level", level_text(tr, &a))];
    facts.push(fact("alert-since", local(a.starts_at, &zone)));
    if let Some(at) = a.resolved_at {
        facts.push(fact("alert-resolved-at", local(at, &zone)));
    }
    let acked = match (&a.acked_by, a.acked_at) {
        (Some(by), Some(at)) => tr.args("alert-acked-value", &[("name", by), ("time", &local(at, &zone))]),
        (Some(by), None) => by.clone(),
        _ => tr.get("alert-not-acked"),
    };
    facts.push(fact("alert-acked", acked));
    let held = held_back(tr, a.suppressed.as_deref());
    if !held.is_empty() {
        facts.push(fact("alert-held", held));
    }
    let next = match a.next_step_at {
        Some(t) if a.status == Status::Firing => local(t, &zone),
        _ => tr.get("alert-next-none"),
    };
    facts.push(fact("alert-next", next));
    if let Some(by) = a.act_by {
        let key = if by <= state.app.clock.now() { "alert-act-overdue" } else { "alert-act-by-value" };
        facts.push(fact("alert-act-by", tr.arg(key, "time", &local(by, &zone))));
    }
    if let Some(t) = &a.tenant {
        facts.push(fact("alert-tenant", t.clone()));
    }
    if let Some(s) = &a.service {
        facts.push(fact("alert-service", s.clone()));
    }
    facts.push(fact("alert-source", a.source.clone()));
    facts.push(fact("alert-fingerprint", a.fingerprint.to_string()));
    let firing = a.status == Status::Firing;
    let is_acked = a.acked_by.is_some();
    let history = detail
        .history
        .iter()
        .map(|h| HistoryRow {
            time: local(h.at, &zone),
            what: known(tr, "alert-history", &h.kind, HISTORY_KINDS),
            who: person(&h.actor),
            details: details_text(&h.detail),
        })
        .collect();
    let notifications = detail
        .notifications
        .into_iter()
        .map(|n| NotificationRow {
            channel: n.row.channel,
            kind: n.row.kind,
            level: n.row.level,
            status: known(tr, "delivery", &n.row.status, DELIVERY_STATES),
            attempts: n.row.attempts,
            last_error: n.row.last_error.unwrap_or_default(),
            delivered_at: n.row.delivered_at.map(|t| local(t, &zone)).unwrap_or_default(),
            log: n
                .attempts
                .into_iter()
                .map(|at| {
                    let code = at.status_code.map(|c| format!(" ({c})")).unwrap_or_default();
                    let outcome = if at.ok {
                        format!("{}{code}, {} ms", tr.get("delivery-attempt-ok"), at.duration_ms)
                    } else {
                        let error = at.error.unwrap_or_default();
                        format!("{}{code}: {error}, {} ms", tr.get("delivery-attempt-failed"), at.duration_ms)
                    };
                    AttemptLine { time: local(at.at, &zone), outcome, ok: at.ok }
                })
                .collect(),
        })
        .collect();
    let status = form_status(&errors);
    (
        status,
        AlertPage {
            sub: subnav(tr, "/alerts")
                .into_iter()
                .map(|s| SubNav { current: s.current.map(|_| "true"), ..s })
                .collect(),
            page,
            id: a.id,
            state: state_key,
            state_text: state_label,
            facts,
            labels: a.labels.into_iter().collect(),
            annotations: a.annotations.into_iter().collect(),
            can_respond: p.role.may(Action::RespondToAlerts),
            can_ack: firing && !is_acked,
            can_unack: firing && is_acked,
            can_resolve: firing,
            history,
            notifications,
            errors,
            note,
            zone: zone_name(&zone),
        },
    )
        .into_response()
}

#[derive(Deserialize)]
pub(crate) struct DoneQuery {
    done: Option<String>,
}

fn done_notice(tr: Tr, prefix: &str, done: Option<String>, kinds: &[&str]) -> Option<String> {
    done.filter(|d| kinds.contains(&d.as_str())).map(|d| tr.get(&format!("{prefix}-{d}")))
}

const RESPONSES: &[&str] = &["ack", "unack", "resolve", "note", "queued"];

/// `GET /alerts/{id}`.
pub(crate) async fn alert(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let notice = done_notice(ctx.tr, "alert-done", q.done, RESPONSES);
    render_alert(&state, &ctx, &id, notice, Vec::new(), String::new()).await
}

#[derive(Deserialize)]
pub(crate) struct RespondForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    op: String,
    #[serde(default)]
    text: String,
}

/// `POST /alerts/{id}`: acknowledge, take back, resolve or add a note.
pub(crate) async fn respond(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<RespondForm>,
) -> Response {
    let principal = or_respond!(checked(&ctx, &state, &form.csrf));
    let uuid = or_respond!(path_id(&ctx, &state, "alert", &id));
    let action = match form.op.as_str() {
        "ack" => Respond::Ack,
        "unack" => Respond::Unack,
        "resolve" => Respond::Resolve,
        "note" => Respond::Note(form.text.clone()),
        _ => return error_page(&ctx, &state, &AppError::invalid("op", "unknown operation", "unbekannter Vorgang")),
    };
    match state.app.respond_to_alert(principal, uuid, action).await {
        Ok(true) => Redirect::to(&format!("/alerts/{uuid}?done={}", form.op)).into_response(),
        Ok(false) => Redirect::to(&format!("/alerts/{uuid}?done=queued")).into_response(),
        Err(e @ AppError::Invalid { .. }) => {
            let errors = service_errors(ctx.tr, &e, &[("text", "note-text")], "actions");
            render_alert(&state, &ctx, &id, None, errors, form.text).await
        }
        Err(AppError::AlertRefused { reason }) => {
            let errors = vec![FieldError::new("actions", refused(ctx.tr, reason))];
            render_alert(&state, &ctx, &id, None, errors, form.text).await
        }
        Err(e) => error_page(&ctx, &state, &e),
    }
}

// ---------------------------------------------------------------------------
// /alerts/silences

struct SilenceRow {
    id: Uuid,
    state: &'static str,
    state_text: String,
    matchers: String,
    tenant: String,
    starts: String,
    ends: String,
    created_by: String,
    comment: String,
}

struct WindowRow {
    name: String,
    scope: String,
    start: String,
    duration: String,
    zone: String,
    services: String,
    next: String,
}

/// The new-silence form as typed.
#[derive(Deserialize, Default)]
pub(crate) struct SilenceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    matchers: String,
    #[serde(default)]
    duration: String,
    #[serde(default)]
    ends: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    tenant: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "silences.html")]
struct SilencesPage {
    page: Page,
    sub: Vec<SubNav>,
    rows: Vec<SilenceRow>,
    windows: Vec<WindowRow>,
    can_manage: bool,
    tenants: Vec<(String, String)>,
    form: SilenceForm,
    errors: Vec<FieldError>,
    zone: String,
}

impl SilencesPage {
    fn error_for(&self, id: &str) -> Option<&str> {
        message_for(&self.errors, id)
    }
}

/// How far ahead the next occurrence of a maintenance window is looked for.
const WINDOW_HORIZON: jiff::SignedDuration = jiff::SignedDuration::from_hours(24 * 62);

fn window_rows(state: &AppState, tr: Tr, visible: &[String], now: Timestamp) -> Vec<WindowRow> {
    let shown = crate::time::zone(state);
    let policies = &state.app.alerting.settings.policy;
    let base = std::iter::once((None, &policies.base));
    let tenants = policies
        .tenants
        .iter()
        .filter(|(slug, p)| visible.iter().any(|v| v == slug.as_str()) && p.maintenance != policies.base.maintenance)
        .map(|(slug, p)| (Some(slug.as_str().to_string()), p));
    base.chain(tenants)
        .flat_map(|(tenant, policy)| {
            let calendar_zone = TimeZone::get(&policy.calendar.time_zone).unwrap_or(TimeZone::UTC);
            let shown = shown.clone();
            policy.maintenance.windows.iter().map(move |w| {
                let zone = w.time_zone.as_deref().and_then(|z| TimeZone::get(z).ok()).unwrap_or(calendar_zone.clone());
                let to = now.checked_add(WINDOW_HORIZON).unwrap_or(now);
                let next = match w.occurrences(now, to, &calendar_zone).first() {
                    Some(&(start, end)) if start <= now => tr.arg("window-open-until", "time", &local(end, &shown)),
                    Some(&(start, _)) => local(start, &shown),
                    None => tr.get("window-none-soon"),
                };
                WindowRow {
                    name: w.name.clone(),
                    scope: tenant.clone().unwrap_or_else(|| tr.get("window-platform")),
                    start: w.start.clone(),
                    duration: w.duration.to_string(),
                    zone: zone_name(&zone),
                    services: if w.services.is_empty() { tr.get("window-all-services") } else { w.services.join(", ") },
                    next,
                }
            })
        })
        .collect()
}

async fn render_silences(
    state: &AppState,
    ctx: &Ctx,
    notice: Option<String>,
    form: SilenceForm,
    errors: Vec<FieldError>,
) -> Response {
    let session = or_respond!(signed_in(ctx));
    let p = &session.principal;
    let tr = ctx.tr;
    let silences = match state.app.silences(p).await {
        Ok(s) => s,
        Err(e) => return error_page(ctx, state, &e),
    };
    let tenants = match tenant_choices(state, p).await {
        Ok(t) => t,
        Err(e) => return error_page(ctx, state, &e),
    };
    let zone = crate::time::zone(state);
    let now = state.app.clock.now();
    let visible: Vec<String> = tenants.iter().map(|(s, _)| s.clone()).collect();
    let rows = silences
        .into_iter()
        .map(|s| SilenceRow {
            id: s.id,
            state: match s.state {
                "active" => "firing",
                "pending" => "pending",
                _ => "inactive",
            },
            state_text: known(tr, "silence-state", s.state, &["active", "pending", "expired"]),
            matchers: s.matchers.join(", "),
            tenant: s.tenant.unwrap_or_default(),
            starts: local(s.starts_at, &zone),
            ends: local(s.ends_at, &zone),
            created_by: s.created_by,
            comment: s.comment,
        })
        .collect();
    let page = section_page(ctx, state, "silences-title", "/alerts/silences", notice);
    let status = form_status(&errors);
    (
        status,
        SilencesPage {
            sub: subnav(tr, "/alerts/silences"),
            page,
            rows,
            windows: window_rows(state, tr, &visible, now),
            can_manage: p.role.may(Action::ManageSilences),
            tenants,
            form,
            errors,
            zone: zone_name(&zone),
        },
    )
        .into_response()
}

/// `GET /alerts/silences`.
pub(crate) async fn silences(State(state): State<AppState>, ctx: Ctx, Query(q): Query<DoneQuery>) -> Response {
    let notice = done_notice(ctx.tr, "silence-done", q.done, &["created", "expired"]);
    render_silences(&state, &ctx, notice, SilenceForm::default(), Vec::new()).await
}

/// The end of a new silence from the form: a duration from now (`2h`) or
/// a local time, not both.
fn silence_end(tr: Tr, form: &SilenceForm, now: Timestamp, zone: &TimeZone) -> Result<Timestamp, FieldError> {
    match (some(&form.duration), some(&form.ends)) {
        (Some(_), Some(_)) => Err(FieldError::new("s-duration", tr.get("silence-error-both"))),
        (None, None) => Err(FieldError::new("s-duration", tr.get("silence-error-no-end"))),
        (Some(d), None) => {
            let d: leitstand_core::time_limit::Duration =
                d.parse().map_err(|e: leitstand_core::time_limit::ParseDurationError| {
                    FieldError::new("s-duration", e.to_string())
                })?;
            now.checked_add(d.signed()).map_err(|e| FieldError::new("s-duration", e.to_string()))
        }
        (None, Some(t)) => {
            parse_local(&t, zone).ok_or_else(|| FieldError::new("s-ends", tr.arg("form-error-datetime", "value", &t)))
        }
    }
}

/// `POST /alerts/silences`.
pub(crate) async fn create_silence(State(state): State<AppState>, ctx: Ctx, Form(form): Form<SilenceForm>) -> Response {
    let principal = or_respond!(checked(&ctx, &state, &form.csrf));
    let tr = ctx.tr;
    let zone = crate::time::zone(&state);
    let ends_at = match silence_end(tr, &form, state.app.clock.now(), &zone) {
        Ok(t) => t,
        Err(e) => return render_silences(&state, &ctx, None, form, vec![e]).await,
    };
    let new = NewSilence {
        matchers: form.matchers.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect(),
        starts_at: None,
        ends_at,
        comment: form.comment.clone(),
        tenant: some(&form.tenant),
    };
    match state.app.create_silence(principal, new).await {
        Ok(_) => Redirect::to("/alerts/silences?done=created").into_response(),
        Err(e @ AppError::Invalid { .. }) => {
            let ids = [
                ("matchers", "s-matchers"),
                ("ends_at", "s-duration"),
                ("comment", "s-comment"),
                ("tenant", "s-tenant"),
            ];
            let errors = service_errors(ctx.tr, &e, &ids, "s-matchers");
            render_silences(&state, &ctx, None, form, errors).await
        }
        Err(e) => error_page(&ctx, &state, &e),
    }
}

#[derive(Deserialize)]
pub(crate) struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// `POST /alerts/silences/{id}/expire`.
pub(crate) async fn expire_silence(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let principal = or_respond!(checked(&ctx, &state, &form.csrf));
    let uuid = or_respond!(path_id(&ctx, &state, "silence", &id));
    let done = state.app.expire_silence(principal, uuid).await;
    redirect_after_post(&ctx, &state, done, "/alerts/silences?done=expired")
}

// ---------------------------------------------------------------------------
// /alerts/schedules

struct ShiftRow {
    name: String,
    rotation: String,
    starts: String,
    ends: String,
}

struct OverrideRow {
    id: Uuid,
    name: String,
    starts: String,
    ends: String,
    reason: String,
    created_by: String,
}

struct ScheduleBlock {
    id: String,
    name: String,
    zone: String,
    on_call: Option<(String, String)>,
    shifts: Vec<ShiftRow>,
    overrides: Vec<OverrideRow>,
}

/// The add-override form as typed.
#[derive(Deserialize, Default)]
pub(crate) struct OverrideForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    person: String,
    #[serde(default)]
    starts: String,
    #[serde(default)]
    ends: String,
    #[serde(default)]
    reason: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "schedules.html")]
struct SchedulesPage {
    page: Page,
    sub: Vec<SubNav>,
    schedules: Vec<ScheduleBlock>,
    people: Vec<(String, String)>,
    can_manage: bool,
    /// The schedule whose form was sent, and what was typed.
    sent: Option<(String, OverrideForm)>,
    errors: Vec<FieldError>,
}

impl SchedulesPage {
    /// The problem with `field` of schedule `schedule`'s override form.
    fn override_error(&self, schedule: &str, field: &str) -> Option<&str> {
        message_for(&self.errors, &format!("ov-{schedule}-{field}"))
    }

    /// What was typed into `field` of schedule `id`'s form.
    fn typed(&self, id: &str, field: &str) -> &str {
        match &self.sent {
            Some((s, f)) if s == id => match field {
                "person" => &f.person,
                "starts" => &f.starts,
                "ends" => &f.ends,
                _ => &f.reason,
            },
            _ => "",
        }
    }
}

async fn render_schedules(
    state: &AppState,
    ctx: &Ctx,
    notice: Option<String>,
    sent: Option<(String, OverrideForm)>,
    errors: Vec<FieldError>,
) -> Response {
    let session = or_respond!(signed_in(ctx));
    let p = &session.principal;
    let tr = ctx.tr;
    let views = match state.app.schedules(p).await {
        Ok(s) => s,
        Err(e) => return error_page(ctx, state, &e),
    };
    let app = &state.app;
    let schedules = views
        .into_iter()
        .map(|s| {
            let zone = crate::time::zone(state);
            let on_call = s.now.as_ref().map(|o| {
                let name = s.now_name.clone().unwrap_or_else(|| app.person_name(&o.person));
                let until =
                    if o.until == Timestamp::MAX { tr.get("schedule-until-open") } else { local(o.until, &zone) };
                (name, until)
            });
            ScheduleBlock {
                shifts: s
                    .shifts
                    .iter()
                    .map(|sh| ShiftRow {
                        name: app.person_name(&sh.person),
                        rotation: sh.rotation.clone().unwrap_or_else(|| tr.get("schedule-override")),
                        starts: local(sh.starts_at, &zone),
                        ends: local(sh.ends_at, &zone),
                    })
                    .collect(),
                overrides: s
                    .overrides
                    .iter()
                    .map(|o| OverrideRow {
                        id: o.id,
                        name: app.person_name(&o.person),
                        starts: local(o.starts_at, &zone),
                        ends: local(o.ends_at, &zone),
                        reason: o.reason.clone(),
                        created_by: person(&o.created_by),
                    })
                    .collect(),
                on_call,
                zone: s.time_zone,
                id: s.id,
                name: s.name,
            }
        })
        .collect();
    let people = app.alerting.settings.people.iter().map(|(id, p)| (id.clone(), p.name.clone())).collect();
    let page = section_page(ctx, state, "schedules-title", "/alerts/schedules", notice);
    let status = form_status(&errors);
    (
        status,
        SchedulesPage {
            sub: subnav(tr, "/alerts/schedules"),
            page,
            schedules,
            people,
            can_manage: p.role.may(Action::ManageOnCall),
            sent,
            errors,
        },
    )
        .into_response()
}

/// `GET /alerts/schedules`.
pub(crate) async fn schedules(State(state): State<AppState>, ctx: Ctx, Query(q): Query<DoneQuery>) -> Response {
    let notice = done_notice(ctx.tr, "schedule-done", q.done, &["added", "removed"]);
    render_schedules(&state, &ctx, notice, None, Vec::new()).await
}

fn override_times(
    tr: Tr,
    schedule: &str,
    form: &OverrideForm,
    zone: &TimeZone,
) -> Result<(Timestamp, Timestamp), Vec<FieldError>> {
    let read = |field: &str, text: &str| {
        parse_local(text, zone).ok_or_else(|| {
            let message = if text.trim().is_empty() {
                tr.get("form-error-required")
            } else {
                tr.arg("form-error-datetime", "value", text)
            };
            FieldError::new(format!("ov-{schedule}-{field}"), message)
        })
    };
    match (read("starts", &form.starts), read("ends", &form.ends)) {
        (Ok(s), Ok(e)) => Ok((s, e)),
        (s, e) => Err([s.err(), e.err()].into_iter().flatten().collect()),
    }
}

/// `POST /alerts/schedules/{id}/overrides`.
pub(crate) async fn create_override(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<OverrideForm>,
) -> Response {
    let principal: &Principal = or_respond!(checked(&ctx, &state, &form.csrf));
    let Some(schedule) = state.app.alerting.schedule(&id) else {
        return error_page(&ctx, &state, &AppError::NotFound { entity: "schedule", key: id });
    };
    let zone = schedule.time_zone().clone();
    let (starts, ends) = match override_times(ctx.tr, &id, &form, &zone) {
        Ok(t) => t,
        Err(errors) => return render_schedules(&state, &ctx, None, Some((id, form)), errors).await,
    };
    match state.app.create_override(principal, &id, &form.person, starts, ends, &form.reason).await {
        Ok(_) => Redirect::to("/alerts/schedules?done=added").into_response(),
        Err(e @ AppError::Invalid { .. }) => {
            let (person, ends_id) = (format!("ov-{id}-person"), format!("ov-{id}-ends"));
            let errors = service_errors(ctx.tr, &e, &[("person", &person), ("ends_at", &ends_id)], &ends_id);
            render_schedules(&state, &ctx, None, Some((id, form)), errors).await
        }
        Err(e) => error_page(&ctx, &state, &e),
    }
}

/// `POST /alerts/overrides/{id}/delete`.
pub(crate) async fn delete_override(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let principal = or_respond!(checked(&ctx, &state, &form.csrf));
    let uuid = or_respond!(path_id(&ctx, &state, "override", &id));
    let done = state.app.delete_override(principal, uuid).await;
    redirect_after_post(&ctx, &state, done, "/alerts/schedules?done=removed")
}

// ---------------------------------------------------------------------------
// /alerts/channels

struct ChannelRow {
    id: String,
    name: String,
    kind: String,
    language: String,
    fallback: String,
    audiences: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "channels.html")]
struct ChannelsPage {
    page: Page,
    sub: Vec<SubNav>,
    rows: Vec<ChannelRow>,
    can_test: bool,
}

fn render_channels(state: &AppState, ctx: &Ctx, notice: Option<String>) -> Response {
    let session = or_respond!(signed_in(ctx));
    let p = &session.principal;
    let tr = ctx.tr;
    let channels = match state.app.channels(p) {
        Ok(c) => c,
        Err(e) => return error_page(ctx, state, &e),
    };
    let rows = channels
        .into_iter()
        .map(|c| ChannelRow {
            language: tr.get(&format!("lang-{}", c.locale)),
            fallback: c.fallback.unwrap_or_default(),
            audiences: c.audiences.iter().map(|a| known(tr, "audience", a, &AUDIENCES)).collect::<Vec<_>>().join(", "),
            id: c.id.to_string(),
            name: c.name,
            kind: c.kind,
        })
        .collect();
    let page = section_page(ctx, state, "channels-title", "/alerts/channels", notice);
    ChannelsPage { sub: subnav(tr, "/alerts/channels"), page, rows, can_test: p.role.may(Action::TestChannels) }
        .into_response()
}

const AUDIENCES: [&str; 6] = ["devops", "on_call", "development", "management", "compliance", "security"];

/// `GET /alerts/channels`.
pub(crate) async fn channels(State(state): State<AppState>, ctx: Ctx) -> Response {
    render_channels(&state, &ctx, None)
}

/// `POST /alerts/channels/{id}/test`: sends now and shows the outcome.
pub(crate) async fn test_channel(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    let principal = or_respond!(checked(&ctx, &state, &form.csrf));
    let tr = ctx.tr;
    let name = state.app.alerting.channel(&id).map_or_else(|| id.clone(), |c| c.name.clone());
    let found = match super::api::channel_id(&id) {
        Ok(id) => state.app.test_channel(principal, &id).await,
        Err(e) => Err(e),
    };
    let notice = match found {
        Ok(Ok(Some(code))) => tr.args("channel-test-ok-status", &[("name", &name), ("status", &code.to_string())]),
        Ok(Ok(None)) => tr.arg("channel-test-ok", "name", &name),
        Ok(Err(error)) => tr.args("channel-test-failed", &[("name", &name), ("error", &error)]),
        Err(e) => return error_page(&ctx, &state, &e),
    };
    render_channels(&state, &ctx, Some(notice))
}

// ---------------------------------------------------------------------------
// /alerts/act/{token}

enum LinkState {
    /// What the button will do.
    Confirm { alertname: String, summary: String, target: String, action: String, button: String },
    /// What was done.
    Done { message: String },
    /// The token is not valid (any reason, not said which).
    Invalid,
}

#[derive(Template, WebTemplate)]
#[template(path = "alert_link.html")]
struct AlertLinkPage {
    page: Page,
    link: LinkState,
}

fn link_action_key(action: LinkAction) -> &'static str {
    match action {
        LinkAction::Ack => "alert-ack",
        LinkAction::Unack => "alert-unack",
        LinkAction::Resolve => "alert-resolve",
    }
}

fn link_page(ctx: &Ctx, state: &AppState, status: StatusCode, link: LinkState) -> Response {
    let page = Page::new(ctx, state, "link-title", "");
    (status, AlertLinkPage { page, link }).into_response()
}

/// `GET /alerts/act/{token}`: shows what the link does, and one button.
/// Nothing happens on a GET (mail scanners fetch links).
pub(crate) async fn link(State(state): State<AppState>, ctx: Ctx, Path(token): Path<String>) -> Response {
    let tr = ctx.tr;
    // The signed token is the authority to see this one alert.
    let Ok((claims, alert)) = state.app.alert_of_link(&token).await else {
        return link_page(&ctx, &state, StatusCode::BAD_REQUEST, LinkState::Invalid);
    };
    let key = link_action_key(claims.action);
    let link = LinkState::Confirm {
        summary: Some(alert.summary(tr.code())).filter(|s| *s != alert.alertname).unwrap_or_default().to_string(),
        target: alert.labels.get("instance").cloned().unwrap_or_default(),
        action: tr.get(&format!("{key}-explain")),
        button: tr.get(key),
        alertname: alert.alertname,
    };
    link_page(&ctx, &state, StatusCode::OK, link)
}

/// `POST /alerts/act/{token}`: acts, without a session.
pub(crate) async fn act_by_link(State(state): State<AppState>, ctx: Ctx, Path(token): Path<String>) -> Response {
    let tr = ctx.tr;
    if state.app.verify_alert_link(&token).is_err() {
        return link_page(&ctx, &state, StatusCode::BAD_REQUEST, LinkState::Invalid);
    }
    match state.app.act_by_link(&token).await {
        Ok((claims, done)) => {
            let key = link_action_key(claims.action);
            let message = if done { tr.get(&format!("{key}-done")) } else { tr.get("alert-done-queued") };
            link_page(&ctx, &state, StatusCode::OK, LinkState::Done { message })
        }
        Err(AppError::Invalid { field: "link", .. }) => {
            link_page(&ctx, &state, StatusCode::BAD_REQUEST, LinkState::Invalid)
        }
        Err(AppError::AlertRefused { reason }) => {
            let message = tr.arg("link-not-possible", "detail", &refused(tr, reason));
            link_page(&ctx, &state, StatusCode::CONFLICT, LinkState::Done { message })
        }
        Err(e) => error_page(&ctx, &state, &e),
    }
}

/// The alerting pages.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/alerts", get(alerts))
        .route("/alerts/{id}", get(alert).post(respond))
        .route("/alerts/silences", get(silences).post(create_silence))
        .route("/alerts/silences/{id}/expire", post(expire_silence))
        .route("/alerts/schedules", get(schedules))
        .route("/alerts/schedules/{id}/overrides", post(create_override))
        .route("/alerts/overrides/{id}/delete", post(delete_override))
        .route("/alerts/channels", get(channels))
        .route("/alerts/channels/{id}/test", post(test_channel))
        .route("/alerts/act/{token}", get(link).post(act_by_link))
}
