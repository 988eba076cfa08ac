//! Incident management: opening an incident (by hand, from an alert),
//! moving it through the seed's phases, changing severity (with a reason)
//! and roles, notes and corrections on an append-only timeline, the DORA
//! classification, and the reports submitted to authorities — each change
//! checked against the role × action matrix, written with its timeline
//! entries in one transaction and recorded as an audit event.
//!
//! The clocks are not stored: [`App::incident`] computes them from the
//! stored facts with `leitstand_incidents::clocks`, per reporting party —
//! each affected tenant reports under its own policy (its regimes, its
//! Bundesland's holidays, its entity type), a platform incident under the
//! deployment's — so a restart or another replica shows the same clocks.

mod rows;

use std::collections::HashMap;

use jiff::Timestamp;
use leitstand_core::Outcome;
use leitstand_core::access::{Action, UserName};
use leitstand_core::policy::{Policy, PolicySet, Severity};
use leitstand_core::tenant::TenantSlug;
use leitstand_incidents::clocks::{ClockFacts, ClockPolicy, Regimes, clocks};
use leitstand_incidents::{Clock, IncidentTimes};
use leitstand_store::{
    AlertRow, ClassificationRow, IncidentFilter, IncidentRepository, IncidentRow, NewIncident, NewTimelineEntry,
    ReportRow, TenantRepository,
};
use serde_json::json;
use sha2::Digest;
use uuid::Uuid;

use crate::{App, AppError, Principal, Result};

pub use leitstand_core::policy::{Severity as IncidentSeverity, UnknownSeverity};
pub use leitstand_incidents::clocks::{ClockKind, ReportKind};
pub use leitstand_incidents::{ClockState, DoraAnswers, DoraClassification, Phase, Status};
pub use rows::TimelineKind;

/// The incident capability's settings.
#[derive(Debug, Clone, Default)]
pub struct IncidentSettings {
    /// The policies (the deployment's and each tenant's).
    pub policy: PolicySet,
}

/// A request to open an incident.
#[derive(Debug, Clone)]
pub struct OpenIncident {
    /// Title.
    pub title: String,
    /// Severity.
    pub severity: Severity,
    /// First signal (default: now).
    pub detected_at: Option<Timestamp>,
    /// Awareness that it is an incident (default: now).
    pub aware_at: Option<Timestamp>,
    /// Affected services.
    pub services: Vec<String>,
    /// Affected tenants (slugs).
    pub tenants: Vec<String>,
    /// Personal data affected.
    pub personal_data_breach: bool,
}

/// Who holds which role in an incident.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roles {
    /// Incident commander.
    pub commander: Option<UserName>,
    /// Communication lead.
    pub communication: Option<UserName>,
    /// Scribe.
    pub scribe: Option<UserName>,
}

/// One clock of an incident, for one reporting party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockView {
    /// The tenant that reports (`None`: the incident itself, or the
    /// platform when it affects no tenant).
    pub party: Option<TenantSlug>,
    /// The clock and its due instant.
    pub clock: Clock,
    /// Where it stands now.
    pub state: ClockState,
}

/// An incident as the services show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentView {
    /// Id.
    pub id: Uuid,
    /// Running number (`INC-42`).
    pub number: i64,
    /// Title.
    pub title: String,
    /// Severity.
    pub severity: Severity,
    /// Phase.
    pub phase: Phase,
    /// Status.
    pub status: Status,
    /// Who opened it, and how (`hand`, `alert`, `escalation`).
    pub opened_by: String,
    /// How it was opened.
    pub opened_via: String,
    /// First signal.
    pub detected_at: Timestamp,
    /// Awareness.
    pub aware_at: Option<Timestamp>,
    /// Classified as major.
    pub classified_at: Option<Timestamp>,
    /// First response by a person.
    pub first_response_at: Option<Timestamp>,
    /// Resolved.
    pub resolved_at: Option<Timestamp>,
    /// Closed.
    pub closed_at: Option<Timestamp>,
    /// Roles.
    pub roles: Roles,
    /// Affected services.
    pub services: Vec<String>,
    /// Affected tenants.
    pub tenants: Vec<TenantSlug>,
    /// Root cause.
    pub root_cause: Option<String>,
    /// Root-cause category.
    pub root_cause_category: Option<String>,
    /// Impact.
    pub impact: Option<String>,
    /// Personal data affected.
    pub personal_data_breach: bool,
    /// The latest DORA classification's result.
    pub dora_major: Option<bool>,
    /// Significant under NIS2.
    pub nis2_significant: bool,
    /// Every clock, most urgent open one first.
    pub clocks: Vec<ClockView>,
    /// Version (for edits).
    pub updated_at: Timestamp,
}

