//! Regulatory reporting clocks: DORA Art. 19 with Del. Reg. (EU) 2025/301,
//! NIS2 / § 32 BSIG, and GDPR Art. 33.
//!
//! [`Regulatory::deadlines`] turns the facts known about an incident (when it
//! became known, when it was classified, which reports went out) into the
//! due instants of the next reports. It is pure: the incident module calls it
//! whenever a fact changes, and the scheduler only compares with `now`.

use std::fmt;

use jiff::Timestamp;
use jiff::civil::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Violations;
use crate::calendar::WorkingCalendar;
use crate::time_limit::{Duration, TimeLimit};

/// What kind of financial entity reports under DORA; it decides whether
/// the weekend and holiday relief of Del. Reg. (EU) 2025/301 Art. 5(4)
/// applies (Art. 5(5) excludes the kinds named here but `other`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntityType {
    /// Any other financial entity: the relief applies.
    #[default]
    Other,
    /// Credit institution (CRR).
    CreditInstitution,
    /// Central counterparty.
    CentralCounterparty,
    /// Operator of a trading venue.
    TradingVenue,
    /// Identified as essential or important entity under NIS2.
    EssentialOrImportant,
}

impl EntityType {
    /// Whether a deadline on a weekend or holiday moves to the next working
    /// day at noon.
    pub fn holiday_relief(self) -> bool {
        self == EntityType::Other
    }
}

/// DORA reporting of major ICT-related incidents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dora {
    /// Whether the regime applies (financial-sector tenants).
    pub enabled: bool,
    /// Competent authority the reports go to.
    pub authority: String,
    /// Initial notification after classification as major (4 h).
    pub initial_after_classification: TimeLimit,
    /// ... and at the latest after becoming aware of the incident (24 h).
    pub initial_after_awareness: TimeLimit,
    /// Intermediate report after the initial notification was sent (72 h).
    pub intermediate_after_initial: TimeLimit,
    /// Final report after the latest intermediate report was sent (1 month).
    pub final_after_intermediate: TimeLimit,
    /// The kind of financial entity that reports. Art. 5(4): a deadline
    /// falling on a weekend or public holiday moves to the next working day
    /// at `holiday_relief_until` — except for the entities Art. 5(5) names
    /// (credit institutions, central counterparties, trading venues,
    /// entities identified as essential or important under NIS2).
    pub entity_type: EntityType,
    /// Local time on the next working day by which a relieved report is due
    /// (12:00).
    #[schemars(with = "String")]
    pub holiday_relief_until: Time,
}

/// NIS2 as transposed by § 32 BSIG.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Nis2 {
    /// Whether the regime applies (B2G portal as important/essential entity).
    pub enabled: bool,
    /// Authority (BSI).
    pub authority: String,
    /// Early warning after becoming aware (24 h).
    pub early_warning: TimeLimit,
    /// Incident notification after becoming aware (72 h).
    pub notification: TimeLimit,
    /// Final report after the incident notification (1 month).
    pub final_after_notification: TimeLimit,
}

/// GDPR Art. 33 notification of a personal-data breach.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Gdpr {
    /// Whether the regime applies.
    pub enabled: bool,
    /// Supervisory authority.
    pub authority: String,
    /// Notification after becoming aware of the breach (72 h).
    pub notification: TimeLimit,
}

/// All reporting regimes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Regulatory {
    /// DORA.
    pub dora: Dora,
    /// NIS2 / BSIG.
    pub nis2: Nis2,
    /// GDPR.
    pub gdpr: Gdpr,
}

