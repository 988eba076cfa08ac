//! Monitoring in the running server (embedded mode): probes, scrapes and
//! the host collector write into one short-term series store; the rules of
//! the policy's pack are evaluated over it; probes' changes of state go to
//! the database (availability) and the audit log (proof). This module holds
//! the shared state and the read services with their authorisation;
//! [`runtime`] holds the loops that fill it.
//!
//! Tenant isolation: every probe, target and alert carries a tenant (or
//! none, for the platform's own); tenant viewers see only their tenants'
//! and nothing of the platform's.

pub mod runtime;

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;
use leitstand_core::access::{Action, TenantScope};
use leitstand_core::policy::PolicySet;
use leitstand_core::tenant::TenantSlug;
use leitstand_monitor::availability::{Availability, Transition as AvailTransition, availability};
use leitstand_monitor::exposition::Limits;
use leitstand_monitor::rules::{AlertState, Rule, RuleState, expand_template};
use leitstand_monitor::series::{Labels, MatchOp, Matcher, NAME, SeriesStore, normalise};
use leitstand_probes::state::ProbeState;
use leitstand_store::ProbeHistoryRepository;

use crate::{App, AppError, Principal, Result};

/// A configured probe: decoded and checked by the probe crate, which
/// owns the probes' configuration.
pub use leitstand_probes::config::ProbeDef;

/// A configured scrape target.
#[derive(Clone)]
pub struct TargetDef {
    /// Stable id (`job` label).
    pub id: String,
    /// The metrics URL.
    pub url: String,
    /// Extra request headers (values are credentials: never shown).
    pub headers: Vec<(String, String)>,
    /// The tenant it belongs to.
    pub tenant: Option<TenantSlug>,
    /// The service (`service` label).
    pub service: Option<String>,
    /// Further labels on its series.
    pub labels: Vec<(String, String)>,
    /// How often.
    pub interval: Duration,
    /// Time limit of one scrape.
    pub timeout: Duration,
}

impl std::fmt::Debug for TargetDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("TargetDef")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("tenant", &self.tenant)
            .field("service", &self.service)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// Everything the monitoring runtime is configured with.
#[derive(Debug, Clone)]
pub struct MonitoringSettings {
    /// Probes.
    pub probes: Vec<ProbeDef>,
    /// Scrape targets.
    pub targets: Vec<TargetDef>,
    /// Host metrics of this machine every so often (`None`: off).
    pub host_interval: Option<Duration>,
    /// The data directory (its file system is reported with the host metrics).
    pub data_dir: std::path::PathBuf,
    /// The `instance` label of the host metrics (this machine's name).
    pub host_instance: String,
    /// The roots TLS and HTTPS probes trust.
    pub roots: rustls::RootCertStore,
    /// The rules evaluated.
    pub rules: Vec<Rule>,
    /// How long samples are kept in memory.
    pub retention: Duration,
    /// Most series kept.
    pub max_series: usize,
    /// Most checks and scrapes running at once.
    pub max_concurrent: usize,
    /// Limits for scraped bodies.
    pub scrape_limits: Limits,
    /// Maintenance windows and time zones (per tenant).
    pub policy: PolicySet,
}

impl Default for MonitoringSettings {
    fn default() -> Self {
        Self {
            probes: Vec::new(),
            targets: Vec::new(),
            host_interval: None,
            data_dir: std::path::PathBuf::from("."),
            host_instance: String::new(),
            roots: rustls::RootCertStore::empty(),
            rules: Vec::new(),
            retention: Duration::from_secs(2 * 3600),
            max_series: 1_000_000,
            max_concurrent: 1024,
            scrape_limits: Limits::default(),
            policy: PolicySet::default(),
        }
    }
}

/// The last run of a probe.
#[derive(Debug, Clone, PartialEq)]
pub struct LastRun {
    /// When it started.
    pub at: Timestamp,
    /// Whether every expectation held.
    pub success: bool,
    /// How long it took.
    pub duration: Duration,
    /// HTTP status, if any.
    pub status: Option<u16>,
    /// Why it failed.
    pub message: String,
}

