//! Policy as typed data: every table and number of the seed documents as a
//! documented default that `leitstand.toml` (and, where it makes sense, a
//! tenant's section in it) can override.
//!
//! The defaults are the seeds; [`Policy::default`] is the single place they
//! are written down, and the handbook, the config reference and the rule pack
//! are derived from it. Structs here carry no serde defaults on purpose: the
//! config loader layers the user's file over the serialised defaults, so a
//! partial override (`warning = 60` alone) keeps every other seed value, and
//! [`Policy::validate`] then checks the result as a whole.

mod backup;
mod calendar;
mod changes;
mod escalation;
mod gates;
mod incidents;
mod maintenance;
mod regulatory;
mod retention;
mod thresholds;

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use backup::*;
pub use calendar::*;
pub use changes::*;
pub use escalation::*;
pub use gates::*;
pub use incidents::*;
pub use maintenance::*;
pub use regulatory::*;
pub use retention::*;
pub use thresholds::*;

/// The effective operations policy.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Working-day calendar: time zone, Bundesland holidays, business hours.
    pub calendar: CalendarPolicy,
    /// Metric thresholds (warning / critical / evaluation interval).
    pub thresholds: Thresholds,
    /// Alert deduplication and the escalation levels 1–3.
    pub escalation: Escalation,
    /// Incident severities SEV-1..4, reaction times, post-mortems.
    ///
    /// Not in force yet: the seed values, for reference; setting a key is refused.
    pub incidents: Incidents,
    /// Regulatory reporting regimes: DORA, NIS2 / § 32 BSIG, GDPR Art. 33.
    pub regulatory: Regulatory,
    /// Backup schedules, recovery objectives (RTO/RPO) and recovery tests.
    ///
    /// Not in force yet: the seed values, for reference; setting a key is refused.
    pub backup: Backup,
    /// Change categories and their approvals.
    ///
    /// Not in force yet: the seed values, for reference; setting a key is refused.
    pub changes: Changes,
    /// Deployment strategies: blue-green, canary, rollback.
    ///
    /// Not in force yet: the seed values, for reference; setting a key is refused.
    pub deployment: Deployment,
    /// Log and audit retention classes.
    pub retention: Retention,
    /// CI quality-gate thresholds.
    ///
    /// Not in force yet: the seed values, for reference; setting a key is refused.
    pub gates: Gates,
    /// Agreed recurring maintenance windows.
    pub maintenance: Maintenance,
}

/// The platform policy and each tenant's effective policy.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PolicySet {
    /// The policy for the platform and every tenant without overrides.
    pub base: Policy,
    /// Effective policies of tenants with a `[tenants.<slug>]` section.
    pub tenants: std::collections::BTreeMap<crate::tenant::TenantSlug, Policy>,
}

impl PolicySet {
    /// The policy in force for `tenant` (the base policy if it has no
    /// overrides).
    pub fn for_tenant(&self, tenant: &crate::tenant::TenantSlug) -> &Policy {
        self.tenants.get(tenant).unwrap_or(&self.base)
    }
}

/// The sections a tenant may override in its `[tenants.<slug>]` table; the
/// others (change process, CI gates, deployment) are the platform's, not a
/// tenant's.
/// (Retention is the platform's too: there is one audit log.)
pub const TENANT_OVERRIDABLE: &[&str] =
    &["calendar", "thresholds", "escalation", "incidents", "regulatory", "backup", "maintenance"];

/// Sections of the seed policy that no capability of this build enforces
/// yet, each with what will. Their seed values are part of the policy (shown
/// by `leitstand policy show` and in the reference), but setting one in
/// `leitstand.toml` is refused at start: a value nothing reads would look
/// like a promise.
pub const NOT_YET_IN_FORCE: &[(&str, &str)] = &[
    ("incidents", "incident management"),
    ("backup", "backups and restore drills"),
    ("changes", "change management"),
    ("deployment", "deployments"),
    ("gates", "CI quality gates"),
];

