//! Stored incident rows to the incident types, and the timeline's kinds.

use std::collections::HashMap;
use std::fmt;

use leitstand_core::access::UserName;
use leitstand_core::policy::Severity;
use leitstand_core::tenant::TenantSlug;
use leitstand_incidents::{Phase, Status};
use leitstand_store::{IncidentRow, StoreError, TimelineRow};
use uuid::Uuid;

use super::{ClockView, IncidentView, Roles, TimelineEntry};
use crate::{AppError, Result};

/// What a timeline entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimelineKind {
    /// The incident was opened.
    Opened,
    /// The phase changed.
    Phase,
    /// The severity changed (with the reason).
    Severity,
    /// The roles changed.
    Roles,
    /// A note.
    Note,
    /// A correction of an earlier entry.
    Correction,
    /// Root cause and impact.
    Findings,
    /// DORA classification.
    Classified,
    /// A report was submitted.
    Report,
    /// The incident was resolved.
    Resolved,
    /// An alert joined the incident.
    Alert,
    /// Something the store holds that this build does not know.
    Other,
}

impl TimelineKind {
    const ALL: [TimelineKind; 11] = [
        TimelineKind::Opened,
        TimelineKind::Phase,
        TimelineKind::Severity,
        TimelineKind::Roles,
        TimelineKind::Note,
        TimelineKind::Correction,
        TimelineKind::Findings,
        TimelineKind::Classified,
        TimelineKind::Report,
        TimelineKind::Resolved,
        TimelineKind::Alert,
    ];

    /// The key in the store and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            TimelineKind::Opened => "opened",
            TimelineKind::Phase => "phase",
            TimelineKind::Severity => "severity",
            TimelineKind::Roles => "roles",
            TimelineKind::Note => "note",
            TimelineKind::Correction => "correction",
            TimelineKind::Findings => "findings",
            TimelineKind::Classified => "classified",
            TimelineKind::Report => "report",
            TimelineKind::Resolved => "resolved",
            TimelineKind::Alert => "alert",
            TimelineKind::Other => "other",
        }
    }

    fn parse(key: &str) -> Self {
        Self::ALL.into_iter().find(|k| k.as_str() == key).unwrap_or(TimelineKind::Other)
    }
}

impl fmt::Display for TimelineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

pub(super) fn timeline_entry(row: TimelineRow) -> TimelineEntry {
    TimelineEntry {
        id: row.id,
        at: row.at,
        author: row.author,
        kind: TimelineKind::parse(&row.kind),
        text: row.text,
        internal: row.internal,
        corrects: row.corrects,
    }
}

pub(super) fn corrupt(reason: String) -> AppError {
    AppError::Internal(StoreError::Corrupt { entity: "incident", reason })
}

pub(super) fn severity(text: &str) -> Result<Severity> {
    text.parse().map_err(|e: leitstand_core::policy::UnknownSeverity| corrupt(e.to_string()))
}

pub(super) fn view(
    row: IncidentRow,
    severity: Severity,
    slugs: &HashMap<Uuid, TenantSlug>,
    clocks: Vec<ClockView>,
) -> Result<IncidentView> {
    let phase = row.phase.parse::<Phase>().map_err(|e| corrupt(e.to_string()))?;
    let status = row.status.parse::<Status>().map_err(|e| corrupt(e.to_string()))?;
    let user = |name: Option<String>| name.and_then(|n| UserName::parse(&n).ok());
    Ok(IncidentView {
        id: row.id,
        number: row.number,
        title: row.title,
        severity,
        phase,
        status,
        opened_by: row.opened_by,
        opened_via: row.opened_via,
        detected_at: row.detected_at,
        aware_at: row.aware_at,
        classified_at: row.classified_at,
        first_response_at: row.first_response_at,
        resolved_at: row.resolved_at,
        closed_at: row.closed_at,
        roles: Roles {
            commander: user(row.commander),
            communication: user(row.communication),
            scribe: user(row.scribe),
        },
        services: row.services,
        tenants: row.tenants.iter().filter_map(|t| slugs.get(t).cloned()).collect(),
        root_cause: row.root_cause,
        root_cause_category: row.root_cause_category,
        impact: row.impact,
        personal_data_breach: row.personal_data_breach,
        dora_major: row.dora_major,
        nis2_significant: row.nis2_significant,
        clocks,
        updated_at: row.updated_at,
    })
}
