//! Every clock an incident runs, computed afresh from stored facts: the
//! first response per severity, the regulatory reports of the regimes that
//! apply (DORA, NIS2 / § 32 BSIG, GDPR Art. 33) and the post-mortem.
//!
//! A clock is not a timer: it is a due instant derived from facts (when the
//! incident was detected, classified, which report went out when). The
//! service stores the facts and recomputes the clocks whenever one changes
//! or the process starts, so a restart loses none. Reminders are derived
//! the same way ([`Clock::reminder_due`]): each lead time is a step the
//! service records once it is sent, so none is sent twice.

use jiff::{SignedDuration, Timestamp};
use leitstand_core::calendar::WorkingCalendar;
pub use leitstand_core::policy::EntityType;
use leitstand_core::policy::{Incidents, Regulatory, ReportingFacts, Severity};
use serde::{Deserialize, Serialize};

/// The regimes that apply to one incident: the deployment's, narrowed or
/// widened by the affected tenants' policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Regimes {
    /// DORA, for this kind of entity.
    pub dora: Option<EntityType>,
    /// NIS2 / § 32 BSIG.
    pub nis2: bool,
    /// GDPR Art. 33 (its clock runs only for a personal-data breach).
    pub gdpr: bool,
}

/// Which clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    /// The first response by a person (acknowledgement or phase change).
    Reaction,
    /// A report to an authority.
    Report(ReportKind),
    /// The post-mortem (SEV-1/2).
    PostMortem,
}

/// A report an authority expects, by its key (`dora_initial`, …).
pub use leitstand_core::policy::Report as ReportKind;

/// The facts the clocks are computed from, as the service stores them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClockFacts {
    /// Severity now.
    pub severity: Option<Severity>,
    /// First signal.
    pub detected_at: Option<Timestamp>,
    /// Awareness that it is an incident.
    pub aware_at: Option<Timestamp>,
    /// Classified as major (DORA) / significant (NIS2).
    pub classified_major_at: Option<Timestamp>,
    /// Significant under NIS2 (§ 32 BSIG).
    pub nis2_significant: bool,
    /// Personal data affected (GDPR).
    pub personal_data_breach: bool,
    /// First response by a person.
    pub first_response_at: Option<Timestamp>,
    /// Resolved.
    pub resolved_at: Option<Timestamp>,
    /// Post-mortem approved.
    pub post_mortem_approved_at: Option<Timestamp>,
    /// Every report submitted, with its submission time.
    pub submitted: Vec<(ReportKind, Timestamp)>,
}

impl ClockFacts {
    fn first_submitted(&self, kind: ReportKind) -> Option<Timestamp> {
        self.submitted.iter().filter(|(k, _)| *k == kind).map(|(_, at)| *at).min()
    }

    fn latest_submitted(&self, kind: ReportKind) -> Option<Timestamp> {
        self.submitted.iter().filter(|(k, _)| *k == kind).map(|(_, at)| *at).max()
    }
}

/// One running or finished clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    /// Which clock.
    pub kind: ClockKind,
    /// When it runs out.
    pub due: Timestamp,
    /// DORA's weekend/holiday relief moved the deadline.
    pub relieved: bool,
    /// When what it waits for happened.
    pub done_at: Option<Timestamp>,
}

impl ClockKind {
    /// The key in the API: `reaction`, `post_mortem`, or the report's.
    pub fn as_str(self) -> &'static str {
        match self {
            ClockKind::Reaction => "reaction",
            ClockKind::PostMortem => "post_mortem",
            ClockKind::Report(r) => r.as_str(),
        }
    }
}

/// Where a clock stands at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    /// Still running, not yet due.
    Running,
    /// Due and not done.
    Overdue,
    /// Done in time.
    Met,
    /// Done, but late.
    MetLate,
}

impl ClockState {
    /// The key in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ClockState::Running => "running",
            ClockState::Overdue => "overdue",
            ClockState::Met => "met",
            ClockState::MetLate => "met_late",
        }
    }
}

impl Clock {
    /// The state at `now`.
    pub fn state(&self, now: Timestamp) -> ClockState {
        match self.done_at {
            Some(done) if done <= self.due => ClockState::Met,
            Some(_) => ClockState::MetLate,
            None if now > self.due => ClockState::Overdue,
            None => ClockState::Running,
        }
    }

    /// Time left at `now` (negative when overdue).
    pub fn remaining(&self, now: Timestamp) -> SignedDuration {
        self.due.duration_since(now)
    }

