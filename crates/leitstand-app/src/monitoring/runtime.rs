//! The monitoring loops: one timer for every probe, scrape and host
//! collection ([`leitstand_probes::schedule`]), each due job run as its own
//! task (bounded by a semaphore, each with its own timeout, so a slow
//! target never delays the others), and the rules evaluated per interval
//! group over the series store.
//!
//! Only the holder of the `monitoring` lease runs the checks, so replicas
//! on one PostgreSQL neither probe twice nor write the history twice. When
//! an instance takes over, the time since the last holder was last known
//! alive is recorded as unknown for every probe — availability never
//! guesses what happened while nobody looked. A graceful stop records
//! unknown from the moment of stopping.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use jiff::Timestamp;
use leitstand_ledger::event::SubmittedEvent;
use leitstand_monitor::rules::{Transition, expand_template};
use leitstand_monitor::series::{NAME, normalise};
use leitstand_probes::check::Checker;
use leitstand_probes::schedule::{Schedule, offset};
use leitstand_store::{LeaseRepository, ProbeHistoryRepository, ProbeTransition};
use serde_json::json;
use tokio::sync::{Semaphore, watch};

use super::{AlertEvent, LastRun, LastScrape, Monitoring, ts};
use crate::App;

/// The lease that decides which replica runs the checks.
pub const LEASE: &str = "monitoring";
/// How long a holder's lease lasts without renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(30);

/// A running monitoring loop.
pub struct Runtime {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// Starts the loops for `app.monitoring` as replica `holder`.
pub fn spawn(app: App, holder: String, checker: Checker) -> Runtime {
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(run(app, holder, checker, stopped));
    Runtime { stop, task }
}

impl Runtime {
    /// Stops the loops; the caller then calls [`stop_recording`].
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// One scheduled job of the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Probe by index.
    Probe(usize),
    /// Scrape target by index.
    Target(usize),
    /// The host collector.
    Host,
    /// Dropping samples past the retention.
    Prune,
}

impl Job {
    /// The name its first run is spread by (stable across restarts).
    pub fn name(self, m: &Monitoring) -> String {
        match self {
            Job::Probe(i) => format!("probe/{}", m.probes[i].def.id),
            Job::Target(i) => format!("target/{}", m.targets[i].def.id),
            Job::Host => "host".into(),
            Job::Prune => "prune".into(),
        }
    }
}

/// Every job with its interval, and the schedule over them: what the
/// runtime holds per probe besides its entry.
pub fn jobs(m: &Monitoring) -> (Vec<(Job, Duration)>, Schedule) {
    let mut jobs: Vec<(Job, Duration)> = Vec::with_capacity(m.probes.len() + m.targets.len() + 2);
    jobs.extend(m.probes.iter().enumerate().map(|(i, p)| (Job::Probe(i), p.def.interval)));
    jobs.extend(m.targets.iter().enumerate().map(|(i, t)| (Job::Target(i), t.def.interval)));
    if let Some(every) = m.settings.host_interval {
        jobs.push((Job::Host, every));
    }
    jobs.push((Job::Prune, Duration::from_secs(60)));
    let schedule = Schedule::new(jobs.iter().map(|(job, every)| (job.name(m), ms(*every))), 0);
    (jobs, schedule)
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

async fn run(app: App, holder: String, checker: Checker, mut stop: watch::Receiver<bool>) {
    let m = app.monitoring.clone();
    loop {
        if *stop.borrow() {
            return;
        }
        let previous = app.store.lease(LEASE).await.ok().flatten();
        let now = app.clock.now();
        match app.store.try_acquire_lease(LEASE, &holder, now, LEASE_TTL).await {
            Ok(Some(_)) => {
                let last_alive = previous
                    .filter(|p| p.holder != holder)
                    .map(|p| p.expires_at.checked_sub(jiff::SignedDuration::try_from(LEASE_TTL).unwrap_or_default()))
                    .and_then(Result::ok)
                    .map(|t| t.min(now));
                mark_unknown_since(&app, last_alive.unwrap_or(now)).await;
                // A new term starts from nothing: what this replica knew from an
                // earlier term is stale (another one may have probed meanwhile).
                for p in &m.probes {
                    let mut live = p.live.lock().unwrap_or_else(|e| e.into_inner());
                    if !live.unsaved.is_empty() {
                        tracing::warn!(probe = %p.def.id, changes = live.unsaved.len(), "state changes of an earlier term were never stored; dropped");
                    }
                    *live = super::ProbeLive::default();
                }
                tracing::info!(
                    probes = m.probes.len(),
                    targets = m.targets.len(),
                    rules = m.rules.len(),
                    "monitoring started"
                );
                m.active.store(true, Ordering::Relaxed);
                run_jobs(&app, &holder, &checker, &mut stop).await;
                m.active.store(false, Ordering::Relaxed);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "monitoring lease unavailable; retrying"),
        }
        if *stop.borrow() {
            return; // the stop was seen inside the loop already
        }
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep(LEASE_TTL / 3) => {}
        }
    }
}

/// Records "unknown" at `at` for every probe whose last stored state is
/// known and older (nobody was probing from then on).
async fn mark_unknown_since(app: &App, at: Timestamp) {
    let latest = match app.store.latest_probe_transitions().await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the probe history; the gap before this start stays unmarked");
            return;
        }
    };
    for (probe, last) in latest {
        if last.up.is_some() {
            // From the last sign of life on — but never before the last
            // recorded change, which would otherwise be overwritten.
            let from = at.max(last.at + jiff::SignedDuration::from_millis(1));
            let gap = ProbeTransition { at: from, up: None, message: "no Leitstand instance was probing".into() };
            if let Err(e) = app.store.record_probe_transition(&probe, &gap).await {
                tracing::error!(probe, error = %e, "cannot record the unknown period");
            }
        }
    }
}