/// A timeline entry as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    /// Id (corrections name it).
    pub id: i64,
    /// When, to the second.
    pub at: Timestamp,
    /// Who.
    pub author: String,
    /// What kind.
    pub kind: TimelineKind,
    /// What, in words.
    pub text: String,
    /// Internal (not shown to tenant viewers).
    pub internal: bool,
    /// The entry it corrects.
    pub corrects: Option<i64>,
}

/// A report submitted to an authority, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmittedReport {
    /// Which report.
    pub kind: ReportKind,
    /// For which tenant (`None`: the platform operator).
    pub tenant: Option<TenantSlug>,
    /// To whom.
    pub authority: String,
    /// When.
    pub submitted_at: Timestamp,
    /// By whom.
    pub submitted_by: String,
    /// The authority's reference.
    pub reference: Option<String>,
    /// SHA-256 of what was sent, hex.
    pub sha256: String,
}

/// Which incidents to list.
#[derive(Debug, Clone, Default)]
pub struct IncidentQuery {
    /// Only this status.
    pub status: Option<Status>,
    /// Only this severity.
    pub severity: Option<Severity>,
    /// Only this tenant's.
    pub tenant: Option<String>,
    /// Only incidents with an overdue clock.
    pub overdue: bool,
    /// Paging: numbers below this.
    pub before: Option<i64>,
    /// At most this many (default 100, at most 1,000).
    pub limit: Option<usize>,
}

/// A change to an incident.
#[derive(Debug, Clone)]
pub enum IncidentChange {
    /// Move to a phase.
    Phase(Phase),
    /// Change the severity, with the reason.
    Severity {
        /// New severity.
        severity: Severity,
        /// Why.
        reason: String,
    },
    /// Set the roles.
    Roles(Roles),
    /// The disturbance is over.
    Resolve {
        /// When it ended (default: now).
        at: Option<Timestamp>,
    },
    /// Whether it is a significant incident under NIS2 (§ 32 BSIG), with
    /// the reason: only then do the BSI's clocks run.
    Significance {
        /// Significant or not.
        nis2: bool,
        /// Why.
        reason: String,
    },
    /// What was found.
    Findings {
        /// Root cause.
        root_cause: Option<String>,
        /// Its category (for recurring incidents).
        root_cause_category: Option<String>,
        /// Impact.
        impact: Option<String>,
    },
}

/// A report being recorded as submitted.
#[derive(Debug, Clone)]
pub struct ReportSubmission {
    /// Which report.
    pub kind: ReportKind,
    /// For which affected tenant (required when the incident affects
    /// tenants; `None` for a platform incident).
    pub tenant: Option<String>,
    /// When it was submitted (default: now).
    pub submitted_at: Option<Timestamp>,
    /// The authority's reference number.
    pub reference: Option<String>,
    /// What was sent.
    pub content: serde_json::Value,
}

fn text_field(field: &'static str, value: &str, max: usize) -> Result<String> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(AppError::invalid(field, format!("1 to {max} characters"), format!("1 bis {max} Zeichen")));
    }
    Ok(value.to_string())
}

fn optional_text(field: &'static str, value: Option<String>, max: usize) -> Result<Option<String>> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => text_field(field, v, max).map(Some),
    }
}

/// The timeline entry of a change, to the second.
fn entry(at: Timestamp, author: &str, kind: TimelineKind, text: String, detail: serde_json::Value) -> NewTimelineEntry {
    NewTimelineEntry {
        at: Timestamp::from_second(at.as_second()).unwrap_or(at),
        author: author.to_string(),
        kind: kind.as_str().to_string(),
        text,
        detail: detail.to_string(),
        internal: false,
        corrects: None,
    }
}