impl Default for Regulatory {
    fn default() -> Self {
        let hours = |h| TimeLimit::Elapsed(Duration::from_hours(h));
        Self {
            dora: Dora {
                enabled: true,
                authority: "BaFin".into(),
                initial_after_classification: hours(4),
                initial_after_awareness: hours(24),
                intermediate_after_initial: hours(72),
                final_after_intermediate: TimeLimit::Months(1),
                entity_type: EntityType::Other,
                holiday_relief_until: Time::constant(12, 0, 0, 0),
            },
            nis2: Nis2 {
                enabled: true,
                authority: "BSI".into(),
                early_warning: hours(24),
                notification: hours(72),
                final_after_notification: TimeLimit::Months(1),
            },
            gdpr: Gdpr { enabled: true, authority: "Datenschutz-Aufsichtsbehörde".into(), notification: hours(72) },
        }
    }
}

/// What is known about an incident for the reporting clocks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportingFacts {
    /// When the organisation became aware of the incident.
    pub aware_at: Option<Timestamp>,
    /// When it was classified as major (DORA) / significant (NIS2).
    pub classified_major_at: Option<Timestamp>,
    /// Whether it is a significant incident under NIS2 (§ 32 BSIG: an
    /// "erheblicher Sicherheitsvorfall"); only then do its clocks run.
    pub nis2_significant: bool,
    /// Whether personal data is affected (GDPR).
    pub personal_data_breach: bool,
    /// When the DORA initial notification was sent.
    pub dora_initial_sent_at: Option<Timestamp>,
    /// When the latest DORA intermediate report was sent.
    pub dora_intermediate_sent_at: Option<Timestamp>,
    /// When the NIS2 incident notification was sent.
    pub nis2_notification_sent_at: Option<Timestamp>,
}

/// A report an authority expects; its key (`dora_initial`, …) names it in
/// the store and the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Report {
    /// DORA initial notification.
    DoraInitial,
    /// DORA intermediate report.
    DoraIntermediate,
    /// DORA final report.
    DoraFinal,
    /// NIS2 early warning.
    Nis2EarlyWarning,
    /// NIS2 incident notification.
    Nis2Notification,
    /// NIS2 final report.
    Nis2Final,
    /// GDPR Art. 33 notification.
    GdprNotification,
}

impl Report {
    /// Every report.
    pub const ALL: [Report; 7] = [
        Report::DoraInitial,
        Report::DoraIntermediate,
        Report::DoraFinal,
        Report::Nis2EarlyWarning,
        Report::Nis2Notification,
        Report::Nis2Final,
        Report::GdprNotification,
    ];

    /// The key.
    pub fn as_str(self) -> &'static str {
        match self {
            Report::DoraInitial => "dora_initial",
            Report::DoraIntermediate => "dora_intermediate",
            Report::DoraFinal => "dora_final",
            Report::Nis2EarlyWarning => "nis2_early_warning",
            Report::Nis2Notification => "nis2_notification",
            Report::Nis2Final => "nis2_final",
            Report::GdprNotification => "gdpr_notification",
        }
    }

    /// The report with this key.
    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == key)
    }

    /// The regime it belongs to: `dora`, `nis2` or `gdpr`.
    pub fn regime(self) -> &'static str {
        match self {
            Report::DoraInitial | Report::DoraIntermediate | Report::DoraFinal => "dora",
            Report::Nis2EarlyWarning | Report::Nis2Notification | Report::Nis2Final => "nis2",
            Report::GdprNotification => "gdpr",
        }
    }
}

/// The German name (`DORA Erstmeldung`, …).
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Report::DoraInitial => "DORA Erstmeldung",
            Report::DoraIntermediate => "DORA Zwischenbericht",
            Report::DoraFinal => "DORA Abschlussbericht",
            Report::Nis2EarlyWarning => "NIS2 Frühwarnung",
            Report::Nis2Notification => "NIS2 Meldung",
            Report::Nis2Final => "NIS2 Abschlussbericht",
            Report::GdprNotification => "DSGVO Art. 33 Meldung",
        })
    }
}

/// When a report is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportDeadline {
    /// Which report.
    pub report: Report,
    /// Due instant.
    pub due: Timestamp,
    /// True when DORA's weekend/holiday relief moved the deadline.
    pub relieved: bool,
}

