//! Incident severities SEV-1..4 with their reaction times, and the
//! post-incident deadlines (post-mortem within 5 working days, root-cause
//! analysis within 24 h of a manual rollback).

use std::fmt;

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Violations, join};
use crate::calendar::WorkingCalendar;
use crate::time_limit::{Duration, TimeLimit};

/// An incident severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Severity {
    /// Kritisch: total outage or data loss.
    #[serde(rename = "SEV-1")]
    Sev1,
    /// Hoch: substantial loss of function.
    #[serde(rename = "SEV-2")]
    Sev2,
    /// Mittel: a single function impaired.
    #[serde(rename = "SEV-3")]
    Sev3,
    /// Niedrig: cosmetic, or a workaround exists.
    #[serde(rename = "SEV-4")]
    Sev4,
}

impl Severity {
    /// All severities, most severe first.
    pub const ALL: [Severity; 4] = [Severity::Sev1, Severity::Sev2, Severity::Sev3, Severity::Sev4];
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = match self {
            Severity::Sev1 => 1,
            Severity::Sev2 => 2,
            Severity::Sev3 => 3,
            Severity::Sev4 => 4,
        };
        write!(f, "SEV-{n}")
    }
}

/// A string that names no severity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not one of SEV-1, SEV-2, SEV-3, SEV-4")]
pub struct UnknownSeverity(pub String);

impl std::str::FromStr for Severity {
    type Err = UnknownSeverity;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL.into_iter().find(|v| v.to_string() == s).ok_or_else(|| UnknownSeverity(s.to_string()))
    }
}

/// The policy for one severity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeverityPolicy {
    /// German label (Kritisch, Hoch, Mittel, Niedrig).
    pub label: String,
    /// What the severity means.
    pub description: String,
    /// Time from detection within which the response must start.
    pub reaction: TimeLimit,
    /// Example from the seed.
    pub example: String,
    /// Affected tenants are informed during containment.
    pub notify_affected: bool,
    /// A fix deployment needs the compliance officer's approval.
    pub fix_needs_compliance_approval: bool,
    /// Management is informed at once.
    pub inform_management: bool,
}

/// The four severities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Severities {
    /// SEV-1 (Kritisch).
    #[serde(rename = "SEV-1")]
    pub sev1: SeverityPolicy,
    /// SEV-2 (Hoch).
    #[serde(rename = "SEV-2")]
    pub sev2: SeverityPolicy,
    /// SEV-3 (Mittel).
    #[serde(rename = "SEV-3")]
    pub sev3: SeverityPolicy,
    /// SEV-4 (Niedrig).
    #[serde(rename = "SEV-4")]
    pub sev4: SeverityPolicy,
}

impl Severities {
    /// The policy of `severity`.
    pub fn get(&self, severity: Severity) -> &SeverityPolicy {
        match severity {
            Severity::Sev1 => &self.sev1,
            Severity::Sev2 => &self.sev2,
            Severity::Sev3 => &self.sev3,
            Severity::Sev4 => &self.sev4,
        }
    }
}

/// Incident management.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Incidents {
    /// Severity classes.
    pub severities: Severities,
    /// Post-mortem deadline after resolution (seed: 5 Arbeitstage).
    pub post_mortem_within: TimeLimit,
    /// Root-cause analysis must start this soon after a manual rollback
    /// (seed: 24 h).
    pub root_cause_after_rollback: Duration,
}

impl Default for Incidents {
    fn default() -> Self {
        let sev = |label: &str, description: &str, reaction, example: &str, high: bool| SeverityPolicy {
            label: label.into(),
            description: description.into(),
            reaction,
            example: example.into(),
            notify_affected: high,
            fix_needs_compliance_approval: high,
            inform_management: label == "Kritisch",
        };
        Self {
            severities: Severities {
                sev1: sev(
                    "Kritisch",
                    "Totalausfall oder Datenverlust",
                    TimeLimit::Elapsed(Duration::from_mins(15)),
                    "Portal nicht erreichbar, Daten kompromittiert",
                    true,
                ),
                sev2: sev(
                    "Hoch",
                    "Wesentliche Funktionseinschränkung",
                    TimeLimit::Elapsed(Duration::from_mins(30)),
                    "API-Sync für mehrere Maklerhäuser ausgefallen",
                    true,
                ),
                sev3: sev(
                    "Mittel",
                    "Einzelne Funktion beeinträchtigt",
                    TimeLimit::Elapsed(Duration::from_hours(2)),
                    "Report-Generierung fehlerhaft",
                    false,
                ),
                sev4: sev(
                    "Niedrig",
                    "Kosmetisch oder Workaround vorhanden",
                    TimeLimit::NextWorkingDay,
                    "UI-Darstellungsfehler mit Workaround",
                    false,
                ),
            },
            post_mortem_within: TimeLimit::WorkingDays(5),
            root_cause_after_rollback: Duration::from_hours(24),
        }
    }
}

