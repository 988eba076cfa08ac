//! The alert engine: one per deployment (the holder of the `alerting`
//! lease). It keeps every open alert's lifecycle state in memory — a map
//! by fingerprint, so deduplication is a lookup — and a min-heap of due
//! times, applies [`leitstand_alerting::lifecycle`] to each report, action
//! and due timer, and writes what changed as one transaction per batch:
//! alert rows (with their next due time: the persisted timer), history,
//! notification rows. Audit events follow once the batch is durable.
//!
//! Batches are group commits: whatever arrived while the previous batch was
//! being written goes into the next, so one fsync carries many alerts and
//! the ingest rate is bound by CPU, not by the disk.
//!
//! Labels are kept per alert (silences, inhibition and grouping match on
//! them); annotations only as the JSON text the row needs.

use leitstand_core::Outcome;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

use jiff::{SignedDuration, Timestamp};
use leitstand_alerting::group::{GroupBy, group_text};
use leitstand_alerting::inhibit::InhibitionIndex;
use leitstand_alerting::labels::{Fingerprint, LabelSet, Labels, PackedLabels, fingerprint};
use leitstand_alerting::lifecycle::{
    AlertState, Context, Effect, HistoryKind, Input, NotifyKind, Refused, Status, Suppression, base_level, continues,
};
use leitstand_alerting::link::{LinkAction, LinkClaims};
use leitstand_alerting::oncall::Override;
use leitstand_alerting::silence::{Silence, muting, next_change};
use leitstand_core::policy::{ChannelKind, Policy};
use leitstand_core::tenant::TenantSlug;
use leitstand_ledger::event::SubmittedEvent;
use leitstand_notify::{AlertSummary, Links, Message, MessageKind};
use leitstand_store::{
    AlertChanges, AlertRepository, AlertRow, Fence, HistoryRow, IntakeProgress, NotificationRow, TenantRepository,
};
use serde_json::json;
use uuid::Uuid;

use super::{Observation, Source, label};
use crate::{App, AppError, Result};

/// One open alert.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub state: AlertState,
    pub labels: PackedLabels,
    pub annotations: Box<str>,
    pub generator_url: Option<Box<str>>,
    pub tenant_id: Option<Uuid>,
    pub source: Source,
}

impl Entry {
    fn label(&self, name: &str) -> Option<&str> {
        self.labels.get(name).filter(|v| !v.is_empty())
    }
    fn tenant(&self) -> Option<&str> {
        self.label("tenant")
    }
    fn service(&self) -> Option<&str> {
        self.label("service")
    }
    fn severity(&self) -> Option<&str> {
        self.label("severity")
    }
}

/// A user's action on an alert.
#[derive(Debug, Clone)]
pub enum Action {
    /// Acknowledge.
    Ack,
    /// Take the acknowledgement back.
    Unack,
    /// Resolve by hand.
    Resolve,
    /// Add a note.
    Note(String),
}

impl Action {
    fn input(self, by: String) -> Input {
        match self {
            Action::Ack => Input::Ack { by },
            Action::Unack => Input::Unack { by },
            Action::Resolve => Input::Resolve { by },
            Action::Note(text) => Input::Note { by, text },
        }
    }
}

/// What one batch changes, collected before it is written.
#[derive(Default)]
struct Pending {
    dirty: BTreeSet<Fingerprint>,
    history: Vec<HistoryRow>,
    notifications: Vec<NotificationRow>,
    audit: Vec<SubmittedEvent>,
    intake: Option<IntakeProgress>,
}

/// The engine's state over one term of the lease.
pub struct Engine {
    app: App,
    fence: Option<Fence>,
    /// Boxed: the map's slots stay small (its spare capacity is most of
    /// its size) and moving an entry out and back is a pointer.
    alerts: HashMap<Fingerprint, Box<Entry>>,
    by_id: HashMap<Uuid, Fingerprint>,
    timers: BinaryHeap<Reverse<(Timestamp, Fingerprint)>>,
    inhibition: InhibitionIndex,
    silences: Vec<Silence>,
    overrides: BTreeMap<String, Vec<Override>>,
    tenants: HashMap<String, Uuid>,
    maintenance: HashMap<WindowKey, (OpenWindow, Timestamp)>,
    pending: Pending,
    /// Alerts in `alerts` that fire, kept in step with every status change
    /// (counting them per batch cost a pass over all open alerts).
    firing: u64,
}

