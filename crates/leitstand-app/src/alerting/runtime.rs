//! The alerting loops of one replica: whoever holds the `alerting` lease
//! runs the engine (intake, timers, re-examination after silence changes,
//! the inbox other replicas write to) and the dispatcher; the others only
//! forward what they receive into the inbox. The engine's writes are
//! fenced by the lease's token, so a replica that lost the lease without
//! noticing cannot write stale state.

use std::sync::Arc;
use std::time::Duration;

use leitstand_alerting::LabelSet;
use leitstand_alerting::wire::IncomingAlert;
use leitstand_store::{AlertRepository, Fence, IntakeProgress, LeaseRepository};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use super::engine::{Action, Engine};
use super::intake::IntakeLog;
use super::{Batch, Observation, Source};
use crate::{App, AppError, Result};

/// The lease that decides which replica runs the engine.
pub const LEASE: &str = "alerting";
/// How long a holder's lease lasts without renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(30);
/// Most observations the engine takes into one transaction.
const MAX_BATCH: usize = 20_000;

/// What goes into the engine.
pub(crate) enum Command {
    /// Reports from sources.
    Observe(Batch),
    /// A person's action, answered with the outcome.
    Act { alert: Uuid, actor: String, action: Action, done: oneshot::Sender<Result<()>> },
}

