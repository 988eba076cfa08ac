//! The one path by which Leitstand records what happened — its own state
//! changes (logins, role and tenant changes, …) and events that portals
//! submit — into the tamper-evident audit log. Personal values become
//! pseudonyms here, before anything is written.
//!
//! A server holds the log itself ([`AuditSink::Log`]) and appends directly:
//! the call returns once the event is durable. A command-line invocation
//! while the server runs cannot open the log (one writer at a time) and
//! parks its already pseudonymised events in the database outbox
//! ([`AuditSink::Outbox`]); the server appends them within seconds.
//!
//! Background work of the log lives here too: the query index (a projection
//! of the journal into the database), the outbox relay, retention, and the
//! periodic self-verification.

mod public;
pub mod siem;
pub mod witnessing;

pub use leitstand_core::Outcome;
pub use leitstand_store::{AuditQuery, IndexedEvent};
pub use public::{AuditFigures, AuditLogState, witness_server};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use leitstand_audit::journal::JournalTail;
use leitstand_audit::ledger::Ledger;
use leitstand_audit::verify::{Report, RetentionCheck, verify_dir};
use leitstand_core::calendar::WorkingCalendar;
use leitstand_core::policy::Retention;
use leitstand_ledger::entry::RetentionClass;
use leitstand_ledger::event::{EventRules, PreparedEvent, StoredEvent, SubmittedEvent, prepare_batch};
use leitstand_ledger::pseudonym::Pseudonymiser;
use leitstand_store::{AuditLogRepository, AuditRepository, TenantRepository};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{App, AppError, Result};

/// Name of the query index's cursor.
pub const INDEX_CURSOR: &str = "index";

/// The running audit log of a server.
pub struct AuditLog {
    /// The log.
    pub ledger: Ledger,
    /// Turns personal values into pseudonyms.
    pub pseudonymiser: Pseudonymiser,
    /// Event rules.
    pub rules: EventRules,
    /// Retention classes of the policy.
    pub retention: Retention,
    /// The working-day calendar retention periods in working days and
    /// calendar months are counted in (the policy's `calendar`).
    pub calendar: WorkingCalendar,
    /// Seals secrets stored in the database.
    pub sealer: crate::sealing::Sealer,
    /// Findings of the last self-verification (0 = the log verified).
    pub verify_findings: AtomicU64,
    /// Completed self-verifications.
    pub verify_runs: AtomicU64,
    /// Anyone may read the public log (`audit.public`).
    pub public: bool,
    /// Witnesses that cosign the log's checkpoints.
    pub witnesses: Vec<witnessing::WitnessState>,
    /// The SIEM forwarder's figures, once it runs.
    pub siem: std::sync::OnceLock<Arc<siem::SiemStats>>,
    indexed: AtomicU64,
    /// One indexer at a time, with where it stopped reading the journal.
    index_lock: tokio::sync::Mutex<Option<JournalTail>>,
}

impl AuditLog {
    /// A log handle for the server.
    pub fn new(
        ledger: Ledger,
        pseudonymiser: Pseudonymiser,
        rules: EventRules,
        retention: Retention,
        sealer: crate::sealing::Sealer,
    ) -> Self {
        Self {
            ledger,
            pseudonymiser,
            rules,
            retention,
            calendar: WorkingCalendar::germany(),
            public: true,
            sealer,
            verify_findings: AtomicU64::new(0),
            verify_runs: AtomicU64::new(0),
            witnesses: Vec::new(),
            siem: std::sync::OnceLock::new(),
            indexed: AtomicU64::new(0),
            index_lock: tokio::sync::Mutex::new(None),
        }
    }

    /// How far the query index has caught up.
    pub fn indexed(&self) -> u64 {
        self.indexed.load(Ordering::Relaxed)
    }
}