    /// The reminder step to send at `now`, if any: `leads` are the lead
    /// times before the due instant (e.g. 2 h, 30 min), step `leads.len()`
    /// is "overdue". `sent` are the steps already sent. After a pause (a
    /// restart) only the most urgent step that is due is returned, so the
    /// people on call get one message, not a backlog.
    pub fn reminder_due(&self, leads: &[SignedDuration], sent: &[usize], now: Timestamp) -> Option<usize> {
        if self.done_at.is_some() {
            return None;
        }
        if now > self.due {
            let overdue = leads.len();
            return (!sent.contains(&overdue)).then_some(overdue);
        }
        let mut steps: Vec<(usize, Timestamp)> = leads
            .iter()
            .enumerate()
            .filter_map(|(i, lead)| self.due.checked_sub(*lead).ok().map(|at| (i, at)))
            .collect();
        steps.sort_by_key(|(_, at)| *at);
        let latest = steps.iter().rev().find(|(_, at)| *at <= now)?;
        let already = steps.iter().filter(|(_, at)| *at >= latest.1).any(|(i, _)| sent.contains(i));
        (!already).then_some(latest.0)
    }
}

/// The policy sections the clocks read.
#[derive(Debug, Clone, Copy)]
pub struct ClockPolicy<'a> {
    /// Severities, reaction times, post-mortem deadline.
    pub incidents: &'a Incidents,
    /// The reporting regimes' limits.
    pub regulatory: &'a Regulatory,
    /// Working days and holidays (the tenant's Bundesland).
    pub calendar: &'a WorkingCalendar,
}

/// Every clock of an incident with these facts, under these regimes.
pub fn clocks(policy: ClockPolicy<'_>, regimes: Regimes, facts: &ClockFacts) -> Vec<Clock> {
    let mut out = Vec::new();
    if let (Some(severity), Some(detected)) = (facts.severity, facts.detected_at) {
        out.push(Clock {
            kind: ClockKind::Reaction,
            due: policy.incidents.reaction_due(severity, detected, policy.calendar),
            relieved: false,
            done_at: facts.first_response_at,
        });
    }
    let mut regulatory = policy.regulatory.clone();
    regulatory.dora.enabled = regimes.dora.is_some();
    regulatory.dora.entity_type = regimes.dora.unwrap_or_default();
    regulatory.nis2.enabled = regimes.nis2;
    regulatory.gdpr.enabled = regimes.gdpr;
    let reporting = ReportingFacts {
        aware_at: facts.aware_at,
        classified_major_at: facts.classified_major_at,
        nis2_significant: facts.nis2_significant,
        personal_data_breach: facts.personal_data_breach,
        dora_initial_sent_at: facts.first_submitted(ReportKind::DoraInitial),
        dora_intermediate_sent_at: facts.latest_submitted(ReportKind::DoraIntermediate),
        nis2_notification_sent_at: facts.first_submitted(ReportKind::Nis2Notification),
    };
    for deadline in regulatory.deadlines(&reporting, policy.calendar) {
        let kind = deadline.report;
        // The first submission of a report settles its clock; the final
        // report counts from the latest intermediate one (updates may
        // follow the first).
        out.push(Clock {
            kind: ClockKind::Report(kind),
            due: deadline.due,
            relieved: deadline.relieved,
            done_at: facts.first_submitted(kind),
        });
    }
    let needs_post_mortem = matches!(facts.severity, Some(Severity::Sev1 | Severity::Sev2));
    if let (true, Some(resolved)) = (needs_post_mortem, facts.resolved_at) {
        out.push(Clock {
            kind: ClockKind::PostMortem,
            due: policy.incidents.post_mortem_due(resolved, policy.calendar),
            relieved: false,
            done_at: facts.post_mortem_approved_at,
        });
    }
    out
}

/// The open clock that runs out first.
pub fn nearest(clocks: &[Clock]) -> Option<&Clock> {
    clocks.iter().filter(|c| c.done_at.is_none()).min_by_key(|c| c.due)
}

#[cfg(test)]
mod tests {
    use jiff::civil::{Time, date, time};
    use jiff::tz::TimeZone;
    use leitstand_core::calendar::Bundesland;

    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn calendar(state: Option<Bundesland>) -> WorkingCalendar {
        WorkingCalendar::new(
            TimeZone::get("Europe/Berlin").unwrap(),
            state,
            Vec::new(),
            Time::constant(8, 0, 0, 0),
            Time::constant(17, 0, 0, 0),
        )
    }