/// A running alerting loop.
pub struct Runtime {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Runtime {
    /// Stops the loops after the batch in progress.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Starts the loops as replica `holder`.
pub fn spawn(app: App, holder: String) -> Runtime {
    let (stop, stopped) = watch::channel(false);
    let pump = app.alerting.log.clone().map(|log| tokio::spawn(pump(app.clone(), log, stopped.clone())));
    let task = tokio::spawn(async move {
        run(app, holder, stopped).await;
        if let Some(pump) = pump {
            let _ = pump.await;
        }
    });
    Runtime { stop, task }
}

/// The inbox's stored form of an observation.
#[derive(Serialize, Deserialize)]
struct StoredObservation {
    source: String,
    labels: LabelSet,
    annotations: LabelSet,
    starts_at: Option<jiff::Timestamp>,
    ends_at: Option<jiff::Timestamp>,
    generator_url: Option<String>,
    resolved: bool,
}

/// An inbox entry.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum InboxEntry {
    Observe(Vec<StoredObservation>),
    Act { alert: Uuid, actor: String, action: String, note: Option<String> },
}

/// Hands observations to the engine; returns once they are durable: in
/// this replica's intake log (see [`super::intake`]), or without one in
/// the engine's state (or the inbox when another replica runs it).
pub async fn submit(app: &App, observations: Vec<Observation>) -> Result<()> {
    if observations.is_empty() {
        return Ok(());
    }
    app.alerting.counts.received.fetch_add(observations.len() as u64, std::sync::atomic::Ordering::Relaxed);
    if let Some(log) = &app.alerting.log {
        let record = serde_json::to_vec(&InboxEntry::Observe(stored(observations))).unwrap_or_default();
        log.append(record).await?;
        return Ok(());
    }
    deliver(app, observations, None).await
}

/// Stores observations: applied by the engine when this replica runs it,
/// else parked in the inbox; with `intake`, the log position they end.
async fn deliver(app: &App, observations: Vec<Observation>, intake: Option<IntakeProgress>) -> Result<()> {
    let engine = app.alerting.intake.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if let Some(engine) = engine {
        let (done, wait) = oneshot::channel();
        let batch = Batch { observations, done: Some(done), intake };
        match engine.send(Command::Observe(batch)).await {
            Ok(()) => {
                return wait.await.map_err(|_| {
                    AppError::invalid(
                        "alerts",
                        "the alert engine stopped; send again",
                        "Die Alarmverarbeitung wurde beendet; bitte erneut senden",
                    )
                });
            }
            Err(mpsc::error::SendError(Command::Observe(batch))) => {
                return to_inbox_observe(app, batch.observations, batch.intake.as_ref()).await;
            }
            Err(_) => unreachable!("only observations are sent here"),
        }
    }
    to_inbox_observe(app, observations, intake.as_ref()).await
}

fn stored(observations: Vec<Observation>) -> Vec<StoredObservation> {
    observations
        .into_iter()
        .map(|o| StoredObservation {
            source: o.source.as_str().into(),
            labels: o.alert.labels,
            annotations: o.alert.annotations,
            starts_at: o.alert.starts_at,
            ends_at: o.alert.ends_at,
            generator_url: o.alert.generator_url,
            resolved: o.resolved,
        })
        .collect()
}

fn from_stored(stored: Vec<StoredObservation>) -> impl Iterator<Item = Observation> {
    stored.into_iter().map(|s| Observation {
        source: Source::parse(&s.source),
        alert: IncomingAlert {
            labels: s.labels,
            annotations: s.annotations,
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            generator_url: s.generator_url,
        },
        resolved: s.resolved,
    })
}

async fn to_inbox_observe(app: &App, observations: Vec<Observation>, intake: Option<&IntakeProgress>) -> Result<()> {
    let body = serde_json::to_string(&InboxEntry::Observe(stored(observations))).unwrap_or_default();
    app.store.push_alert_inbox(app.clock.now(), "observe", &body, intake).await?;
    Ok(())
}

/// Most bytes of intake records the engine takes into one batch (each
/// record is one request's alerts; 1 MiB is about 4,000 of Prometheus's).
/// Larger batches saved little CPU and held their rows, messages and audit
/// events in memory at once.
const PUMP_BYTES: usize = 1 << 20;
/// Most intake records per batch.
const PUMP_RECORDS: usize = 256;

/// Feeds this replica's intake log to the engine — or, while another
/// replica runs it, to the shared inbox — in order, each record once: the
/// position goes into the same transaction as the records' changes, and
/// after a failure the log is read again from the first record not stored.
async fn pump(app: App, log: Arc<IntakeLog>, mut stop: watch::Receiver<bool>) {
    let mut durable = log.durable();
    let mut tail = None;
    loop {
        if *stop.borrow() {
            return;
        }
        let mut reader = match tail.take() {
            Some(reader) => reader,
            None => match app.store.alert_intake_progress(log.journal()).await {
                Ok(applied) => {
                    let reader = log.tail(applied);
                    let below = *durable.borrow();
                    if reader.position() < below {
                        tracing::info!(
                            from = reader.position(),
                            to = below - 1,
                            "alert intake: taking the records not yet applied"
                        );
                    }
                    reader
                }
                Err(e) => {
                    tracing::error!(error = %e, "alert intake progress unreadable; retrying");
                    if pause(&mut stop, Duration::from_secs(1)).await {
                        return;
                    }
                    continue;
                }
            },
        };
        let below = *durable.borrow_and_update();
        let backlog = below.saturating_sub(reader.position());
        app.alerting.counts.intake_backlog.store(backlog, std::sync::atomic::Ordering::Relaxed);
        if reader.position() >= below {
            tail = Some(reader);
            tokio::select! {
                changed = durable.changed() => if changed.is_err() { return },
                _ = stop.changed() => {}
            }
            continue;
        }
        let (reader, read) = tokio::task::spawn_blocking(move || {
            let read = reader.read(below, PUMP_RECORDS, PUMP_BYTES);
            (reader, read)
        })
        .await
        .expect("the intake reader does not panic");
        let records = match read {
            Ok(records) => records,
            Err(e) => {
                tracing::error!(error = %e, "alert intake log unreadable; the alerts in it wait");
                if pause(&mut stop, Duration::from_secs(5)).await {
                    return;
                }
                continue; // read again from the stored position
            }
        };
        let Some(last) = records.last().map(|(seq, _)| *seq) else {
            tail = Some(reader);
            continue;
        };
        let mut observations = Vec::new();
        for (seq, body) in &records {
            match serde_json::from_slice::<InboxEntry>(body) {
                Ok(InboxEntry::Observe(s)) => observations.extend(from_stored(s)),
                Ok(InboxEntry::Act { .. }) | Err(_) => {
                    tracing::error!(seq, "alert intake record unreadable; skipped");
                }
            }
        }
        drop(records);
        let progress = IntakeProgress { journal: log.journal().to_string(), applied: last as i64 };
        // Until the engine runs here, or is known to run elsewhere, wait:
        // parking in the inbox while this replica is about to take the
        // engine would apply these after newer records.
        while app.alerting.intake.lock().unwrap_or_else(|e| e.into_inner()).is_none()
            && !app.alerting.engine_elsewhere.load(std::sync::atomic::Ordering::Relaxed)
        {
            if pause(&mut stop, Duration::from_millis(50)).await {
                return;
            }
        }
        match deliver(&app, observations, Some(progress)).await {
            Ok(()) => {
                tail = Some(reader);
                log.forget_through(last).await;
            }
            Err(e) => {
                tracing::error!(error = %e, "alert intake records not stored; retrying");
                if pause(&mut stop, Duration::from_secs(1)).await {
                    return;
                }
            }
        }
    }
}

/// Waits `d`; whether the stop came meanwhile.
async fn pause(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}

/// Hands a person's action to the engine. `Ok(true)`: done; `Ok(false)`:
/// queued for the replica that runs the engine.
pub async fn act(app: &App, alert: Uuid, actor: &str, action: Action) -> Result<bool> {
    let intake = app.alerting.intake.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if let Some(intake) = intake {
        let (done, wait) = oneshot::channel();
        let cmd = Command::Act { alert, actor: actor.to_string(), action: action.clone(), done };
        if intake.send(cmd).await.is_ok() {
            return wait
                .await
                .map_err(|_| {
                    AppError::invalid(
                        "alert",
                        "the alert engine stopped; try again",
                        "Die Alarmverarbeitung wurde beendet; bitte erneut versuchen",
                    )
                })?
                .map(|()| true);
        }
    }
    let (name, note) = match action {
        Action::Ack => ("ack", None),
        Action::Unack => ("unack", None),
        Action::Resolve => ("resolve", None),
        Action::Note(text) => ("note", Some(text)),
    };
    let body = serde_json::to_string(&InboxEntry::Act { alert, actor: actor.to_string(), action: name.into(), note })
        .unwrap_or_default();
    app.store.push_alert_inbox(app.clock.now(), "act", &body, None).await?;
    Ok(false)
}

async fn run(app: App, holder: String, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        match app.store.try_acquire_lease(LEASE, &holder, app.clock.now(), LEASE_TTL).await {
            Ok(Some(lease)) => {
                app.alerting.engine_elsewhere.store(false, std::sync::atomic::Ordering::Relaxed);
                let fence = Fence { lease: LEASE.into(), holder: holder.clone(), token: lease.token };
                match Engine::load(app.clone(), Some(fence)).await {
                    Ok(engine) => {
                        term(&app, &holder, engine, &mut stop).await;
                        // Handed back, so the next holder (this server restarted,
                        // another replica) takes over now, not when the lease lapses.
                        let _ = app.store.release_lease(&lease).await;
                    }
                    Err(e) => tracing::error!(error = %e, "alert engine cannot load its state; retrying"),
                }
            }
            Ok(None) => app.alerting.engine_elsewhere.store(true, std::sync::atomic::Ordering::Relaxed),
            Err(e) => tracing::warn!(error = %e, "alerting lease unavailable; retrying"),
        }
        if *stop.borrow() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(LEASE_TTL / 3) => {}
            _ = stop.changed() => {}
        }
    }
}

