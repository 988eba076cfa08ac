//! Retention classes for logs and audit events (DORA Art. 9/11, BSI
//! OPS.1.1.5, handelsrechtliche Aufbewahrungspflichten).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Violations, join};
use crate::time_limit::TimeLimit;

/// One retention class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionClass {
    /// How long entries are kept before they are deleted automatically.
    pub keep: TimeLimit,
    /// Why (the legal basis).
    pub reason: String,
    /// Whether Leitstand records events of this class. Leitstand runs as
    /// production: an audit event submitted in a class set to `false`
    /// (debug logs) is refused with the reason.
    pub allowed_in_production: bool,
}

/// The retention classes of the seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Audit logs of user access: 5 years.
    pub audit: RetentionClass,
    /// Security logs (authentication, incidents): 3 years.
    pub security: RetentionClass,
    /// Application logs: 90 days.
    pub application: RetentionClass,
    /// HTTP access logs: 90 days.
    pub access: RetentionClass,
    /// Performance logs: 1 year.
    pub performance: RetentionClass,
    /// Debug logs: 14 days, staging and development only.
    pub debug: RetentionClass,
}

impl Default for Retention {
    fn default() -> Self {
        let class =
            |keep, reason: &str, prod| RetentionClass { keep, reason: reason.into(), allowed_in_production: prod };
        let days = |d| TimeLimit::Elapsed(crate::time_limit::Duration::from_days(d));
        Self {
            audit: class(TimeLimit::Years(5), "DORA + handelsrechtliche Aufbewahrungspflicht", true),
            security: class(TimeLimit::Years(3), "BSI-Grundschutz, DORA Art. 9", true),
            application: class(days(90), "Fehleranalyse", true),
            access: class(days(90), "Fehleranalyse, Security", true),
            performance: class(TimeLimit::Years(1), "Kapazitätsplanung (DORA Art. 11)", true),
            debug: class(days(14), "Nur Staging/Dev, nie Produktion", false),
        }
    }
}

impl Retention {
    /// Every class with its key, longest-lived first.
    pub fn classes(&self) -> [(&'static str, &RetentionClass); 6] {
        [
            ("audit", &self.audit),
            ("security", &self.security),
            ("performance", &self.performance),
            ("application", &self.application),
            ("access", &self.access),
            ("debug", &self.debug),
        ]
    }

    pub(crate) fn validate(&self, path: &str, v: &mut Violations) {
        for (key, class) in self.classes() {
            v.check(!class.keep.is_zero(), join(path, key), "keep", || "must keep entries for some time".into());
        }
        v.check(self.audit.keep.upper_bound() >= self.security.keep.upper_bound(), join(path, "audit"), "keep", || {
            format!(
                "audit logs ({}) must be kept at least as long as security logs ({})",
                self.audit.keep, self.security.keep
            )
        });
    }
}