/// Tenant and service a maintenance window applies to.
type WindowKey = (Option<String>, Option<String>);
/// The window open (name, end), if any.
type OpenWindow = Option<(String, Timestamp)>;

/// How far ahead maintenance windows are looked up (and cached).
const WINDOW_LOOK_AHEAD: SignedDuration = SignedDuration::from_hours(24);

impl Engine {
    /// Loads the open alerts, silences and overrides; `fence` (the lease
    /// held) guards every write.
    pub async fn load(app: App, fence: Option<Fence>) -> Result<Self> {
        let now = app.clock.now();
        let inhibition = InhibitionIndex::new(app.alerting.settings.inhibit.clone());
        let mut engine = Engine {
            app,
            fence,
            alerts: HashMap::new(),
            by_id: HashMap::new(),
            timers: BinaryHeap::new(),
            inhibition,
            silences: Vec::new(),
            overrides: BTreeMap::new(),
            tenants: HashMap::new(),
            maintenance: HashMap::new(),
            pending: Pending::default(),
            firing: 0,
        };
        engine.reload().await?;
        let window = engine.longest_dedup_window();
        let since = now.checked_sub(window).unwrap_or(Timestamp::MIN);
        for row in engine.app.store.open_alerts(since).await? {
            match entry_from_row(&row) {
                Some(entry) => engine.insert(Box::new(entry)),
                None => tracing::error!(alert = %row.id, "stored alert cannot be read; left as it is"),
            }
        }
        engine.app.alerting.counts.firing.store(engine.firing(), std::sync::atomic::Ordering::Relaxed);
        Ok(engine)
    }

    /// Re-reads silences, overrides and tenants (after a change).
    pub async fn reload(&mut self) -> Result<()> {
        let now = self.app.clock.now();
        let rows = self.app.store.silences(None, Some(now)).await?;
        self.silences = rows.iter().filter_map(super::rows::silence_from_row).collect();
        let from = now.checked_sub(SignedDuration::from_hours(24)).unwrap_or(now);
        let to = now.checked_add(SignedDuration::from_hours(24 * 400)).unwrap_or(now);
        self.overrides.clear();
        for o in self.app.store.overrides(None, from, to).await? {
            self.overrides.entry(o.schedule.clone()).or_default().push(Override {
                id: o.id,
                person: o.person,
                starts_at: o.starts_at,
                ends_at: o.ends_at,
                reason: o.reason,
            });
        }
        self.reload_tenants().await
    }

    /// Re-reads the tenants: at start, after a change, and when an alert
    /// names a tenant the engine does not know yet (created since, perhaps
    /// on another replica).
    async fn reload_tenants(&mut self) -> Result<()> {
        self.tenants =
            self.app.store.tenants(None).await?.into_iter().map(|t| (t.slug.as_str().to_string(), t.id)).collect();
        Ok(())
    }

    /// Takes out the observations whose `tenant` label names no tenant —
    /// after looking the tenants up again — and records each as refused:
    /// a tenant's alert stored as the platform's would be hidden from the
    /// tenant and shown to nobody as theirs. Intake refuses such alerts
    /// already; what reaches this far comes from a rule of a probe or
    /// target whose tenant does not exist.
    async fn refuse_unknown_tenants(&mut self, observations: &mut Vec<Observation>) -> Result<()> {
        let unknown = |tenants: &HashMap<String, Uuid>, o: &Observation| {
            label(&o.alert.labels, "tenant").is_some_and(|t| !tenants.contains_key(t))
        };
        if !observations.iter().any(|o| unknown(&self.tenants, o)) {
            return Ok(());
        }
        self.reload_tenants().await?;
        let tenants = std::mem::take(&mut self.tenants);
        let (refused, kept): (Vec<Observation>, Vec<Observation>) =
            std::mem::take(observations).into_iter().partition(|o| unknown(&tenants, o));
        self.tenants = tenants;
        *observations = kept;
        for o in refused {
            let alertname = label(&o.alert.labels, "alertname").unwrap_or_default();
            let tenant = label(&o.alert.labels, "tenant").unwrap_or_default();
            tracing::error!(alertname, tenant, "alert refused: its tenant label names no tenant; create the tenant");
            let details = json!({ "alertname": alertname, "tenant": tenant, "reason": "unknown tenant" });
            let event = crate::audit::own_event("system", "alert.refuse", None, "alert", Outcome::Failure, details);
            self.pending.audit.push(SubmittedEvent { time: Some(self.app.clock.now().to_string()), ..event });
        }
        Ok(())
    }

