//! Change and release management: the three change categories with their
//! approvals, and the deployment strategies (blue-green, canary, rollback).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Violations, join};
use crate::time_limit::{Duration, TimeLimit};

/// A role that can approve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Approver {
    /// The CI/CD pipeline, automatically.
    Pipeline,
    /// DevOps.
    Devops,
    /// The compliance officer.
    Compliance,
}

/// Approval rule of a change category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeCategory {
    /// German label.
    pub label: String,
    /// Example from the seed.
    pub example: String,
    /// Who approves before the change is deployed.
    pub approved_by: Vec<Approver>,
    /// Who approves afterwards (emergency changes), if anyone.
    pub retrospective_approval_by: Vec<Approver>,
    /// Deadline for the retrospective approval after deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrospective_within: Option<TimeLimit>,
    /// Requester and approver must be different people (four-eyes).
    pub four_eyes: bool,
}

/// Change categories and rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Changes {
    /// Standard change: approved automatically by the pipeline.
    pub standard: ChangeCategory,
    /// Normal change: approved by the compliance officer.
    pub normal: ChangeCategory,
    /// Emergency change: DevOps now, approved afterwards.
    pub emergency: ChangeCategory,
    /// Every change is tested on staging before production.
    pub staging_required: bool,
    /// What each change record must document.
    pub required_documentation: Vec<String>,
}

impl Default for Changes {
    fn default() -> Self {
        Self {
            standard: ChangeCategory {
                label: "Standard".into(),
                example: "Dependency-Update ohne Breaking Change".into(),
                approved_by: vec![Approver::Pipeline],
                retrospective_approval_by: vec![],
                retrospective_within: None,
                four_eyes: false,
            },
            normal: ChangeCategory {
                label: "Normal".into(),
                example: "Neues Feature, API-Änderung".into(),
                approved_by: vec![Approver::Compliance],
                retrospective_approval_by: vec![],
                retrospective_within: None,
                four_eyes: true,
            },
            emergency: ChangeCategory {
                label: "Notfall".into(),
                example: "Hotfix für SEV-1 Incident".into(),
                approved_by: vec![Approver::Devops],
                retrospective_approval_by: vec![Approver::Compliance],
                retrospective_within: Some(TimeLimit::WorkingDays(1)),
                four_eyes: true,
            },
            staging_required: true,
            required_documentation: [
                "Was wurde geändert (technisch)",
                "Warum wurde es geändert (fachlich/regulatorisch)",
                "Wer hat die Änderung genehmigt",
                "Wann wurde die Änderung deployed",
                "Wie kann die Änderung rückgängig gemacht werden (Rollback)",
                "Welche Tests wurden durchgeführt",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl Changes {
    pub(crate) fn validate(&self, path: &str, v: &mut Violations) {
        for (key, cat) in [("standard", &self.standard), ("normal", &self.normal), ("emergency", &self.emergency)] {
            let cpath = join(path, key);
            v.check(!cat.approved_by.is_empty(), &cpath, "approved_by", || "someone must approve".into());
            v.check(
                cat.retrospective_approval_by.is_empty() == cat.retrospective_within.is_none(),
                &cpath,
                "retrospective_within",
                || "set both retrospective_approval_by and retrospective_within, or neither".into(),
            );
        }
        v.check(!self.normal.approved_by.contains(&Approver::Pipeline), join(path, "normal"), "approved_by", || {
            "a normal change needs a human approval (the seed: compliance officer)".into()
        });
    }
}

/// Blue-green deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BlueGreen {
    /// Target time to switch traffic back (< 60 s).
    pub rollback_within: Duration,
}

/// Canary deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Canary {
    /// Traffic share per step in percent, ending at 100.
    pub steps: Vec<u8>,
    /// Observation time per step before the next.
    pub observe_for: Duration,
    /// Roll back automatically on anomalies.
    pub auto_rollback: bool,
}

/// The default strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Blue-green.
    BlueGreen,
    /// Canary.
    Canary,
    /// Rolling.
    Rolling,
}

/// Deployment rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// Default strategy.
    pub strategy: Strategy,
    /// Blue-green settings.
    pub blue_green: BlueGreen,
    /// Canary settings.
    pub canary: Canary,
    /// Staging deploys automatically.
    pub staging_automatic: bool,
    /// Production needs a manual approval step.
    pub production_manual_approval: bool,
    /// Roll back automatically when the health check fails after a deployment.
    pub rollback_on_failed_health_check: bool,
    /// Take a database snapshot before each migration.
    pub snapshot_before_migration: bool,
}

impl Default for Deployment {
    fn default() -> Self {
        Self {
            strategy: Strategy::BlueGreen,
            blue_green: BlueGreen { rollback_within: Duration::from_secs(60) },
            canary: Canary { steps: vec![5, 25, 50, 100], observe_for: Duration::from_mins(15), auto_rollback: true },
            staging_automatic: true,
            production_manual_approval: true,
            rollback_on_failed_health_check: true,
            snapshot_before_migration: true,
        }
    }
}

impl Deployment {
    pub(crate) fn validate(&self, path: &str, v: &mut Violations) {
        let steps = &self.canary.steps;
        let cpath = join(path, "canary");
        v.check(steps.windows(2).all(|w| w[0] < w[1]), &cpath, "steps", || {
            format!("steps must increase strictly, got {steps:?}")
        });
        v.check(steps.last() == Some(&100), &cpath, "steps", || format!("the last step must be 100, got {steps:?}"));
        v.check(steps.first().is_some_and(|&s| s > 0), &cpath, "steps", || "the first step must be above 0".into());
        v.check(!self.blue_green.rollback_within.is_zero(), join(path, "blue_green"), "rollback_within", || {
            "must be longer than 0s".into()
        });
    }
}