/// After a graceful stop: "unknown" from now on for every probe, and the
/// lease released so another replica takes over at once.
pub async fn stop_recording(app: &App, holder: &str) {
    // Only the replica that probes speaks for the probes.
    let lease = match app.store.lease(LEASE).await {
        Ok(Some(lease)) if lease.holder == holder => lease,
        _ => return,
    };
    let now = app.clock.now();
    for p in &app.monitoring.probes {
        let (known, unsaved) = {
            let mut live = p.live.lock().unwrap_or_else(|e| e.into_inner());
            (live.state.up().is_some(), std::mem::take(&mut live.unsaved))
        };
        let stop = ProbeTransition { at: now, up: None, message: "Leitstand stopped".into() };
        for t in unsaved.iter().chain(known.then_some(&stop)) {
            if let Err(e) = app.store.record_probe_transition(&p.def.id, t).await {
                tracing::error!(probe = %p.def.id, error = %e, "cannot record a state change at the stop");
            }
        }
    }
    let _ = app.store.release_lease(&lease).await;
}

async fn run_jobs(app: &App, holder: &str, checker: &Checker, stop: &mut watch::Receiver<bool>) {
    let m = app.monitoring.clone();
    let (jobs, mut schedule) = jobs(&m);
    let base = tokio::time::Instant::now();
    let plan = EvaluationPlan::new(&m, &jobs);
    let mut evaluations = Schedule::default();
    for &interval in &plan.groups {
        evaluations.add(plan.first_evaluation(interval), interval);
    }
    let mut reconciled = std::collections::HashSet::new();
    let permits = Arc::new(Semaphore::new(m.settings.max_concurrent.max(1)));
    let renew_every = ms(LEASE_TTL / 3);
    let mut renew_at = renew_every;
    let mut renewed_at = 0;
    loop {
        let next = [schedule.next_due(), evaluations.next_due(), Some(renew_at)].into_iter().flatten().min();
        let next = next.unwrap_or(renew_at);
        let wake = base + Duration::from_millis(u64::try_from(next).unwrap_or(0));
        tokio::select! {
            _ = stop.changed() => return,
            () = tokio::time::sleep_until(wake) => {}
        }
        let now_ms = ms(base.elapsed());
        for job in schedule.take_due(now_ms).into_iter().map(|i| jobs[i].0) {
            let (app, checker, permits) = (app.clone(), checker.clone(), permits.clone());
            tokio::spawn(async move {
                let Ok(_permit) = permits.acquire_owned().await else { return };
                match job {
                    Job::Probe(i) => run_probe(&app, i, &checker).await,
                    Job::Target(i) => run_scrape(&app, i, &checker).await,
                    Job::Host => run_host(&app).await,
                    Job::Prune => app.monitoring.prune(app.clock.now()),
                }
            });
        }
        for group in evaluations.take_due(now_ms) {
            let interval = plan.groups[group];
            let first = plan.reconciles(interval, now_ms, &mut reconciled);
            let app = app.clone();
            tokio::spawn(async move {
                let (monitoring, at) = (app.monitoring.clone(), app.clock.now());
                let _ = tokio::task::spawn_blocking(move || evaluate_group(&monitoring, interval, at)).await;
                if first {
                    reconcile_group(&app, interval).await;
                }
            });
        }
        if now_ms >= renew_at {
            renew_at = now_ms + renew_every;
            match app.store.try_acquire_lease(LEASE, holder, app.clock.now(), LEASE_TTL).await {
                Ok(Some(_)) => renewed_at = now_ms,
                Ok(None) => {
                    tracing::warn!("monitoring lease taken over by another replica; this one stops probing");
                    return;
                }
                // Before the lease can lapse, stop: another replica may take it.
                Err(e) if now_ms - renewed_at >= ms(LEASE_TTL) - renew_every => {
                    tracing::error!(error = %e, "monitoring lease could not be renewed in time; this one stops probing");
                    return;
                }
                Err(e) => tracing::warn!(error = %e, "monitoring lease not renewed; retrying"),
            }
        }
    }
}