impl App {
    /// Opens an incident by hand.
    pub async fn open_incident(&self, principal: &Principal, req: OpenIncident) -> Result<IncidentView> {
        principal.require(Action::ManageIncidents)?;
        let now = self.clock.now();
        let title = text_field("title", &req.title, 200)?;
        let detected_at = req.detected_at.unwrap_or(now);
        let aware_at = Some(req.aware_at.unwrap_or(now));
        IncidentTimes { detected_at: Some(detected_at), aware_at, ..Default::default() }.check(now).map_err(|e| {
            AppError::invalid(e.field, e.reason.clone(), format!("unmögliche Zeitangabe: {}", e.reason))
        })?;
        let tenants = self.incident_tenants(principal, &req.tenants).await?;
        let services = req.services.iter().map(|s| text_field("services", s, 100)).collect::<Result<Vec<_>>>()?;
        let actor = principal.actor();
        let new = NewIncident {
            id: Uuid::now_v7(),
            title: title.clone(),
            severity: req.severity.to_string(),
            phase: Phase::Detection.as_str().into(),
            opened_by: actor.clone(),
            opened_via: "hand".into(),
            detected_at,
            aware_at,
            services,
            tenants: tenants.clone(),
            personal_data_breach: req.personal_data_breach,
        };
        let opened = entry(
            now,
            &actor,
            TimelineKind::Opened,
            format!("{} eröffnet: {title}", req.severity),
            json!({ "severity": req.severity, "via": "hand" }),
        );
        let row = self.store.create_incident(new, vec![opened], now).await?;
        self.record_incident(&actor, "incident.open", &row, json!({ "severity": req.severity, "via": "hand" })).await?;
        self.incident_view(row, None).await
    }

    /// Incidents the principal may see, newest first.
    pub async fn incidents(&self, principal: &Principal, query: &IncidentQuery) -> Result<Vec<IncidentView>> {
        principal.require(Action::ReadIncidents)?;
        let tenant = match &query.tenant {
            Some(slug) => Some(self.tenant_by_slug(slug).await?),
            None => None,
        };
        let limit = query.limit.unwrap_or(100).clamp(1, 1000);
        let mut filter = IncidentFilter {
            status: query.status.map(|s| s.as_str().to_string()),
            severity: query.severity.map(|s| s.to_string()),
            tenant,
            only: principal.tenant_filter().map(<[Uuid]>::to_vec),
            before: query.before,
            limit,
        };
        let slugs = self.slug_map().await?;
        let mut out = Vec::with_capacity(limit);
        // Overdue is a matter of the clocks, computed here: page on until
        // the page is full, so older overdue incidents are not cut off by
        // newer ones that are not.
        loop {
            let rows = self.store.incidents(&filter).await?;
            let last = rows.last().map(|r| r.number);
            let full = rows.len() == filter.limit;
            for row in rows {
                let view = self.incident_view(row, Some(&slugs)).await?;
                if out.len() < limit && (!query.overdue || view.clocks.iter().any(|c| c.state == ClockState::Overdue)) {
                    out.push(view);
                }
            }
            match last {
                Some(number) if query.overdue && full && out.len() < limit => filter.before = Some(number),
                _ => return Ok(out),
            }
        }
    }

    /// One incident by its number.
    pub async fn incident(&self, principal: &Principal, number: i64) -> Result<IncidentView> {
        principal.require(Action::ReadIncidents)?;
        let row = self.visible_incident(principal, number).await?;
        self.incident_view(row, None).await
    }

    /// An incident's timeline, oldest first, from after entry `after`;
    /// tenant viewers do not see internal notes.
    pub async fn incident_timeline(
        &self,
        principal: &Principal,
        number: i64,
        after: Option<i64>,
        limit: usize,
    ) -> Result<Vec<TimelineEntry>> {
        principal.require(Action::ReadIncidents)?;
        let row = self.visible_incident(principal, number).await?;
        let internal = principal.tenant_filter().is_none();
        let rows = self.store.timeline(row.id, after, limit.clamp(1, 10_000), internal).await?;
        Ok(rows.into_iter().map(rows::timeline_entry).collect())
    }