/// Where audit events go.
#[derive(Clone)]
pub enum AuditSink {
    /// Straight into the log (the server).
    Log(Arc<AuditLog>),
    /// Into the database outbox (a CLI command while the server runs).
    Outbox(Arc<OutboxKeys>),
}

/// What a command-line process needs of the keys while the server holds
/// the log.
pub struct OutboxKeys {
    pseudonymiser: Pseudonymiser,
    rules: EventRules,
    sealer: crate::sealing::Sealer,
}

/// Records audit events for one app.
pub struct Audit<'a> {
    app: &'a App,
}

/// Retention class of Leitstand's own events: sign-in and credentials are
/// security events, everything else is audit.
fn own_class(action: &str) -> &'static str {
    if action.starts_with("auth.") || action.starts_with("token.") || action.starts_with("totp.") {
        "security"
    } else {
        "audit"
    }
}

/// One of Leitstand's own events in the submitted form: `user:NAME token:ID`
/// becomes actor `NAME` (pseudonymised later) with `via` in the details.
pub(crate) fn own_event(
    actor: &str,
    action: &str,
    tenant: Option<String>,
    object: &str,
    outcome: Outcome,
    details: Value,
) -> SubmittedEvent {
    debug_assert!(
        leitstand_ledger::event::is_reserved_action(action),
        "Leitstand's own action {action:?} must lie in a reserved domain (leitstand_ledger::event::RESERVED_DOMAINS)"
    );
    let mut parts = actor.split(' ');
    let who = parts.next().unwrap_or("anonymous");
    let who = who.strip_prefix("user:").unwrap_or(who);
    let mut details = match details {
        Value::Object(map) => map,
        Value::Null => serde_json::Map::new(),
        other => serde_json::Map::from_iter([("value".to_string(), other)]),
    };
    let via: Vec<&str> = parts.collect();
    if !via.is_empty() {
        details.insert("via".into(), json!(via.join(" ").replace("via:", "")));
    }
    SubmittedEvent {
        actor: who.to_string(),
        action: action.to_string(),
        tenant,
        object: (!object.is_empty()).then(|| object.to_string()),
        outcome: outcome.to_string(),
        retention: Some(own_class(action).to_string()),
        details: Some(details),
        ..Default::default()
    }
}

impl<'a> Audit<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    /// Records that `actor` did `action` on `object` with `outcome`.
    /// `actor` is `user:NAME` (optionally followed by ` token:ID` or
    /// ` via:cli`), `system` or `anonymous`; the name becomes a pseudonym.
    pub async fn record(
        &self,
        actor: &str,
        action: &str,
        tenant: Option<Uuid>,
        object: &str,
        outcome: Outcome,
        details: Value,
    ) -> Result<()> {
        let tenant = match tenant {
            Some(id) => self.app.store.tenants(Some(&[id])).await?.first().map(|t| t.slug.as_str().to_string()),
            None => None,
        };
        self.submit(vec![own_event(actor, action, tenant, object, outcome, details)]).await.map(|_| ())
    }

    /// Checks, pseudonymises and appends a batch (all or nothing); returns
    /// the log index of each event once they are durable.
    pub async fn submit(&self, events: Vec<SubmittedEvent>) -> Result<Vec<u64>> {
        let now = self.app.clock.now();
        let (pseudonymiser, rules) = self.app.audit_sink.keys();
        let prepared = prepare_batch(events, now, rules, pseudonymiser).map_err(AppError::InvalidEvent)?;
        match &self.app.audit_sink {
            AuditSink::Log(log) => {
                let range = log.ledger.append(prepared).await.map_err(|e| AppError::AuditUnavailable(e.to_string()))?;
                Ok(range.collect())
            }
            AuditSink::Outbox(_) => {
                for p in prepared {
                    let text = String::from_utf8_lossy(&p.bytes).into_owned();
                    self.app.store.push_audit_outbox(p.class.as_str(), &text).await?;
                }
                Ok(Vec::new())
            }
        }
    }
}