    /// Alerts in memory that fire.
    pub fn firing(&self) -> u64 {
        debug_assert_eq!(
            self.firing,
            self.alerts.values().filter(|e| e.state.status == Status::Firing).count() as u64,
            "the firing count is kept in step"
        );
        self.firing
    }

    /// Keeps the firing count in step with a status change.
    fn count_status(&mut self, before: Option<Status>, after: Option<Status>) {
        let fires = |s: Option<Status>| u64::from(s == Some(Status::Firing));
        self.firing = self.firing + fires(after) - fires(before);
    }

    /// Alerts in memory (firing, and resolved within the dedup window).
    pub fn len(&self) -> usize {
        self.alerts.len()
    }

    /// Whether no alert is open.
    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    /// The earliest due time.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.timers.peek().map(|Reverse((t, _))| *t)
    }

    fn longest_dedup_window(&self) -> SignedDuration {
        let set = &self.app.alerting.settings.policy;
        std::iter::once(&set.base)
            .chain(set.tenants.values())
            .map(|p| p.escalation.dedup_window.signed())
            .max()
            .unwrap_or(SignedDuration::from_mins(5))
    }

    fn policy(&self, tenant: Option<&str>) -> &Policy {
        policy_of(&self.app.alerting, tenant)
    }

    fn insert(&mut self, entry: Box<Entry>) {
        let fp = entry.state.fingerprint;
        if entry.state.status == Status::Firing && self.inhibition.is_source(&entry.labels) {
            self.inhibition.insert(fp, &entry.labels.to_set());
        }
        self.schedule(fp, &entry.state);
        self.by_id.insert(entry.state.id, fp);
        self.count_status(None, Some(entry.state.status));
        if let Some(old) = self.alerts.insert(fp, entry) {
            self.count_status(Some(old.state.status), None);
            self.by_id.remove(&old.state.id);
            // The entry replaced is an older episode; its id now points nowhere.
            self.by_id.insert(self.alerts[&fp].state.id, fp);
        }
    }

    /// Puts the alert's next due time on the heap: its next step while it
    /// fires, the end of its dedup window (when it is forgotten) once resolved.
    fn schedule(&mut self, fp: Fingerprint, state: &AlertState) {
        let at = match state.status {
            Status::Firing => state.next_step,
            Status::Resolved => state.resolved_at.and_then(|r| r.checked_add(self.longest_dedup_window()).ok()),
        };
        if let Some(at) = at {
            self.timers.push(Reverse((at, fp)));
        }
    }

    /// What holds back an alert with these labels now, and when that may
    /// change.
    fn suppression(
        &mut self,
        fp: Fingerprint,
        labels: &impl Labels,
        now: Timestamp,
    ) -> (Option<Suppression>, Option<Timestamp>) {
        let non_empty = |name| labels.label(name).filter(|v| !v.is_empty()).map(str::to_string);
        let (tenant, service) = (non_empty("tenant"), non_empty("service"));
        let silence_change = next_change(&self.silences, now);
        if let Some(s) = muting(&self.silences, labels, tenant.as_deref(), now) {
            return (Some(Suppression::Silence(s.id)), Some(s.ends_at));
        }
        if let Some(source) = self.inhibition.inhibitor(labels, fp) {
            return (Some(Suppression::Inhibited(source)), silence_change);
        }
        let key = (tenant, service);
        let cached = self.maintenance.get(&key).filter(|(_, valid)| now < *valid).map(|(open, _)| open.clone());
        let open = match cached {
            Some(open) => open,
            None => {
                let policy = self.policy(key.0.as_deref());
                let zone = jiff::tz::TimeZone::get(&policy.calendar.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
                let (open, changes) = policy.maintenance.window_at(key.1.as_deref(), now, WINDOW_LOOK_AHEAD, &zone);
                let open = open.map(|(name, end)| (name.to_string(), end));
                let valid = changes.unwrap_or(now.checked_add(WINDOW_LOOK_AHEAD).unwrap_or(Timestamp::MAX));
                self.maintenance.insert(key, (open.clone(), valid));
                open
            }
        };
        match open {
            Some((name, end)) => {
                (Some(Suppression::Maintenance(name)), Some(silence_change.map_or(end, |s| s.min(end))))
            }
            None => (None, silence_change),
        }
    }

    /// Applies reports from sources; durable when it returns.
    pub async fn observe(&mut self, observations: Vec<Observation>) -> Result<()> {
        self.observe_logged(observations, None).await
    }

    /// [`Engine::observe`] of the intake log's records up to `intake`,
    /// which is stored with what they change.
    pub async fn observe_logged(
        &mut self,
        mut observations: Vec<Observation>,
        intake: Option<IntakeProgress>,
    ) -> Result<()> {
        self.refuse_unknown_tenants(&mut observations).await?;
        // Sources of inhibition first, so a host's and its services' alerts
        // arriving together yield one notification.
        observations.sort_by_key(|o| !self.inhibition.is_source(&o.alert.labels));
        for o in observations {
            self.observe_one(o);
        }
        self.pending.intake = intake;
        self.commit().await
    }

    fn observe_one(&mut self, mut o: Observation) {
        let now = self.app.clock.now();
        // Alertmanager's resolve_timeout: a firing alert from the API that
        // names no end ends unless it is sent again in time.
        if o.source == Source::Api && !o.resolved && o.alert.ends_at.is_none() {
            let timeout = SignedDuration::try_from(self.app.alerting.settings.resolve_timeout).unwrap_or_default();
            o.alert.ends_at = now.checked_add(timeout).ok();
        }
        let fp = fingerprint(&o.alert.labels);
        let resolved = o.resolved || o.alert.ends_at.is_some_and(|e| e <= now);
        let existing = self.alerts.get(&fp).map(|e| e.state.clone());
        let alerting = self.app.alerting.clone();
        let policy = &policy_of(&alerting, label(&o.alert.labels, "tenant")).escalation;
        match existing {
            Some(state) if continues(&state, policy, now) => {
                let input = if resolved {
                    Input::Resolved { at: o.alert.ends_at.unwrap_or(now).min(now) }
                } else {
                    Input::Firing { ends_at: o.alert.ends_at }
                };
                let entry = self.alerts.get_mut(&fp).expect("looked up above");
                let annotations = annotations_json(&o.alert.annotations);
                let mut changed = *entry.annotations != *annotations;
                entry.annotations = annotations.into();
                let before = entry.state.clone();
                changed |= self.apply(fp, input, now);
                let after = &self.alerts[&fp].state;
                if changed || before != *after {
                    self.pending.dirty.insert(fp);
                }
            }
            _ if resolved => {} // resolved and never seen open: nothing to do
            _ => {
                let level = base_level(label(&o.alert.labels, "severity"), policy);
                let starts = o.alert.starts_at.unwrap_or(now).min(now);
                let id = Uuid::now_v7();
                let mut state = AlertState::new(id, fp, starts, level, now);
                state.ends_at = o.alert.ends_at;
                let tenant_id = label(&o.alert.labels, "tenant").and_then(|t| self.tenants.get(t).copied());
                let (suppression, changes) = self.suppression(fp, &o.alert.labels, now);
                let entry = Box::new(Entry {
                    state,
                    annotations: annotations_json(&o.alert.annotations).into(),
                    generator_url: o.alert.generator_url.map(Into::into),
                    labels: PackedLabels::new(&o.alert.labels),
                    tenant_id,
                    source: o.source,
                });
                self.insert(entry);
                let ctx = Context { policy, now, suppression: suppression.as_ref(), suppression_changes_at: changes };
                let entry = self.alerts.get_mut(&fp).expect("inserted above");
                let was = entry.state.status;
                let effects = entry.state.start(&ctx);
                let state = entry.state.clone();
                self.count_status(Some(was), Some(state.status));
                self.schedule(fp, &state);
                self.carry_out(fp, effects, now);
                self.pending.dirty.insert(fp);
                self.after_change(fp, None, now);
            }
        }
    }

    /// Steps one alert; whether it changed. Carries the effects out.
    fn apply(&mut self, fp: Fingerprint, input: Input, now: Timestamp) -> bool {
        self.try_apply(fp, input, now).unwrap_or(false)
    }

    fn try_apply(&mut self, fp: Fingerprint, input: Input, now: Timestamp) -> std::result::Result<bool, Refused> {
        let Some(mut entry) = self.alerts.remove(&fp) else { return Ok(false) };
        let alerting = self.app.alerting.clone();
        let policy = &policy_of(&alerting, entry.tenant()).escalation;
        let (suppression, changes) = self.suppression(fp, &entry.labels, now);
        let ctx = Context { policy, now, suppression: suppression.as_ref(), suppression_changes_at: changes };
        let before = entry.state.clone();
        let stepped = entry.state.step(input, &ctx);
        let after = entry.state.clone();
        self.alerts.insert(fp, entry);
        let effects = stepped?;
        self.count_status(Some(before.status), Some(after.status));
        if after.next_step != before.next_step || after.status != before.status {
            self.schedule(fp, &after);
        }
        let changed = before != after || !effects.is_empty();
        self.carry_out(fp, effects, now);
        if changed {
            self.pending.dirty.insert(fp);
            self.after_change(fp, Some(&before), now);
        }
        Ok(changed)
    }

    /// Keeps the inhibition index in step and re-examines the alerts a
    /// change of a source affects.
    fn after_change(&mut self, fp: Fingerprint, before: Option<&AlertState>, now: Timestamp) {
        let Some(entry) = self.alerts.get(&fp) else { return };
        if !self.inhibition.is_source(&entry.labels) {
            return;
        }
        let was = before.is_some_and(|b| b.status == Status::Firing);
        let is = entry.state.status == Status::Firing;
        if was == is && before.is_some() {
            return;
        }
        if is {
            self.inhibition.insert(fp, &entry.labels.to_set());
        } else {
            self.inhibition.remove(fp);
        }
        // Targets: on a new source, the firing alerts it now inhibits; on a
        // resolved source, the alerts it held back.
        let targets: Vec<Fingerprint> = self
            .alerts
            .iter()
            .filter(|(other, e)| {
                **other != fp
                    && e.state.status == Status::Firing
                    && if is {
                        e.state.suppressed.is_none()
                    } else {
                        e.state.suppressed == Some(Suppression::Inhibited(fp))
                    }
            })
            .map(|(other, _)| *other)
            .collect();
        for target in targets {
            self.apply(target, Input::Tick, now);
        }
    }

    /// Takes every step that is due at `now`.
    pub async fn tick(&mut self) -> Result<()> {
        let now = self.app.clock.now();
        let mut any = false;
        while let Some(Reverse((at, fp))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(entry) = self.alerts.get(&fp) else { continue };
            match entry.state.status {
                Status::Firing if entry.state.next_step == Some(at) => {
                    self.apply(fp, Input::Tick, now);
                    any = true;
                }
                Status::Resolved => {
                    let alerting = self.app.alerting.clone();
                    let policy = &policy_of(&alerting, entry.tenant()).escalation;
                    if !continues(&entry.state, policy, now) {
                        let entry = self.alerts.remove(&fp).expect("looked up above");
                        self.by_id.remove(&entry.state.id);
                    }
                }
                Status::Firing => {} // superseded timer
            }
        }
        if any { self.commit().await } else { Ok(()) }
    }

    /// Looks at every firing alert again (silences or windows changed).
    pub async fn reexamine(&mut self) -> Result<()> {
        self.reload().await?;
        self.maintenance.clear();
        let now = self.app.clock.now();
        let firing: Vec<Fingerprint> =
            self.alerts.iter().filter(|(_, e)| e.state.status == Status::Firing).map(|(fp, _)| *fp).collect();
        for fp in firing {
            self.apply(fp, Input::Tick, now);
        }
        self.commit().await
    }

    /// A person's action on alert `id`.
    pub async fn act(&mut self, id: Uuid, actor: &str, action: Action) -> Result<()> {
        let now = self.app.clock.now();
        // Closed: resolved longer than the dedup window ago.
        let Some(fp) = self.by_id.get(&id).copied() else { return Err(AppError::AlertRefused { reason: "closed" }) };
        match self.try_apply(fp, action.input(actor.to_string()), now) {
            Ok(_) => self.commit().await,
            Err(Refused::NotApplicable(reason)) => Err(AppError::AlertRefused { reason }),
        }
    }

    /// Whether alert `id` is open in the engine.
    pub fn is_open(&self, id: Uuid) -> bool {
        self.by_id.contains_key(&id)
    }

    /// Records effects: history and audit entries, notification rows.
    fn carry_out(&mut self, fp: Fingerprint, effects: Vec<Effect>, now: Timestamp) {
        if effects.is_empty() {
            return;
        }
        // Out of the map while its effects are recorded (no copy of its labels).
        let Some(entry) = self.alerts.remove(&fp) else { return };
        for effect in effects {
            match effect {
                Effect::History { kind, actor, detail } => self.record(&entry, kind, &actor, detail, now),
                Effect::Notify { kind, level } => {
                    let rows = self.notifications(&entry, kind, level, now);
                    self.pending.notifications.extend(rows);
                }
            }
        }
        self.alerts.insert(fp, entry);
    }

    fn record(&mut self, entry: &Entry, kind: HistoryKind, actor: &str, detail: serde_json::Value, now: Timestamp) {
        let id = entry.state.id;
        self.pending.history.push(HistoryRow {
            alert_id: id,
            at: now,
            kind: kind.as_str().to_string(),
            actor: actor.to_string(),
            detail: detail.to_string(),
        });
        let mut details = match detail {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        details.insert("fingerprint".into(), json!(entry.state.fingerprint.to_string()));
        details.insert("alertname".into(), json!(entry.label("alertname").unwrap_or("")));
        if let Some(s) = entry.severity() {
            details.insert("severity".into(), json!(s));
        }
        if let Some(s) = entry.service() {
            details.insert("service".into(), json!(s));
        }
        let mut event = crate::audit::own_event(
            actor,
            &kind.audit_action(),
            entry.tenant().map(str::to_string),
            &format!("alert:{id}"),
            Outcome::Success,
            serde_json::Value::Object(details),
        );
        event.time = Some(now.to_string());
        self.pending.audit.push(event);
    }

    /// The notification rows for `kind` at `level`: one per channel that
    /// reaches the level's audiences, with the person on call now added.
    fn notifications(&self, entry: &Entry, kind: NotifyKind, level: u8, now: Timestamp) -> Vec<NotificationRow> {
        let settings = &self.app.alerting.settings;
        let policy = &self.policy(entry.tenant()).escalation;
        let levels: Vec<u8> = match kind {
            // Whoever was told about it hears that it ended.
            NotifyKind::Resolved => (base_level(entry.severity(), policy).max(1)..=level).collect(),
            _ => vec![level],
        };
        let mut per_channel: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for l in &levels {
            let Some(lvl) = policy.level(*l) else { continue };
            for audience in &lvl.notify {
                let Some(route) = settings.audiences.get(audience) else { continue };
                let on_call = route.schedule.as_deref().and_then(|s| {
                    let schedule = self.app.alerting.schedule(s)?;
                    let overrides = self.overrides.get(s).map(Vec::as_slice).unwrap_or(&[]);
                    schedule.on_call(now, overrides).and_then(|o| settings.people.get(&o.person))
                });
                for channel_id in &route.channels {
                    let Some(channel) = self.app.alerting.channel(channel_id) else { continue };
                    if !lvl.channels.contains(&channel.kind) {
                        continue;
                    }
                    let recipients = per_channel.entry(channel.id.as_str()).or_default();
                    if let Some(person) = on_call {
                        let address = match channel.kind {
                            ChannelKind::Email => person.email.clone(),
                            ChannelKind::Chat => person.chat.clone(),
                            _ => None,
                        };
                        recipients.extend(address);
                    }
                }
            }
        }
        let message_kind = match kind {
            NotifyKind::Firing => MessageKind::Firing,
            NotifyKind::Escalated => MessageKind::Escalated,
            NotifyKind::Resolved => MessageKind::Resolved,
        };
        let not_before = match kind {
            NotifyKind::Firing => now.checked_add(settings.group_wait).unwrap_or(now),
            _ => now,
        };
        let level_name = policy.level(level).map(|l| l.name.clone()).unwrap_or_default();
        let summary = self.summary(entry);
        let links = self.links(entry.state.id, now);
        let group = group_text(&settings.group_by, entry.labels.iter());
        per_channel
            .into_iter()
            .filter_map(|(channel_id, recipients)| {
                let channel = self.app.alerting.channel(channel_id)?;
                let message = Message {
                    id: Uuid::now_v7(),
                    kind: message_kind,
                    locale: channel.locale,
                    level,
                    level_name: level_name.clone(),
                    group_key: group.clone(),
                    alerts: vec![summary.clone()],
                    links: links.clone(),
                    recipients: recipients.into_iter().collect(),
                    created_at: now,
                };
                Some(NotificationRow {
                    id: message.id,
                    alert_id: entry.state.id,
                    group_key: group.clone(),
                    channel: channel_id.to_string(),
                    kind: kind_str(message_kind).to_string(),
                    level: i16::from(level),
                    recipients: serde_json::to_string(&message.recipients).unwrap_or_else(|_| "[]".into()),
                    payload: serde_json::to_string(&message).unwrap_or_default(),
                    status: "pending".into(),
                    attempts: 0,
                    not_before,
                    created_at: now,
                    delivered_at: None,
                    last_error: None,
                    fallback_of: None,
                    claimed_by: None,
                })
            })
            .collect()
    }

    fn summary(&self, entry: &Entry) -> AlertSummary {
        AlertSummary {
            id: entry.state.id,
            fingerprint: entry.state.fingerprint.to_string(),
            status: entry.state.status.as_str().to_string(),
            labels: entry.labels.to_set(),
            annotations: serde_json::from_str(&entry.annotations).unwrap_or_default(),
            starts_at: entry.state.starts_at,
            ends_at: entry.state.resolved_at,
            generator_url: entry.generator_url.as_deref().map(str::to_string),
            url: Some(self.app.alerting.alert_url(entry.state.id)),
        }
    }

    fn links(&self, id: Uuid, now: Timestamp) -> Links {
        let settings = &self.app.alerting.settings;
        let expires_at = now.checked_add(settings.link_ttl).unwrap_or(now);
        let link = |action| {
            let token = self.app.alerting.link_key.sign(&LinkClaims { alert: id, action, expires_at });
            format!("{}/alerts/act/{token}", self.app.alerting.public_url)
        };
        Links {
            ack: Some(link(LinkAction::Ack)),
            resolve: Some(link(LinkAction::Resolve)),
            view: Some(self.app.alerting.alert_url(id)),
        }
    }

    /// Writes the batch: alert rows, history and notifications in one
    /// transaction (fenced), then the audit events; wakes the dispatcher.
    async fn commit(&mut self) -> Result<()> {
        let pending = std::mem::take(&mut self.pending);
        if pending.dirty.is_empty()
            && pending.history.is_empty()
            && pending.notifications.is_empty()
            && pending.intake.is_none()
        {
            return Ok(());
        }
        let now = self.app.clock.now();
        let group_by = &self.app.alerting.settings.group_by;
        let alerts: Vec<AlertRow> = pending
            .dirty
            .iter()
            .filter_map(|fp| self.alerts.get(fp))
            .map(|e| row_from_entry(e, group_by, now))
            .collect();
        let notify = !pending.notifications.is_empty();
        let changes = AlertChanges {
            alerts,
            history: pending.history,
            notifications: pending.notifications,
            inbox_done: None,
            intake: pending.intake,
        };
        self.app.store.apply_alert_changes(self.fence.as_ref(), now, &changes).await?;
        self.incidents_of(&changes).await;
        if !pending.audit.is_empty()
            && let Err(e) = self.app.audit().submit(pending.audit).await
        {
            // The change is stored and in the alert history; the audit log
            // is behind and says so in the server log.
            tracing::error!(error = %e, "alert audit events not recorded");
        }
        self.app.alerting.counts.firing.store(self.firing(), std::sync::atomic::Ordering::Relaxed);
        if notify {
            self.app.alerting.wake_dispatch.notify_one();
        }
        Ok(())
    }
}

impl Engine {
    /// After a batch is stored: a level that `opens_incident` opens the
    /// SEV-1 incident (or joins the one its fingerprint already has), and
    /// an alert firing again while its incident is not closed joins it. A
    /// failure is logged; the alerts are stored and notified regardless.
    async fn incidents_of(&self, changes: &AlertChanges) {
        use crate::incidents::FromAlert;
        use leitstand_store::IncidentRepository;
        let mut escalated = std::collections::HashSet::new();
        let mut fired = std::collections::HashSet::new();
        for h in &changes.history {
            match h.kind.as_str() {
                "incident_opened" => {
                    escalated.insert(h.alert_id);
                }
                "firing" | "reopened" => {
                    fired.insert(h.alert_id);
                }
                _ => {}
            }
        }
        if escalated.is_empty() && fired.is_empty() {
            return;
        }
        // One query per batch, and only when something fired: the
        // fingerprints that open incidents gather.
        let linked = if fired.is_empty() {
            std::collections::HashSet::new()
        } else {
            match self.app.store.unclosed_incident_fingerprints().await {
                Ok(set) => set,
                Err(e) => {
                    tracing::error!(error = %e, "incidents of firing alerts not checked");
                    std::collections::HashSet::new()
                }
            }
        };
        for alert in &changes.alerts {
            let why = if escalated.contains(&alert.id) {
                FromAlert::Escalation
            } else if fired.contains(&alert.id) && linked.contains(&alert.fingerprint) {
                FromAlert::Refired
            } else {
                continue;
            };
            if let Err(e) = self.app.incident_for_alert(alert, why).await {
                tracing::error!(alert = %alert.id, error = %e, "the alert's incident was not opened or joined");
            }
        }
    }
}

/// The policy in force for an alert of `tenant` (a slug label).
fn policy_of<'a>(alerting: &'a super::Alerting, tenant: Option<&str>) -> &'a Policy {
    let set = &alerting.settings.policy;
    if set.tenants.is_empty() {
        return &set.base;
    }
    match tenant.and_then(|t| TenantSlug::parse(t.to_string()).ok()) {
        Some(slug) => set.for_tenant(&slug),
        None => &set.base,
    }
}

