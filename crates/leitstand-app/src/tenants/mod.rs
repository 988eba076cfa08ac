//! Tenants (Mandanten): create, rename, deactivate, list — with the tenant
//! scope applied to every read.

use leitstand_core::Outcome;
use leitstand_core::access::Action;
use leitstand_core::tenant::TenantSlug;
/// A tenant as the services return it.
pub use leitstand_store::Tenant;
use leitstand_store::{NewTenant, TenantRepository};
use serde_json::json;
use uuid::Uuid;

use crate::{App, AppError, Principal, Result};

/// A tenant as shown to a principal.
pub type TenantView = Tenant;

fn parse_slug(slug: &str) -> Result<TenantSlug> {
    TenantSlug::parse(slug.trim()).map_err(|e| AppError::invalid("slug", e.reason, e.reason_de()))
}

fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::invalid(
            "name",
            "the name must have 1 to 200 characters",
            "Der Name hat 1 bis 200 Zeichen",
        ));
    }
    Ok(name.to_string())
}

impl App {
    /// Tenants visible to the principal.
    pub async fn tenants(&self, principal: &Principal) -> Result<Vec<TenantView>> {
        principal.require(Action::ReadTenants)?;
        Ok(self.store.tenants(principal.tenant_filter()).await?)
    }

    /// The slugs of the tenants `principal` may see, for services that
    /// check a named tenant against the caller's scope (no `tenant.read`
    /// needed: the scope is the caller's own).
    pub(crate) async fn visible_slugs(&self, principal: &Principal) -> Result<Vec<String>> {
        let tenants = self.store.tenants(principal.tenant_filter()).await?;
        Ok(tenants.into_iter().map(|t| t.slug.as_str().to_string()).collect())
    }

    /// One tenant, if visible (invisible tenants are "not found", so their
    /// existence is not revealed).
    pub async fn tenant(&self, principal: &Principal, slug: &str) -> Result<TenantView> {
        principal.require(Action::ReadTenants)?;
        let slug = parse_slug(slug)?;
        self.store
            .tenant(&slug)
            .await?
            .filter(|t| principal.scope.includes(&t.id))
            .ok_or_else(|| AppError::NotFound { entity: "tenant", key: slug.to_string() })
    }

    /// Creates a tenant.
    pub async fn create_tenant(&self, principal: &Principal, slug: &str, name: &str) -> Result<TenantView> {
        principal.require(Action::ManageTenants)?;
        let new = NewTenant { id: Uuid::now_v7(), slug: parse_slug(slug)?, name: check_name(name)? };
        let tenant = self.store.create_tenant(new, self.clock.now()).await?;
        self.audit()
            .record(
                &principal.actor(),
                "tenant.create",
                Some(tenant.id),
                &format!("tenant:{}", tenant.slug),
                Outcome::Success,
                json!({ "tenant_name": tenant.name }),
            )
            .await?;
        Ok(tenant)
    }

    /// Changes what `change` names — the name, whether it is active —
    /// as one request of a manager; an empty change is refused.
    pub async fn update_tenant(&self, principal: &Principal, slug: &str, change: TenantChange) -> Result<TenantView> {
        principal.require(Action::ManageTenants)?;
        let mut tenant = None;
        if let Some(name) = &change.name {
            tenant = Some(self.rename_tenant(principal, slug, name).await?);
        }
        if let Some(active) = change.active {
            tenant = Some(self.set_tenant_active(principal, slug, active).await?);
        }
        tenant
            .ok_or_else(|| AppError::invalid("body", "set \"name\" or \"active\"", "\"name\" oder \"active\" angeben"))
    }

    /// Renames a tenant.
    pub async fn rename_tenant(&self, principal: &Principal, slug: &str, name: &str) -> Result<TenantView> {
        principal.require(Action::ManageTenants)?;
        let slug = parse_slug(slug)?;
        let tenant = self.store.rename_tenant(&slug, &check_name(name)?, self.clock.now()).await?;
        self.audit()
            .record(
                &principal.actor(),
                "tenant.rename",
                Some(tenant.id),
                &format!("tenant:{slug}"),
                Outcome::Success,
                json!({ "tenant_name": tenant.name }),
            )
            .await?;
        Ok(tenant)
    }

    /// Activates or deactivates a tenant.
    pub async fn set_tenant_active(&self, principal: &Principal, slug: &str, active: bool) -> Result<TenantView> {
        principal.require(Action::ManageTenants)?;
        let slug = parse_slug(slug)?;
        let tenant = self.store.set_tenant_active(&slug, active, self.clock.now()).await?;
        let action = if active { "tenant.activate" } else { "tenant.deactivate" };
        self.audit()
            .record(&principal.actor(), action, Some(tenant.id), &format!("tenant:{slug}"), Outcome::Success, json!({}))
            .await?;
        Ok(tenant)
    }
}

/// A change of a tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantChange {
    /// The new display name.
    pub name: Option<String>,
    /// Active or not.
    pub active: Option<bool>,
}