fn to_indexed(record: &leitstand_audit::journal::Record) -> Option<IndexedEvent> {
    let event: StoredEvent = match serde_json::from_slice(&record.event) {
        Ok(event) => event,
        Err(e) => {
            tracing::error!(index = record.index, error = %e, "journalled event is not a stored event; not indexed");
            return None;
        }
    };
    Some(IndexedEvent {
        index: record.index,
        logged_at: Timestamp::from_microsecond(record.logged_at_us).ok()?,
        time: event.time,
        actor: event.actor,
        action: event.action,
        tenant: event.tenant,
        object: event.object,
        outcome: event.outcome,
        retention: event.retention,
        correlation_id: event.correlation_id,
        event: String::from_utf8_lossy(&record.event).into_owned(),
        salt: record.salt.to_vec(),
    })
}

/// Most events indexed per database transaction.
const INDEX_BATCH: usize = 2_000;

impl App {
    pub(crate) fn audit_log(&self) -> Option<&Arc<AuditLog>> {
        self.audit_sink.log()
    }

    /// Brings the query index up to what the log has acknowledged, if it
    /// is behind (no database round trip when it is not).
    pub async fn catch_up_audit_index(&self) -> Result<()> {
        if let Some(log) = self.audit_log()
            && log.indexed() < log.ledger.state().sequenced
        {
            self.index_audit_step().await?;
        }
        Ok(())
    }

    /// Copies journalled events into the query index up to what is durable;
    /// returns how many were added.
    pub async fn index_audit_step(&self) -> Result<u64> {
        let Some(log) = self.audit_log() else { return Ok(0) };
        let mut tail_slot = log.index_lock.lock().await;
        let cursor = self.store.audit_cursor(INDEX_CURSOR).await?;
        let target = log.ledger.state().sequenced;
        if cursor >= target {
            log.indexed.store(cursor, Ordering::Relaxed);
            return Ok(0);
        }
        let unavailable = |e: String| AppError::AuditUnavailable(e);
        // The tail remembers where the last step stopped reading, so each
        // step reads only what was appended since; it starts afresh when the
        // cursor moved without it (another indexer, a rebuilt index).
        let mut tail = match tail_slot.take() {
            Some(tail) if tail.position() == cursor => tail,
            _ => JournalTail::new(log.ledger.journal_dir(), cursor),
        };
        let mut added = 0;
        loop {
            let (back, batch) = tokio::task::spawn_blocking(move || {
                let batch = tail.read(target, INDEX_BATCH);
                (tail, batch)
            })
            .await
            .map_err(|e| unavailable(e.to_string()))?;
            let records = batch.map_err(|e| unavailable(e.to_string()))?;
            // Pruned stretches are skipped: the cursor moves past them.
            let next = back.position();
            tail = back;
            let rows: Vec<IndexedEvent> = records.iter().filter_map(to_indexed).collect();
            self.store.index_audit(&rows, next).await?;
            added += rows.len() as u64;
            log.indexed.store(next, Ordering::Relaxed);
            if next >= target {
                *tail_slot = Some(tail);
                return Ok(added);
            }
        }
    }

    /// Moves the events of the interim audit table (from before the log
    /// existed) into the log, pseudonymised and with their original time,
    /// and empties the table; returns how many moved.
    pub async fn migrate_interim_audit(&self) -> Result<usize> {
        let old = self.store.interim_audit_events().await?;
        if old.is_empty() {
            return Ok(0);
        }
        let slugs: std::collections::HashMap<Uuid, String> =
            self.store.tenants(None).await?.into_iter().map(|t| (t.id, t.slug.as_str().to_string())).collect();
        let events = old
            .into_iter()
            .map(|e| {
                let details = serde_json::from_str(&e.details).unwrap_or(Value::Null);
                let tenant = e.tenant_id.and_then(|id| slugs.get(&id).cloned());
                let outcome = e.outcome.parse::<Outcome>().map_err(|reason| {
                    AppError::invalid("outcome", reason.clone(), format!("Unbekanntes Ergebnis: {reason}"))
                })?;
                Ok(SubmittedEvent {
                    time: Some(e.at.to_string()),
                    ..own_event(&e.actor, &e.action, tenant, &e.object, outcome, details)
                })
            })
            .collect::<Result<Vec<SubmittedEvent>>>()?;
        for chunk in events.chunks(leitstand_ledger::event::MAX_BATCH) {
            self.audit().submit(chunk.to_vec()).await?;
        }
        self.store.clear_interim_audit().await?;
        Ok(events.len())
    }

