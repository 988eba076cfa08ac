//! Whether an incident is *major* under DORA, by Del. Reg. (EU) 2024/1772.
//!
//! The assistant asks for facts, not verdicts: how many clients use the
//! affected service and how many were affected, how long it lasted, which
//! data properties were hit, the costs. The thresholds of Art. 9 turn them
//! into criteria met or not, and Art. 8(1) decides: major when critical
//! services are affected (Art. 6) **and** either malicious unauthorised
//! access that may lead to data losses happened, or at least two of the
//! other criteria are met. Every criterion is returned with the figures
//! that decided it, so the record says why, not only what.
//!
//! Answers that contradict each other (more clients affected than exist, a
//! downtime longer than the incident) are refused with the field; a
//! classification is never computed from them.

use std::fmt;

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

/// The facts the classification needs. Counts the operator does not know
/// stay `None` and count as "threshold not met".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DoraAnswers {
    /// Art. 6: a critical or important function (or a service that needs
    /// authorisation) is affected.
    pub critical_services_affected: bool,
    /// Art. 8(1)(a): malicious unauthorised access to network and
    /// information systems was identified.
    pub malicious_unauthorised_access: bool,
    /// Clients using the affected service.
    pub clients_total: Option<u64>,
    /// Clients affected.
    pub clients_affected: Option<u64>,
    /// Financial counterparts with a contractual relationship for the
    /// affected service.
    pub counterparts_total: Option<u64>,
    /// Financial counterparts affected.
    pub counterparts_affected: Option<u64>,
    /// Daily average number of transactions of the affected service.
    pub transactions_daily: Option<u64>,
    /// Transactions affected.
    pub transactions_affected: Option<u64>,
    /// Daily average value of transactions, EUR.
    pub transaction_value_daily_eur: Option<u64>,
    /// Value of the transactions affected, EUR.
    pub transaction_value_affected_eur: Option<u64>,
    /// A client or counterpart the entity identified as relevant is
    /// affected.
    pub relevant_client_affected: bool,
    /// Art. 2: media attention, repeated complaints, regulatory obligations
    /// not met, or clients likely lost.
    pub reputational_impact: bool,
    /// Art. 3: from the first occurrence to resolution, in minutes.
    pub duration_minutes: Option<u64>,
    /// Art. 3: downtime of the service, in minutes.
    pub downtime_minutes: Option<u64>,
    /// Art. 4: member states with affected clients, counterparts, branches
    /// or providers.
    pub member_states_affected: u32,
    /// Art. 5: availability of data lost.
    pub data_availability: bool,
    /// Art. 5: authenticity of data lost.
    pub data_authenticity: bool,
    /// Art. 5: integrity of data lost.
    pub data_integrity: bool,
    /// Art. 5: confidentiality of data lost.
    pub data_confidentiality: bool,
    /// Art. 7: direct and indirect costs and losses, EUR.
    pub economic_impact_eur: Option<u64>,
}

/// The criteria of Art. 1–7 of Del. Reg. (EU) 2024/1772.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// Art. 1: clients, financial counterparts and transactions.
    ClientsCounterpartsTransactions,
    /// Art. 2: reputational impact.
    ReputationalImpact,
    /// Art. 3: duration and service downtime.
    DurationAndDowntime,
    /// Art. 4: geographical spread.
    GeographicalSpread,
    /// Art. 5: data losses.
    DataLosses,
    /// Art. 6: critical services affected.
    CriticalServices,
    /// Art. 7: economic impact.
    EconomicImpact,
}

impl Criterion {
    /// The criteria that count towards "two or more" in Art. 8(1)(b).
    pub const COUNTED: [Criterion; 6] = [
        Criterion::ClientsCounterpartsTransactions,
        Criterion::ReputationalImpact,
        Criterion::DurationAndDowntime,
        Criterion::GeographicalSpread,
        Criterion::DataLosses,
        Criterion::EconomicImpact,
    ];

    /// The German name used in reports.
    pub fn label_de(self) -> &'static str {
        match self {
            Criterion::ClientsCounterpartsTransactions => "Kunden, Gegenparteien und Transaktionen",
            Criterion::ReputationalImpact => "Reputationsschaden",
            Criterion::DurationAndDowntime => "Dauer und Ausfallzeit",
            Criterion::GeographicalSpread => "Geografische Ausbreitung",
            Criterion::DataLosses => "Datenverluste",
            Criterion::CriticalServices => "Kritische Dienste betroffen",
            Criterion::EconomicImpact => "Wirtschaftliche Auswirkungen",
        }
    }
}

