//! One alert's life as a pure state machine: firing, deduplicated,
//! suppressed (silence, inhibition, maintenance), notified, escalated level
//! by level while nobody acknowledges, acknowledged, resolved — and what
//! each step must cause (history entries, notifications, an incident).
//!
//! The engine keeps an [`AlertState`] per open alert, feeds it an [`Input`]
//! with the facts it looked up ([`Context`]: the policy, `now`, whatever
//! holds the alert back), persists the changed state and carries out the
//! [`Effect`]s in the same unit of work. Because the state includes the
//! next due time ([`AlertState::next_step`]), a restart continues exactly
//! where it stopped: a step that was recorded is never repeated, a step
//! that was due is taken when the engine is back.
//!
//! Choices, where the seed is silent:
//! - Escalation pauses while an alert is held back (a silenced alert does
//!   not page management); its deadline restarts when the hold ends.
//! - A resolution is always recorded and, if anybody was told about the
//!   alert, always sent — also during a silence or a maintenance window
//!   (Alertmanager never sends it, alertmanager#226).
//! - An alert that fires again within the dedup window after resolving is
//!   the same alert (one entry in the incident log): it keeps its level and
//!   acknowledgement, and the people already told hear that it fires again.

use jiff::Timestamp;
use leitstand_core::policy::{Escalation, EscalationDecision};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::labels::Fingerprint;

/// Firing or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The condition holds.
    Firing,
    /// The condition ended (or somebody resolved it by hand).
    Resolved,
}

impl Status {
    /// `firing` / `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
        }
    }

    /// From [`Status::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "firing" => Some(Status::Firing),
            "resolved" => Some(Status::Resolved),
            _ => None,
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Status {
    type Err = String;

    /// `firing` or `resolved`; anything else is named in the error.
    fn from_str(s: &str) -> Result<Self, String> {
        Status::parse(s).ok_or_else(|| format!("{s:?} is not firing or resolved"))
    }
}

/// What holds an alert's notifications back.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Suppression {
    /// A silence matches it.
    Silence(Uuid),
    /// A firing alert it depends on (e.g. its host is down).
    Inhibited(Fingerprint),
    /// A maintenance window of its service is open.
    Maintenance(String),
}

impl Suppression {
    /// Stored form: `silence:ID`, `inhibited:FINGERPRINT`, `maintenance:NAME`.
    pub fn encode(&self) -> String {
        match self {
            Suppression::Silence(id) => format!("silence:{id}"),
            Suppression::Inhibited(fp) => format!("inhibited:{fp}"),
            Suppression::Maintenance(name) => format!("maintenance:{name}"),
        }
    }

    /// From [`Suppression::encode`].
    pub fn decode(s: &str) -> Option<Self> {
        let (kind, value) = s.split_once(':')?;
        match kind {
            "silence" => value.parse().ok().map(Suppression::Silence),
            "inhibited" => value.parse().ok().map(Suppression::Inhibited),
            "maintenance" => Some(Suppression::Maintenance(value.to_string())),
            _ => None,
        }
    }

    /// The history kind recorded when it begins.
    fn history(&self) -> HistoryKind {
        match self {
            Suppression::Silence(_) => HistoryKind::Silenced,
            Suppression::Inhibited(_) => HistoryKind::Inhibited,
            Suppression::Maintenance(_) => HistoryKind::Maintenance,
        }
    }
}

/// Who acknowledged, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// The actor (`user:NAME`, as in audit events).
    pub by: String,
    /// When.
    pub at: Timestamp,
}

/// The part of an alert the lifecycle decides on (labels live elsewhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertState {
    /// Episode id.
    pub id: Uuid,
    /// Its label set's fingerprint.
    pub fingerprint: Fingerprint,
    /// Firing or resolved.
    pub status: Status,
    /// When it began firing.
    pub starts_at: Timestamp,
    /// The end its source announced (API alerts resolve then unless
    /// refreshed, as in Alertmanager).
    pub ends_at: Option<Timestamp>,
    /// When it resolved.
    pub resolved_at: Option<Timestamp>,
    /// When its source last reported it.
    pub last_seen: Timestamp,
    /// Current escalation level (1-based; 0: not actionable, never notified).
    pub level: u8,
    /// When it reached that level (or its deadline last restarted).
    pub level_since: Timestamp,
    /// Acknowledgement, if any.
    pub acked: Option<Ack>,
    /// What holds it back, if anything.
    pub suppressed: Option<Suppression>,
    /// The highest level anybody was notified at in this episode.
    pub notified_level: u8,
    /// When the engine must look at it again without new input.
    pub next_step: Option<Timestamp>,
}