    struct Fixture {
        incidents: Incidents,
        regulatory: Regulatory,
        calendar: WorkingCalendar,
    }

    impl Fixture {
        fn new(state: Option<Bundesland>) -> Self {
            Self { incidents: Incidents::default(), regulatory: Regulatory::default(), calendar: calendar(state) }
        }

        fn clocks(&self, regimes: Regimes, facts: &ClockFacts) -> Vec<Clock> {
            let policy =
                ClockPolicy { incidents: &self.incidents, regulatory: &self.regulatory, calendar: &self.calendar };
            clocks(policy, regimes, facts)
        }

        fn due(&self, regimes: Regimes, facts: &ClockFacts, kind: ClockKind) -> (String, bool) {
            let list = self.clocks(regimes, facts);
            let c = list.iter().find(|c| c.kind == kind).unwrap_or_else(|| panic!("no {kind:?} in {list:?}"));
            (c.due.to_string(), c.relieved)
        }
    }

    const DORA: Regimes = Regimes { dora: Some(EntityType::Other), nis2: false, gdpr: false };
    const BANK: Regimes = Regimes { dora: Some(EntityType::CreditInstitution), nis2: false, gdpr: false };
    const INITIAL: ClockKind = ClockKind::Report(ReportKind::DoraInitial);
    const INTERMEDIATE: ClockKind = ClockKind::Report(ReportKind::DoraIntermediate);
    const FINAL: ClockKind = ClockKind::Report(ReportKind::DoraFinal);

    #[test]
    fn dora_initial_four_hours_after_classification_at_most_a_day_after_awareness() {
        let f = Fixture::new(None);
        // Friday 2026-12-04, aware 13:00 CET, classified 15:00 CET.
        let facts = ClockFacts {
            aware_at: Some(ts("2026-12-04T12:00:00Z")),
            classified_major_at: Some(ts("2026-12-04T14:00:00Z")),
            ..Default::default()
        };
        assert_eq!(f.due(DORA, &facts, INITIAL), ("2026-12-04T18:00:00Z".into(), false));
        // Classified 22 h after awareness (Tuesday): the 24 h cap wins.
        let facts = ClockFacts {
            aware_at: Some(ts("2026-12-08T08:00:00Z")),
            classified_major_at: Some(ts("2026-12-09T06:00:00Z")),
            ..Default::default()
        };
        assert_eq!(f.due(DORA, &facts, INITIAL), ("2026-12-09T08:00:00Z".into(), false));
        assert!(f.clocks(Regimes::default(), &facts).is_empty(), "no regime, no report clock");
    }

    #[test]
    fn a_saturday_classification_moves_to_monday_noon_unless_the_entity_is_excluded() {
        let f = Fixture::new(None);
        // Saturday 2026-12-05, aware 09:00 CET, classified 10:00 CET -> 14:00 CET Saturday.
        let facts = ClockFacts {
            aware_at: Some(ts("2026-12-05T08:00:00Z")),
            classified_major_at: Some(ts("2026-12-05T09:00:00Z")),
            ..Default::default()
        };
        assert_eq!(f.due(DORA, &facts, INITIAL), ("2026-12-07T11:00:00Z".into(), true), "Monday 12:00 CET");
        assert_eq!(f.due(BANK, &facts, INITIAL), ("2026-12-05T13:00:00Z".into(), false), "credit institutions");
        for entity in [EntityType::CentralCounterparty, EntityType::TradingVenue, EntityType::EssentialOrImportant] {
            let regimes = Regimes { dora: Some(entity), ..DORA };
            assert!(!f.due(regimes, &facts, INITIAL).1, "{entity:?} has no relief");
        }
    }

    #[test]
    fn holidays_are_the_tenants_bundesland() {
        // Initial sent Monday 2027-05-24 10:00 CEST; +72 h = Thursday
        // 2027-05-27, Fronleichnam: a holiday in Bayern, not in Berlin.
        let facts =
            ClockFacts { submitted: vec![(ReportKind::DoraInitial, ts("2027-05-24T08:00:00Z"))], ..Default::default() };
        let bavaria = Fixture::new(Some(Bundesland::BY));
        assert_eq!(bavaria.due(DORA, &facts, INTERMEDIATE), ("2027-05-28T10:00:00Z".into(), true));
        let berlin = Fixture::new(Some(Bundesland::BE));
        assert_eq!(berlin.due(DORA, &facts, INTERMEDIATE), ("2027-05-27T08:00:00Z".into(), false));
    }

