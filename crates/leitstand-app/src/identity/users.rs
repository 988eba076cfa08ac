//! User administration: add, list, disable, reset password, change role and
//! tenant memberships. Every change is audited.
//!
//! What ends with what: disabling a user ends their sessions and revokes
//! their API tokens (re-enabling brings neither back); any change of a
//! password ends the other sessions of the account — all of them after an
//! administrator's reset — and revokes its tokens when asked to.

use leitstand_core::Outcome;
use leitstand_core::access::{Action, Role, UserName, check_password};
use leitstand_core::tenant::TenantSlug;
use leitstand_store::{NewUser, SessionRepository, TenantRepository, User, UserChange, UserRepository};
use serde_json::json;
use uuid::Uuid;

use crate::identity::{Verdict, hash_password, verify_password};
use crate::{App, AppError, Principal, Result, Via};

/// A change of one's own password.
#[derive(Debug, Clone)]
pub struct OwnPasswordChange {
    /// The password now.
    pub current: String,
    /// The new one.
    pub new: String,
    /// Revoke every API token of the account too.
    pub revoke_tokens: bool,
}

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

fn check_username(name: &str) -> Result<UserName> {
    UserName::parse(name).map_err(|_| AppError::invalid("username", UserName::RULE, UserName::RULE_DE))
}

impl App {
    async fn tenant_ids(&self, slugs: &[String]) -> Result<Vec<Uuid>> {
        let mut ids = Vec::new();
        for slug in slugs {
            let parsed = TenantSlug::parse(slug.trim()).map_err(|e| {
                AppError::invalid(
                    "tenants",
                    e.to_string(),
                    format!("Ungültiges Mandantenkürzel {:?}: {}", e.value, e.reason_de()),
                )
            })?;
            let tenant = self.store.tenant(&parsed).await?.ok_or_else(|| {
                AppError::invalid("tenants", format!("no tenant {slug:?}"), format!("Keinen Mandanten {slug:?}"))
            })?;
            ids.push(tenant.id);
        }
        Ok(ids)
    }