/// What happened to an alert.
#[derive(Debug, Clone)]
pub enum Input {
    /// Its source reports it firing (again).
    Firing {
        /// The announced end, if any.
        ends_at: Option<Timestamp>,
    },
    /// Its source reports it resolved at this time.
    Resolved {
        /// When it ended (the source's `endsAt`, at most now).
        at: Timestamp,
    },
    /// Somebody acknowledged it.
    Ack {
        /// Actor.
        by: String,
    },
    /// Somebody took the acknowledgement back.
    Unack {
        /// Actor.
        by: String,
    },
    /// Somebody resolved it by hand.
    Resolve {
        /// Actor.
        by: String,
    },
    /// A note.
    Note {
        /// Actor.
        by: String,
        /// Text.
        text: String,
    },
    /// Its timer is due, or what holds it back may have changed.
    Tick,
}

/// The facts the engine looked up for this step.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The escalation policy (of the alert's tenant).
    pub policy: &'a Escalation,
    /// Now.
    pub now: Timestamp,
    /// What holds the alert back now.
    pub suppression: Option<&'a Suppression>,
    /// When that may change next (a silence starting or ending, a window
    /// closing), so the engine looks again then.
    pub suppression_changes_at: Option<Timestamp>,
}

/// A history entry's kind; also the audit action `alert.<kind>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryKind {
    /// Started firing.
    Firing,
    /// Fired again within the dedup window.
    Reopened,
    /// Ended.
    Resolved,
    /// Acknowledged.
    Acknowledged,
    /// Acknowledgement taken back.
    Unacknowledged,
    /// Reached a higher level.
    Escalated,
    /// Held back by a silence.
    Silenced,
    /// Held back by a firing alert it depends on.
    Inhibited,
    /// Held back by a maintenance window.
    Maintenance,
    /// No longer held back.
    Released,
    /// A notification went out (recorded by the dispatcher).
    Notified,
    /// A notification could not be delivered at all.
    NotificationFailed,
    /// A note.
    Note,
    /// The incident process was started.
    IncidentOpened,
}

impl HistoryKind {
    /// `firing`, `acknowledged`, …
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryKind::Firing => "firing",
            HistoryKind::Reopened => "reopened",
            HistoryKind::Resolved => "resolved",
            HistoryKind::Acknowledged => "acknowledged",
            HistoryKind::Unacknowledged => "unacknowledged",
            HistoryKind::Escalated => "escalated",
            HistoryKind::Silenced => "silenced",
            HistoryKind::Inhibited => "inhibited",
            HistoryKind::Maintenance => "maintenance",
            HistoryKind::Released => "released",
            HistoryKind::Notified => "notified",
            HistoryKind::NotificationFailed => "notification_failed",
            HistoryKind::Note => "note",
            HistoryKind::IncidentOpened => "incident_opened",
        }
    }

    /// The audit event's action. The incident opened at level 3 is named
    /// as the incidents capability will name it.
    pub fn audit_action(self) -> String {
        match self {
            HistoryKind::IncidentOpened => "incident.opened".into(),
            other => format!("alert.{}", other.as_str()),
        }
    }
}

/// Why a notification goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyKind {
    /// Firing at its level (first time, again after a hold, or reopened).
    Firing,
    /// Escalated to this level.
    Escalated,
    /// Resolved.
    Resolved,
}

/// What a step causes, besides the changed state.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Append to the alert's history (and the audit log).
    History {
        /// What.
        kind: HistoryKind,
        /// Who (`system` for the engine).
        actor: String,
        /// Details (level, reason, note text, …).
        detail: serde_json::Value,
    },
    /// Notify the audiences of `level`.
    Notify {
        /// Why.
        kind: NotifyKind,
        /// Whose audiences (1-based level).
        level: u8,
    },
}

/// Why an input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Acknowledging a resolved alert, unacknowledging an unacknowledged one, …
    #[error("the alert is {0}")]
    NotApplicable(&'static str),
}

const SYSTEM: &str = "system";