    #[test]
    fn intermediate_counts_from_the_initial_reports_actual_submission() {
        let f = Fixture::new(None);
        let classified = ClockFacts {
            aware_at: Some(ts("2026-12-08T08:00:00Z")),
            classified_major_at: Some(ts("2026-12-08T09:00:00Z")),
            ..Default::default()
        };
        assert!(!f.clocks(DORA, &classified).iter().any(|c| c.kind == INTERMEDIATE), "not before the initial report");
        // Submitted late, Tuesday 12:30 UTC, after its 13:00 deadline? No: on time.
        let sent =
            ClockFacts { submitted: vec![(ReportKind::DoraInitial, ts("2026-12-08T12:30:00Z"))], ..classified.clone() };
        let list = f.clocks(DORA, &sent);
        let initial = list.iter().find(|c| c.kind == INITIAL).unwrap();
        assert_eq!(initial.state(ts("2026-12-09T00:00:00Z")), ClockState::Met);
        assert_eq!(f.due(DORA, &sent, INTERMEDIATE), ("2026-12-11T12:30:00Z".into(), false), "Friday");
        let late = ClockFacts { submitted: vec![(ReportKind::DoraInitial, ts("2026-12-08T13:30:00Z"))], ..classified };
        let list = f.clocks(DORA, &late);
        assert_eq!(
            list.iter().find(|c| c.kind == INITIAL).unwrap().state(ts("2026-12-09T00:00:00Z")),
            ClockState::MetLate
        );
        assert_eq!(f.due(DORA, &late, INTERMEDIATE).0, "2026-12-11T13:30:00Z");
    }

    #[test]
    fn final_is_a_month_after_the_latest_intermediate_at_month_ends() {
        let f = Fixture::new(None);
        let facts = ClockFacts {
            submitted: vec![
                (ReportKind::DoraInitial, ts("2027-01-05T09:00:00Z")),
                (ReportKind::DoraIntermediate, ts("2027-01-08T09:00:00Z")),
                (ReportKind::DoraIntermediate, ts("2027-01-31T09:00:00Z")),
            ],
            ..Default::default()
        };
        // 31 January + 1 month = 28 February 2027, a Sunday -> Monday 1 March 12:00 CET.
        assert_eq!(f.due(DORA, &facts, FINAL), ("2027-03-01T11:00:00Z".into(), true));
        assert_eq!(f.due(BANK, &facts, FINAL), ("2027-02-28T09:00:00Z".into(), false));
        // The intermediate clock was met by the first intermediate report.
        let list = f.clocks(DORA, &facts);
        assert_eq!(list.iter().find(|c| c.kind == INTERMEDIATE).unwrap().done_at, Some(ts("2027-01-08T09:00:00Z")));
    }

    #[test]
    fn nis2_and_gdpr_count_from_awareness_without_relief() {
        let f = Fixture::new(None);
        let regimes = Regimes { dora: None, nis2: true, gdpr: true };
        // Aware Friday 2026-12-04 19:00 CET.
        let mut facts =
            ClockFacts { aware_at: Some(ts("2026-12-04T18:00:00Z")), nis2_significant: true, ..Default::default() };
        let kinds = |facts: &ClockFacts| f.clocks(regimes, facts).iter().map(|c| c.kind).collect::<Vec<_>>();
        assert_eq!(
            kinds(&facts),
            vec![ClockKind::Report(ReportKind::Nis2EarlyWarning), ClockKind::Report(ReportKind::Nis2Notification)],
            "GDPR only for a personal-data breach"
        );
        facts.personal_data_breach = true;
        facts.submitted.push((ReportKind::Nis2Notification, ts("2026-12-06T10:00:00Z")));
        assert_eq!(f.due(regimes, &facts, ClockKind::Report(ReportKind::Nis2EarlyWarning)).0, "2026-12-05T18:00:00Z");
        assert_eq!(f.due(regimes, &facts, ClockKind::Report(ReportKind::Nis2Notification)).0, "2026-12-07T18:00:00Z");
        assert_eq!(f.due(regimes, &facts, ClockKind::Report(ReportKind::Nis2Final)).0, "2027-01-06T10:00:00Z");
        assert_eq!(f.due(regimes, &facts, ClockKind::Report(ReportKind::GdprNotification)).0, "2026-12-07T18:00:00Z");
    }