    /// Appends events parked in the outbox by CLI commands.
    pub async fn relay_audit_outbox(&self) -> Result<u64> {
        let Some(log) = self.audit_log() else { return Ok(0) };
        let mut moved = 0;
        loop {
            let parked = self.store.audit_outbox(1000).await?;
            let Some(last) = parked.last().map(|p| p.0) else { return Ok(moved) };
            let mut prepared = Vec::with_capacity(parked.len());
            for (id, class, event) in parked {
                let parsed: Option<StoredEvent> = serde_json::from_str(&event).ok();
                match (RetentionClass::parse(&class), parsed) {
                    (Some(class), Some(event_value)) => {
                        prepared.push(PreparedEvent { class, event: event_value, bytes: event.into_bytes() })
                    }
                    _ => tracing::error!(outbox_id = id, "skipping an unreadable outbox event"),
                }
            }
            moved += prepared.len() as u64;
            log.ledger.append(prepared).await.map_err(|e| AppError::AuditUnavailable(e.to_string()))?;
            self.store.clear_audit_outbox(last).await?;
        }
    }

    /// Deletes expired events of every retention class from the journal and
    /// the index; the public log is untouched and keeps verifying.
    pub async fn apply_audit_retention(&self) -> Result<u64> {
        let Some(log) = self.audit_log() else { return Ok(0) };
        let now = self.clock.now();
        let check = Arc::new(RetentionCheck { policy: log.retention.clone(), calendar: log.calendar.clone(), now });
        let mut total = 0;
        for class in RetentionClass::ALL {
            let c = check.clone();
            let pruned = log
                .ledger
                .prune(class, move |day_end| c.expired(class, day_end))
                .await
                .map_err(|e| AppError::AuditUnavailable(e.to_string()))?;
            // Newest moment whose events have expired (retention is monotone).
            let (mut lo, mut hi) = (0i64, now.as_microsecond());
            if check.expired(class, lo) {
                while hi - lo > 1_000_000 {
                    let mid = lo + (hi - lo) / 2;
                    if check.expired(class, mid) { lo = mid } else { hi = mid }
                }
                let before = Timestamp::from_microsecond(lo).unwrap_or(Timestamp::UNIX_EPOCH);
                let rows = self.store.prune_audit_index(class.as_str(), before).await?;
                total += rows;
                if pruned.segments > 0 || rows > 0 {
                    tracing::info!(
                        class = class.as_str(),
                        segments = pruned.segments,
                        bytes = pruned.bytes,
                        rows,
                        "audit retention applied"
                    );
                }
            }
        }
        Ok(total)
    }