/// The level an alert starts at, from its `severity` label: `info`,
/// `none` and `debug` are not actionable (recorded, never notified);
/// `warning` (and `warn`, `minor`, or no severity at all — an external rule
/// without one must still reach somebody) is level 1; `critical` (and
/// `error`, `major`, `high`, `page`) is level 2. Capped at the policy's
/// last level.
pub fn base_level(severity: Option<&str>, policy: &Escalation) -> u8 {
    let level = match severity.map(str::to_ascii_lowercase).as_deref() {
        Some("info" | "none" | "debug") => 0,
        None | Some("" | "warning" | "warn" | "minor" | "low") => 1,
        Some("critical" | "error" | "major" | "high" | "page") => 2,
        Some(_) => 1,
    };
    level.min(u8::try_from(policy.levels.len()).unwrap_or(u8::MAX))
}

/// Whether a resolved episode fires again as the same alert (within the
/// dedup window) rather than as a new one.
pub fn continues(state: &AlertState, policy: &Escalation, now: Timestamp) -> bool {
    match (state.status, state.resolved_at) {
        (Status::Firing, _) => true,
        (Status::Resolved, Some(at)) => at.saturating_add(policy.dedup_window.signed()).is_ok_and(|until| now < until),
        (Status::Resolved, None) => false,
    }
}

impl AlertState {
    /// A new episode that starts firing at `starts_at` at `level`.
    pub fn new(id: Uuid, fingerprint: Fingerprint, starts_at: Timestamp, level: u8, now: Timestamp) -> Self {
        Self {
            id,
            fingerprint,
            status: Status::Firing,
            starts_at,
            ends_at: None,
            resolved_at: None,
            last_seen: now,
            level,
            level_since: now,
            acked: None,
            suppressed: None,
            notified_level: 0,
            next_step: None,
        }
    }

    /// Whether it is held back.
    pub fn is_suppressed(&self) -> bool {
        self.suppressed.is_some()
    }

    /// The first step of a new episode: history `firing`, then whatever
    /// the context says (notify, or hold back).
    pub fn start(&mut self, ctx: &Context<'_>) -> Vec<Effect> {
        let mut out = vec![history(HistoryKind::Firing, SYSTEM, serde_json::json!({ "level": self.level }))];
        // Starting at such a level (a critical alert when the policy has
        // two levels) calls for the incident process as reaching it does.
        if ctx.policy.level(self.level).is_some_and(|l| l.opens_incident) {
            out.push(history(
                HistoryKind::IncidentOpened,
                SYSTEM,
                serde_json::json!({ "level": self.level, "alert": self.id.to_string() }),
            ));
        }
        self.settle(ctx, &mut out);
        out
    }

    /// Applies `input` at `ctx.now`; the effects to carry out, in order.
    pub fn step(&mut self, input: Input, ctx: &Context<'_>) -> Result<Vec<Effect>, Refused> {
        let now = ctx.now;
        let mut out = Vec::new();
        match input {
            Input::Firing { ends_at } => {
                self.last_seen = now;
                self.ends_at = ends_at;
                if self.status == Status::Resolved {
                    self.status = Status::Firing;
                    self.resolved_at = None;
                    if self.acked.is_none() {
                        self.level_since = now;
                    }
                    // Tell again whoever was told it resolved.
                    self.notified_level = 0;
                    out.push(history(HistoryKind::Reopened, SYSTEM, serde_json::json!({ "level": self.level })));
                }
            }
            Input::Resolved { at } => {
                if self.status == Status::Resolved {
                    return Ok(out); // a repeated report: nothing new
                }
                self.last_seen = now;
                self.resolve(at.min(now), SYSTEM, &mut out);
                return Ok(out);
            }
            Input::Resolve { by } => {
                if self.status == Status::Resolved {
                    return Err(Refused::NotApplicable("already resolved"));
                }
                self.resolve(now, &by, &mut out);
                return Ok(out);
            }
            Input::Ack { by } => {
                if self.status == Status::Resolved {
                    return Err(Refused::NotApplicable("resolved"));
                }
                if self.acked.is_some() {
                    return Err(Refused::NotApplicable("already acknowledged"));
                }
                self.acked = Some(Ack { by: by.clone(), at: now });
                out.push(history(HistoryKind::Acknowledged, &by, serde_json::json!({ "level": self.level })));
            }
            Input::Unack { by } => {
                if self.acked.is_none() {
                    return Err(Refused::NotApplicable("not acknowledged"));
                }
                if self.status == Status::Resolved {
                    return Err(Refused::NotApplicable("resolved"));
                }
                self.acked = None;
                self.level_since = now; // the deadline starts again
                out.push(history(HistoryKind::Unacknowledged, &by, serde_json::json!({ "level": self.level })));
            }
            Input::Note { by, text } => {
                out.push(history(HistoryKind::Note, &by, serde_json::json!({ "text": text })));
                return Ok(out);
            }
            Input::Tick => {
                if self.status == Status::Firing
                    && let Some(end) = self.ends_at
                    && end <= now
                {
                    // Announced end passed without a refresh: resolved then.
                    self.resolve(end, SYSTEM, &mut out);
                    return Ok(out);
                }
            }
        }
        if self.status == Status::Firing {
            self.settle(ctx, &mut out);
        }
        Ok(out)
    }