impl fmt::Display for Criterion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.label_de())
    }
}

/// One criterion and why it is met or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CriterionResult {
    /// Which criterion.
    pub criterion: Criterion,
    /// Whether its materiality threshold is met.
    pub met: bool,
    /// The figures that decided it.
    pub reason: String,
}

/// Why the result is what it is (Art. 8(1)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Critical services and malicious unauthorised access with possible
    /// data losses.
    UnauthorisedAccess,
    /// Critical services and two or more further criteria.
    TwoOrMoreCriteria,
    /// Not major.
    NotMajor,
}

/// The result of the classification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoraClassification {
    /// Major ICT-related incident: reportable under DORA Art. 19.
    pub major: bool,
    /// On which ground.
    pub basis: Basis,
    /// Every criterion with its figures.
    pub criteria: Vec<CriterionResult>,
}

impl DoraClassification {
    /// The criteria of [`Criterion::COUNTED`] that are met.
    pub fn counted_met(&self) -> usize {
        self.criteria.iter().filter(|c| c.met && Criterion::COUNTED.contains(&c.criterion)).count()
    }
}

/// Answers that contradict each other.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InconsistentAnswers {
    /// The answer that cannot be right.
    pub field: &'static str,
    /// Why.
    pub reason: String,
}

/// Art. 9 thresholds, as fractions and absolute figures.
const CLIENT_SHARE: (u64, u64) = (10, 100);
const CLIENTS_ABSOLUTE: u64 = 100_000;
const COUNTERPART_SHARE: (u64, u64) = (30, 100);
const TRANSACTION_SHARE: (u64, u64) = (10, 100);
const DURATION: SignedDuration = SignedDuration::from_hours(24);
const DOWNTIME: SignedDuration = SignedDuration::from_hours(2);
const MEMBER_STATES: u32 = 2;
const ECONOMIC_EUR: u64 = 100_000;

/// `part / whole > num / den`, without rounding.
fn above(part: u64, whole: u64, (num, den): (u64, u64)) -> bool {
    whole > 0 && u128::from(part) * u128::from(den) > u128::from(whole) * u128::from(num)
}

fn share(part: u64, whole: u64) -> String {
    if whole == 0 { "–".into() } else { format!("{:.1} %", part as f64 * 100.0 / whole as f64) }
}

impl DoraAnswers {
    /// Refuses answers that cannot all be true.
    pub fn check(&self) -> Result<(), InconsistentAnswers> {
        let pairs = [
            ("clients_affected", self.clients_affected, "clients_total", self.clients_total),
            ("counterparts_affected", self.counterparts_affected, "counterparts_total", self.counterparts_total),
            ("downtime_minutes", self.downtime_minutes, "duration_minutes", self.duration_minutes),
        ];
        // Transactions are not among them: an incident over several days
        // may affect more than one day's average.
        for (field, part, whole_name, whole) in pairs {
            if let (Some(part), Some(whole)) = (part, whole)
                && part > whole
            {
                return Err(InconsistentAnswers {
                    field,
                    reason: format!("{part} is more than {whole_name} ({whole})"),
                });
            }
        }
        if self.clients_affected.is_some_and(|n| n > 0) && self.clients_total == Some(0) {
            return Err(InconsistentAnswers {
                field: "clients_total",
                reason: "no clients use the service, yet clients are affected".into(),
            });
        }
        Ok(())
    }