/// One term as the lease holder.
async fn term(app: &App, holder: &str, mut engine: Engine, stop: &mut watch::Receiver<bool>) {
    let (tx, mut rx) = mpsc::channel::<Command>(1024);
    *app.alerting.intake.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
    app.alerting.set_active(true);
    tracing::info!(open_alerts = engine.len(), "alert engine started");
    let (dispatch_stop, dispatch_stopped) = watch::channel(false);
    let dispatcher = tokio::spawn(dispatch_loop(app.clone(), holder.to_string(), dispatch_stopped));
    let mut renew = tokio::time::interval(LEASE_TTL / 3);
    renew.tick().await;
    // What was parked before this term (by other replicas, or by this one
    // while a lease it held before a crash ran out) comes before anything
    // sent to the engine from now on.
    let mut inbox_after = 0i64;
    loop {
        match drain_inbox(app, &mut engine, inbox_after).await {
            Ok(last) if last > inbox_after => inbox_after = last,
            Ok(_) => break,
            Err(e) => {
                tracing::error!(error = %e, "alert inbox not read");
                break;
            }
        }
    }
    let mut inbox = tokio::time::interval(Duration::from_secs(1));
    loop {
        let due = engine.next_due().map(|t| {
            let wait = t.as_millisecond().saturating_sub(app.clock.now().as_millisecond()).max(0);
            Duration::from_millis(u64::try_from(wait).unwrap_or(0).min(60_000))
        });
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            _ = renew.tick() => {
                match app.store.try_acquire_lease(LEASE, holder, app.clock.now(), LEASE_TTL).await {
                    Ok(Some(_)) => {}
                    Ok(None) => { tracing::warn!("alerting lease lost to another replica"); break; }
                    Err(e) => { tracing::error!(error = %e, "alerting lease not renewed; stopping the engine"); break; }
                }
            }
            cmd = rx.recv() => {
                let Some(cmd) = cmd else { break };
                if let Err(e) = handle(&mut engine, cmd, &mut rx).await {
                    tracing::error!(error = %e, "alert batch not stored");
                    if matches!(e, AppError::Internal(leitstand_store::StoreError::LeaseLost { .. })) { break; }
                }
            }
            _ = tokio::time::sleep(due.unwrap_or(Duration::from_secs(60))) => {
                if let Err(e) = engine.tick().await { tracing::error!(error = %e, "alert timers not stored"); }
            }
            _ = app.alerting.wake_engine.notified() => {
                if let Err(e) = engine.reexamine().await { tracing::error!(error = %e, "alerts not re-examined"); }
            }
            _ = inbox.tick() => {
                match drain_inbox(app, &mut engine, inbox_after).await {
                    Ok(last) => inbox_after = last,
                    Err(e) => tracing::error!(error = %e, "alert inbox not read"),
                }
            }
        }
    }
    *app.alerting.intake.lock().unwrap_or_else(|e| e.into_inner()) = None;
    // Whatever was queued but not taken goes to the inbox for the next term.
    rx.close();
    while let Ok(cmd) = rx.try_recv() {
        match cmd {
            Command::Observe(batch) => {
                // Answered only once parked: an unanswered batch is sent again.
                if to_inbox_observe(app, batch.observations, batch.intake.as_ref()).await.is_ok()
                    && let Some(done) = batch.done
                {
                    let _ = done.send(());
                }
            }
            Command::Act { alert, actor, action, done } => {
                let _ = done.send(act(app, alert, &actor, action).await.map(|_| ()));
            }
        }
    }
    app.alerting.set_active(false);
    let _ = dispatch_stop.send(true);
    let _ = dispatcher.await;
    tracing::info!("alert engine stopped");
}