    /// Verifies the whole log (tiles, checkpoints ever published, every
    /// event against its entry); findings raise an audit event.
    pub async fn verify_audit_log(&self) -> Result<Report> {
        let Some(log) = self.audit_log().cloned() else {
            return Err(AppError::AuditUnavailable("this process does not hold the audit log".into()));
        };
        let dir = log.ledger.journal_dir().parent().map(std::path::Path::to_path_buf).unwrap_or_default();
        let verifier = log.ledger.verifier().clone();
        let check =
            RetentionCheck { policy: log.retention.clone(), calendar: log.calendar.clone(), now: self.clock.now() };
        let report = tokio::task::spawn_blocking(move || verify_dir(&dir, &verifier, Some(&check)))
            .await
            .map_err(|e| AppError::AuditUnavailable(e.to_string()))?
            .map_err(AppError::AuditUnavailable)?;
        log.verify_findings.store(report.findings.len() as u64, Ordering::Relaxed);
        log.verify_runs.fetch_add(1, Ordering::Relaxed);
        if !report.findings.is_empty() {
            tracing::error!(findings = report.findings.len(), first = %report.findings[0], "audit log verification failed");
            self.audit()
                .record(
                    "system",
                    "audit.verify",
                    None,
                    "audit-log",
                    Outcome::Failure,
                    json!({ "findings": report.findings.len(), "first": report.findings[0] }),
                )
                .await?;
        }
        Ok(report)
    }
}

/// Where and how to open the audit log.
#[derive(Debug, Clone)]
pub struct AuditLogSettings {
    /// Log directory.
    pub dir: std::path::PathBuf,
    /// Key directory.
    pub key_dir: std::path::PathBuf,
    /// The log's origin.
    pub origin: String,
    /// Shortest time between checkpoints.
    pub checkpoint_interval: Duration,
    /// Event rules.
    pub rules: EventRules,
    /// Retention classes.
    pub retention: Retention,
    /// The calendar retention is counted in.
    pub calendar: WorkingCalendar,
    /// Serve the public log without sign-in.
    pub public: bool,
    /// Witnesses to send checkpoints to.
    pub witnesses: Vec<witnessing::WitnessEndpoint>,
}

impl AuditLogSettings {
    /// Defaults below `data_dir` (for tests and first starts).
    pub fn in_data_dir(data_dir: &std::path::Path) -> Self {
        Self {
            dir: data_dir.join("audit"),
            key_dir: data_dir.join("keys"),
            origin: "localhost/leitstand-audit".into(),
            checkpoint_interval: Duration::from_millis(200),
            rules: EventRules::default(),
            retention: Retention::default(),
            calendar: WorkingCalendar::germany(),
            public: true,
            witnesses: Vec::new(),
        }
    }
}

