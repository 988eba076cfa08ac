//! The effective policy as people may read it (`policy.read`): the base
//! policy or a tenant's, section by section, each marked in force or not
//! yet in force (with the capability that will enforce it), and whether a
//! tenant's section differs from the base. An auditor sees here what the
//! running server enforces without shell access to its configuration.
//!
//! Tenant-bound users see only their tenants' policies (the base policy is
//! the platform's, not theirs); everybody else sees the base and every
//! tenant's.

use leitstand_core::access::Action;
use leitstand_core::policy::{Policy, not_yet_in_force};
use leitstand_core::tenant::TenantSlug;
use leitstand_store::StoreError;

use crate::{App, AppError, Principal, Result};

/// One top-level section of the policy.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicySection {
    /// Its key (`escalation`, `retention`, …).
    pub key: String,
    /// Whether a capability of this build enforces it.
    pub in_force: bool,
    /// What will enforce it, if it is not in force yet.
    pub enforced_by: Option<&'static str>,
    /// For a tenant: its own value differs from the base policy.
    pub own: bool,
    /// The section as JSON (for the API).
    pub value: serde_json::Value,
    /// The section as it is written in `leitstand.toml`.
    pub toml: String,
}

/// The policy in force for the platform or one tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyView {
    /// The tenant, or `None` for the base policy.
    pub tenant: Option<String>,
    /// The tenants whose policy the caller may read.
    pub tenants: Vec<String>,
    /// Whether the caller may read the base policy.
    pub base_readable: bool,
    /// Every section, in the policy's order.
    pub sections: Vec<PolicySection>,
}

impl App {
    /// The effective policy of `tenant` (slug), or the base policy. A
    /// tenant-bound caller who names none gets its first tenant's.
    pub async fn effective_policy(&self, principal: &Principal, tenant: Option<&str>) -> Result<PolicyView> {
        principal.require(Action::ReadPolicy)?;
        let visible = self.visible_slugs(principal).await?;
        let base_readable = principal.tenant_filter().is_none();
        let tenant = match tenant {
            Some(slug) if visible.iter().any(|v| v == slug) => Some(slug.to_string()),
            Some(slug) => return Err(AppError::NotFound { entity: "tenant", key: slug.to_string() }),
            None if base_readable => None,
            None => Some(visible.first().cloned().ok_or(AppError::Forbidden { action: "policy.read" })?),
        };
        let set = &self.alerting.settings.policy;
        let policy = match &tenant {
            Some(slug) => set.for_tenant(
                &TenantSlug::parse(slug.clone())
                    .map_err(|_| AppError::NotFound { entity: "tenant", key: slug.clone() })?,
            ),
            None => &set.base,
        };
        let sections = sections(policy, tenant.as_ref().map(|_| &set.base))?;
        Ok(PolicyView { tenant, tenants: visible, base_readable, sections })
    }
}

/// The sections of `policy`; `base` to mark where a tenant's differ.
fn sections(policy: &Policy, base: Option<&Policy>) -> Result<Vec<PolicySection>> {
    let unreadable = |e: &dyn std::fmt::Display| {
        AppError::Internal(StoreError::Corrupt { entity: "policy", reason: format!("it does not serialise: {e}") })
    };
    let table = toml::Table::try_from(policy).map_err(|e| unreadable(&e))?;
    let json = serde_json::to_value(policy).map_err(|e| unreadable(&e))?;
    let base_json = base.map(serde_json::to_value).transpose().map_err(|e| unreadable(&e))?;
    let mut out = Vec::with_capacity(table.len());
    for (key, value) in table {
        let enforced_by = not_yet_in_force(&key);
        let mut one = toml::Table::new();
        one.insert(key.clone(), value);
        let section_json = json.get(&key).cloned().unwrap_or_default();
        out.push(PolicySection {
            own: base_json.as_ref().is_some_and(|b| b.get(&key) != Some(&section_json)),
            in_force: enforced_by.is_none(),
            enforced_by,
            toml: toml::to_string_pretty(&one).map_err(|e| unreadable(&e))?,
            value: section_json,
            key,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_section_is_marked_and_a_tenants_own_values_are_found() {
        let base = Policy::default();
        let all = sections(&base, None).unwrap();
        let keys: Vec<&str> = all.iter().map(|s| s.key.as_str()).collect();
        for key in ["escalation", "retention", "incidents", "backup"] {
            assert!(keys.contains(&key), "{key} in {keys:?}");
        }
        let by_key = |key: &str| all.iter().find(|s| s.key == key).unwrap().clone();
        assert!(by_key("escalation").in_force);
        assert!(!by_key("incidents").in_force);
        assert_eq!(by_key("incidents").enforced_by, Some("incident management"));
        assert!(by_key("retention").toml.starts_with("[retention"), "{}", by_key("retention").toml);
        assert!(all.iter().all(|s| !s.own), "no tenant, nothing of its own");

        let mut tenant = base.clone();
        tenant.escalation.dedup_window = leitstand_core::time_limit::Duration::from_mins(2);
        let marked = sections(&tenant, Some(&base)).unwrap();
        let own: Vec<&str> = marked.iter().filter(|s| s.own).map(|s| s.key.as_str()).collect();
        assert_eq!(own, ["escalation"]);
    }
}