    /// Creates a user.
    pub async fn add_user(&self, principal: &Principal, req: NewUserRequest) -> Result<UserView> {
        principal.require(Action::ManageUsers)?;
        let username = check_username(&req.username)?;
        check_password(username.as_str(), &req.password)
            .map_err(|e| AppError::Invalid { field: "password", message: e.message() })?;
        let tenants = self.tenant_ids(&req.tenants).await?;
        if req.role.is_tenant_bound() && tenants.is_empty() {
            return Err(AppError::invalid(
                "tenants",
                "a tenant viewer needs at least one tenant",
                "Ein Mandantenbetrachter braucht mindestens einen Mandanten",
            ));
        }
        let display_name =
            if req.display_name.trim().is_empty() { username.to_string() } else { req.display_name.trim().to_string() };
        let new = NewUser {
            id: Uuid::now_v7(),
            username: username.clone(),
            display_name,
            role: req.role,
            password_hash: Some(hash_password(req.password).await?),
            must_change_password: true,
            password_expires_at: Some(self.one_time_password_expiry()),
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
                Outcome::Success,
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

    async fn existing(&self, username: &UserName) -> Result<User> {
        self.store
            .user_by_name(username)
            .await?
            .ok_or_else(|| AppError::NotFound { entity: "user", key: username.to_string() })
    }

    /// Changes what `change` names — the role with its tenants, whether
    /// the account is active — as one request of a user manager; an empty
    /// change is refused.
    pub async fn update_user(
        &self,
        principal: &Principal,
        username: &UserName,
        change: UserUpdate,
    ) -> Result<UserView> {
        principal.require(Action::ManageUsers)?;
        let mut user = None;
        if let Some(role) = change.role {
            user = Some(self.change_role(principal, username, role, change.tenants).await?);
        }
        if let Some(active) = change.active {
            user = Some(self.set_user_active(principal, username, active).await?);
        }
        user.ok_or_else(|| AppError::invalid("body", "set \"role\" or \"active\"", "\"role\" oder \"active\" angeben"))
    }

    /// Disables or enables a user; disabling ends their sessions and
    /// revokes their tokens.
    pub async fn set_user_active(&self, principal: &Principal, username: &UserName, active: bool) -> Result<UserView> {
        principal.require(Action::ManageUsers)?;
        let user = self.existing(username).await?;
        if !active && user.id == principal.user_id {
            return Err(AppError::invalid(
                "username",
                "you cannot disable your own account",
                "Das eigene Konto kann nicht deaktiviert werden",
            ));
        }
        let now = self.clock.now();
        let user = self.store.change_user(user.id, UserChange::Active(active), now).await?;
        let details = if active {
            json!({})
        } else {
            let sessions = self.store.delete_user_sessions(user.id, None).await?;
            let tokens = self.store.revoke_user_tokens(user.id, now).await?;
            json!({ "sessions_ended": sessions, "tokens_revoked": tokens })
        };
        let action = if active { "user.enable" } else { "user.disable" };
        self.audit()
            .record(&principal.actor(), action, None, &format!("user:{}", user.username), Outcome::Success, details)
            .await?;
        Ok(user)
    }

    /// Sets a new one-time password chosen by an administrator: the user
    /// must change it at the next sign-in, before it expires. Ends all of
    /// the user's sessions; with `revoke_tokens`, revokes their tokens too.
    pub async fn reset_password(
        &self,
        principal: &Principal,
        username: &UserName,
        password: String,
        revoke_tokens: bool,
    ) -> Result<UserView> {
        principal.require(Action::ManageUsers)?;
        let user = self.existing(username).await?;
        check_password(user.username.as_str(), &password)
            .map_err(|e| AppError::Invalid { field: "password", message: e.message() })?;
        let hash = hash_password(password).await?;
        let now = self.clock.now();
        let change =
            UserChange::Password { hash, must_change: true, expires_at: Some(self.one_time_password_expiry()) };
        let user = self.store.change_user(user.id, change, now).await?;
        let sessions = self.store.delete_user_sessions(user.id, None).await?;
        let tokens = if revoke_tokens { self.store.revoke_user_tokens(user.id, now).await? } else { 0 };
        self.audit()
            .record(
                &principal.actor(),
                "user.reset_password",
                None,
                &format!("user:{}", user.username),
                Outcome::Success,
                json!({ "sessions_ended": sessions, "tokens_revoked": tokens }),
            )
            .await?;
        Ok(user)
    }

    /// Changes one's own password, from source address `ip`. The current
    /// password is checked like a sign-in (a wrong one counts towards the
    /// lock). Ends every other session of the account — the one making the
    /// change stays — and with `revoke_tokens` revokes its tokens.
    pub async fn change_own_password(&self, principal: &Principal, change: OwnPasswordChange, ip: &str) -> Result<()> {
        principal.require(Action::ChangeOwnPassword)?;
        let user = self.store.user(principal.user_id).await?.ok_or(AppError::Unauthenticated)?;
        let actor = principal.actor();
        let object = format!("user:{}", user.username);
        let Some(hash) = user.password_hash.clone() else {
            return Err(AppError::invalid(
                "current_password",
                "this account signs in through the organisation's identity provider and has no password here",
                "Dieses Konto meldet sich über den Identitätsanbieter der Organisation an und hat hier kein Passwort",
            ));
        };
        check_password(user.username.as_str(), &change.new)
            .map_err(|e| AppError::Invalid { field: "new_password", message: e.message() })?;
        let current = change.current.clone();
        let check =
            async { if verify_password(current, Some(hash)).await { Verdict::Passed } else { Verdict::WrongPassword } };
        if let Err(e) = self.attempt(user.username.as_str(), ip, check).await {
            let (outcome, reason) = match &e {
                AppError::BadCredentials => (Outcome::Failure, "wrong current password"),
                _ => (Outcome::Denied, "locked"),
            };
            self.audit()
                .record(&actor, "user.change_password", None, &object, outcome, json!({ "reason": reason }))
                .await?;
            return Err(match e {
                AppError::BadCredentials => AppError::invalid(
                    "current_password",
                    "the current password is wrong",
                    "Das bisherige Passwort ist falsch",
                ),
                other => other,
            });
        }
        if change.new == change.current {
            return Err(AppError::invalid(
                "new_password",
                "choose a password other than the current one",
                "Bitte ein anderes als das bisherige Passwort wählen",
            ));
        }
        let hash = hash_password(change.new).await?;
        let now = self.clock.now();
        self.store
            .change_user(user.id, UserChange::Password { hash, must_change: false, expires_at: None }, now)
            .await?;
        let keep = match &principal.via {
            Via::Session { id_hash } => Some(id_hash.as_str()),
            Via::Token { .. } | Via::Cli => None,
        };
        let sessions = self.store.delete_user_sessions(user.id, keep).await?;
        let tokens = if change.revoke_tokens { self.store.revoke_user_tokens(user.id, now).await? } else { 0 };
        self.audit()
            .record(
                &actor,
                "user.change_password",
                None,
                &object,
                Outcome::Success,
                json!({ "sessions_ended": sessions, "tokens_revoked": tokens }),
            )
            .await
    }

    /// Changes a user's role and tenant memberships.
    pub async fn change_role(
        &self,
        principal: &Principal,
        username: &UserName,
        role: Role,
        tenants: Vec<String>,
    ) -> Result<UserView> {
        principal.require(Action::ManageUsers)?;
        let user = self.existing(username).await?;
        let ids = self.tenant_ids(&tenants).await?;
        if role.is_tenant_bound() && ids.is_empty() {
            return Err(AppError::invalid(
                "tenants",
                "a tenant viewer needs at least one tenant",
                "Ein Mandantenbetrachter braucht mindestens einen Mandanten",
            ));
        }
        if user.id == principal.user_id && role != Role::Admin {
            return Err(AppError::invalid(
                "role",
                "you cannot take your own admin role away",
                "Die eigene Administratorrolle kann nicht entzogen werden",
            ));
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
                Outcome::Success,
                json!({ "from": user.role, "to": role, "tenants": ids }),
            )
            .await?;
        Ok(updated)
    }

    /// Sets one's own UI language (`de` or `en`).
    pub async fn set_locale(&self, principal: &Principal, locale: &str) -> Result<()> {
        principal.require(Action::ManageOwnAccount)?;
        if !["de", "en"].contains(&locale) {
            return Err(AppError::invalid("locale", "choose \"de\" or \"en\"", "\"de\" oder \"en\" wählen"));
        }
        self.store.change_user(principal.user_id, UserChange::Locale(locale.to_string()), self.clock.now()).await?;
        Ok(())
    }
}

/// A change of a user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    /// The new role, with `tenants`.
    pub role: Option<Role>,
    /// The tenants of a tenant-bound role.
    pub tenants: Vec<String>,
    /// Enabled or disabled.
    pub active: Option<bool>,
}
