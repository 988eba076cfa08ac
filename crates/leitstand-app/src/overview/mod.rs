//! The overview a person sees first: every open alert whatever its source
//! (own rules, Prometheus, a webhook), most severe first, who is on call now
//! and how the probes stand — each part only for those whose role may read
//! it, and only what exists.

use jiff::Timestamp;
use leitstand_core::access::Action as Perm;
use leitstand_store::{AlertFilter, AlertRepository};

use crate::alerting::AlertView;
use crate::{App, Principal, Result};

/// Alerts listed per severity (the count covers all of them).
pub const LISTED_PER_SEVERITY: u32 = 10;

/// Firing alerts of one severity.
#[derive(Debug, Clone, PartialEq)]
pub struct SeverityGroup {
    /// The `severity` label (empty when the alert has none).
    pub severity: String,
    /// How many fire.
    pub count: u64,
    /// The newest of them, at most [`LISTED_PER_SEVERITY`].
    pub alerts: Vec<AlertView>,
}

/// Who is on call now in one schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct OnCallNow {
    /// Schedule id.
    pub schedule: String,
    /// Schedule name.
    pub schedule_name: String,
    /// The person's display name; `None` when nobody is (a gap).
    pub person: Option<String>,
    /// Until when (the next hand-over); `None` when it never changes.
    pub until: Option<Timestamp>,
}

/// The probes at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeSummary {
    /// Probes visible.
    pub count: usize,
    /// Of them down.
    pub down: usize,
}

/// An open incident on the overview, with the clock that runs out first.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentLine {
    /// Running number.
    pub number: i64,
    /// Severity.
    pub severity: crate::incidents::IncidentSeverity,
    /// Title.
    pub title: String,
    /// The open clock that runs out first.
    pub nearest: Option<crate::incidents::ClockView>,
}

/// The overview.
#[derive(Debug, Clone, PartialEq)]
pub struct Overview {
    /// Tenants visible.
    pub tenants: usize,
    /// Firing alerts by severity, most severe first; `None` when the role
    /// may not read alerts.
    pub alerts: Option<Vec<SeverityGroup>>,
    /// On-call schedules; empty when none is configured or the role may not
    /// read alerts.
    pub on_call: Vec<OnCallNow>,
    /// Probes; `None` when none is visible or the role may not read them.
    pub probes: Option<ProbeSummary>,
    /// Open incidents, newest first, each with its nearest deadline;
    /// `None` when the role may not read incidents.
    pub incidents: Option<Vec<IncidentLine>>,
}

/// Most severe first: `critical`, `warning`, `info`, then the rest by name.
fn severity_rank(severity: &str) -> (u8, &str) {
    match severity {
        "critical" => (0, ""),
        "warning" => (1, ""),
        "info" => (2, ""),
        other => (3, other),
    }
}

impl App {
    /// The overview for `principal`.
    pub async fn overview(&self, principal: &Principal) -> Result<Overview> {
        principal.require(Perm::ViewDashboard)?;
        let tenants = match principal.require(Perm::ReadTenants) {
            Ok(()) => self.tenants(principal).await?.len(),
            Err(_) => 0,
        };
        let may_read_alerts = principal.require(Perm::ReadAlerts).is_ok();
        let alerts = if may_read_alerts { Some(self.firing_by_severity(principal).await?) } else { None };
        let mut on_call = Vec::new();
        if may_read_alerts {
            for schedule in &self.alerting.settings.schedules {
                let view = self.schedule_view(schedule.id()).await?;
                on_call.push(OnCallNow {
                    schedule: view.id,
                    schedule_name: view.name,
                    person: view.now_name,
                    until: view.now.map(|n| n.until).filter(|u| *u != Timestamp::MAX),
                });
            }
        }
        let probes = match principal.require(Perm::ReadMonitoring) {
            Ok(()) => {
                let probes = self.probes(principal).await?;
                let down = probes.iter().filter(|p| p.up == Some(false)).count();
                (!probes.is_empty()).then_some(ProbeSummary { count: probes.len(), down })
            }
            Err(_) => None,
        };
        let incidents = match principal.require(Perm::ReadIncidents) {
            Ok(()) => {
                let query = crate::incidents::IncidentQuery {
                    status: Some(crate::incidents::Status::Open),
                    limit: Some(LISTED_PER_SEVERITY as usize),
                    ..Default::default()
                };
                let list = self.incidents(principal, &query).await?;
                Some(
                    list.into_iter()
                        .map(|i| IncidentLine {
                            number: i.number,
                            severity: i.severity,
                            title: i.title,
                            nearest: i.clocks.into_iter().find(|c| c.clock.done_at.is_none()),
                        })
                        .collect(),
                )
            }
            Err(_) => None,
        };
        Ok(Overview { tenants, alerts, on_call, probes, incidents })
    }

    async fn firing_by_severity(&self, principal: &Principal) -> Result<Vec<SeverityGroup>> {
        let scope = principal.tenant_filter();
        let mut counts: Vec<(String, u64)> = self
            .store
            .alert_counts(scope)
            .await?
            .into_iter()
            .filter(|(status, _, count)| status == "firing" && *count > 0)
            .map(|(_, severity, count)| (severity, u64::try_from(count).unwrap_or(0)))
            .collect();
        counts.sort_by(|a, b| severity_rank(&a.0).cmp(&severity_rank(&b.0)));
        let slugs = self.tenant_slugs().await?;
        let mut groups = Vec::with_capacity(counts.len());
        for (severity, count) in counts {
            let filter = AlertFilter {
                tenants: scope,
                status: Some("firing"),
                severity: Some(&severity),
                limit: LISTED_PER_SEVERITY,
                ..AlertFilter::default()
            };
            let alerts = self.store.alerts(&filter).await?.into_iter().map(|r| self.alert_view(r, &slugs)).collect();
            groups.push(SeverityGroup { severity, count, alerts });
        }
        Ok(groups)
    }
}

#[cfg(test)]
mod tests {
    use super::severity_rank;

    #[test]
    fn the_most_severe_come_first() {
        let mut s = vec!["info", "page", "critical", "", "warning"];
        s.sort_by_key(|s| severity_rank(s));
        assert_eq!(s, ["critical", "warning", "info", "", "page"]);
    }
}