    fn resolve(&mut self, at: Timestamp, by: &str, out: &mut Vec<Effect>) {
        self.status = Status::Resolved;
        self.resolved_at = Some(at);
        self.next_step = None;
        let manual = by != SYSTEM;
        out.push(history(HistoryKind::Resolved, by, serde_json::json!({ "at": at.to_string(), "manual": manual })));
        if self.notified_level > 0 {
            out.push(Effect::Notify { kind: NotifyKind::Resolved, level: self.notified_level });
        }
    }

    /// Brings a firing alert in line with the context: hold or release,
    /// escalate what is overdue, notify what nobody was told yet, and set
    /// the next due time.
    fn settle(&mut self, ctx: &Context<'_>, out: &mut Vec<Effect>) {
        let now = ctx.now;
        if self.suppressed.as_ref() != ctx.suppression {
            match ctx.suppression {
                Some(s) => out.push(history(s.history(), SYSTEM, serde_json::json!({ "by": s.encode() }))),
                None => {
                    out.push(history(HistoryKind::Released, SYSTEM, serde_json::json!({})));
                    if self.acked.is_none() {
                        self.level_since = now; // nobody could act while it was held back
                    }
                }
            }
            self.suppressed = ctx.suppression.cloned();
        }
        let mut hold_until = None;
        if self.suppressed.is_none() && self.level > 0 {
            // Escalate as far as overdue (a long outage of Leitstand itself
            // may have passed several deadlines; each step is recorded).
            for _ in 0..ctx.policy.levels.len() {
                match ctx.policy.decide(self.level, self.level_since, self.acked.is_some(), now) {
                    EscalationDecision::Escalate { to } => {
                        let opens = ctx.policy.level(to).is_some_and(|l| l.opens_incident);
                        out.push(history(
                            HistoryKind::Escalated,
                            SYSTEM,
                            serde_json::json!({ "from": self.level, "to": to }),
                        ));
                        // The new level's clock runs from when the step was
                        // due, so overdue steps are caught up, not stretched.
                        let due = ctx.policy.level(self.level).and_then(|l| l.ack_deadline);
                        let due = due.and_then(|d| self.level_since.saturating_add(d.signed()).ok());
                        self.level = to;
                        self.level_since = due.unwrap_or(now).min(now);
                        if opens {
                            out.push(history(
                                HistoryKind::IncidentOpened,
                                SYSTEM,
                                serde_json::json!({ "level": to, "alert": self.id.to_string() }),
                            ));
                        }
                    }
                    EscalationDecision::Hold { until } => {
                        hold_until = until;
                        break;
                    }
                }
            }
            if self.notified_level < self.level {
                let kind = if self.notified_level > 0 { NotifyKind::Escalated } else { NotifyKind::Firing };
                out.push(Effect::Notify { kind, level: self.level });
                self.notified_level = self.level;
            }
        }
        self.next_step = [hold_until, self.ends_at, ctx.suppression_changes_at]
            .into_iter()
            .flatten()
            .filter(|t| *t > now || Some(*t) == self.ends_at)
            .min();
    }
}

