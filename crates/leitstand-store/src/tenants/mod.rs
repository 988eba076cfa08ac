//! Tenants (Mandanten). Every tenant-owned record of later capabilities
//! references `tenants.id`; this aggregate only knows the tenant itself.

use std::future::Future;

use jiff::Timestamp;
use leitstand_core::tenant::TenantSlug;
use uuid::Uuid;

use crate::{Result, Store, StoreError, from_db, on_pool, tenant_filter, to_db};

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// Stable id.
    pub id: Uuid,
    /// Short name used in URLs, labels and config.
    pub slug: TenantSlug,
    /// Display name.
    pub name: String,
    /// Deactivated tenants keep their data but receive no new work.
    pub active: bool,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// What is needed to create a tenant.
#[derive(Debug, Clone)]
pub struct NewTenant {
    /// Id to assign (chosen by the caller, so it can be recorded in the same
    /// audit event).
    pub id: Uuid,
    /// Slug.
    pub slug: TenantSlug,
    /// Display name.
    pub name: String,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    slug: String,
    name: String,
    active: bool,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<Row> for Tenant {
    type Error = StoreError;
    fn try_from(row: Row) -> Result<Self> {
        Ok(Tenant {
            id: row.id,
            slug: TenantSlug::parse(row.slug)
                .map_err(|e| StoreError::Corrupt { entity: "tenant", reason: e.to_string() })?,
            name: row.name,
            active: row.active,
            created_at: from_db(row.created_at),
            updated_at: from_db(row.updated_at),
        })
    }
}

/// Tenants in the store.
pub trait TenantRepository {
    /// Creates a tenant; a taken slug is a [`StoreError::Conflict`].
    fn create_tenant(&self, new: NewTenant, now: Timestamp) -> impl Future<Output = Result<Tenant>> + Send;
    /// The tenant with `slug`, if any.
    fn tenant(&self, slug: &TenantSlug) -> impl Future<Output = Result<Option<Tenant>>> + Send;
    /// Tenants by slug: all, or only those with the given ids (filtered in
    /// SQL, for tenant-bound principals).
    fn tenants(&self, only: Option<&[Uuid]>) -> impl Future<Output = Result<Vec<Tenant>>> + Send;
    /// Changes the display name.
    fn rename_tenant(
        &self,
        slug: &TenantSlug,
        name: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Tenant>> + Send;
    /// Activates or deactivates.
    fn set_tenant_active(
        &self,
        slug: &TenantSlug,
        active: bool,
        now: Timestamp,
    ) -> impl Future<Output = Result<Tenant>> + Send;
}

const COLUMNS: &str = "id, slug, name, active, created_at, updated_at";

impl TenantRepository for Store {
    async fn create_tenant(&self, new: NewTenant, now: Timestamp) -> Result<Tenant> {
        self.timed("tenant.create", async {
            let row: Row = on_pool!(self, |pool| sqlx::query_as(
                "INSERT INTO tenants (id, slug, name, active, created_at, updated_at) \
                 VALUES ($1, $2, $3, TRUE, $4, $4) RETURNING id, slug, name, active, created_at, updated_at"
            )
            .bind(new.id)
            .bind(new.slug.as_str())
            .bind(&new.name)
            .bind(to_db(now))
            .fetch_one(pool)
            .await
            .map_err(StoreError::on_unique("tenant", new.slug.as_str()))?);
            row.try_into()
        })
        .await
    }

    async fn tenant(&self, slug: &TenantSlug) -> Result<Option<Tenant>> {
        self.timed("tenant.get", async {
            let row: Option<Row> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM tenants WHERE slug = $1"
            )))
            .bind(slug.as_str())
            .fetch_optional(pool)
            .await?);
            row.map(Tenant::try_from).transpose()
        })
        .await
    }

    async fn tenants(&self, only: Option<&[Uuid]>) -> Result<Vec<Tenant>> {
        self.timed("tenant.list", async {
            let sql = format!("SELECT {COLUMNS} FROM tenants {} ORDER BY slug", tenant_filter("id", only, 1));
            let rows: Vec<Row> = on_pool!(self, |pool| {
                let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                for id in only.unwrap_or_default() {
                    query = query.bind(*id);
                }
                query.fetch_all(pool).await?
            });
            rows.into_iter().map(Tenant::try_from).collect()
        })
        .await
    }

    async fn rename_tenant(&self, slug: &TenantSlug, name: &str, now: Timestamp) -> Result<Tenant> {
        self.timed("tenant.rename", async {
            let row: Option<Row> = on_pool!(self, |pool| {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "UPDATE tenants SET name = $2, updated_at = $3 WHERE slug = $1 RETURNING {COLUMNS}"
                )))
                .bind(slug.as_str())
                .bind(name)
                .bind(to_db(now))
                .fetch_optional(pool)
                .await?
            });
            row.ok_or_else(|| StoreError::NotFound { entity: "tenant", key: slug.to_string() })?.try_into()
        })
        .await
    }

    async fn set_tenant_active(&self, slug: &TenantSlug, active: bool, now: Timestamp) -> Result<Tenant> {
        self.timed("tenant.set_active", async {
            let row: Option<Row> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "UPDATE tenants SET active = $2, updated_at = $3 WHERE slug = $1 RETURNING {COLUMNS}"
            )))
            .bind(slug.as_str())
            .bind(active)
            .bind(to_db(now))
            .fetch_optional(pool)
            .await?);
            row.ok_or_else(|| StoreError::NotFound { entity: "tenant", key: slug.to_string() })?.try_into()
        })
        .await
    }
}