    #[test]
    fn reaction_per_severity_and_sev4_over_christmas() {
        let f = Fixture::new(None);
        let cal = &f.calendar;
        let detected = cal.at(date(2026, 12, 24), time(22, 0, 0, 0));
        let due = |severity| {
            let facts = ClockFacts { severity: Some(severity), detected_at: Some(detected), ..Default::default() };
            f.due(Regimes::default(), &facts, ClockKind::Reaction).0
        };
        assert_eq!(due(Severity::Sev1), "2026-12-24T21:15:00Z");
        assert_eq!(due(Severity::Sev2), "2026-12-24T21:30:00Z");
        assert_eq!(due(Severity::Sev3), "2026-12-24T23:00:00Z");
        // 25/26 December are holidays, 27 a Sunday: Monday 28th, 17:00 CET.
        assert_eq!(due(Severity::Sev4), "2026-12-28T16:00:00Z");
        // And over a plain weekend: Friday evening -> Monday.
        let friday = cal.at(date(2026, 12, 4), time(18, 0, 0, 0));
        let facts = ClockFacts { severity: Some(Severity::Sev4), detected_at: Some(friday), ..Default::default() };
        assert_eq!(f.due(Regimes::default(), &facts, ClockKind::Reaction).0, "2026-12-07T16:00:00Z");
    }

    #[test]
    fn post_mortem_only_for_sev1_and_sev2_and_met_by_approval() {
        let f = Fixture::new(None);
        let resolved = ts("2026-12-04T15:00:00Z");
        let mut facts = ClockFacts {
            severity: Some(Severity::Sev3),
            detected_at: Some(ts("2026-12-04T12:00:00Z")),
            resolved_at: Some(resolved),
            ..Default::default()
        };
        assert!(!f.clocks(Regimes::default(), &facts).iter().any(|c| c.kind == ClockKind::PostMortem));
        facts.severity = Some(Severity::Sev1);
        // Five working days after Friday 4 December: Friday 11 December, 17:00 CET.
        assert_eq!(f.due(Regimes::default(), &facts, ClockKind::PostMortem).0, "2026-12-11T16:00:00Z");
        facts.post_mortem_approved_at = Some(ts("2026-12-10T09:00:00Z"));
        let list = f.clocks(Regimes::default(), &facts);
        assert_eq!(
            list.iter().find(|c| c.kind == ClockKind::PostMortem).unwrap().state(ts("2026-12-20T00:00:00Z")),
            ClockState::Met
        );
    }

    #[test]
    fn reminders_go_out_once_per_step_and_only_the_most_urgent_after_a_pause() {
        let clock = Clock { kind: INITIAL, due: ts("2026-12-04T18:00:00Z"), relieved: false, done_at: None };
        let leads = [SignedDuration::from_hours(2), SignedDuration::from_mins(30)];
        assert_eq!(clock.reminder_due(&leads, &[], ts("2026-12-04T15:59:00Z")), None, "too early");
        assert_eq!(clock.reminder_due(&leads, &[], ts("2026-12-04T16:00:00Z")), Some(0));
        assert_eq!(clock.reminder_due(&leads, &[0], ts("2026-12-04T16:10:00Z")), None, "sent once");
        assert_eq!(clock.reminder_due(&leads, &[0], ts("2026-12-04T17:30:00Z")), Some(1));
        assert_eq!(clock.reminder_due(&leads, &[], ts("2026-12-04T17:45:00Z")), Some(1), "a pause skips step 0");
        assert_eq!(clock.reminder_due(&leads, &[1], ts("2026-12-04T17:50:00Z")), None, "step 0 is not sent late");
        assert_eq!(clock.reminder_due(&leads, &[0, 1], ts("2026-12-04T18:00:01Z")), Some(2), "overdue");
        assert_eq!(clock.reminder_due(&leads, &[0, 1, 2], ts("2026-12-05T18:00:01Z")), None);
        let done = Clock { done_at: Some(ts("2026-12-04T17:00:00Z")), ..clock };
        assert_eq!(done.reminder_due(&leads, &[], ts("2026-12-04T17:45:00Z")), None);
        assert_eq!(clock.state(ts("2026-12-04T18:00:01Z")), ClockState::Overdue);
        assert_eq!(clock.remaining(ts("2026-12-04T17:00:00Z")), SignedDuration::from_hours(1));
    }
}