    /// Changes an incident: phase, severity (with a reason), roles,
    /// resolution, findings. Each change is a timeline entry and an audit
    /// event; the first phase change by a person is the first response.
    pub async fn change_incident(
        &self,
        principal: &Principal,
        number: i64,
        change: IncidentChange,
    ) -> Result<IncidentView> {
        principal.require(Action::ManageIncidents)?;
        let mut row = self.visible_incident(principal, number).await?;
        if row.status == Status::Closed.as_str() {
            return Err(AppError::invalid(
                "incident",
                format!("INC-{number} is closed"),
                format!("INC-{number} ist abgeschlossen"),
            ));
        }
        let now = self.clock.now();
        let actor = principal.actor();
        let (kind, text, action, detail) = match change {
            IncidentChange::Phase(phase) => {
                let from = row.phase.clone();
                if from == phase.as_str() {
                    return self.incident_view(row, None).await;
                }
                row.phase = phase.as_str().into();
                row.first_response_at.get_or_insert(now);
                let from_label = from.parse::<Phase>().map(Phase::label_de).unwrap_or("?");
                (
                    TimelineKind::Phase,
                    format!("Phase: {from_label} → {}", phase.label_de()),
                    "incident.phase",
                    json!({ "from": from, "to": phase }),
                )
            }
            IncidentChange::Severity { severity, reason } => {
                let reason = text_field("reason", &reason, 1000)?;
                let from = row.severity.clone();
                row.severity = severity.to_string();
                (
                    TimelineKind::Severity,
                    format!("Schweregrad: {from} → {severity} ({reason})"),
                    "incident.severity",
                    json!({ "from": from, "to": severity, "reason": reason }),
                )
            }
            IncidentChange::Roles(roles) => {
                row.commander = roles.commander.as_ref().map(ToString::to_string);
                row.communication = roles.communication.as_ref().map(ToString::to_string);
                row.scribe = roles.scribe.as_ref().map(ToString::to_string);
                let show = |r: &Option<UserName>| r.as_ref().map_or("–".to_string(), ToString::to_string);
                (
                    TimelineKind::Roles,
                    format!(
                        "Rollen: Leitung {}, Kommunikation {}, Protokoll {}",
                        show(&roles.commander),
                        show(&roles.communication),
                        show(&roles.scribe)
                    ),
                    "incident.roles",
                    json!({ "commander": row.commander, "communication": row.communication, "scribe": row.scribe }),
                )
            }
            IncidentChange::Resolve { at } => {
                if row.status != Status::Open.as_str() {
                    return Err(AppError::invalid(
                        "status",
                        format!("INC-{number} is {} already", row.status),
                        format!(
                            "INC-{number} ist bereits {}",
                            if row.status == "resolved" { "behoben" } else { "abgeschlossen" }
                        ),
                    ));
                }
                let at = at.unwrap_or(now);
                IncidentTimes { detected_at: Some(row.detected_at), resolved_at: Some(at), ..Default::default() }
                    .check(now)
                    .map_err(|e| {
                        AppError::invalid(e.field, e.reason.clone(), format!("unmögliche Zeitangabe: {}", e.reason))
                    })?;
                row.status = Status::Resolved.as_str().into();
                row.resolved_at = Some(at);
                row.phase = Phase::FollowUp.as_str().into();
                row.first_response_at.get_or_insert(now);
                (
                    TimelineKind::Resolved,
                    "Behoben; Phase Nachbereitung".to_string(),
                    "incident.resolve",
                    json!({ "at": at }),
                )
            }
            IncidentChange::Significance { nis2, reason } => {
                let reason = text_field("reason", &reason, 1000)?;
                row.nis2_significant = nis2;
                (
                    TimelineKind::Classified,
                    format!(
                        "NIS2: {} ({reason})",
                        if nis2 { "erheblicher Sicherheitsvorfall, meldepflichtig" } else { "nicht erheblich" }
                    ),
                    "incident.significance",
                    json!({ "nis2": nis2, "reason": reason }),
                )
            }
            IncidentChange::Findings { root_cause, root_cause_category, impact } => {
                row.root_cause = optional_text("root_cause", root_cause, 4000)?;
                row.root_cause_category = optional_text("root_cause_category", root_cause_category, 100)?;
                row.impact = optional_text("impact", impact, 4000)?;
                (
                    TimelineKind::Findings,
                    format!(
                        "Ursache: {}; Auswirkung: {}",
                        row.root_cause.as_deref().unwrap_or("–"),
                        row.impact.as_deref().unwrap_or("–")
                    ),
                    "incident.findings",
                    json!({ "root_cause_category": row.root_cause_category }),
                )
            }
        };
        let saved = self.store.save_incident(&row, vec![entry(now, &actor, kind, text, detail.clone())], now).await?;
        self.record_incident(&actor, action, &saved, detail).await?;
        self.incident_view(saved, None).await
    }