/// A probe's live state.
#[derive(Debug, Default)]
pub(crate) struct ProbeLive {
    pub(crate) state: ProbeState,
    pub(crate) since: Option<Timestamp>,
    pub(crate) last: Option<LastRun>,
    pub(crate) cert_not_after: Option<i64>,
    pub(crate) cert_subject: Option<String>,
    /// Changes not yet stored (the database was unavailable).
    pub(crate) unsaved: Vec<leitstand_store::ProbeTransition>,
}

/// A probe in the runtime. Kept small: an idle probe costs its definition,
/// this entry and one slot in the schedule; its series labels are made at
/// each run rather than held.
pub(crate) struct ProbeEntry {
    pub(crate) def: ProbeDef,
    pub(crate) live: Mutex<ProbeLive>,
    pub(crate) running: std::sync::atomic::AtomicBool,
}

/// A scrape target's last scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct LastScrape {
    /// When it started.
    pub at: Timestamp,
    /// Whether the target answered with a readable body.
    pub up: bool,
    /// How long it took.
    pub duration: Duration,
    /// Samples read.
    pub samples: usize,
    /// Why it failed, or which samples were refused.
    pub error: Option<String>,
}

pub(crate) struct TargetEntry {
    pub(crate) def: TargetDef,
    pub(crate) target: leitstand_probes::scrape::Target,
    pub(crate) last: Mutex<Option<LastScrape>>,
    pub(crate) running: std::sync::atomic::AtomicBool,
}

pub(crate) struct RuleEntry {
    pub(crate) rule: Rule,
    pub(crate) state: Mutex<RuleState>,
}

/// An alert's change of state, as the alerting pipeline receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEvent {
    /// The rule.
    pub rule: String,
    /// `pending`, `firing` or `resolved`.
    pub state: &'static str,
    /// The alert's labels (`alertname`, `severity`, `tenant`, `service`, …).
    pub labels: Labels,
    /// Annotations with `$labels` and `$value` expanded.
    pub annotations: Vec<(String, String)>,
    /// The expression's value.
    pub value: f64,
    /// When the condition began to hold.
    pub active_at: Timestamp,
    /// When this change happened.
    pub at: Timestamp,
}

impl AlertEvent {
    /// The value of a label.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// The receiving end of the alert changes ([`Monitoring::take_feed`]).
#[derive(Debug)]
pub struct AlertFeed(tokio::sync::mpsc::UnboundedReceiver<AlertEvent>);

impl AlertFeed {
    /// The next change; `None` when monitoring is gone.
    pub async fn recv(&mut self) -> Option<AlertEvent> {
        self.0.recv().await
    }

    /// The changes that are waiting now, at most `max`.
    pub fn waiting(&mut self, max: usize) -> Vec<AlertEvent> {
        let mut out = Vec::new();
        while out.len() < max {
            match self.0.try_recv() {
                Ok(event) => out.push(event),
                Err(_) => break,
            }
        }
        out
    }
}

/// How many alert changes are kept for the UI.
const RECENT: usize = 500;

/// The monitoring state of one server.
pub struct Monitoring {
    pub(crate) settings: MonitoringSettings,
    pub(crate) series: Mutex<SeriesStore>,
    pub(crate) probes: Vec<ProbeEntry>,
    pub(crate) targets: Vec<TargetEntry>,
    pub(crate) rules: Vec<RuleEntry>,
    pub(crate) recent: Mutex<VecDeque<AlertEvent>>,
    pub(crate) host_last: Mutex<Option<(Timestamp, Vec<String>)>>,
    /// The alert changes for the alerting pipeline, unbounded: the consumer
    /// hands them to the durable intake, and a change is never dropped for
    /// being late (a bounded broadcast dropped them when it lagged).
    feed: Mutex<(tokio::sync::mpsc::UnboundedSender<AlertEvent>, Option<AlertFeed>)>,
    /// Whether this instance runs the checks (holds the lease).
    pub(crate) active: std::sync::atomic::AtomicBool,
    /// Probe runs, scrapes and refused samples since start.
    pub(crate) counts: [std::sync::atomic::AtomicU64; 3],
}

impl std::fmt::Debug for Monitoring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitoring")
            .field("probes", &self.probes.len())
            .field("targets", &self.targets.len())
            .field("rules", &self.rules.len())
            .finish_non_exhaustive()
    }
}