fn kind_str(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Firing => "firing",
        MessageKind::Escalated => "escalated",
        MessageKind::Resolved => "resolved",
        MessageKind::Test => "test",
    }
}

fn annotations_json(annotations: &LabelSet) -> String {
    serde_json::to_string(annotations).unwrap_or_else(|_| "{}".into())
}

/// The stored row of an entry.
pub(crate) fn row_from_entry(e: &Entry, group_by: &GroupBy, now: Timestamp) -> AlertRow {
    let s = &e.state;
    AlertRow {
        id: s.id,
        fingerprint: s.fingerprint.to_string(),
        tenant_id: e.tenant_id,
        source: e.source.as_str().to_string(),
        labels: serde_json::to_string(&e.labels).unwrap_or_else(|_| "{}".into()),
        annotations: e.annotations.to_string(),
        generator_url: e.generator_url.as_deref().map(str::to_string),
        alertname: e.label("alertname").unwrap_or("").to_string(),
        severity: e.severity().unwrap_or("").to_string(),
        service: e.service().map(str::to_string),
        group_key: group_text(group_by, e.labels.iter()),
        status: s.status.as_str().to_string(),
        starts_at: s.starts_at,
        ends_at: s.ends_at,
        resolved_at: s.resolved_at,
        last_seen_at: s.last_seen,
        level: i16::from(s.level),
        level_since: s.level_since,
        acked_by: s.acked.as_ref().map(|a| a.by.clone()),
        acked_at: s.acked.as_ref().map(|a| a.at),
        suppressed: s.suppressed.as_ref().map(Suppression::encode),
        notified_level: i16::from(s.notified_level),
        next_step_at: s.next_step,
        updated_at: now,
    }
}

