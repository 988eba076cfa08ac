//! What an incident is between its opening and its closing: the five
//! phases of the seed, the status, and the times that must fit together.
//!
//! Phases follow the seed's order (Erkennung → Eindämmung → Analyse →
//! Behebung → Nachbereitung) but may step back — a fix that does not hold
//! sends the incident back to analysis — and every move is recorded with
//! who made it. The status is what the clocks and the lists need: open
//! while the disturbance lasts, resolved once it is over (the post-mortem
//! clock starts), closed when nothing is left to do.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The five phases of the seed's incident process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Erkennung: the alert is there, the incident is opened.
    Detection,
    /// Eindämmung: limit the damage, inform those affected.
    Containment,
    /// Analyse: find the cause.
    Analysis,
    /// Behebung: fix it.
    Remediation,
    /// Nachbereitung: post-mortem and measures.
    FollowUp,
}

impl Phase {
    /// Every phase in the seed's order.
    pub const ALL: [Phase; 5] =
        [Phase::Detection, Phase::Containment, Phase::Analysis, Phase::Remediation, Phase::FollowUp];

    /// The key used in the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Detection => "detection",
            Phase::Containment => "containment",
            Phase::Analysis => "analysis",
            Phase::Remediation => "remediation",
            Phase::FollowUp => "follow_up",
        }
    }

    /// The seed's German name.
    pub fn label_de(self) -> &'static str {
        match self {
            Phase::Detection => "Erkennung",
            Phase::Containment => "Eindämmung",
            Phase::Analysis => "Analyse",
            Phase::Remediation => "Behebung",
            Phase::FollowUp => "Nachbereitung",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A string that names no phase.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown phase {0:?}: one of detection, containment, analysis, remediation, follow_up")]
pub struct UnknownPhase(pub String);

impl FromStr for Phase {
    type Err = UnknownPhase;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Phase::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| UnknownPhase(s.to_string()))
    }
}

/// Where an incident stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The disturbance lasts.
    Open,
    /// The disturbance is over; follow-up runs.
    Resolved,
    /// Nothing is left to do (post-mortem approved where one is required).
    Closed,
}

impl Status {
    /// Every status.
    pub const ALL: [Status; 3] = [Status::Open, Status::Resolved, Status::Closed];

    /// The key used in the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A string that names no status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status {0:?}: one of open, resolved, closed")]
pub struct UnknownStatus(pub String);

impl FromStr for Status {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| UnknownStatus(s.to_string()))
    }
}

/// The instants an incident's clocks start from. `detected_at` is when the
/// first signal came (the alert, the report); `aware_at` when the
/// organisation became aware that it is an incident (DORA, NIS2 and GDPR
/// count from here); `classified_at` when it was classified as major.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IncidentTimes {
    /// First signal.
    pub detected_at: Option<Timestamp>,
    /// Awareness that it is an incident.
    pub aware_at: Option<Timestamp>,
    /// Classification as major (DORA) or significant (NIS2).
    pub classified_at: Option<Timestamp>,
    /// The disturbance ended.
    pub resolved_at: Option<Timestamp>,
}

/// Two instants that cannot stand in this order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct TimeError {
    /// The field that is wrong (the later of the two in the rule).
    pub field: &'static str,
    /// What rule it breaks, with both instants.
    pub reason: String,
}

impl IncidentTimes {
    /// Checks that the times are possible: nothing in the future of `now`,
    /// nothing before the first signal, classification not before
    /// awareness, resolution not before detection.
    pub fn check(&self, now: Timestamp) -> Result<(), TimeError> {
        // A time in the future is the first thing to say: it makes every
        // order between the others meaningless.
        let all = [
            ("detected_at", self.detected_at),
            ("aware_at", self.aware_at),
            ("classified_at", self.classified_at),
            ("resolved_at", self.resolved_at),
        ];
        for (field, at) in all {
            if let Some(at) = at
                && at > now
            {
                return Err(TimeError { field, reason: format!("{at} lies in the future (now {now})") });
            }
        }
        let pairs: [(&'static str, Option<Timestamp>, &'static str, Option<Timestamp>); 4] = [
            ("aware_at", self.aware_at, "detected_at", self.detected_at),
            ("classified_at", self.classified_at, "aware_at", self.aware_at),
            ("classified_at", self.classified_at, "detected_at", self.detected_at),
            ("resolved_at", self.resolved_at, "detected_at", self.detected_at),
        ];
        for (field, later, before, earlier) in pairs {
            if let (Some(later), Some(earlier)) = (later, earlier)
                && later < earlier
            {
                return Err(TimeError { field, reason: format!("{later} lies before {before} ({earlier})") });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn phases_and_statuses_round_trip_and_name_the_choices() {
        for p in Phase::ALL {
            assert_eq!(p.as_str().parse::<Phase>().unwrap(), p);
        }
        assert!(Phase::Detection < Phase::FollowUp, "the seed's order");
        assert!("done".parse::<Phase>().unwrap_err().to_string().contains("follow_up"));
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
        }
    }

    #[test]
    fn impossible_times_name_the_field() {
        let now = ts("2026-12-04T16:00:00Z");
        let ok = IncidentTimes {
            detected_at: Some(ts("2026-12-04T13:00:00Z")),
            aware_at: Some(ts("2026-12-04T13:05:00Z")),
            classified_at: Some(ts("2026-12-04T14:00:00Z")),
            resolved_at: Some(ts("2026-12-04T15:00:00Z")),
        };
        ok.check(now).unwrap();
        let resolved_first = IncidentTimes { resolved_at: Some(ts("2026-12-04T12:00:00Z")), ..ok };
        assert_eq!(resolved_first.check(now).unwrap_err().field, "resolved_at");
        let classified_first = IncidentTimes { classified_at: Some(ts("2026-12-04T13:01:00Z")), ..ok };
        let e = classified_first.check(now).unwrap_err();
        assert_eq!(e.field, "classified_at");
        assert!(e.reason.contains("aware_at"), "{e}");
        let future = IncidentTimes { resolved_at: Some(ts("2026-12-05T00:00:00Z")), ..ok };
        assert_eq!(future.check(now).unwrap_err().field, "resolved_at");
    }
}