impl Regulatory {
    /// Due instants of every report whose clock has started, given the facts.
    /// Reports already sent are listed too (their deadline is still evidence
    /// of whether they were on time).
    pub fn deadlines(&self, facts: &ReportingFacts, cal: &WorkingCalendar) -> Vec<ReportDeadline> {
        let mut out = Vec::new();
        let plain = |report, due| ReportDeadline { report, due, relieved: false };
        if self.dora.enabled {
            if let Some(classified) = facts.classified_major_at {
                let mut due = self.dora.initial_after_classification.due(classified, cal);
                if let Some(aware) = facts.aware_at {
                    due = due.min(self.dora.initial_after_awareness.due(aware, cal));
                }
                out.push(self.dora_relief(Report::DoraInitial, due, cal));
            }
            if let Some(initial) = facts.dora_initial_sent_at {
                let due = self.dora.intermediate_after_initial.due(initial, cal);
                out.push(self.dora_relief(Report::DoraIntermediate, due, cal));
            }
            if let Some(intermediate) = facts.dora_intermediate_sent_at {
                let due = self.dora.final_after_intermediate.due(intermediate, cal);
                out.push(self.dora_relief(Report::DoraFinal, due, cal));
            }
        }
        if let (true, true, Some(aware)) = (self.nis2.enabled, facts.nis2_significant, facts.aware_at) {
            out.push(plain(Report::Nis2EarlyWarning, self.nis2.early_warning.due(aware, cal)));
            out.push(plain(Report::Nis2Notification, self.nis2.notification.due(aware, cal)));
            if let Some(sent) = facts.nis2_notification_sent_at {
                out.push(plain(Report::Nis2Final, self.nis2.final_after_notification.due(sent, cal)));
            }
        }
        if let (true, true, Some(aware)) = (self.gdpr.enabled, facts.personal_data_breach, facts.aware_at) {
            out.push(plain(Report::GdprNotification, self.gdpr.notification.due(aware, cal)));
        }
        out
    }

    fn dora_relief(&self, report: Report, due: Timestamp, cal: &WorkingCalendar) -> ReportDeadline {
        let day = cal.local_date(due);
        if self.dora.entity_type.holiday_relief() && !cal.is_working_day(day) {
            let relieved = cal.at(cal.next_working_day(day), self.dora.holiday_relief_until);
            return ReportDeadline { report, due: relieved, relieved: true };
        }
        ReportDeadline { report, due, relieved: false }
    }