/// When the rules are evaluated after the monitoring runtime starts, in
/// milliseconds from its start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluationPlan {
    /// The rules' evaluation intervals, each once, shortest first.
    pub groups: Vec<i64>,
    /// By when every probe and scrape has had its first run (its offset
    /// plus its timeout, and half a second).
    pub first_round: i64,
}

impl EvaluationPlan {
    /// The plan for `m` with its `jobs`.
    pub fn new(m: &Monitoring, jobs: &[(Job, Duration)]) -> Self {
        let first_round = jobs
            .iter()
            .filter_map(|&(job, every)| {
                let timeout = match job {
                    Job::Probe(i) => m.probes[i].def.timeout,
                    Job::Target(i) => m.targets[i].def.timeout,
                    Job::Host | Job::Prune => return None,
                };
                Some(offset(&job.name(m), ms(every)) + ms(timeout))
            })
            .max()
            .unwrap_or(0)
            + 500;
        let mut groups: Vec<i64> = m.rules.iter().map(|r| r.rule.interval_ms).collect();
        groups.sort_unstable();
        groups.dedup();
        Self { groups, first_round }
    }

    /// A group is first evaluated once every probe and scrape has run, or
    /// after one interval if that is sooner: a daily rule must not wait a
    /// day for its first verdict.
    pub fn first_evaluation(&self, interval: i64) -> i64 {
        self.first_round.min(interval)
    }

    /// Whether the evaluation of group `interval` at `at_ms` also settles
    /// what an earlier term (this process before a restart, or another
    /// replica) left firing ([`reconcile_group`]): the group's first
    /// evaluation once every probe and scrape has run — not before, when a
    /// probe without a result yet would look as if its alert had ended.
    /// `done` holds the groups already reconciled in this term.
    pub fn reconciles(&self, interval: i64, at_ms: i64, done: &mut std::collections::HashSet<i64>) -> bool {
        at_ms >= self.first_round && done.insert(interval)
    }
}

/// Evaluates the rules of one interval group at `at`, publishes the
/// changes (to subscribers and the recent list) and returns them.
pub fn evaluate_group(m: &Monitoring, interval_ms: i64, at: Timestamp) -> Vec<AlertEvent> {
    let at_ms = at.as_millisecond();
    let mut events = Vec::new();
    for entry in m.rules.iter().filter(|r| r.rule.interval_ms == interval_ms) {
        let mut state = entry.state.lock().unwrap_or_else(|e| e.into_inner());
        // The store is locked per rule, so probes and pages wait for one
        // rule at most, not for the whole group.
        let series = m.series.lock().unwrap_or_else(|e| e.into_inner());
        let evaluated = state.evaluate(&entry.rule, &series, at_ms);
        drop(series);
        let transitions = match evaluated {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(rule = %entry.rule.name, error = %e, "rule evaluation failed");
                continue;
            }
        };
        for t in transitions {
            let (alert, name, when) = match t {
                Transition::Pending(a) => (a, "pending", at_ms),
                Transition::Firing(a) => (a, "firing", at_ms),
                Transition::Resolved(a, when) => (a, "resolved", when),
            };
            events.push(AlertEvent {
                rule: entry.rule.name.clone(),
                state: name,
                annotations: entry
                    .rule
                    .annotations
                    .iter()
                    .map(|(k, v)| (k.clone(), expand_template(v, &alert.labels, alert.value)))
                    .collect(),
                labels: alert.labels,
                value: alert.value,
                active_at: ts(alert.active_at_ms),
                at: ts(when),
            });
        }
    }
    for event in &events {
        m.publish(event.clone());
    }
    events
}