/// An entry from its stored row.
pub(crate) fn entry_from_row(r: &AlertRow) -> Option<Entry> {
    let labels: LabelSet = serde_json::from_str(&r.labels).ok()?;
    let state = AlertState {
        id: r.id,
        fingerprint: r.fingerprint.parse().ok()?,
        status: Status::parse(&r.status)?,
        starts_at: r.starts_at,
        ends_at: r.ends_at,
        resolved_at: r.resolved_at,
        last_seen: r.last_seen_at,
        level: u8::try_from(r.level).ok()?,
        level_since: r.level_since,
        acked: match (&r.acked_by, r.acked_at) {
            (Some(by), Some(at)) => Some(leitstand_alerting::lifecycle::Ack { by: by.clone(), at }),
            _ => None,
        },
        suppressed: r.suppressed.as_deref().and_then(Suppression::decode),
        notified_level: u8::try_from(r.notified_level).ok()?,
        next_step: r.next_step_at,
    };
    // A resolved episode is kept until its dedup window passes.
    let mut state = state;
    if state.status == Status::Resolved {
        state.next_step = None;
    }
    Some(Entry {
        state,
        labels: PackedLabels::new(&labels),
        annotations: r.annotations.clone().into(),
        generator_url: r.generator_url.clone().map(Into::into),
        tenant_id: r.tenant_id,
        source: Source::parse(&r.source),
    })
}