/// Takes `first` and whatever else is queued (one group commit).
async fn handle(engine: &mut Engine, first: Command, rx: &mut mpsc::Receiver<Command>) -> Result<()> {
    let mut observations = Vec::new();
    let mut waiting = Vec::new();
    let mut intake = None;
    let mut next = Some(first);
    while let Some(cmd) = next.take() {
        match cmd {
            Command::Observe(batch) => {
                observations.extend(batch.observations);
                waiting.extend(batch.done);
                intake = batch.intake.or(intake);
            }
            Command::Act { alert, actor, action, done } => {
                // Actions run in order with the reports before them.
                if !observations.is_empty() || intake.is_some() {
                    engine.observe_logged(std::mem::take(&mut observations), intake.take()).await?;
                    for w in waiting.drain(..) {
                        let _ = w.send(());
                    }
                }
                let _ = done.send(engine.act(alert, &actor, action).await);
            }
        }
        if observations.len() < MAX_BATCH {
            next = rx.try_recv().ok();
        }
    }
    if !observations.is_empty() || intake.is_some() {
        engine.observe_logged(observations, intake).await?;
    }
    for w in waiting {
        let _ = w.send(());
    }
    Ok(())
}

async fn drain_inbox(app: &App, engine: &mut Engine, after: i64) -> Result<i64> {
    let rows = app.store.alert_inbox(after, 100).await?;
    let mut last = after;
    for row in rows {
        last = row.id;
        match serde_json::from_str::<InboxEntry>(&row.body) {
            Ok(InboxEntry::Observe(stored)) => engine.observe(from_stored(stored).collect()).await?,
            Ok(InboxEntry::Act { alert, actor, action, note }) => {
                let action = match (action.as_str(), note) {
                    ("ack", _) => Action::Ack,
                    ("unack", _) => Action::Unack,
                    ("resolve", _) => Action::Resolve,
                    (_, Some(text)) => Action::Note(text),
                    _ => continue,
                };
                if let Err(e) = engine.act(alert, &actor, action).await {
                    tracing::warn!(%alert, error = %e, "queued alert action not applicable");
                }
            }
            Err(e) => tracing::error!(id = row.id, error = %e, "alert inbox entry unreadable; skipped"),
        }
    }
    if last > after {
        let done = leitstand_store::AlertChanges { inbox_done: Some(last), ..Default::default() };
        app.store.apply_alert_changes(None, app.clock.now(), &done).await?;
    }
    Ok(last)
}