/// Resolves what the evaluator does not hold: the open alerts of this
/// deployment's own rules in the interval group (source `rule`, firing in
/// the store) whose label set no rule of the group has active — pending or
/// firing — right after the group's first evaluation of a term. Rule states
/// live in memory, so after a restart or a change of replica a condition
/// that ended meanwhile sends no transition of its own; without this its
/// alert would stay open, and the next outage would join it with an old
/// escalation clock. Publishes a resolution for each, as the evaluator would
/// have; returns them.
pub async fn reconcile_group(app: &App, interval_ms: i64) -> Vec<AlertEvent> {
    use leitstand_alerting::labels::{LabelSet, fingerprint};
    use leitstand_store::AlertRepository;
    let m = &app.monitoring;
    let now = app.clock.now();
    let group: Vec<_> = m.rules.iter().filter(|r| r.rule.interval_ms == interval_ms).collect();
    let names: std::collections::HashSet<&str> = group.iter().map(|r| r.rule.name.as_str()).collect();
    let label_set = |labels: &[(String, String)]| -> LabelSet {
        labels.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    let active: std::collections::HashSet<String> = group
        .iter()
        .flat_map(|r| {
            let state = r.state.lock().unwrap_or_else(|e| e.into_inner());
            state.alerts.keys().map(|labels| fingerprint(&label_set(labels)).to_string()).collect::<Vec<_>>()
        })
        .collect();
    let open = match app.store.open_alerts(now).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the open alerts; stale rule alerts stay open until the next start");
            return Vec::new();
        }
    };
    // Alerts of rules that are no longer configured go with the first group.
    let first_group = m.rules.iter().map(|r| r.rule.interval_ms).min() == Some(interval_ms);
    let ours = |alertname: &str| {
        names.contains(alertname) || (first_group && !m.rules.iter().any(|r| r.rule.name == alertname))
    };
    let mut events = Vec::new();
    for row in open {
        if row.status != "firing" || row.source != "rule" || !ours(&row.alertname) {
            continue;
        }
        if active.contains(&row.fingerprint) {
            continue;
        }
        let pairs = |json: &str| -> Vec<(String, String)> {
            serde_json::from_str::<std::collections::BTreeMap<String, String>>(json)
                .map(|m| m.into_iter().collect())
                .unwrap_or_default()
        };
        let labels = normalise(pairs(&row.labels));
        tracing::info!(alertname = %row.alertname, alert = %row.id, "rule alert no longer holds after the start; resolved");
        events.push(AlertEvent {
            rule: row.alertname.clone(),
            state: "resolved",
            labels,
            annotations: pairs(&row.annotations),
            value: f64::NAN,
            active_at: row.starts_at,
            at: now,
        });
    }
    for event in &events {
        m.publish(event.clone());
    }
    events
}