impl Incidents {
    /// When the response to an incident of `severity` detected at
    /// `detected_at` must have started.
    pub fn reaction_due(&self, severity: Severity, detected_at: Timestamp, cal: &WorkingCalendar) -> Timestamp {
        self.severities.get(severity).reaction.due(detected_at, cal)
    }

    /// When the post-mortem of an incident resolved at `resolved_at` is due.
    pub fn post_mortem_due(&self, resolved_at: Timestamp, cal: &WorkingCalendar) -> Timestamp {
        self.post_mortem_within.due(resolved_at, cal)
    }

    pub(crate) fn validate(&self, path: &str, v: &mut Violations) {
        let spath = join(path, "severities");
        for pair in Severity::ALL.windows(2) {
            let (higher, lower) = (self.severities.get(pair[0]), self.severities.get(pair[1]));
            v.check(
                higher.reaction.upper_bound() <= lower.reaction.upper_bound(),
                &spath,
                &format!("{}.reaction", pair[0]),
                || {
                    format!(
                        "{} ({}) must not allow more time than the less severe {} ({})",
                        pair[0], higher.reaction, pair[1], lower.reaction
                    )
                },
            );
        }
        v.check(!self.post_mortem_within.is_zero(), path, "post_mortem_within", || "must allow some time".into());
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::{date, time};

    use super::*;

    #[test]
    fn reaction_times_follow_the_seed() {
        let inc = Incidents::default();
        let cal = WorkingCalendar::germany();
        // Friday 2026-11-27 22:10 CET.
        let detected = cal.at(date(2026, 11, 27), time(22, 10, 0, 0));
        let due = |s| inc.reaction_due(s, detected, &cal).to_string();
        assert_eq!(due(Severity::Sev1), "2026-11-27T21:25:00Z");
        assert_eq!(due(Severity::Sev2), "2026-11-27T21:40:00Z");
        assert_eq!(due(Severity::Sev3), "2026-11-27T23:10:00Z");
        // SEV-4: next working day is Monday, close of business 17:00 CET.
        assert_eq!(due(Severity::Sev4), "2026-11-30T16:00:00Z");
    }

    #[test]
    fn post_mortem_is_due_after_five_working_days() {
        let inc = Incidents::default();
        let cal = WorkingCalendar::germany();
        // Resolved Wednesday 2026-12-23: 24th (Thu) counts, 25/26 holidays,
        // then 28, 29, 30, 31 -> due Thursday 2026-12-31, 17:00 CET.
        let resolved = cal.at(date(2026, 12, 23), time(11, 0, 0, 0));
        assert_eq!(inc.post_mortem_due(resolved, &cal).to_string(), "2026-12-31T16:00:00Z");
    }

    #[test]
    fn severities_read_back_and_others_are_named() {
        for s in Severity::ALL {
            assert_eq!(s.to_string().parse::<Severity>(), Ok(s));
        }
        assert_eq!(
            "SEV-5".parse::<Severity>().unwrap_err().to_string(),
            "\"SEV-5\" is not one of SEV-1, SEV-2, SEV-3, SEV-4"
        );
    }

    #[test]
    fn severities_must_be_ordered() {
        let mut inc = Incidents::default();
        inc.severities.sev1.reaction = TimeLimit::Elapsed(Duration::from_hours(3));
        let mut v = Violations::default();
        inc.validate("incidents", &mut v);
        assert_eq!(v.0.len(), 1);
        assert_eq!(v.0[0].path, "incidents.severities.SEV-1.reaction");
    }
}