    pub(crate) fn validate(&self, path: &str, v: &mut Violations) {
        let dora = &self.dora;
        v.check(
            dora.initial_after_classification.upper_bound() <= dora.initial_after_awareness.upper_bound(),
            path,
            "dora.initial_after_classification",
            || {
                format!(
                    "must not be longer than initial_after_awareness ({} > {})",
                    dora.initial_after_classification, dora.initial_after_awareness
                )
            },
        );
        let limits = [
            ("dora.initial_after_classification", dora.initial_after_classification),
            ("dora.initial_after_awareness", dora.initial_after_awareness),
            ("dora.intermediate_after_initial", dora.intermediate_after_initial),
            ("dora.final_after_intermediate", dora.final_after_intermediate),
            ("nis2.early_warning", self.nis2.early_warning),
            ("nis2.notification", self.nis2.notification),
            ("nis2.final_after_notification", self.nis2.final_after_notification),
            ("gdpr.notification", self.gdpr.notification),
        ];
        for (key, limit) in limits {
            v.check(!limit.is_zero(), path, key, || "a reporting deadline must allow some time".into());
        }
        v.check(
            self.nis2.early_warning.upper_bound() <= self.nis2.notification.upper_bound(),
            path,
            "nis2.early_warning",
            || "the early warning cannot be due after the notification".into(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn due(list: &[ReportDeadline], report: Report) -> (String, bool) {
        let d = list.iter().find(|d| d.report == report).unwrap();
        (d.due.to_string(), d.relieved)
    }

    #[test]
    fn dora_initial_is_four_hours_after_classification_capped_by_awareness() {
        let reg = Regulatory::default();
        let cal = WorkingCalendar::germany();
        // Tuesday: aware 08:00 UTC, classified 10:00 UTC -> 14:00 UTC.
        let facts = ReportingFacts {
            aware_at: Some(ts("2026-11-24T08:00:00Z")),
            classified_major_at: Some(ts("2026-11-24T10:00:00Z")),
            ..Default::default()
        };
        assert_eq!(due(&reg.deadlines(&facts, &cal), Report::DoraInitial), ("2026-11-24T14:00:00Z".into(), false));
        // Classified 22 h after awareness: the 24 h cap wins.
        let facts = ReportingFacts { classified_major_at: Some(ts("2026-11-25T06:00:00Z")), ..facts };
        assert_eq!(due(&reg.deadlines(&facts, &cal), Report::DoraInitial), ("2026-11-25T08:00:00Z".into(), false));
    }

    #[test]
    fn dora_deadline_on_a_weekend_moves_to_monday_noon() {
        let reg = Regulatory::default();
        let cal = WorkingCalendar::germany();
        // Initial sent Wednesday 2026-11-25 20:00 UTC; +72 h = Saturday.
        let facts = ReportingFacts { dora_initial_sent_at: Some(ts("2026-11-25T20:00:00Z")), ..Default::default() };
        // Monday 2026-11-30 12:00 CET = 11:00 UTC.
        assert_eq!(due(&reg.deadlines(&facts, &cal), Report::DoraIntermediate), ("2026-11-30T11:00:00Z".into(), true));
        let mut strict = reg.clone();
        strict.dora.entity_type = EntityType::CreditInstitution;
        assert_eq!(
            due(&strict.deadlines(&facts, &cal), Report::DoraIntermediate),
            ("2026-11-28T20:00:00Z".into(), false)
        );
    }

    #[test]
    fn dora_final_is_one_calendar_month_after_the_intermediate_report() {
        let reg = Regulatory::default();
        let cal = WorkingCalendar::germany();
        let facts =
            ReportingFacts { dora_intermediate_sent_at: Some(ts("2026-01-15T09:00:00Z")), ..Default::default() };
        assert_eq!(due(&reg.deadlines(&facts, &cal), Report::DoraFinal), ("2026-02-16T11:00:00Z".into(), true));
    }

    #[test]
    fn nis2_and_gdpr_clocks_start_at_awareness() {
        let reg = Regulatory::default();
        let cal = WorkingCalendar::germany();
        let facts = ReportingFacts {
            aware_at: Some(ts("2026-11-27T18:00:00Z")),
            nis2_significant: true,
            personal_data_breach: true,
            nis2_notification_sent_at: Some(ts("2026-11-29T10:00:00Z")),
            ..Default::default()
        };
        let list = reg.deadlines(&facts, &cal);
        // No weekend relief in BSIG or GDPR.
        assert_eq!(due(&list, Report::Nis2EarlyWarning), ("2026-11-28T18:00:00Z".into(), false));
        assert_eq!(due(&list, Report::Nis2Notification), ("2026-11-30T18:00:00Z".into(), false));
        assert_eq!(due(&list, Report::Nis2Final), ("2026-12-29T10:00:00Z".into(), false));
        assert_eq!(due(&list, Report::GdprNotification), ("2026-11-30T18:00:00Z".into(), false));
        assert!(!list.iter().any(|d| d.report == Report::DoraInitial), "not classified as major yet");
        let minor = ReportingFacts { nis2_significant: false, ..facts };
        let list = reg.deadlines(&minor, &cal);
        assert!(
            !list.iter().any(|d| d.report == Report::Nis2EarlyWarning),
            "only significant incidents report to the BSI"
        );
        assert!(list.iter().any(|d| d.report == Report::GdprNotification), "a breach is notified whatever its size");
    }
}