fn push_label(labels: &mut Labels, name: &str, value: Option<&str>) {
    if let Some(v) = value {
        labels.retain(|(k, _)| k != name);
        labels.push((name.to_string(), v.to_string()));
    }
}

/// `job`, `instance`, `probe` (kind), `probe_id`, `tenant`, `service` and
/// the probe's own labels (which cannot replace the first six).
pub fn probe_labels(def: &ProbeDef) -> Labels {
    let mut labels: Labels = def.labels.clone();
    push_label(&mut labels, "job", Some("probe"));
    push_label(&mut labels, "instance", Some(def.check.target()));
    push_label(&mut labels, "probe", Some(def.check.kind().name()));
    push_label(&mut labels, "probe_id", Some(&def.id));
    push_label(&mut labels, "tenant", def.tenant.as_ref().map(TenantSlug::as_str));
    push_label(&mut labels, "service", def.service.as_deref());
    normalise(labels)
}

fn target_labels(def: &TargetDef) -> Labels {
    let mut labels: Labels = def.labels.clone();
    push_label(&mut labels, "job", Some(&def.id));
    let instance = def.url.split("://").nth(1).and_then(|rest| rest.split('/').next()).unwrap_or(&def.url);
    push_label(&mut labels, "instance", Some(instance));
    push_label(&mut labels, "tenant", def.tenant.as_ref().map(TenantSlug::as_str));
    push_label(&mut labels, "service", def.service.as_deref());
    normalise(labels)
}

impl Monitoring {
    /// Monitoring with nothing configured (tests, CLI commands).
    pub fn disabled() -> Self {
        Self::new(MonitoringSettings::default())
    }

    /// The state for `settings` (its probes and targets move into the
    /// runtime's entries); nothing runs until [`runtime::spawn`].
    pub fn new(mut settings: MonitoringSettings) -> Self {
        let probes = std::mem::take(&mut settings.probes)
            .into_iter()
            .map(|def| ProbeEntry { def, live: Mutex::default(), running: Default::default() })
            .collect();
        let targets = std::mem::take(&mut settings.targets)
            .into_iter()
            .map(|def| TargetEntry {
                target: leitstand_probes::scrape::Target {
                    url: def.url.clone(),
                    headers: def.headers.clone(),
                    labels: target_labels(&def),
                    timeout: def.timeout,
                },
                def,
                last: Mutex::new(None),
                running: Default::default(),
            })
            .collect();
        let rules =
            settings.rules.iter().map(|rule| RuleEntry { rule: rule.clone(), state: Mutex::default() }).collect();
        let series = SeriesStore::new(settings.retention.as_millis() as i64, settings.max_series);
        Self {
            series: Mutex::new(series),
            probes,
            targets,
            rules,
            recent: Mutex::new(VecDeque::new()),
            host_last: Mutex::new(None),
            feed: Mutex::new({
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                (tx, Some(AlertFeed(rx)))
            }),
            active: Default::default(),
            counts: Default::default(),
            settings,
        }
    }

    /// The alert changes as they happen, for the one consumer that takes
    /// them to the alert engine (`None` once taken). Changes published
    /// before it is taken wait for it.
    pub fn take_feed(&self) -> Option<AlertFeed> {
        self.feed.lock().unwrap_or_else(|e| e.into_inner()).1.take()
    }

    /// Drops samples older than the retention (but those still held).
    pub fn prune(&self, now: Timestamp) {
        self.series.lock().unwrap_or_else(|e| e.into_inner()).prune(now.as_millisecond());
    }

    pub(crate) fn publish(&self, event: AlertEvent) {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back(event.clone());
        drop(recent);
        // Fails only when the consumer is gone (the server is stopping).
        let _ = self.feed.lock().unwrap_or_else(|e| e.into_inner()).0.send(event);
    }