    /// Adds a note (internal ones are hidden from tenant viewers), or a
    /// correction of an earlier entry: entries are never changed.
    pub async fn add_incident_note(
        &self,
        principal: &Principal,
        number: i64,
        text: &str,
        internal: bool,
        corrects: Option<i64>,
    ) -> Result<TimelineEntry> {
        principal.require(Action::ManageIncidents)?;
        let row = self.visible_incident(principal, number).await?;
        let text = text_field("text", text, 4000)?;
        let now = self.clock.now();
        let actor = principal.actor();
        let mut note = entry(now, &actor, TimelineKind::Note, text, json!({}));
        note.internal = internal;
        if let Some(old) = corrects {
            let found = self.store.timeline(row.id, Some(old - 1), 1, true).await?;
            let Some(original) = found.into_iter().find(|e| e.id == old) else {
                return Err(AppError::invalid(
                    "corrects",
                    format!("INC-{number} has no entry {old}"),
                    format!("INC-{number} hat keinen Eintrag {old}"),
                ));
            };
            note.kind = TimelineKind::Correction.as_str().into();
            note.corrects = Some(old);
            // A correction is as internal as what it corrects.
            note.internal = internal || original.internal;
        }
        let written = self.store.append_timeline(row.id, vec![note]).await?;
        let written = written.into_iter().next().ok_or_else(|| rows::corrupt("the note was not written".into()))?;
        self.record_incident(
            &actor,
            if corrects.is_some() { "incident.correct" } else { "incident.note" },
            &row,
            json!({ "entry": written.id, "corrects": corrects, "internal": written.internal }),
        )
        .await?;
        Ok(rows::timeline_entry(written))
    }

    /// Classifies an incident under DORA; every classification is kept,
    /// the first one as major starts the reporting clocks.
    pub async fn classify_incident(
        &self,
        principal: &Principal,
        number: i64,
        answers: DoraAnswers,
    ) -> Result<(IncidentView, DoraClassification)> {
        principal.require(Action::ClassifyIncidents)?;
        let mut row = self.visible_incident(principal, number).await?;
        let result = answers
            .classify()
            .map_err(|e| AppError::invalid("answers", e.to_string(), format!("widersprüchliche Angaben: {e}")))?;
        let now = self.clock.now();
        let actor = principal.actor();
        let classification = ClassificationRow {
            id: Uuid::now_v7(),
            incident_id: row.id,
            at: now,
            author: actor.clone(),
            answers: serde_json::to_string(&answers).unwrap_or_default(),
            result: serde_json::to_string(&result).unwrap_or_default(),
            major: result.major,
        };
        self.store.add_classification(classification).await?;
        let before = row.dora_major;
        row.dora_major = Some(result.major);
        if result.major && row.classified_at.is_none() {
            row.classified_at = Some(now);
        }
        let met: Vec<&str> = result.criteria.iter().filter(|c| c.met).map(|c| c.criterion.label_de()).collect();
        let text = format!(
            "DORA-Klassifizierung: {} ({})",
            if result.major { "schwerwiegend, meldepflichtig" } else { "nicht schwerwiegend" },
            if met.is_empty() { "kein Kriterium erfüllt".to_string() } else { met.join(", ") }
        );
        let detail = json!({ "major": result.major, "basis": result.basis, "before": before });
        let saved = self
            .store
            .save_incident(&row, vec![entry(now, &actor, TimelineKind::Classified, text, detail.clone())], now)
            .await?;
        self.record_incident(&actor, "incident.classify", &saved, detail).await?;
        Ok((self.incident_view(saved, None).await?, result))
    }

