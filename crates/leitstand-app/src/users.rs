//! User administration: add, list, disable, reset password, change role and
//! tenant memberships. Every change is audited; disabling or resetting ends
//! the user's sessions.

use leitstand_core::access::{Action, Role, check_password};
use leitstand_core::tenant::TenantSlug;
use leitstand_store::{NewUser, SessionRepository, TenantRepository, User, UserChange, UserRepository};
use serde_json::json;
use uuid::Uuid;

use crate::identity::{hash_password, verify_password};
use crate::{App, AppError, Principal, Result};

/// A user as listed (no secrets).
pub type UserView = User;

/// A request to create a user.
#[derive(Debug, Clone)]
pub struct NewUserRequest {
    /// Login name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Initial password.
    pub password: String,
    /// Tenant slugs (required for tenant viewers).
    pub tenants: Vec<String>,
}

fn check_username(name: &str) -> Result<String> {
    let name = name.trim().to_lowercase();
    let ok = (2..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok { Ok(name) } else { Err(AppError::invalid("username", "2 to 64 characters of a-z, 0-9, '.', '_', '-'")) }
}

impl App {
    async fn tenant_ids(&self, slugs: &[String]) -> Result<Vec<Uuid>> {
        let mut ids = Vec::new();
        for slug in slugs {
            let parsed = TenantSlug::parse(slug.trim()).map_err(|e| AppError::invalid("tenants", e.to_string()))?;
            let tenant = self
                .store
                .tenant(&parsed)
                .await?
                .ok_or_else(|| AppError::invalid("tenants", format!("no tenant {slug:?}")))?;
            ids.push(tenant.id);
        }
        Ok(ids)
    }

    /// Creates a user.
    pub async fn add_user(&self, principal: &Principal, req: NewUserRequest) -> Result<UserView> {
        principal.require(Action::ManageUsers)?;
        let username = check_username(&req.username)?;
        check_password(&username, &req.password).map_err(|e| AppError::invalid("password", e.to_string()))?;
        let tenants = self.tenant_ids(&req.tenants).await?;
        if req.role.is_tenant_bound() && tenants.is_empty() {
            return Err(AppError::invalid("tenants", "a tenant viewer needs at least one tenant"));
        }
        let display_name =
            if req.display_name.trim().is_empty() { username.clone() } else { req.display_name.trim().to_string() };
        let new = NewUser {
            id: Uuid::now_v7(),
            username: username.clone(),
            display_name,
            role: req.role,
            password_hash: Some(hash_password(req.password).await?),
            must_change_password: true,
            tenants: tenants.clone(),
            external_id: None,
        };
        let user = self.store.create_user(new, self.clock.now()).await?;
        self.audit()
            .record(
                &principal.actor(),
                "user.create",
                None,
                &format!("user:{username}"),
                "success",
                json!({ "role": user.role, "tenants": tenants }),
            )
            .await?;
        Ok(user)
    }

    /// All users.
    pub async fn users(&self, principal: &Principal) -> Result<Vec<UserView>> {
        principal.require(Action::ReadUsers)?;
        Ok(self.store.users().await?)
    }

    async fn existing(&self, username: &str) -> Result<User> {
        self.store
            .user_by_name(username)
            .await?
            .ok_or_else(|| AppError::NotFound { entity: "user", key: username.to_string() })
    }

    /// Disables or enables a user; disabling ends their sessions.
    pub async fn set_user_active(&self, principal: &Principal, username: &str, active: bool) -> Result<UserView> {
        principal.require(Action::ManageUsers)?;
        let user = self.existing(username).await?;
        if !active && user.id == principal.user_id {
            return Err(AppError::invalid("username", "you cannot disable your own account"));
        }
        let user = self.store.change_user(user.id, UserChange::Active(active), self.clock.now()).await?;
        if !active {
            self.store.delete_user_sessions(user.id).await?;
        }
        let action = if active { "user.enable" } else { "user.disable" };
        self.audit()
            .record(&principal.actor(), action, None, &format!("user:{}", user.username), "success", json!({}))
            .await?;
        Ok(user)
    }

    /// Sets a new password chosen by an administrator; the user must change
    /// it at the next login. Ends the user's sessions.
    pub async fn reset_password(&self, principal: &Principal, username: &str, password: String) -> Result<UserView> {
        principal.require(Action::ManageUsers)?;
        let user = self.existing(username).await?;
        check_password(&user.username, &password).map_err(|e| AppError::invalid("password", e.to_string()))?;
        let hash = hash_password(password).await?;
        let user =
            self.store.change_user(user.id, UserChange::Password { hash, must_change: true }, self.clock.now()).await?;
        self.store.delete_user_sessions(user.id).await?;
        self.audit()
            .record(
                &principal.actor(),
                "user.reset_password",
                None,
                &format!("user:{}", user.username),
                "success",
                json!({}),
            )
            .await?;
        Ok(user)
    }

    /// Changes one's own password (needs the current one).
    pub async fn change_own_password(&self, principal: &Principal, current: &str, new: String) -> Result<()> {
        let user = self.store.user(principal.user_id).await?.ok_or(AppError::Unauthenticated)?;
        let ok = verify_password(current.to_string(), user.password_hash.clone()).await;
        if !ok {
            return Err(AppError::invalid("current_password", "the current password is wrong"));
        }
        check_password(&user.username, &new).map_err(|e| AppError::invalid("new_password", e.to_string()))?;
        let hash = hash_password(new).await?;
        self.store.change_user(user.id, UserChange::Password { hash, must_change: false }, self.clock.now()).await?;
        self.audit()
            .record(
                &principal.actor(),
                "user.change_password",
                None,
                &format!("user:{}", user.username),
                "success",
                json!({}),
            )
            .await
    }

    /// Changes a user's role and tenant memberships.
    pub async fn change_role(
        &self,
        principal: &Principal,
        username: &str,
        role: Role,
        tenants: Vec<String>,
    ) -> Result<UserView> {
        principal.require(Action::ManageUsers)?;
        let user = self.existing(username).await?;
        let ids = self.tenant_ids(&tenants).await?;
        if role.is_tenant_bound() && ids.is_empty() {
            return Err(AppError::invalid("tenants", "a tenant viewer needs at least one tenant"));
        }
        if user.id == principal.user_id && role != Role::Admin {
            return Err(AppError::invalid("role", "you cannot take your own admin role away"));
        }
        let now = self.clock.now();
        self.store.change_user(user.id, UserChange::Role(role), now).await?;
        let updated = self.store.change_user(user.id, UserChange::Tenants(ids.clone()), now).await?;
        self.audit()
            .record(
                &principal.actor(),
                "role.change",
                None,
                &format!("user:{}", user.username),
                "success",
                json!({ "from": user.role, "to": role, "tenants": ids }),
            )
            .await?;
        Ok(updated)
    }

    /// Sets one's own UI language (`de` or `en`).
    pub async fn set_locale(&self, principal: &Principal, locale: &str) -> Result<()> {
        if !["de", "en"].contains(&locale) {
            return Err(AppError::invalid("locale", "choose \"de\" or \"en\""));
        }
        self.store.change_user(principal.user_id, UserChange::Locale(locale.to_string()), self.clock.now()).await?;
        Ok(())
    }
}
