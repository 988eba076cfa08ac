//! What Alertmanager's API v2 asks of the alert state, for the tools that
//! read or silence an Alertmanager (amtool, Grafana's Alertmanager data
//! source, Karma): the firing alerts selected by matchers and by what
//! holds them back, grouped by the grouping labels, and the silences
//! selected as Alertmanager selects them.
//!
//! The selection runs over every firing alert the caller may see, page by
//! page from the store (which already narrows by tenant scope, state of
//! being held back and alert name), never over a first page filtered
//! afterwards: a matcher over 100 000 alerts answers exactly as over ten.
//! Leitstand has one receiver, its escalation policy (`leitstand`); a
//! `receiver` filter is a regex over that name, as in Alertmanager.

use std::collections::BTreeMap;

use leitstand_alerting::LabelSet;
use leitstand_alerting::group::canonical_text;
use leitstand_alerting::matchers::{MatchOp, Matcher, matches_all, parse_matcher};
use leitstand_alerting::wire::silences::silence_selected;
use leitstand_core::access::Action as Perm;
use leitstand_store::{AlertFilter, AlertRepository, Held};
use uuid::Uuid;

use super::{AlertView, NewSilence, SilenceView};
use crate::{App, AppError, Principal, Result};

/// The one receiver every alert goes to: Leitstand's escalation policy
/// decides who is told.
pub const RECEIVER: &str = "leitstand";

/// Alerts read per round trip to the store.
const PAGE: u32 = 1_000;

/// `GET /api/v2/alerts` and `/alerts/groups` filters. (Alertmanager's
/// `unprocessed` selects nothing here: Leitstand answers after processing.)
#[derive(Debug, Clone)]
pub struct AlertSelection {
    /// All must match the alert's labels.
    pub matchers: Vec<Matcher>,
    /// Alerts nothing holds back.
    pub active: bool,
    /// Alerts a silence or a maintenance window holds back.
    pub silenced: bool,
    /// Alerts an alert they depend on holds back.
    pub inhibited: bool,
    /// A regex over the receiver's name.
    pub receiver: Option<String>,
}

impl Default for AlertSelection {
    /// Everything, as Alertmanager's defaults.
    fn default() -> Self {
        Self { matchers: Vec::new(), active: true, silenced: true, inhibited: true, receiver: None }
    }
}

/// A group of alerts with the same grouping labels.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertGroup {
    /// The grouping labels' values.
    pub labels: LabelSet,
    /// Its alerts, newest first.
    pub alerts: Vec<AlertView>,
}

impl App {
    /// The receivers alerts go to: the one, [`RECEIVER`].
    pub fn receivers(&self, principal: &Principal) -> Result<Vec<&'static str>> {
        principal.require(Perm::ReadAlerts)?;
        Ok(vec![RECEIVER])
    }

    /// The firing alerts the caller may see that `selection` selects,
    /// newest first.
    pub async fn select_alerts(&self, principal: &Principal, selection: &AlertSelection) -> Result<Vec<AlertView>> {
        principal.require(Perm::ReadAlerts)?;
        if let Some(pattern) = &selection.receiver {
            let receiver = Matcher::new("receiver", MatchOp::Regex, pattern).map_err(|e| {
                AppError::invalid("receiver", e.reason.clone(), format!("Ungültiger Empfänger-Filter: {}", e.reason))
            })?;
            if !receiver.matches(RECEIVER) {
                return Ok(Vec::new());
            }
        }
        // The store narrows by the alert name's column; the service applies
        // every matcher (regexes, negations, any label) to what it returns.
        let alertname = selection
            .matchers
            .iter()
            .find(|m| m.name == "alertname" && m.op == MatchOp::Equal && !m.value.is_empty())
            .map(|m| m.value.as_str());
        let held = Held { active: selection.active, silenced: selection.silenced, inhibited: selection.inhibited };
        let slugs = self.tenant_slugs().await?;
        let mut selected = Vec::new();
        let mut before = None;
        loop {
            let filter = AlertFilter {
                tenants: principal.tenant_filter(),
                status: Some("firing"),
                alertname,
                held: Some(held),
                before,
                limit: PAGE,
                ..AlertFilter::default()
            };
            let rows = self.store.alerts(&filter).await?;
            let full = rows.len() == PAGE as usize;
            before = rows.last().map(|r| (r.starts_at, r.id));
            selected.extend(
                rows.into_iter()
                    .map(|row| self.alert_view(row, &slugs))
                    .filter(|a| matches_all(&selection.matchers, &a.labels)),
            );
            if !full {
                return Ok(selected);
            }
        }
    }

    /// [`App::select_alerts`] grouped by the grouping labels
    /// (`alerting.group_by`), groups in the order of their labels' text.
    pub async fn select_alert_groups(
        &self,
        principal: &Principal,
        selection: &AlertSelection,
    ) -> Result<Vec<AlertGroup>> {
        let alerts = self.select_alerts(principal, selection).await?;
        let group_by = &self.alerting.settings.group_by;
        let mut groups: BTreeMap<String, AlertGroup> = BTreeMap::new();
        for alert in alerts {
            let labels = group_by.group_labels(&alert.labels);
            groups
                .entry(canonical_text(&labels))
                .or_insert_with(|| AlertGroup { labels, alerts: Vec::new() })
                .alerts
                .push(alert);
        }
        Ok(groups.into_values().collect())
    }

    /// The silences the caller may see (those that ended within the last
    /// week included) that `filter` selects, as Alertmanager lists them:
    /// active ones first by their end, then pending ones by their start,
    /// then expired ones, the latest end first.
    pub async fn select_silences(&self, principal: &Principal, filter: &[Matcher]) -> Result<Vec<SilenceView>> {
        let mut silences: Vec<SilenceView> = self
            .silences(principal)
            .await?
            .into_iter()
            .filter(|s| {
                let own: Vec<Matcher> = s.matchers.iter().filter_map(|t| parse_matcher(t).ok()).collect();
                silence_selected(&own, filter)
            })
            .collect();
        silences.sort_by(|a, b| {
            let rank = |s: &SilenceView| match s.state {
                "active" => 0,
                "pending" => 1,
                _ => 2,
            };
            rank(a).cmp(&rank(b)).then_with(|| match a.state {
                "active" => a.ends_at.cmp(&b.ends_at),
                "pending" => a.starts_at.cmp(&b.starts_at),
                _ => b.ends_at.cmp(&a.ends_at),
            })
        });
        Ok(silences)
    }

    /// Creates a silence in place of `replaces` (Alertmanager's update by
    /// id): the new one is made first, then the old one ends, so a refused
    /// change leaves the old silence as it was.
    pub async fn replace_silence(&self, principal: &Principal, replaces: Uuid, new: NewSilence) -> Result<Uuid> {
        let old = self.silence(principal, replaces).await?;
        let id = self.create_silence(principal, new).await?;
        if old.state != "expired" {
            self.expire_silence(principal, replaces).await?;
        }
        Ok(id)
    }
}