fn history(kind: HistoryKind, actor: &str, detail: serde_json::Value) -> Effect {
    Effect::History { kind, actor: actor.to_string(), detail }
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;
    use leitstand_core::time_limit::Duration;

    use super::*;

    fn t0() -> Timestamp {
        "2026-12-01T03:00:00Z".parse().unwrap()
    }
    fn at(mins: i64) -> Timestamp {
        t0() + SignedDuration::from_mins(mins)
    }
    fn ctx(policy: &Escalation, now: Timestamp) -> Context<'_> {
        Context { policy, now, suppression: None, suppression_changes_at: None }
    }
    fn kinds(effects: &[Effect]) -> Vec<String> {
        effects
            .iter()
            .map(|e| match e {
                Effect::History { kind, .. } => kind.as_str().to_string(),
                Effect::Notify { kind, level } => format!("notify:{kind:?}:{level}"),
            })
            .collect()
    }
    fn critical(policy: &Escalation) -> AlertState {
        AlertState::new(Uuid::nil(), Fingerprint(1), t0(), base_level(Some("critical"), policy), t0())
    }

    #[test]
    fn starting_at_a_level_that_opens_an_incident_opens_one() {
        let mut policy = Escalation::default();
        policy.levels.truncate(2);
        policy.levels[1].opens_incident = true;
        policy.levels[1].ack_deadline = None;
        let mut a = critical(&policy);
        assert_eq!(kinds(&a.start(&ctx(&policy, t0()))), ["firing", "incident_opened", "notify:Firing:2"]);
        let mut w = AlertState::new(Uuid::nil(), Fingerprint(2), t0(), base_level(Some("warning"), &policy), t0());
        assert_eq!(kinds(&w.start(&ctx(&policy, t0()))), ["firing", "notify:Firing:1"]);
    }

    #[test]
    fn critical_unacknowledged_escalates_to_level_three_and_opens_an_incident() {
        let policy = Escalation::default();
        let mut a = critical(&policy);
        assert_eq!(kinds(&a.start(&ctx(&policy, t0()))), ["firing", "notify:Firing:2"]);
        assert_eq!(a.next_step, Some(at(15)));
        // Refreshed by its source: nothing new.
        assert!(a.step(Input::Firing { ends_at: None }, &ctx(&policy, at(5))).unwrap().is_empty());
        let fx = a.step(Input::Tick, &ctx(&policy, at(15))).unwrap();
        assert_eq!(kinds(&fx), ["escalated", "incident_opened", "notify:Escalated:3"]);
        assert_eq!((a.level, a.next_step), (3, None));
        // Nothing further happens at level 3.
        assert!(a.step(Input::Tick, &ctx(&policy, at(60))).unwrap().is_empty());
    }

    #[test]
    fn acknowledgement_stops_escalation_and_unack_restarts_the_deadline() {
        let policy = Escalation::default();
        let mut a = critical(&policy);
        a.start(&ctx(&policy, t0()));
        let fx = a.step(Input::Ack { by: "user:anna".into() }, &ctx(&policy, at(10))).unwrap();
        assert_eq!(kinds(&fx), ["acknowledged"]);
        assert_eq!(a.next_step, None);
        assert!(a.step(Input::Tick, &ctx(&policy, at(30))).unwrap().is_empty());
        assert_eq!(
            a.step(Input::Ack { by: "user:ben".into() }, &ctx(&policy, at(31))),
            Err(Refused::NotApplicable("already acknowledged"))
        );
        assert_eq!(
            kinds(&a.step(Input::Unack { by: "user:anna".into() }, &ctx(&policy, at(40))).unwrap()),
            ["unacknowledged"]
        );
        assert_eq!(a.next_step, Some(at(55)));
    }

    #[test]
    fn warnings_never_escalate_and_info_is_never_notified() {
        let policy = Escalation::default();
        let mut w = AlertState::new(Uuid::nil(), Fingerprint(2), t0(), base_level(Some("warning"), &policy), t0());
        assert_eq!(kinds(&w.start(&ctx(&policy, t0()))), ["firing", "notify:Firing:1"]);
        assert_eq!(w.next_step, None);
        let mut i = AlertState::new(Uuid::nil(), Fingerprint(3), t0(), base_level(Some("info"), &policy), t0());
        assert_eq!(kinds(&i.start(&ctx(&policy, t0()))), ["firing"]);
        assert_eq!(kinds(&i.step(Input::Resolved { at: at(1) }, &ctx(&policy, at(1))).unwrap()), ["resolved"]);
        assert_eq!(base_level(None, &policy), 1);
        assert_eq!(base_level(Some("CRITICAL"), &policy), 2);
    }

    #[test]
    fn resolution_is_sent_even_while_held_back() {
        let policy = Escalation::default();
        let mut a = critical(&policy);
        a.start(&ctx(&policy, t0()));
        let window = Suppression::Maintenance("Patch-Sonntag".into());
        let held = Context { suppression: Some(&window), suppression_changes_at: Some(at(120)), ..ctx(&policy, at(5)) };
        assert_eq!(kinds(&a.step(Input::Tick, &held).unwrap()), ["maintenance"]);
        // No escalation while held back, only the look at the window's end.
        assert_eq!(a.next_step, Some(at(120)));
        let later = Context { now: at(30), ..held };
        assert!(a.step(Input::Tick, &later).unwrap().is_empty());
        let fx = a.step(Input::Resolved { at: at(31) }, &Context { now: at(31), ..held }).unwrap();
        assert_eq!(kinds(&fx), ["resolved", "notify:Resolved:2"]);
    }

    #[test]
    fn held_back_from_the_start_notifies_when_released() {
        let policy = Escalation::default();
        let mut a = critical(&policy);
        let silence = Suppression::Silence(Uuid::nil());
        let held = Context { suppression: Some(&silence), suppression_changes_at: Some(at(60)), ..ctx(&policy, t0()) };
        assert_eq!(kinds(&a.start(&held)), ["firing", "silenced"]);
        assert_eq!(a.next_step, Some(at(60)));
        // Resolving unnotified: recorded, nobody to tell.
        let mut b = a.clone();
        assert_eq!(kinds(&b.step(Input::Resolved { at: at(2) }, &held).unwrap()), ["resolved"]);
        // Released at the silence's end: notified, deadline from then.
        let fx = a.step(Input::Tick, &ctx(&policy, at(60))).unwrap();
        assert_eq!(kinds(&fx), ["released", "notify:Firing:2"]);
        assert_eq!(a.next_step, Some(at(75)));
    }

    #[test]
    fn flapping_within_the_dedup_window_is_one_alert() {
        let policy = Escalation::default();
        let mut a = critical(&policy);
        a.start(&ctx(&policy, t0()));
        a.step(Input::Resolved { at: at(2) }, &ctx(&policy, at(2))).unwrap();
        assert!(continues(&a, &policy, at(6)));
        assert!(!continues(&a, &policy, at(7)));
        let fx = a.step(Input::Firing { ends_at: None }, &ctx(&policy, at(6))).unwrap();
        assert_eq!(kinds(&fx), ["reopened", "notify:Firing:2"]);
        assert_eq!(a.id, Uuid::nil());
    }

    #[test]
    fn announced_end_resolves_unless_refreshed() {
        let policy = Escalation::default();
        let mut a = critical(&policy);
        a.ends_at = Some(at(4));
        a.start(&ctx(&policy, t0()));
        assert_eq!(a.next_step, Some(at(4)));
        a.step(Input::Firing { ends_at: Some(at(8)) }, &ctx(&policy, at(3))).unwrap();
        assert_eq!(a.next_step, Some(at(8)));
        let fx = a.step(Input::Tick, &ctx(&policy, at(9))).unwrap();
        assert_eq!(kinds(&fx), ["resolved", "notify:Resolved:2"]);
        assert_eq!(a.resolved_at, Some(at(8)));
    }

    #[test]
    fn long_downtime_takes_every_overdue_step_once() {
        let mut policy = Escalation::default();
        policy.levels[0].ack_deadline = Some(Duration::from_mins(5));
        let mut a = AlertState::new(Uuid::nil(), Fingerprint(4), t0(), 1, t0());
        a.start(&ctx(&policy, t0()));
        let fx = a.step(Input::Tick, &ctx(&policy, at(500))).unwrap();
        assert_eq!(kinds(&fx), ["escalated", "escalated", "incident_opened", "notify:Escalated:3"]);
        assert!(a.step(Input::Tick, &ctx(&policy, at(501))).unwrap().is_empty());
    }

    #[test]
    fn manual_resolve_and_refusals() {
        let policy = Escalation::default();
        let mut a = critical(&policy);
        a.start(&ctx(&policy, t0()));
        let fx = a.step(Input::Resolve { by: "user:anna".into() }, &ctx(&policy, at(1))).unwrap();
        assert_eq!(kinds(&fx), ["resolved", "notify:Resolved:2"]);
        assert!(a.step(Input::Ack { by: "user:anna".into() }, &ctx(&policy, at(2))).is_err());
        assert!(a.step(Input::Resolve { by: "user:anna".into() }, &ctx(&policy, at(2))).is_err());
        assert_eq!(
            kinds(&a.step(Input::Note { by: "user:anna".into(), text: "x".into() }, &ctx(&policy, at(2))).unwrap()),
            ["note"]
        );
        assert_eq!(
            Suppression::decode(&Suppression::Inhibited(Fingerprint(5)).encode()),
            Some(Suppression::Inhibited(Fingerprint(5)))
        );
    }
}