    /// Records a report as submitted to its authority: the content is
    /// frozen with its SHA-256 in the store and the audit log.
    pub async fn submit_incident_report(
        &self,
        principal: &Principal,
        number: i64,
        submission: ReportSubmission,
    ) -> Result<SubmittedReport> {
        principal.require(Action::ReportIncidents)?;
        let row = self.visible_incident(principal, number).await?;
        let now = self.clock.now();
        let submitted_at = submission.submitted_at.unwrap_or(now);
        if submitted_at > now || submitted_at < row.detected_at {
            return Err(AppError::invalid(
                "submitted_at",
                "must lie between the detection and now",
                "muss zwischen der Erkennung und jetzt liegen",
            ));
        }
        let tenant = match (&submission.tenant, row.tenants.is_empty()) {
            (Some(slug), _) => {
                let id = self.tenant_by_slug(slug).await?;
                if !row.tenants.contains(&id) {
                    return Err(AppError::invalid(
                        "tenant",
                        format!("{slug:?} is not affected by INC-{number}"),
                        format!("{slug:?} ist von INC-{number} nicht betroffen"),
                    ));
                }
                Some(id)
            }
            (None, true) => None,
            (None, false) => {
                return Err(AppError::invalid(
                    "tenant",
                    "name the affected tenant the report is for",
                    "Bitte den betroffenen Mandanten nennen, für den gemeldet wird",
                ));
            }
        };
        let policy = self.party_policy(tenant).await?;
        let regimes = regimes_of(policy);
        let applies = match submission.kind.regime() {
            "dora" => regimes.dora.is_some(),
            "nis2" => regimes.nis2 && row.nis2_significant,
            _ => regimes.gdpr && row.personal_data_breach,
        };
        if !applies {
            return Err(AppError::invalid(
                "kind",
                format!("{} does not apply to this incident and party", submission.kind.as_str()),
                format!("{} gilt für diesen Vorfall und diese Partei nicht", submission.kind),
            ));
        }
        let authority = match submission.kind.regime() {
            "dora" => policy.regulatory.dora.authority.clone(),
            "nis2" => policy.regulatory.nis2.authority.clone(),
            _ => policy.regulatory.gdpr.authority.clone(),
        };
        let content = serde_json::to_string(&submission.content).unwrap_or_default();
        let sha256: String = sha2::Sha256::digest(content.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        let reference = optional_text("reference", submission.reference, 200)?;
        let actor = principal.actor();
        self.store
            .add_report(ReportRow {
                id: Uuid::now_v7(),
                incident_id: row.id,
                tenant_id: tenant,
                kind: submission.kind.as_str().into(),
                authority: authority.clone(),
                submitted_at,
                submitted_by: actor.clone(),
                reference: reference.clone(),
                content,
                sha256: sha256.clone(),
            })
            .await?;
        let slugs = self.slug_map().await?;
        let tenant_slug = tenant.and_then(|t| slugs.get(&t).cloned());
        let text = format!(
            "{} an {} übermittelt{}{}",
            submission.kind,
            authority,
            tenant_slug.as_ref().map(|s| format!(" für {s}")).unwrap_or_default(),
            reference.as_ref().map(|r| format!(", Aktenzeichen {r}")).unwrap_or_default()
        );
        let detail = json!({
            "report": submission.kind.as_str(), "authority": authority, "tenant": tenant_slug,
            "reference": reference, "sha256": sha256, "submitted_at": submitted_at,
        });
        self.store
            .append_timeline(row.id, vec![entry(now, &actor, TimelineKind::Report, text, detail.clone())])
            .await?;
        self.record_incident(&actor, "incident.report", &row, detail).await?;
        Ok(SubmittedReport {
            kind: submission.kind,
            tenant: tenant_slug,
            authority,
            submitted_at,
            submitted_by: actor,
            reference,
            sha256,
        })
    }

    /// The reports recorded for an incident.
    pub async fn incident_reports(&self, principal: &Principal, number: i64) -> Result<Vec<SubmittedReport>> {
        principal.require(Action::ReadIncidents)?;
        let row = self.visible_incident(principal, number).await?;
        let slugs = self.slug_map().await?;
        let visible = principal.tenant_filter();
        Ok(self
            .store
            .reports(row.id)
            .await?
            .into_iter()
            .filter(|r| visible.is_none_or(|only| r.tenant_id.is_some_and(|t| only.contains(&t))))
            .filter_map(|r| {
                Some(SubmittedReport {
                    kind: ReportKind::parse(&r.kind)?,
                    tenant: r.tenant_id.and_then(|t| slugs.get(&t).cloned()),
                    authority: r.authority,
                    submitted_at: r.submitted_at,
                    submitted_by: r.submitted_by,
                    reference: r.reference,
                    sha256: r.sha256,
                })
            })
            .collect())
    }

    async fn visible_incident(&self, principal: &Principal, number: i64) -> Result<IncidentRow> {
        let not_found = || AppError::NotFound { entity: "incident", key: format!("INC-{number}") };
        let row = self.store.incident_by_number(number).await?.ok_or_else(not_found)?;
        if let Some(only) = principal.tenant_filter()
            && !row.tenants.iter().any(|t| only.contains(t))
        {
            return Err(not_found());
        }
        Ok(row)
    }

    async fn incident_tenants(&self, principal: &Principal, slugs: &[String]) -> Result<Vec<Uuid>> {
        let mut ids = Vec::new();
        for slug in slugs {
            let id = self.tenant_by_slug(slug).await?;
            if principal.tenant_filter().is_some_and(|only| !only.contains(&id)) {
                return Err(AppError::invalid(
                    "tenants",
                    format!("unknown tenant {slug:?}"),
                    format!("Unbekannter Mandant {slug:?}"),
                ));
            }
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    async fn tenant_by_slug(&self, slug: &str) -> Result<Uuid> {
        let unknown =
            || AppError::invalid("tenant", format!("unknown tenant {slug:?}"), format!("Unbekannter Mandant {slug:?}"));
        let parsed = TenantSlug::parse(slug.trim().to_string()).map_err(|_| unknown())?;
        Ok(self.store.tenant(&parsed).await?.ok_or_else(unknown)?.id)
    }

    async fn slug_map(&self) -> Result<HashMap<Uuid, TenantSlug>> {
        Ok(self.store.tenants(None).await?.into_iter().map(|t| (t.id, t.slug)).collect())
    }

    /// The policy a party reports under: the tenant's, or the deployment's.
    async fn party_policy(&self, tenant: Option<Uuid>) -> Result<&Policy> {
        let set = &self.incidents.policy;
        let Some(id) = tenant else { return Ok(&set.base) };
        let slugs = self.slug_map().await?;
        Ok(slugs.get(&id).map_or(&set.base, |slug| set.for_tenant(slug)))
    }

    async fn record_incident(
        &self,
        actor: &str,
        action: &str,
        row: &IncidentRow,
        details: serde_json::Value,
    ) -> Result<()> {
        let tenant = if row.tenants.len() == 1 { row.tenants.first().copied() } else { None };
        self.audit()
            .record(actor, action, tenant, &format!("incident:INC-{}", row.number), Outcome::Success, details)
            .await
    }

    /// The view of a stored incident with its clocks at this moment.
    async fn incident_view(&self, row: IncidentRow, slugs: Option<&HashMap<Uuid, TenantSlug>>) -> Result<IncidentView> {
        let owned;
        let slugs = match slugs {
            Some(s) => s,
            None => {
                owned = self.slug_map().await?;
                &owned
            }
        };
        let reports = self.store.reports(row.id).await?;
        let now = self.clock.now();
        let set = &self.incidents.policy;
        let severity = rows::severity(&row.severity)?;
        let base = ClockFacts {
            severity: Some(severity),
            detected_at: Some(row.detected_at),
            first_response_at: row.first_response_at,
            resolved_at: row.resolved_at,
            post_mortem_approved_at: None,
            ..Default::default()
        };
        let calendar = set.base.calendar.working_calendar();
        let mut views: Vec<ClockView> = clocks(
            ClockPolicy { incidents: &set.base.incidents, regulatory: &set.base.regulatory, calendar: &calendar },
            Regimes::default(),
            &base,
        )
        .into_iter()
        .map(|clock| ClockView { party: None, state: clock.state(now), clock })
        .collect();
        let parties: Vec<Option<Uuid>> =
            if row.tenants.is_empty() { vec![None] } else { row.tenants.iter().copied().map(Some).collect() };
        for party in parties {
            let slug = party.and_then(|id| slugs.get(&id).cloned());
            let policy = slug.as_ref().map_or(&set.base, |s| set.for_tenant(s));
            let calendar = policy.calendar.working_calendar();
            let facts = ClockFacts {
                aware_at: row.aware_at,
                classified_major_at: if row.dora_major == Some(true) { row.classified_at } else { None },
                nis2_significant: row.nis2_significant,
                personal_data_breach: row.personal_data_breach,
                submitted: reports
                    .iter()
                    .filter(|r| r.tenant_id == party)
                    .filter_map(|r| Some((ReportKind::parse(&r.kind)?, r.submitted_at)))
                    .collect(),
                ..Default::default()
            };
            let list = clocks(
                ClockPolicy { incidents: &policy.incidents, regulatory: &policy.regulatory, calendar: &calendar },
                regimes_of(policy),
                &facts,
            );
            views.extend(list.into_iter().map(|clock| ClockView {
                party: slug.clone(),
                state: clock.state(now),
                clock,
            }));
        }
        views.sort_by_key(|v| (v.clock.done_at.is_some(), v.clock.due));
        rows::view(row, severity, slugs, views)
    }
}

/// The regimes a policy puts in force.
fn regimes_of(policy: &Policy) -> Regimes {
    let r = &policy.regulatory;
    Regimes { dora: r.dora.enabled.then_some(r.dora.entity_type), nis2: r.nis2.enabled, gdpr: r.gdpr.enabled }
}

/// How an alert leads to an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FromAlert {
    /// Escalation level 3 without acknowledgement (`opens_incident`).
    Escalation,
    /// A person opened it from the alert, with this severity.
    Hand(Severity),
    /// The alert fired again while its incident is not closed.
    Refired,
}

impl App {
    /// Opens the SEV-1 incident an unacknowledged alert calls for at its
    /// level with `opens_incident`, or — when an incident that is not
    /// closed gathers this alert's fingerprint already — links the alert
    /// to it. Returns the incident's number.
    pub(crate) async fn incident_for_alert(&self, alert: &AlertRow, why: FromAlert) -> Result<Option<i64>> {
        self.incident_for_alert_by(alert, why, "system").await
    }

    /// Opens an incident from an alert the principal may see — or, when an
    /// incident that is not closed gathers the alert already (or its
    /// fingerprint), returns that one: one outage, one incident.
    pub async fn open_incident_from_alert(
        &self,
        principal: &Principal,
        alert: Uuid,
        severity: Option<Severity>,
    ) -> Result<IncidentView> {
        principal.require(Action::ManageIncidents)?;
        let row = self.visible_alert(principal, alert).await?;
        let severity = severity.unwrap_or(match row.severity.as_str() {
            "critical" => Severity::Sev2,
            "warning" => Severity::Sev3,
            _ => Severity::Sev4,
        });
        let number = self
            .incident_for_alert_by(&row, FromAlert::Hand(severity), &principal.actor())
            .await?
            .ok_or_else(|| rows::corrupt("no incident for the alert".into()))?;
        self.incident(principal, number).await
    }

    async fn incident_for_alert_by(&self, alert: &AlertRow, why: FromAlert, actor: &str) -> Result<Option<i64>> {
        let now = self.clock.now();
        let label = |json: &str, key: &str| -> Option<String> {
            serde_json::from_str::<std::collections::BTreeMap<String, String>>(json).ok()?.get(key).cloned()
        };
        if let Some(id) = self.store.unclosed_incident_for(&alert.fingerprint).await? {
            let Some(row) = self.store.incident(id).await? else { return Ok(None) };
            if self.store.link_alert(id, alert.id, &alert.fingerprint, now).await? {
                let text = match why {
                    FromAlert::Refired => format!("Alarm {} erneut ausgelöst und zugeordnet", alert.alertname),
                    _ => format!("Alarm {} zugeordnet", alert.alertname),
                };
                let detail = json!({ "alert": alert.id, "fingerprint": alert.fingerprint });
                self.store
                    .append_timeline(id, vec![entry(now, actor, TimelineKind::Alert, text, detail.clone())])
                    .await?;
                self.record_incident(actor, "incident.alert", &row, detail).await?;
            }
            return Ok(Some(row.number));
        }
        if why == FromAlert::Refired {
            return Ok(None);
        }
        let summary = label(&alert.annotations, "summary_de")
            .or_else(|| label(&alert.annotations, "summary"))
            .unwrap_or_else(|| alert.alertname.clone());
        let (severity, via, text) = match why {
            FromAlert::Hand(severity) => {
                (severity, "alert", format!("{severity} eröffnet aus dem Alarm {}", alert.alertname))
            }
            _ => (
                Severity::Sev1,
                "escalation",
                format!(
                    "SEV-1 eröffnet: Alarm {} ohne Bestätigung auf Eskalationsstufe {}",
                    alert.alertname, alert.level
                ),
            ),
        };
        let new = NewIncident {
            id: Uuid::now_v7(),
            title: summary.chars().take(200).collect(),
            severity: severity.to_string(),
            phase: Phase::Detection.as_str().into(),
            opened_by: actor.into(),
            opened_via: via.into(),
            detected_at: alert.starts_at.min(now),
            aware_at: Some(now),
            services: alert.service.iter().cloned().collect(),
            tenants: alert.tenant_id.into_iter().collect(),
            personal_data_breach: false,
        };
        let detail = json!({ "via": via, "alert": alert.id, "level": alert.level, "severity": severity });
        let opened = entry(now, actor, TimelineKind::Opened, text, detail.clone());
        let row = self.store.create_incident(new, vec![opened], now).await?;
        self.store.link_alert(row.id, alert.id, &alert.fingerprint, now).await?;
        self.record_incident(actor, "incident.open", &row, detail).await?;
        Ok(Some(row.number))
    }
}
