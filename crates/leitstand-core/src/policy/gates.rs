//! CI quality-gate thresholds: a failed gate blocks the deployment.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Violations;

/// Thresholds of the pipeline's quality gates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Gates {
    /// Minimum line coverage of unit tests, percent (≥ 80 %).
    pub min_coverage_percent: f64,
    /// Maximum accessibility violations reported by axe-core (0).
    pub max_accessibility_violations: u32,
    /// Dependencies with a CVE at or above this CVSS score block (7.0).
    pub blocking_cvss: f64,
    /// Maximum secret-detection findings (0).
    pub max_secret_findings: u32,
    /// SPDX licence identifiers (prefix match) that must not appear in the
    /// dependency tree (GPL/AGPL contamination).
    pub denied_licenses: Vec<String>,
    /// Maximum critical container-scan findings (0).
    pub max_critical_container_findings: u32,
    /// Maximum high container-scan findings (0, per the container baseline).
    pub max_high_container_findings: u32,
    /// An SBOM must be generated in the build stage.
    pub require_sbom: bool,
}

impl Default for Gates {
    fn default() -> Self {
        Self {
            min_coverage_percent: 80.0,
            max_accessibility_violations: 0,
            blocking_cvss: 7.0,
            max_secret_findings: 0,
            denied_licenses: vec!["GPL-".into(), "AGPL-".into()],
            max_critical_container_findings: 0,
            max_high_container_findings: 0,
            require_sbom: true,
        }
    }
}

impl Gates {
    pub(crate) fn validate(&self, path: &str, v: &mut Violations) {
        let pct = self.min_coverage_percent;
        v.check((0.0..=100.0).contains(&pct), path, "min_coverage_percent", || {
            format!("must be between 0 and 100, got {pct}")
        });
        let cvss = self.blocking_cvss;
        v.check((0.0..=10.0).contains(&cvss), path, "blocking_cvss", || {
            format!("CVSS scores run from 0 to 10, got {cvss}")
        });
    }
}
