//! Alert deduplication and the three escalation levels of the seed:
//! warning → DevOps; critical → DevOps + on-call, acknowledged within 15
//! minutes or else level 3 → DevOps + development + management, and the
//! incident process starts.

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Violations, join};
use crate::time_limit::Duration;

/// Who is notified at a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// The DevOps team.
    Devops,
    /// Whoever is on call at that moment (Rufbereitschaft).
    OnCall,
    /// The development team.
    Development,
    /// Management (the seed's "Mario").
    Management,
    /// The compliance officer.
    Compliance,
    /// The security team.
    Security,
}

/// How a level reaches people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// E-mail.
    Email,
    /// Chat: Slack-compatible, Mattermost, Teams or Matrix.
    Chat,
    /// Generic webhook (a paging service such as PagerDuty or an SMS
    /// gateway behind it).
    Webhook,
}

/// One escalation level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalationLevel {
    /// German name of the level (Warnung, Kritisch, Ausfall).
    pub name: String,
    /// Who is notified.
    pub notify: Vec<Audience>,
    /// Channels used for the notification.
    pub channels: Vec<ChannelKind>,
    /// Time within which someone must act; unset: at the next opportunity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act_within: Option<Duration>,
    /// Escalate to the next level when nobody acknowledges within this time;
    /// unset on the last level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_deadline: Option<Duration>,
    /// Reaching this level opens an incident (incident-response process);
    /// unset: it does not.
    #[serde(default)]
    pub opens_incident: bool,
}

/// Deduplication and escalation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Escalation {
    /// Identical alerts within this window are one alert (seed: 5 min).
    pub dedup_window: Duration,
    /// Levels 1, 2, 3 in order.
    pub levels: Vec<EscalationLevel>,
}

impl Default for Escalation {
    fn default() -> Self {
        use Audience::*;
        use ChannelKind::*;
        Self {
            dedup_window: Duration::from_mins(5),
            levels: vec![
                EscalationLevel {
                    name: "Warnung".into(),
                    notify: vec![Devops],
                    // The webhook is the seed's "automatic documentation"
                    // (ticket system, incident log).
                    channels: vec![Chat, Email, Webhook],
                    act_within: None,
                    ack_deadline: None,
                    opens_incident: false,
                },
                EscalationLevel {
                    name: "Kritisch".into(),
                    notify: vec![Devops, OnCall],
                    channels: vec![Chat, Email, Webhook],
                    act_within: Some(Duration::from_mins(15)),
                    ack_deadline: Some(Duration::from_mins(15)),
                    opens_incident: false,
                },
                EscalationLevel {
                    name: "Ausfall".into(),
                    notify: vec![Devops, Development, Management],
                    channels: vec![Chat, Email, Webhook],
                    act_within: Some(Duration::from_secs(0)),
                    ack_deadline: None,
                    opens_incident: true,
                },
            ],
        }
    }
}

/// What the escalation policy says about an unacknowledged alert now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EscalationDecision {
    /// Stay at the current level; the next check is due at `until`
    /// (`None`: the level never escalates on its own).
    Hold {
        /// When to look again.
        until: Option<Timestamp>,
    },
    /// Move to level `to` (1-based) now.
    Escalate {
        /// The new level.
        to: u8,
    },
}

impl Escalation {
    /// The level (1-based) as configured, if it exists.
    pub fn level(&self, level: u8) -> Option<&EscalationLevel> {
        self.levels.get(usize::from(level).checked_sub(1)?)
    }

    /// Pure escalation step: an alert at `level` that reached it at
    /// `since` and is not acknowledged, looked at `now`.
    pub fn decide(&self, level: u8, since: Timestamp, acknowledged: bool, now: Timestamp) -> EscalationDecision {
        let deadline = match (acknowledged, self.level(level).and_then(|l| l.ack_deadline)) {
            (false, Some(d)) if self.level(level + 1).is_some() => d,
            _ => return EscalationDecision::Hold { until: None },
        };
        let due = since.saturating_add(deadline.signed()).unwrap_or(Timestamp::MAX);
        if now >= due {
            EscalationDecision::Escalate { to: level + 1 }
        } else {
            EscalationDecision::Hold { until: Some(due) }
        }
    }

    pub(crate) fn validate(&self, path: &str, v: &mut Violations) {
        v.check(!self.dedup_window.is_zero(), path, "dedup_window", || {
            "must be longer than 0s, or identical alerts are never merged".into()
        });
        v.check(!self.levels.is_empty(), path, "levels", || "at least one escalation level is needed".into());
        v.check(self.levels.len() <= 9, path, "levels", || "at most 9 escalation levels".into());
        let last = self.levels.len().saturating_sub(1);
        for (i, level) in self.levels.iter().enumerate() {
            let lpath = format!("{}[{i}]", join(path, "levels"));
            v.check(!level.notify.is_empty(), &lpath, "notify", || format!("level {} notifies nobody", i + 1));
            v.check(!level.channels.is_empty(), &lpath, "channels", || format!("level {} has no channel", i + 1));
            match level.ack_deadline {
                Some(d) if i == last => v.push(
                    join(&lpath, "ack_deadline"),
                    format!("the last level ({}) has nowhere to escalate to; remove ack_deadline ({d})", i + 1),
                ),
                Some(d) if d.is_zero() => v.push(join(&lpath, "ack_deadline"), "must be longer than 0s"),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;

    use super::*;

    #[test]
    fn unacknowledged_critical_escalates_after_fifteen_minutes() {
        let esc = Escalation::default();
        let since: Timestamp = "2026-11-23T03:00:00Z".parse().unwrap();
        let at = |mins| since + SignedDuration::from_mins(mins);
        assert_eq!(esc.decide(2, since, false, at(14)), EscalationDecision::Hold { until: Some(at(15)) });
        assert_eq!(esc.decide(2, since, false, at(15)), EscalationDecision::Escalate { to: 3 });
        assert_eq!(esc.decide(2, since, true, at(60)), EscalationDecision::Hold { until: None });
        assert_eq!(esc.decide(1, since, false, at(600)), EscalationDecision::Hold { until: None });
        assert_eq!(esc.decide(3, since, false, at(600)), EscalationDecision::Hold { until: None });
        assert!(esc.level(3).unwrap().opens_incident);
    }

    #[test]
    fn last_level_cannot_escalate() {
        let mut esc = Escalation::default();
        esc.levels[2].ack_deadline = Some(Duration::from_mins(5));
        let mut v = Violations::default();
        esc.validate("escalation", &mut v);
        assert_eq!(v.0[0].path, "escalation.levels[2].ack_deadline");
    }
}