    /// Whether this instance runs the checks (on PostgreSQL only one
    /// replica does; the others show its results from the database).
    pub fn is_active(&self) -> bool {
        self.active.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// For `/metrics`: active (0/1), series, probes down, alerts firing,
    /// probe runs, scrapes and refused samples since start.
    pub fn stats(&self) -> [u64; 7] {
        use std::sync::atomic::Ordering::Relaxed;
        let down =
            self.probes.iter().filter(|p| p.live.lock().map(|l| l.state.up() == Some(false)).unwrap_or(false)).count();
        let firing: usize = self
            .rules
            .iter()
            .map(|r| {
                r.state.lock().map(|s| s.alerts.values().filter(|a| a.state == AlertState::Firing).count()).unwrap_or(0)
            })
            .sum();
        [
            u64::from(self.is_active()),
            self.series_count() as u64,
            down as u64,
            firing as u64,
            self.counts[0].load(Relaxed),
            self.counts[1].load(Relaxed),
            self.counts[2].load(Relaxed),
        ]
    }

    /// Works on the series store (bulk loads, benchmarks, tests).
    pub fn with_series<R>(&self, f: impl FnOnce(&mut SeriesStore) -> R) -> R {
        f(&mut self.series.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Number of series in memory.
    pub fn series_count(&self) -> usize {
        self.series.lock().map(|s| s.len()).unwrap_or(0)
    }
}

/// Which tenants' monitoring data a principal may see.
pub(crate) struct Visibility {
    scope: TenantScope<String>,
}

impl Visibility {
    /// The tenants of a tenant-bound principal (`None`: all and the platform).
    fn tenants(&self) -> Option<&[String]> {
        match &self.scope {
            TenantScope::All => None,
            TenantScope::Only(list) => Some(list),
        }
    }

    fn allows(&self, tenant: Option<&str>) -> bool {
        match (&self.scope, tenant) {
            (TenantScope::All, _) => true,
            (TenantScope::Only(list), Some(t)) => list.iter().any(|s| s == t),
            (TenantScope::Only(_), None) => false,
        }
    }
}

/// A probe as the UI and API show it.
#[derive(Debug, Clone)]
pub struct ProbeView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Kind (`http`, `tcp`, `dns`, `tls`, `cxml`).
    pub kind: &'static str,
    /// What is checked.
    pub target: String,
    /// Tenant slug.
    pub tenant: Option<String>,
    /// Service.
    pub service: Option<String>,
    /// Interval.
    pub interval: Duration,
    /// Timeout.
    pub timeout: Duration,
    /// Retries before down.
    pub retries: u32,
    /// Up, down, or unknown (not yet decided / not running).
    pub up: Option<bool>,
    /// Since when the current state holds.
    pub since: Option<Timestamp>,
    /// The last run.
    pub last: Option<LastRun>,
    /// TLS: the certificate's expiry.
    pub cert_not_after: Option<Timestamp>,
    /// TLS: the certificate's subject.
    pub cert_subject: Option<String>,
}

/// One point of a probe's recent results.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbePoint {
    /// When.
    pub at: Timestamp,
    /// Success.
    pub success: bool,
    /// Duration in seconds.
    pub duration_seconds: f64,
}

/// Availability of a probe over a period.
#[derive(Debug, Clone)]
pub struct AvailabilityView {
    /// The probe.
    pub probe: String,
    /// Period start.
    pub from: Timestamp,
    /// Period end as asked.
    pub to: Timestamp,
    /// Until when it was measured (the end, or now if that is earlier).
    pub measured_until: Timestamp,
    /// The EVB-IT figures.
    pub figures: Availability,
}

/// A scrape target as shown.
#[derive(Debug, Clone)]
pub struct TargetView {
    /// Id (`job`).
    pub id: String,
    /// URL.
    pub url: String,
    /// Tenant.
    pub tenant: Option<String>,
    /// Service.
    pub service: Option<String>,
    /// Interval.
    pub interval: Duration,
    /// The last scrape.
    pub last: Option<LastScrape>,
}

/// An alert of a rule, as shown.
#[derive(Debug, Clone)]
pub struct AlertView {
    /// Labels.
    pub labels: Labels,
    /// `pending` or `firing`.
    pub state: &'static str,
    /// When the condition began to hold.
    pub active_at: Timestamp,
    /// When it began firing.
    pub fired_at: Option<Timestamp>,
    /// The expression's value.
    pub value: f64,
    /// Annotations, expanded.
    pub annotations: Vec<(String, String)>,
}

/// A rule as shown.
#[derive(Debug, Clone)]
pub struct RuleView {
    /// Alert name.
    pub name: String,
    /// Expression.
    pub expr: String,
    /// The rule's labels (severity, table).
    pub labels: Vec<(String, String)>,
    /// Annotations as written.
    pub annotations: Vec<(String, String)>,
    /// Evaluation interval.
    pub interval: Duration,
    /// `for`.
    pub for_duration: Duration,
    /// Last evaluation.
    pub last_eval: Option<Timestamp>,
    /// Its error, if it failed.
    pub last_error: Option<String>,
    /// Metrics the rule reads that no series has (it cannot fire).
    pub missing_metrics: Vec<String>,
    /// Pending and firing alerts the caller may see.
    pub alerts: Vec<AlertView>,
    /// The series the rule is limited to (a tenant's own thresholds).
    pub scope: Option<String>,
}

impl RuleView {
    /// `inactive`, `pending` or `firing` (the most severe of its alerts).
    pub fn state(&self) -> &'static str {
        if self.alerts.iter().any(|a| a.state == "firing") {
            "firing"
        } else if self.alerts.is_empty() {
            "inactive"
        } else {
            "pending"
        }
    }

