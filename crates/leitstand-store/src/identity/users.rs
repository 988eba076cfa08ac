//! Users, their role and tenant memberships. Password hashes are stored as
//! PHC strings (Argon2id), never the password; hashing happens in the
//! application layer, off the async runtime.

use std::future::Future;

use jiff::Timestamp;
use leitstand_core::access::{Role, UserName};
use uuid::Uuid;

use crate::{Result, Store, StoreError, from_db, on_pool, to_db};

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Stable id.
    pub id: Uuid,
    /// Login name.
    pub username: UserName,
    /// Name shown in the UI.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Argon2id PHC string; `None` for accounts that log in through OIDC.
    pub password_hash: Option<String>,
    /// TOTP secret (base32), if the second factor is enabled.
    pub totp_secret: Option<String>,
    /// UI language, `de` or `en`.
    pub locale: String,
    /// Disabled accounts cannot log in or use tokens.
    pub active: bool,
    /// The password was set by someone else and must be changed.
    pub must_change_password: bool,
    /// When a one-time password stops working (`None`: a password the
    /// user chose).
    pub password_expires_at: Option<Timestamp>,
    /// Tenants a tenant viewer may see.
    pub tenants: Vec<Uuid>,
    /// `issuer|subject` for accounts of an external identity provider.
    pub external_id: Option<String>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

/// What is needed to create a user.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Id to assign.
    pub id: Uuid,
    /// Login name.
    pub username: UserName,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Argon2id PHC string.
    pub password_hash: Option<String>,
    /// Must change the password at first login.
    pub must_change_password: bool,
    /// When the one-time password stops working.
    pub password_expires_at: Option<Timestamp>,
    /// Tenant memberships.
    pub tenants: Vec<Uuid>,
    /// `issuer|subject` for accounts of an external identity provider.
    pub external_id: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    username: String,
    display_name: String,
    role: String,
    password_hash: Option<String>,
    totp_secret: Option<String>,
    locale: String,
    active: bool,
    must_change_password: bool,
    password_expires_at: Option<i64>,
    external_id: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl Row {
    fn into_user(self, tenants: Vec<Uuid>) -> Result<User> {
        Ok(User {
            id: self.id,
            role: self.role.parse().map_err(|e: leitstand_core::access::UnknownRole| StoreError::Corrupt {
                entity: "user",
                reason: e.to_string(),
            })?,
            username: UserName::parse(&self.username)
                .map_err(|e| StoreError::Corrupt { entity: "user", reason: e.to_string() })?,
            display_name: self.display_name,
            password_hash: self.password_hash,
            totp_secret: self.totp_secret,
            locale: self.locale,
            active: self.active,
            must_change_password: self.must_change_password,
            password_expires_at: self.password_expires_at.map(from_db),
            tenants,
            external_id: self.external_id,
            created_at: from_db(self.created_at),
            updated_at: from_db(self.updated_at),
        })
    }
}

const COLUMNS: &str = "id, username, display_name, role, password_hash, totp_secret, locale, active, \
                       must_change_password, password_expires_at, external_id, created_at, updated_at";

/// A change to a user.
#[derive(Debug, Clone)]
pub enum UserChange {
    /// New password hash; clears or sets `must_change_password`.
    Password {
        /// Argon2id PHC string.
        hash: String,
        /// Must be changed at next login.
        must_change: bool,
        /// When it stops working (one-time passwords).
        expires_at: Option<Timestamp>,
    },
    /// New role.
    Role(Role),
    /// Enable or disable.
    Active(bool),
    /// Set or clear the TOTP secret.
    Totp(Option<String>),
    /// UI language.
    Locale(String),
    /// Replace tenant memberships.
    Tenants(Vec<Uuid>),
}

/// Users in the store.
pub trait UserRepository {
    /// Creates a user; a taken username is a conflict.
    fn create_user(&self, new: NewUser, now: Timestamp) -> impl Future<Output = Result<User>> + Send;
    /// By login name (case-insensitive).
    fn user_by_name(&self, username: &UserName) -> impl Future<Output = Result<Option<User>>> + Send;
    /// By `issuer|subject` of an external identity provider.
    fn user_by_external_id(&self, external_id: &str) -> impl Future<Output = Result<Option<User>>> + Send;
    /// By id.
    fn user(&self, id: Uuid) -> impl Future<Output = Result<Option<User>>> + Send;
    /// All users by name.
    fn users(&self) -> impl Future<Output = Result<Vec<User>>> + Send;
    /// Number of users.
    fn count_users(&self) -> impl Future<Output = Result<i64>> + Send;
    /// Applies a change.
    fn change_user(&self, id: Uuid, change: UserChange, now: Timestamp) -> impl Future<Output = Result<User>> + Send;
}

impl Store {
    async fn memberships(&self, user: Uuid) -> Result<Vec<Uuid>> {
        Ok(on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT tenant_id FROM user_tenants WHERE user_id = $1 ORDER BY tenant_id"
        )
        .bind(user)
        .fetch_all(pool)
        .await?))
    }

    async fn set_memberships(&self, user: Uuid, tenants: &[Uuid]) -> Result<()> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM user_tenants WHERE user_id = $1").bind(user).execute(&mut *tx).await?;
            for tenant in tenants {
                sqlx::query("INSERT INTO user_tenants (user_id, tenant_id) VALUES ($1, $2)")
                    .bind(user)
                    .bind(tenant)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    async fn finish(&self, row: Option<Row>) -> Result<Option<User>> {
        match row {
            Some(row) => {
                let tenants = self.memberships(row.id).await?;
                Ok(Some(row.into_user(tenants)?))
            }
            None => Ok(None),
        }
    }
}