/// What will enforce the section of dotted `key` (`deployment.canary`,
/// `tenants.bank-a.backup.rto`), if that section is not in force yet.
pub fn not_yet_in_force(key: &str) -> Option<&'static str> {
    let key = match key.strip_prefix("tenants.") {
        Some(rest) => rest.split_once('.').map_or("", |(_, k)| k),
        None => key,
    };
    let section = key.split(['.', '[']).next().unwrap_or_default();
    NOT_YET_IN_FORCE.iter().find(|(s, _)| *s == section).map(|(_, what)| *what)
}

impl Policy {
    /// Checks the policy as a whole; returns every violation, not just the
    /// first, each with the dotted path of the offending key.
    pub fn validate(&self) -> Result<(), Violations> {
        let mut v = Violations::default();
        self.calendar.validate("calendar", &mut v);
        self.thresholds.validate("thresholds", &mut v);
        self.escalation.validate("escalation", &mut v);
        self.incidents.validate("incidents", &mut v);
        self.regulatory.validate("regulatory", &mut v);
        self.backup.validate("backup", &mut v);
        self.changes.validate("changes", &mut v);
        self.deployment.validate("deployment", &mut v);
        self.retention.validate("retention", &mut v);
        self.gates.validate("gates", &mut v);
        self.maintenance.validate("maintenance", &mut v);
        v.into_result()
    }
}

/// One impossible value in a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Dotted key path, e.g. `thresholds.infrastructure.cpu.warning`.
    pub path: String,
    /// What is wrong, in words an operator understands.
    pub message: String,
}

/// All violations found in a policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
pub struct Violations(pub Vec<Violation>);

impl Violations {
    /// Records a violation at `path`.
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Violation { path: path.into(), message: message.into() });
    }

    /// Records a violation unless `ok`.
    pub fn check(&mut self, ok: bool, path: impl fmt::Display, key: &str, message: impl FnOnce() -> String) {
        if !ok {
            self.push(join(path, key), message());
        }
    }

    fn into_result(self) -> Result<(), Violations> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}: {}", v.path, v.message)?;
        }
        Ok(())
    }
}

/// `parent.key`, or `key` at the root.
pub(crate) fn join(parent: impl fmt::Display, key: &str) -> String {
    let parent = parent.to_string();
    if parent.is_empty() { key.to_string() } else { format!("{parent}.{key}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_defaults_are_valid() {
        Policy::default().validate().unwrap();
    }

    #[test]
    fn defaults_survive_a_json_round_trip() {
        let policy = Policy::default();
        let json = serde_json::to_value(&policy).unwrap();
        let back: Policy = serde_json::from_value(json).unwrap();
        assert_eq!(back, policy);
    }

    #[test]
    fn sections_not_in_force_are_named_with_what_will_enforce_them() {
        assert_eq!(not_yet_in_force("deployment.snapshot_before_migration"), Some("deployments"));
        assert_eq!(not_yet_in_force("tenants.bank-a.backup.rto.portal"), Some("backups and restore drills"));
        assert_eq!(not_yet_in_force("incidents.severities.SEV-1.reaction"), Some("incident management"));
        assert_eq!(not_yet_in_force("escalation.levels"), None);
        assert_eq!(not_yet_in_force("tenants.bank-a.thresholds.infrastructure.cpu.warning"), None);
        assert_eq!(not_yet_in_force("retention.debug.allowed_in_production"), None, "acts: audit refuses debug");
        assert_eq!(not_yet_in_force("tenants.bank-a.calendar.state"), None, "the tenant's incident deadlines");
        assert_eq!(not_yet_in_force("tenants.bank-a.regulatory.dora.entity_type"), None, "the tenant's clocks");
        assert_eq!(not_yet_in_force("tenants.bank-a.calendar.time_zone"), None, "places maintenance windows");
        assert_eq!(not_yet_in_force("calendar.state"), None, "counts audit retention in working days");
    }

    #[test]
    fn violations_name_every_offending_key() {
        let mut policy = Policy::default();
        policy.thresholds.infrastructure.cpu.warning = 95.0;
        policy.escalation.dedup_window = crate::time_limit::Duration::from_secs(0);
        let err = policy.validate().unwrap_err();
        let paths: Vec<_> = err.0.iter().map(|v| v.path.as_str()).collect();
        assert_eq!(paths, ["thresholds.infrastructure.cpu.warning", "escalation.dedup_window"]);
        assert!(err.to_string().contains("warning (95) must be below critical (90)"), "{err}");
    }
}