/// One run of probe `i`: series, live state, history, audit.
pub async fn run_probe(app: &App, i: usize, checker: &Checker) {
    let m = &app.monitoring;
    let entry = &m.probes[i];
    if entry.running.swap(true, Ordering::AcqRel) {
        return; // the previous run has not finished (timeout longer than interval)
    }
    let started = app.clock.now();
    let run_id = format!("{}-{}", entry.def.id, started.as_millisecond());
    let outcome = checker.run(&entry.def.check, entry.def.timeout, &run_id, &started.to_string()).await;
    let at_ms = started.as_millisecond();
    m.counts[0].fetch_add(1, Ordering::Relaxed);
    {
        let base = super::probe_labels(&entry.def);
        // A check's result stands until the checks its retries allow have
        // had their turn: a daily certificate check says the state for a
        // day, not for the 5-minute lookback.
        let held = ms(entry.def.interval) * (i64::from(entry.def.retries) + 1) + ms(entry.def.timeout);
        let mut series = m.series.lock().unwrap_or_else(|e| e.into_inner());
        for (name, value) in outcome.samples() {
            let mut labels = base.clone();
            labels.push((NAME.to_string(), name.to_string()));
            if let Err(e) = series.append_held(normalise(labels), at_ms, value, held) {
                m.counts[2].fetch_add(1, Ordering::Relaxed);
                tracing::warn!(probe = %entry.def.id, metric = name, error = %e, "probe sample not stored");
            }
        }
    }
    let result = &outcome.result;
    let (change, unsaved) = {
        let mut live = entry.live.lock().unwrap_or_else(|e| e.into_inner());
        live.last = Some(LastRun {
            at: started,
            success: result.success(),
            duration: result.duration,
            status: result.status,
            message: result.message(),
        });
        if outcome.cert_not_after.is_some() {
            live.cert_not_after = outcome.cert_not_after;
            live.cert_subject = outcome.cert_subject.clone();
        }
        let change = live.state.record(result.success(), at_ms, entry.def.retries);
        if let Some(c) = change {
            live.since = Some(ts(c.at_ms));
            let message = if c.up { String::new() } else { result.message() };
            live.unsaved.push(ProbeTransition { at: ts(c.at_ms), up: Some(c.up), message });
        }
        (change, std::mem::take(&mut live.unsaved))
    };
    let mut failed = Vec::new();
    for t in unsaved {
        if let Err(e) = app.store.record_probe_transition(&entry.def.id, &t).await {
            tracing::error!(probe = %entry.def.id, error = %e, "probe state change not stored; retried at the next run");
            failed.push(t);
        }
    }
    if !failed.is_empty() {
        let mut live = entry.live.lock().unwrap_or_else(|e| e.into_inner());
        failed.append(&mut live.unsaved);
        live.unsaved = failed;
    }
    if let Some(c) = change {
        let action = if c.up { "probe.up" } else { "probe.down" };
        let event = SubmittedEvent {
            time: Some(ts(c.at_ms).to_string()),
            actor: "system".into(),
            action: action.into(),
            tenant: entry.def.tenant.as_ref().map(|t| t.to_string()),
            object: Some(format!("probe:{}", entry.def.id)),
            outcome: leitstand_core::Outcome::Success.to_string(),
            retention: Some("performance".into()),
            details: Some(
                json!({
                    "kind": entry.def.check.kind().name(),
                    "target": entry.def.check.target(),
                    "service": entry.def.service,
                    "message": if c.up { String::new() } else { result.message() },
                })
                .as_object()
                .cloned()
                .unwrap_or_default(),
            ),
            ..Default::default()
        };
        if let Err(e) = app.audit().submit(vec![event]).await {
            tracing::error!(probe = %entry.def.id, error = %e, "probe state change not in the audit log");
        }
        tracing::info!(probe = %entry.def.id, up = c.up, message = %result.message(), "probe state changed");
    }
    entry.running.store(false, Ordering::Release);
}

/// One scrape of target `i`.
pub async fn run_scrape(app: &App, i: usize, checker: &Checker) {
    let m = &app.monitoring;
    let entry = &m.targets[i];
    if entry.running.swap(true, Ordering::AcqRel) {
        return;
    }
    let started = app.clock.now();
    let scrape = leitstand_probes::scrape::scrape(checker.clients(), &entry.target, &m.settings.scrape_limits).await;
    let refused = {
        let mut series = m.series.lock().unwrap_or_else(|e| e.into_inner());
        let held = ms(entry.def.interval) + ms(entry.def.timeout);
        leitstand_probes::scrape::store(&mut series, &entry.target, &scrape, started.as_millisecond(), held)
    };
    m.counts[1].fetch_add(1, Ordering::Relaxed);
    m.counts[2].fetch_add(refused.len() as u64, Ordering::Relaxed);
    let error = scrape.error.clone().or_else(|| {
        refused.first().map(|first| format!("{} samples not stored, the first because: {first}", refused.len()))
    });
    if let Some(e) = &error {
        tracing::debug!(target = %entry.def.id, error = %e, "scrape failed");
    }
    *entry.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(LastScrape {
        at: started,
        up: scrape.up,
        duration: scrape.duration,
        samples: scrape.samples.len(),
        error,
    });
    entry.running.store(false, Ordering::Release);
}

/// One collection of this host's metrics.
pub async fn run_host(app: &App) {
    let m = app.monitoring.clone();
    let at = app.clock.now();
    let dir = m.settings.data_dir.clone();
    let Ok((samples, errors)) = tokio::task::spawn_blocking(move || leitstand_monitor::host::collect(&dir)).await
    else {
        return;
    };
    {
        let mut series = m.series.lock().unwrap_or_else(|e| e.into_inner());
        for s in samples {
            let mut labels = s.labels;
            labels.push(("job".into(), "leitstand-host".into()));
            labels.push(("instance".into(), m.settings.host_instance.clone()));
            let _ = series.append(normalise(labels), at.as_millisecond(), s.value);
        }
    }
    let failed: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.source_name, e.message)).collect();
    *m.host_last.lock().unwrap_or_else(|e| e.into_inner()) = Some((at, failed));
}