/// Why the audit log cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum AuditOpenError {
    /// Keys unusable.
    #[error(transparent)]
    Keys(#[from] leitstand_audit::keys::KeyError),
    /// Log unusable.
    #[error(transparent)]
    Log(#[from] leitstand_audit::ledger::LedgerError),
}

impl AuditSink {
    /// Opens the log for this process. With `share`, a log held by another
    /// process (the running server) is not an error: events then go to the
    /// database outbox.
    pub fn open(
        settings: AuditLogSettings,
        clock: Arc<dyn leitstand_core::Clock>,
        share: bool,
    ) -> Result<Self, AuditOpenError> {
        // A command beside a server (`share`) uses the server's keys and
        // never makes new ones.
        let missing =
            if share { leitstand_audit::keys::Missing::Refuse } else { leitstand_audit::keys::Missing::Create };
        let keys = leitstand_audit::keys::load(&settings.key_dir, &settings.origin, missing)?;
        let sealer = crate::sealing::Sealer::new(&keys.sealing);
        let mut options = leitstand_audit::ledger::LedgerOptions::new(&settings.dir);
        options.checkpoint_interval = settings.checkpoint_interval;
        match Ledger::open(options, keys.signer, clock) {
            Ok(ledger) => {
                let mut log = AuditLog::new(ledger, keys.pseudonymiser, settings.rules, settings.retention, sealer);
                log.calendar = settings.calendar;
                log.public = settings.public;
                log.witnesses = settings.witnesses.into_iter().map(witnessing::WitnessState::new).collect();
                Ok(AuditSink::Log(Arc::new(log)))
            }
            Err(leitstand_audit::ledger::LedgerError::Locked(_)) if share => {
                Ok(AuditSink::Outbox(Arc::new(OutboxKeys {
                    pseudonymiser: keys.pseudonymiser,
                    rules: settings.rules,
                    sealer,
                })))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The keys and rules that turn personal values into pseudonyms.
    pub fn keys(&self) -> (&Pseudonymiser, &EventRules) {
        match self {
            AuditSink::Log(log) => (&log.pseudonymiser, &log.rules),
            AuditSink::Outbox(keys) => (&keys.pseudonymiser, &keys.rules),
        }
    }

    /// Seals and opens the secrets stored in the database.
    pub fn sealer(&self) -> &crate::sealing::Sealer {
        match self {
            AuditSink::Log(log) => &log.sealer,
            AuditSink::Outbox(keys) => &keys.sealer,
        }
    }

    /// The server's log, if this sink is one.
    pub fn log(&self) -> Option<&Arc<AuditLog>> {
        match self {
            AuditSink::Log(log) => Some(log),
            AuditSink::Outbox(_) => None,
        }
    }
}

/// One page of a search.
#[derive(Debug, Clone)]
pub struct AuditPage {
    /// Events, newest first.
    pub events: Vec<IndexedEvent>,
    /// Cursor of the next page, if there may be one.
    pub next: Option<u64>,
}

impl App {
    /// Accepts a batch of events submitted over the API: all or nothing,
    /// answered with their log indexes once durable. Tenants must exist and
    /// be visible to the caller. Each event records who submitted it, in
    /// the bytes the log commits to, and none may pass itself off as one of
    /// Leitstand's own (reserved action domains, the actor `system`).
    pub async fn ingest_audit(&self, principal: &crate::Principal, body: &[u8]) -> Result<Vec<u64>> {
        principal.require(leitstand_core::access::Action::WriteAudit)?;
        let mut events = leitstand_ledger::event::parse_batch(body).map_err(AppError::InvalidEvent)?;
        let submitter = principal.actor();
        let submitter = submitter.strip_prefix("user:").unwrap_or(&submitter);
        for (index, e) in events.iter_mut().enumerate() {
            leitstand_ledger::event::check_not_reserved(index, e).map_err(AppError::InvalidEvent)?;
            e.submitted_by = Some(submitter.to_string());
        }
        let known: std::collections::HashSet<String> = self.visible_slugs(principal).await?.into_iter().collect();
        for (index, e) in events.iter().enumerate() {
            if let Some(t) = &e.tenant
                && !known.contains(t)
            {
                return Err(AppError::InvalidEvent(leitstand_ledger::event::EventError {
                    index,
                    field: "tenant".into(),
                    message: format!("{t:?} is not a tenant you may write for"),
                }));
            }
        }
        self.audit().submit(events).await
    }

    /// Searches the audit trail. `actor` and `object` may name a user in
    /// clear: they are turned into pseudonyms for the search, never stored.
    /// The scope is the caller's: tenant-bound callers see their tenants only.
    pub async fn search_audit(&self, principal: &crate::Principal, mut query: AuditQuery) -> Result<AuditPage> {
        principal.require(leitstand_core::access::Action::ReadAudit)?;
        // A search shows everything acknowledged before it.
        self.catch_up_audit_index().await?;
        let (pseudonymiser, rules) = self.audit_sink.keys();
        query.actor = query.actor.map(|a| rules.actor(pseudonymiser, &a));
        query.object = query.object.map(|o| rules.object(pseudonymiser, &o));
        query.scope = match principal.tenant_filter() {
            None => None,
            Some(ids) => {
                Some(self.store.tenants(Some(ids)).await?.into_iter().map(|t| t.slug.as_str().to_string()).collect())
            }
        };
        query.limit = query.limit.clamp(1, 10_000);
        let events = self.store.query_audit(&query).await?;
        let next = (events.len() == query.limit as usize).then(|| events.last().map(|e| e.index)).flatten();
        Ok(AuditPage { events, next })
    }
}