impl UserRepository for Store {
    async fn create_user(&self, new: NewUser, now: Timestamp) -> Result<User> {
        self.timed("user.create", async {
            let username = new.username.to_string();
            on_pool!(self, |pool| sqlx::query(
                "INSERT INTO users (id, username, display_name, role, password_hash, locale, active, \
                 must_change_password, external_id, created_at, updated_at, password_expires_at) \
                 VALUES ($1, $2, $3, $4, $5, 'de', TRUE, $6, $8, $7, $7, $9)"
            )
            .bind(new.id)
            .bind(&username)
            .bind(&new.display_name)
            .bind(new.role.as_str())
            .bind(&new.password_hash)
            .bind(new.must_change_password)
            .bind(to_db(now))
            .bind(&new.external_id)
            .bind(new.password_expires_at.map(to_db))
            .execute(pool)
            .await
            .map(|_| ())
            .map_err(StoreError::on_unique("user", &username))?);
            self.set_memberships(new.id, &new.tenants).await?;
            self.user(new.id).await?.ok_or(StoreError::NotFound { entity: "user", key: username })
        })
        .await
    }

    async fn user_by_name(&self, username: &UserName) -> Result<Option<User>> {
        self.timed("user.by_name", async {
            let row: Option<Row> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM users WHERE username = $1"
            )))
            .bind(username.as_str())
            .fetch_optional(pool)
            .await?);
            self.finish(row).await
        })
        .await
    }

    async fn user_by_external_id(&self, external_id: &str) -> Result<Option<User>> {
        self.timed("user.by_external_id", async {
            let row: Option<Row> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM users WHERE external_id = $1"
            )))
            .bind(external_id)
            .fetch_optional(pool)
            .await?);
            self.finish(row).await
        })
        .await
    }

    async fn user(&self, id: Uuid) -> Result<Option<User>> {
        self.timed("user.get", async {
            let row: Option<Row> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM users WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?);
            self.finish(row).await
        })
        .await
    }

    async fn users(&self) -> Result<Vec<User>> {
        self.timed("user.list", async {
            let rows: Vec<Row> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM users ORDER BY username"
            )))
            .fetch_all(pool)
            .await?);
            // All memberships in one query, not one per user.
            let pairs: Vec<(Uuid, Uuid)> = on_pool!(self, |pool| sqlx::query_as(
                "SELECT user_id, tenant_id FROM user_tenants ORDER BY user_id, tenant_id"
            )
            .fetch_all(pool)
            .await?);
            let mut by_user: std::collections::HashMap<Uuid, Vec<Uuid>> = std::collections::HashMap::new();
            for (user, tenant) in pairs {
                by_user.entry(user).or_default().push(tenant);
            }
            rows.into_iter()
                .map(|row| {
                    let tenants = by_user.remove(&row.id).unwrap_or_default();
                    row.into_user(tenants)
                })
                .collect()
        })
        .await
    }

    async fn count_users(&self) -> Result<i64> {
        self.timed("user.count", async {
            Ok(on_pool!(self, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(pool).await?))
        })
        .await
    }

    async fn change_user(&self, id: Uuid, change: UserChange, now: Timestamp) -> Result<User> {
        self.timed("user.change", async {
            let now = to_db(now);
            let done = match &change {
                UserChange::Password { hash, must_change, expires_at } => on_pool!(self, |pool| sqlx::query(
                    "UPDATE users SET password_hash = $2, must_change_password = $3, updated_at = $4, \
                     password_expires_at = $5 WHERE id = $1"
                )
                .bind(id)
                .bind(hash)
                .bind(*must_change)
                .bind(now)
                .bind(expires_at.map(to_db))
                .execute(pool)
                .await?
                .rows_affected()),
                UserChange::Role(role) => {
                    on_pool!(self, |pool| sqlx::query("UPDATE users SET role = $2, updated_at = $3 WHERE id = $1")
                        .bind(id)
                        .bind(role.as_str())
                        .bind(now)
                        .execute(pool)
                        .await?
                        .rows_affected())
                }
                UserChange::Active(active) => {
                    on_pool!(self, |pool| sqlx::query("UPDATE users SET active = $2, updated_at = $3 WHERE id = $1")
                        .bind(id)
                        .bind(*active)
                        .bind(now)
                        .execute(pool)
                        .await?
                        .rows_affected())
                }
                UserChange::Totp(secret) => on_pool!(self, |pool| sqlx::query(
                    "UPDATE users SET totp_secret = $2, updated_at = $3 WHERE id = $1"
                )
                .bind(id)
                .bind(secret)
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected()),
                UserChange::Locale(locale) => {
                    on_pool!(self, |pool| sqlx::query("UPDATE users SET locale = $2, updated_at = $3 WHERE id = $1")
                        .bind(id)
                        .bind(locale)
                        .bind(now)
                        .execute(pool)
                        .await?
                        .rows_affected())
                }
                UserChange::Tenants(tenants) => {
                    self.set_memberships(id, tenants).await?;
                    on_pool!(self, |pool| sqlx::query("UPDATE users SET updated_at = $2 WHERE id = $1")
                        .bind(id)
                        .bind(now)
                        .execute(pool)
                        .await?
                        .rows_affected())
                }
            };
            if done == 0 {
                return Err(StoreError::NotFound { entity: "user", key: id.to_string() });
            }
            self.user(id).await?.ok_or(StoreError::NotFound { entity: "user", key: id.to_string() })
        })
        .await
    }
}