    /// A label's value.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

pub(crate) fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn label<'a>(labels: &'a Labels, name: &str) -> Option<&'a str> {
    labels.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

impl App {
    /// The current calendar month `[start, start of next)` in `zone`
    /// (the period availability is reported for).
    fn current_month(&self, zone: &jiff::tz::TimeZone) -> (Timestamp, Timestamp) {
        let now = self.clock.now().to_zoned(zone.clone());
        let first = now.date().first_of_month();
        let next = first.checked_add(jiff::Span::new().months(1)).unwrap_or(first);
        let at =
            |d: jiff::civil::Date| d.to_zoned(zone.clone()).map(|z| z.timestamp()).unwrap_or(Timestamp::UNIX_EPOCH);
        (at(first), at(next))
    }

    async fn monitoring_visibility(&self, principal: &Principal) -> Result<Visibility> {
        principal.require(Action::ReadMonitoring)?;
        Ok(Visibility {
            scope: match principal.tenant_filter() {
                None => TenantScope::All,
                Some(_) => {
                    TenantScope::Only(self.tenants(principal).await?.into_iter().map(|t| t.slug.to_string()).collect())
                }
            },
        })
    }

    fn probe_view(entry: &ProbeEntry) -> ProbeView {
        let live = entry.live.lock().unwrap_or_else(|e| e.into_inner());
        let d = &entry.def;
        ProbeView {
            id: d.id.clone(),
            name: d.name.clone().unwrap_or_else(|| d.id.clone()),
            kind: d.check.kind().name(),
            target: d.check.target().to_string(),
            tenant: d.tenant.as_ref().map(|t| t.to_string()),
            service: d.service.clone(),
            interval: d.interval,
            timeout: d.timeout,
            retries: d.retries,
            up: live.state.up(),
            since: live.since,
            last: live.last.clone(),
            cert_not_after: live.cert_not_after.and_then(|s| Timestamp::from_second(s).ok()),
            cert_subject: live.cert_subject.clone(),
        }
    }

    /// The probes the principal may see, with their live state. On a
    /// replica that does not run the checks, the state comes from the
    /// history the running one writes.
    pub async fn probes(&self, principal: &Principal) -> Result<Vec<ProbeView>> {
        let vis = self.monitoring_visibility(principal).await?;
        let mut views: Vec<ProbeView> = self
            .monitoring
            .probes
            .iter()
            .filter(|p| vis.allows(p.def.tenant.as_ref().map(TenantSlug::as_str)))
            .map(Self::probe_view)
            .collect();
        if !self.monitoring.is_active() && !views.is_empty() {
            self.standby_state(&mut views).await?;
        }
        Ok(views)
    }