async fn dispatch_loop(app: App, holder: String, mut stop: watch::Receiver<bool>) {
    loop {
        let handled = match super::dispatch::dispatch_once(&app, &holder).await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "notifications not dispatched");
                0
            }
        };
        if handled > 0 {
            continue; // more may be due
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = app.alerting.wake_dispatch.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// What the engine takes of a change of one of the own rules' alerts:
/// firing and resolved (pending is nobody's business yet).
pub fn rule_observation(e: crate::monitoring::AlertEvent, public_url: &str) -> Option<Observation> {
    (e.state != "pending").then(|| Observation {
        source: Source::Rule,
        resolved: e.state == "resolved",
        alert: IncomingAlert {
            labels: e.labels.into_iter().filter(|(_, v)| !v.is_empty()).collect(),
            annotations: e.annotations.into_iter().collect(),
            starts_at: Some(e.active_at),
            ends_at: (e.state == "resolved").then_some(e.at),
            generator_url: Some(format!("{public_url}/rules")),
        },
    })
}

/// Most rule alert changes handed to the intake in one record.
const RULE_BATCH: usize = 1000;

/// The task that hands the own rules' alert changes to the intake.
pub struct RuleForwarder {
    task: tokio::task::JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl RuleForwarder {
    /// Hands over what is still waiting (monitoring has stopped) and ends;
    /// gives up after `within`.
    pub async fn finish(self, within: Duration) {
        let _ = self.stop.send(true);
        let mut task = self.task;
        if tokio::time::timeout(within, &mut task).await.is_err() {
            tracing::error!("rule alert changes still waiting at the stop; the next start reconciles them");
            task.abort();
        }
    }
}

/// Feeds the alerts of Leitstand's own rules (firing, resolved) into the
/// engine's intake as they change, in order, through the same durable path
/// as alerts from outside. Nothing is dropped: while the intake refuses
/// (a full disk, an engine that stopped), the changes wait and are offered
/// again. `None` when another consumer took the feed.
pub fn forward_rule_alerts(app: App) -> Option<RuleForwarder> {
    let mut feed = app.monitoring.take_feed()?;
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        let mut pending: Vec<Observation> = Vec::new();
        let mut backoff = Duration::from_millis(100);
        loop {
            if *stopped.borrow() {
                // Monitoring has stopped: what is left goes in once more.
                pending.extend(
                    feed.waiting(usize::MAX).into_iter().filter_map(|e| rule_observation(e, &app.alerting.public_url)),
                );
                if let Err(e) = submit(&app, pending).await {
                    tracing::error!(error = %e, "rule alerts not taken by the intake at the stop");
                }
                return;
            }
            if pending.is_empty() {
                tokio::select! {
                    first = feed.recv() => match first {
                        Some(first) => pending.extend(rule_observation(first, &app.alerting.public_url)),
                        None => return,
                    },
                    _ = stopped.changed() => continue,
                }
            }
            let room = RULE_BATCH.saturating_sub(pending.len());
            pending
                .extend(feed.waiting(room).into_iter().filter_map(|e| rule_observation(e, &app.alerting.public_url)));
            match submit(&app, pending.clone()).await {
                Ok(()) => {
                    pending.clear();
                    backoff = Duration::from_millis(100);
                }
                Err(e) => {
                    tracing::error!(error = %e, waiting = pending.len(), "rule alerts not taken by the intake; offered again");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        _ = stopped.changed() => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    });
    Some(RuleForwarder { task, stop })
}