    /// Classifies per Art. 8(1), after [`Self::check`].
    pub fn classify(&self) -> Result<DoraClassification, InconsistentAnswers> {
        self.check()?;
        let mut criteria = Vec::with_capacity(7);
        let mut push = |criterion, met, reason: String| criteria.push(CriterionResult { criterion, met, reason });

        // Art. 1 with the thresholds of Art. 9(1).
        let mut reasons = Vec::new();
        if let (Some(a), Some(t)) = (self.clients_affected, self.clients_total)
            && above(a, t, CLIENT_SHARE)
        {
            reasons.push(format!("{a} von {t} Kunden ({}) > 10 %", share(a, t)));
        }
        if let Some(a) = self.clients_affected
            && a > CLIENTS_ABSOLUTE
        {
            reasons.push(format!("{a} Kunden > 100.000"));
        }
        if let (Some(a), Some(t)) = (self.counterparts_affected, self.counterparts_total)
            && above(a, t, COUNTERPART_SHARE)
        {
            reasons.push(format!("{a} von {t} Gegenparteien ({}) > 30 %", share(a, t)));
        }
        if let (Some(a), Some(t)) = (self.transactions_affected, self.transactions_daily)
            && above(a, t, TRANSACTION_SHARE)
        {
            reasons.push(format!("{a} Transaktionen von täglich {t} ({}) > 10 %", share(a, t)));
        }
        if let (Some(a), Some(t)) = (self.transaction_value_affected_eur, self.transaction_value_daily_eur)
            && above(a, t, TRANSACTION_SHARE)
        {
            reasons.push(format!("Transaktionswert {a} EUR von täglich {t} EUR ({}) > 10 %", share(a, t)));
        }
        if self.relevant_client_affected {
            reasons.push("relevanter Kunde oder relevante Gegenpartei betroffen".into());
        }
        let met = !reasons.is_empty();
        push(
            Criterion::ClientsCounterpartsTransactions,
            met,
            if met { reasons.join("; ") } else { "keine Schwelle erreicht".into() },
        );

        push(
            Criterion::ReputationalImpact,
            self.reputational_impact,
            if self.reputational_impact { "Reputationsschaden festgestellt" } else { "kein Reputationsschaden" }.into(),
        );

        let minutes = |m: Option<u64>| m.map(|m| SignedDuration::from_mins(i64::try_from(m).unwrap_or(i64::MAX)));
        let (duration, downtime) = (minutes(self.duration_minutes), minutes(self.downtime_minutes));
        let long = duration.is_some_and(|d| d > DURATION);
        let down = downtime.is_some_and(|d| d > DOWNTIME);
        push(
            Criterion::DurationAndDowntime,
            long || down,
            format!(
                "Dauer {} (Schwelle 24 h), Ausfallzeit {} (Schwelle 2 h)",
                self.duration_minutes.map_or("unbekannt".into(), hours_minutes),
                self.downtime_minutes.map_or("unbekannt".into(), hours_minutes),
            ),
        );

        let spread = self.member_states_affected >= MEMBER_STATES;
        push(
            Criterion::GeographicalSpread,
            spread,
            format!("{} Mitgliedstaat(en) betroffen (Schwelle 2)", self.member_states_affected),
        );

        let lost: Vec<&str> = [
            (self.data_availability, "Verfügbarkeit"),
            (self.data_authenticity, "Authentizität"),
            (self.data_integrity, "Integrität"),
            (self.data_confidentiality, "Vertraulichkeit"),
        ]
        .into_iter()
        .filter_map(|(hit, name)| hit.then_some(name))
        .collect();
        push(
            Criterion::DataLosses,
            !lost.is_empty(),
            if lost.is_empty() { "keine Datenverluste".into() } else { format!("betroffen: {}", lost.join(", ")) },
        );

        push(
            Criterion::CriticalServices,
            self.critical_services_affected,
            if self.critical_services_affected {
                "kritische oder wichtige Funktionen betroffen"
            } else {
                "keine kritischen oder wichtigen Funktionen betroffen"
            }
            .into(),
        );

        let economic = self.economic_impact_eur.is_some_and(|e| e > ECONOMIC_EUR);
        push(
            Criterion::EconomicImpact,
            economic,
            format!(
                "Kosten und Verluste {} (Schwelle 100.000 EUR)",
                self.economic_impact_eur.map_or("unbekannt".into(), |e| format!("{e} EUR"))
            ),
        );

        let mut result = DoraClassification { major: false, basis: Basis::NotMajor, criteria };
        let data_loss = !lost.is_empty();
        if self.critical_services_affected {
            if self.malicious_unauthorised_access && data_loss {
                result.major = true;
                result.basis = Basis::UnauthorisedAccess;
            } else if result.counted_met() >= 2 {
                result.major = true;
                result.basis = Basis::TwoOrMoreCriteria;
            }
        }
        Ok(result)
    }
}