    /// On a replica that does not run the checks: the state the running one
    /// recorded.
    async fn standby_state(&self, views: &mut [ProbeView]) -> Result<()> {
        let latest = self.store.latest_probe_transitions().await?;
        for view in views {
            if let Some((_, t)) = latest.iter().find(|(id, _)| *id == view.id) {
                view.up = t.up;
                view.since = Some(t.at);
            }
        }
        Ok(())
    }

    fn visible_probe<'a>(&'a self, vis: &Visibility, id: &str) -> Result<&'a ProbeEntry> {
        self.monitoring
            .probes
            .iter()
            .find(|p| p.def.id == id && vis.allows(p.def.tenant.as_ref().map(TenantSlug::as_str)))
            .ok_or_else(|| AppError::NotFound { entity: "probe", key: id.to_string() })
    }

    /// One probe and its results in memory (newest last).
    pub async fn probe(&self, principal: &Principal, id: &str) -> Result<(ProbeView, Vec<ProbePoint>)> {
        let vis = self.monitoring_visibility(principal).await?;
        let entry = self.visible_probe(&vis, id)?;
        // Only the probe runtime's own series (`job="probe"`): a scraped
        // target's samples carry its job, so none can pose as a probe.
        let invalid = |e: leitstand_monitor::series::MatcherError| {
            AppError::invalid("id", e.to_string(), format!("Ungültige Kennung: {e}"))
        };
        let own = [
            Matcher::new("probe_id", MatchOp::Equal, id).map_err(invalid)?,
            Matcher::new("job", MatchOp::Equal, "probe").map_err(invalid)?,
        ];
        let select = |name: &str| -> Vec<(i64, f64)> {
            let Ok(name) = Matcher::new(NAME, MatchOp::Equal, name) else { return Vec::new() };
            let series = self.monitoring.series.lock().unwrap_or_else(|e| e.into_inner());
            series
                .select(&[name, own[0].clone(), own[1].clone()], i64::MIN, i64::MAX)
                .into_iter()
                .next()
                .map(|s| s.points)
                .unwrap_or_default()
        };
        let success = select("probe_success");
        let durations = select("probe_duration_seconds");
        // Both series are written at the same times, in time order.
        let points = durations
            .iter()
            .map(|&(t, d)| ProbePoint {
                at: ts(t),
                success: success.binary_search_by_key(&t, |&(st, _)| st).is_ok_and(|i| success[i].1 == 1.0),
                duration_seconds: d,
            })
            .collect();
        let mut view = Self::probe_view(entry);
        if !self.monitoring.is_active() {
            self.standby_state(std::slice::from_mut(&mut view)).await?;
        }
        Ok((view, points))
    }

    /// Availability of a probe over `[from, to)` per the EVB-IT formula,
    /// with the maintenance windows of the probe's tenant (and service)
    /// left out; measured up to now at most. Without `from`/`to`: the
    /// current calendar month in the time zone of the probe's tenant.
    pub async fn probe_availability(
        &self,
        principal: &Principal,
        id: &str,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<AvailabilityView> {
        let vis = self.monitoring_visibility(principal).await?;
        let entry = self.visible_probe(&vis, id)?;
        let policy = match &entry.def.tenant {
            Some(t) => self.monitoring.settings.policy.for_tenant(t),
            None => &self.monitoring.settings.policy.base,
        };
        let zone = jiff::tz::TimeZone::get(&policy.calendar.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
        let (month_start, month_end) = self.current_month(&zone);
        let (from, to) = (from.unwrap_or(month_start), to.unwrap_or(month_end));
        if to <= from {
            return Err(AppError::invalid("to", "must be after from", "muss nach dem Beginn liegen"));
        }
        let measured_until = to.min(self.clock.now()).max(from);
        let history = self.store.probe_history(id, from, measured_until).await?;
        let transitions: Vec<AvailTransition> =
            history.iter().map(|t| AvailTransition { at_ms: t.at.as_millisecond(), up: t.up }).collect();
        let maintenance: Vec<(i64, i64)> = policy
            .maintenance
            .periods(entry.def.service.as_deref(), from, measured_until, &zone)
            .into_iter()
            .map(|(s, e)| (s.as_millisecond(), e.as_millisecond()))
            .collect();
        let figures = availability(&transitions, &maintenance, from.as_millisecond(), measured_until.as_millisecond());
        Ok(AvailabilityView { probe: id.to_string(), from, to, measured_until, figures })
    }

    /// The scrape targets the principal may see.
    pub async fn scrape_targets(&self, principal: &Principal) -> Result<Vec<TargetView>> {
        let vis = self.monitoring_visibility(principal).await?;
        Ok(self
            .monitoring
            .targets
            .iter()
            .filter(|t| vis.allows(t.def.tenant.as_ref().map(TenantSlug::as_str)))
            .map(|t| TargetView {
                id: t.def.id.clone(),
                url: t.def.url.clone(),
                tenant: t.def.tenant.as_ref().map(|s| s.to_string()),
                service: t.def.service.clone(),
                interval: t.def.interval,
                last: t.last.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            })
            .collect())
    }

    /// The host collector's last run and its failed sources (platform
    /// roles only; `None` when off or not yet run).
    pub async fn host_metrics_status(&self, principal: &Principal) -> Result<Option<(Timestamp, Vec<String>)>> {
        let vis = self.monitoring_visibility(principal).await?;
        if !vis.allows(None) {
            return Ok(None);
        }
        Ok(self.monitoring.host_last.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }

    /// The rules with their state and the alerts the principal may see.
    pub async fn rules(&self, principal: &Principal) -> Result<Vec<RuleView>> {
        let vis = self.monitoring_visibility(principal).await?;
        let bound = vis.tenants();
        Ok(self
            .monitoring
            .rules
            .iter()
            // A tenant viewer sees the rules that can fire for its tenants,
            // never another tenant's own rules or which tenants have them.
            .filter(|entry| match (&entry.rule.scope, bound) {
                (Some(scope), Some(mine)) => mine.iter().any(|t| scope.covers(t)),
                _ => true,
            })
            .map(|entry| {
                let state = entry.state.lock().unwrap_or_else(|e| e.into_inner());
                let rule = &entry.rule;
                let alerts = state
                    .alerts
                    .values()
                    .filter(|a| vis.allows(label(&a.labels, "tenant")))
                    .map(|a| AlertView {
                        labels: a.labels.clone(),
                        state: if a.state == AlertState::Firing { "firing" } else { "pending" },
                        active_at: ts(a.active_at_ms),
                        fired_at: a.fired_at_ms.map(ts),
                        value: a.value,
                        annotations: rule
                            .annotations
                            .iter()
                            .map(|(k, v)| (k.clone(), expand_template(v, &a.labels, a.value)))
                            .collect(),
                    })
                    .collect();
                RuleView {
                    name: rule.name.clone(),
                    expr: rule.expr_text.clone(),
                    labels: rule.labels.clone(),
                    annotations: rule.annotations.clone(),
                    interval: Duration::from_millis(rule.interval_ms as u64),
                    for_duration: Duration::from_millis(rule.for_ms as u64),
                    last_eval: state.last_eval_ms.map(ts),
                    // What the store holds is the platform's business.
                    last_error: state.last_error.clone().filter(|_| bound.is_none()),
                    missing_metrics: if bound.is_none() { state.missing_metrics.clone() } else { Vec::new() },
                    alerts,
                    scope: match (&rule.scope, bound) {
                        (Some(scope), None) => Some(scope.to_string()),
                        (Some(scope @ leitstand_monitor::rules::Scope::Tenant(_)), Some(_)) => Some(scope.to_string()),
                        _ => None,
                    },
                }
            })
            .collect())
    }

    /// Recent alert changes (newest first) the principal may see.
    pub async fn alert_changes(&self, principal: &Principal) -> Result<Vec<AlertEvent>> {
        let vis = self.monitoring_visibility(principal).await?;
        let recent = self.monitoring.recent.lock().unwrap_or_else(|e| e.into_inner());
        Ok(recent.iter().rev().filter(|e| vis.allows(e.label("tenant"))).cloned().collect())
    }
}