fn hours_minutes(minutes: u64) -> String {
    format!("{} h {:02} min", minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn met(c: &DoraClassification) -> Vec<Criterion> {
        c.criteria.iter().filter(|r| r.met).map(|r| r.criterion).collect()
    }

    #[test]
    fn critical_services_and_two_criteria_make_a_major_incident() {
        let answers = DoraAnswers {
            critical_services_affected: true,
            clients_total: Some(400_000),
            clients_affected: Some(50_000),
            downtime_minutes: Some(150),
            duration_minutes: Some(200),
            ..Default::default()
        };
        let c = answers.classify().unwrap();
        assert!(c.major);
        assert_eq!(c.basis, Basis::TwoOrMoreCriteria);
        assert_eq!(
            met(&c),
            vec![
                Criterion::ClientsCounterpartsTransactions,
                Criterion::DurationAndDowntime,
                Criterion::CriticalServices
            ]
        );
        let clients = &c.criteria[0];
        assert!(clients.reason.contains("50000 von 400000 Kunden (12.5 %)"), "{}", clients.reason);
    }

    #[test]
    fn thresholds_are_exceeded_not_reached() {
        let base = DoraAnswers { critical_services_affected: true, reputational_impact: true, ..Default::default() };
        // Exactly 10 % of clients, exactly 2 h down, exactly EUR 100,000: none met.
        let at = DoraAnswers {
            clients_total: Some(1_000),
            clients_affected: Some(100),
            downtime_minutes: Some(120),
            duration_minutes: Some(24 * 60),
            economic_impact_eur: Some(100_000),
            member_states_affected: 1,
            ..base.clone()
        };
        let c = at.classify().unwrap();
        assert!(!c.major, "{:?}", met(&c));
        assert_eq!(c.counted_met(), 1, "only the reputational impact");
        let over = DoraAnswers { clients_affected: Some(101), ..at };
        assert!(over.classify().unwrap().major);
        let many = DoraAnswers { clients_total: Some(10_000_000), clients_affected: Some(100_001), ..base };
        assert!(many.classify().unwrap().major, "more than 100,000 clients whatever the share");
    }

    #[test]
    fn without_critical_services_nothing_is_major() {
        let answers = DoraAnswers {
            malicious_unauthorised_access: true,
            data_confidentiality: true,
            reputational_impact: true,
            member_states_affected: 3,
            economic_impact_eur: Some(5_000_000),
            ..Default::default()
        };
        let c = answers.classify().unwrap();
        assert!(!c.major);
        assert_eq!(c.basis, Basis::NotMajor);
    }

    #[test]
    fn unauthorised_access_with_data_loss_is_major_on_its_own() {
        let answers = DoraAnswers {
            critical_services_affected: true,
            malicious_unauthorised_access: true,
            data_integrity: true,
            ..Default::default()
        };
        let c = answers.classify().unwrap();
        assert!(c.major);
        assert_eq!(c.basis, Basis::UnauthorisedAccess);
        let no_loss = DoraAnswers { data_integrity: false, ..answers };
        assert!(!no_loss.classify().unwrap().major, "access without possible data loss needs two criteria");
    }

    #[test]
    fn contradicting_answers_are_refused_with_the_field() {
        let e = DoraAnswers { clients_total: Some(10), clients_affected: Some(11), ..Default::default() }
            .classify()
            .unwrap_err();
        assert_eq!(e.field, "clients_affected");
        let e = DoraAnswers { duration_minutes: Some(60), downtime_minutes: Some(90), ..Default::default() }
            .classify()
            .unwrap_err();
        assert_eq!(e.field, "downtime_minutes");
        let e = DoraAnswers { counterparts_total: Some(3), counterparts_affected: Some(4), ..Default::default() }
            .check()
            .unwrap_err();
        assert!(e.to_string().contains("counterparts_affected: 4 is more than counterparts_total (3)"), "{e}");
    }

    #[test]
    fn answers_are_read_strictly() {
        let e = serde_json::from_str::<DoraAnswers>(r#"{"clients_afected": 3}"#).unwrap_err();
        assert!(e.to_string().contains("clients_afected"), "{e}");
        let a: DoraAnswers = serde_json::from_str(r#"{"critical_services_affected": true}"#).unwrap();
        assert!(a.critical_services_affected && a.clients_total.is_none());
    }
}
