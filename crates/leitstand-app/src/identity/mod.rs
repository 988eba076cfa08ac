//! Authentication: password hashing (Argon2id, off the async runtime), the
//! first-start admin, login with throttling and no user enumeration,
//! sessions with idle and absolute timeouts, and API tokens.
//!
//! Every check of a secret an attacker could guess — a password at sign-in
//! or when it is changed, a second-factor code that guards a change — goes
//! through [`App::attempt`]: counted before it is checked, bounded in flight,
//! and given back only when it succeeds.

mod oidc;
mod throttle;
mod totp;
mod users;

/// Accounts and tokens as the services return them.
pub use leitstand_store::{ApiToken, User};
pub use oidc::{Oidc, OidcSettings, OidcStart};
pub use throttle::{FailedLogins, InFlight};
pub(crate) use totp::UsedSteps;
pub use totp::{new_totp_secret, otpauth_uri, totp_code};
pub use users::{NewUserRequest, OwnPasswordChange, UserUpdate, UserView};

use leitstand_core::Outcome;
use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::Ordering;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use jiff::{SignedDuration, Timestamp};
use leitstand_core::access::{Action, IP_KEY_PREFIX, Role, TenantScope, UserName, check_password};
use leitstand_store::{NewUser, SessionRepository, SessionRow, StoreError, ThrottleRepository, UserRepository};
use serde_json::json;
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::principal::{Principal, Via};
use crate::secrets::{constant_time_eq, digest, random_hex};
use crate::{App, AppError, Result};

/// Session and one-time password lifetimes.
#[derive(Debug, Clone, Copy)]
pub struct SessionSettings {
    /// A session unused this long ends.
    pub idle: SignedDuration,
    /// A session ends this long after login, used or not.
    pub absolute: SignedDuration,
    /// A one-time password (first start, new user, reset) stops working
    /// this long after it was set.
    pub one_time_password: SignedDuration,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            idle: SignedDuration::from_mins(30),
            absolute: SignedDuration::from_hours(12),
            one_time_password: SignedDuration::from_hours(72),
        }
    }
}

/// What checking a guessable secret found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Right.
    Passed,
    /// The password was wrong.
    WrongPassword,
    /// The password was right (or not asked), the code wrong or missing.
    WrongCode,
}

/// A successful login.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    /// Cookie value (the only copy of the secret).
    pub cookie: String,
    /// The new session.
    pub session: ValidSession,
}

/// A session that is valid now.
#[derive(Debug, Clone)]
pub struct ValidSession {
    /// Who.
    pub principal: Principal,
    /// Token that state-changing forms must carry.
    pub csrf_token: String,
    /// Stored id (hash of the cookie).
    pub id_hash: String,
    /// Whether the password must be changed before anything else.
    pub must_change_password: bool,
    /// UI language.
    pub locale: String,
}

/// A newly created API token; the secret is shown once.
#[derive(Debug, Clone)]
pub struct NewApiToken {
    /// Token id.
    pub id: Uuid,
    /// The secret: `lst_` and 64 hex digits.
    pub secret: String,
}

/// Password hashes computed at the same time in this process: each holds
/// 19 MiB and a core for tens of milliseconds, so a flood of sign-ins
/// queues here instead of exhausting memory.
static PASSWORD_WORK: Semaphore = Semaphore::const_new(8);

/// Runs Argon2 work on a blocking thread, at most [`PASSWORD_WORK`] at once.
async fn password_work<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let _permit = PASSWORD_WORK.acquire().await.ok()?;
    tokio::task::spawn_blocking(work).await.ok()
}

/// Hashes a password with Argon2id on a blocking thread.
pub async fn hash_password(password: String) -> Result<String> {
    password_work(move || {
        Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| {
            AppError::invalid("password", e.to_string(), format!("Das Passwort kann nicht verarbeitet werden: {e}"))
        })
    })
    .await
    .unwrap_or_else(|| {
        Err(AppError::invalid(
            "password",
            "the password could not be hashed",
            "Das Passwort konnte nicht verarbeitet werden",
        ))
    })
}

/// A hash of a random password, verified against when the user does not
/// exist, so that unknown and known users take the same time.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        Argon2::default().hash_password(random_hex(16).as_bytes()).map(|h| h.to_string()).unwrap_or_default()
    })
}

/// Verifies on a blocking thread; `None` verifies against the dummy hash
/// and fails.
pub(crate) async fn verify_password(password: String, hash: Option<String>) -> bool {
    let known = hash.is_some();
    let hash = hash.unwrap_or_else(|| dummy_hash().to_string());
    let ok = password_work(move || Argon2::default().verify_password(password.as_bytes(), hash.as_str()).is_ok())
        .await
        .unwrap_or(false);
    ok && known
}

/// A readable random password for the first admin: 24 characters from an
/// alphabet without look-alikes (≈ 137 bits).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("operating-system random source");
    bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect()
}

/// The principal of a stored user. A session signed in with a one-time
/// password may only change it; API tokens are credentials of their own
/// and keep working (the reset offers to revoke them).
pub(crate) fn principal_of(user: &User, via: Via) -> Principal {
    Principal {
        user_id: user.id,
        username: user.username.clone(),
        role: user.role,
        scope: if user.role.is_tenant_bound() { TenantScope::Only(user.tenants.clone()) } else { TenantScope::All },
        password_change_due: matches!(via, Via::Session { .. }) && user.must_change_password,
        via,
    }
}

/// How often expired sign-in counters are deleted (at most).
const THROTTLE_PURGE_EVERY: SignedDuration = SignedDuration::from_mins(1);

impl App {
    /// On a store without users: creates `admin`. Returns the generated
    /// one-time password (`None` when `password` was given or users exist).
    pub async fn bootstrap_admin(&self, password: Option<String>) -> Result<Option<String>> {
        if self.store.count_users().await? > 0 {
            return Ok(None);
        }
        let generated = password.is_none();
        let password = match password {
            Some(p) => {
                check_password("admin", &p)
                    .map_err(|e| AppError::Invalid { field: "LEITSTAND_ADMIN_PASSWORD", message: e.message() })?;
                p
            }
            None => generate_password(),
        };
        let new = NewUser {
            id: Uuid::now_v7(),
            username: UserName::parse("admin").expect("a valid user name"),
            display_name: "Administrator".into(),
            role: Role::Admin,
            password_hash: Some(hash_password(password.clone()).await?),
            must_change_password: generated,
            password_expires_at: generated.then(|| self.one_time_password_expiry()),
            tenants: vec![],
            external_id: None,
        };
        match self.store.create_user(new, self.clock.now()).await {
            Ok(user) => {
                self.audit()
                    .record(
                        "system",
                        "user.create",
                        None,
                        "user:admin",
                        Outcome::Success,
                        json!({ "role": user.role, "bootstrap": true }),
                    )
                    .await?;
                Ok(generated.then_some(password))
            }
            // Another replica created it first.
            Err(StoreError::Conflict { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// When a one-time password set now stops working.
    pub fn one_time_password_expiry(&self) -> Timestamp {
        let now = self.clock.now();
        now.saturating_add(self.sessions.one_time_password).unwrap_or(now)
    }

    /// The throttle keys of account `name` and address `ip`: pseudonyms, so
    /// the counters never hold a name (or a password typed into the name
    /// field) or an address.
    fn throttle_keys(&self, name: &str, ip: &str) -> (String, String) {
        let (pseudonymiser, _) = self.audit_sink.keys();
        (
            format!("account:{}", pseudonymiser.pseudonym(name)),
            format!("{IP_KEY_PREFIX}{}", pseudonymiser.pseudonym(ip)),
        )
    }

    /// Checks a guessable secret of account `name`, sent from `ip`, under
    /// the throttle. The attempt is counted for the address and then the
    /// account before `check` runs, in one atomic step each, and `check`
    /// runs only while both counts are within their limits: at most the
    /// policy's number of guesses is ever checked per lock window, however
    /// many arrive at once. Of those, a few per key are checked at a time;
    /// the others wait their turn. Success gives the attempt back.
    pub(crate) async fn attempt(&self, name: &str, ip: &str, check: impl Future<Output = Verdict>) -> Result<()> {
        let now = self.clock.now();
        self.purge_throttle_now_and_then(now).await;
        let rules = &self.throttle;
        let (account, address) = self.throttle_keys(name, ip);
        let mut counted = 0;
        for key in [&address, &account] {
            let state = self.store.count_attempt(key, now, rules).await?;
            if !rules.admits(key, state.failures) {
                return Err(AppError::Locked { until: state.locked_until.unwrap_or(now) });
            }
            counted = counted.max(state.failures);
        }
        let bounds =
            [(address.as_str(), rules.in_flight_for(&address)), (account.as_str(), rules.in_flight_for(&account))];
        let _places = self.attempts_in_flight.enter(&bounds).await;
        match check.await {
            Verdict::Passed => {
                self.store.clear_throttle(&account).await?;
                self.store.refund_attempt(&address, rules).await?;
                Ok(())
            }
            verdict => {
                self.failed_logins.record(&address, &account, now);
                tokio::time::sleep(rules.delay(counted)).await;
                Err(if verdict == Verdict::WrongCode { AppError::BadSecondFactor } else { AppError::BadCredentials })
            }
        }
    }

    /// Deletes sign-in counters whose lock and window have passed, at most
    /// once a minute.
    async fn purge_throttle_now_and_then(&self, now: Timestamp) {
        let last = self.throttle_purged_at.load(Ordering::Relaxed);
        if now.as_microsecond() - last < THROTTLE_PURGE_EVERY.as_micros() as i64
            || self
                .throttle_purged_at
                .compare_exchange(last, now.as_microsecond(), Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        if let Err(e) = self.store.purge_throttle(now, &self.throttle).await {
            tracing::warn!(error = %e, "expired sign-in counters were not deleted; next try in a minute");
        }
    }

    /// The second-factor secret of `user`, opened, if it has one.
    pub(crate) fn totp_secret_of(&self, user: &User) -> Result<Option<String>> {
        let Some(stored) = &user.totp_secret else { return Ok(None) };
        self.audit_sink.sealer().open("totp", user.id, stored).map(Some).map_err(|e| {
            AppError::Internal(StoreError::Corrupt { entity: "user", reason: format!("{}: {e}", user.username) })
        })
    }

    /// Logs in with user name and password from source address `ip`.
    /// `code` is the TOTP code, required when the user has the second
    /// factor on; a wrong or missing code counts as a failed login.
    pub async fn login(&self, username: &str, password: &str, code: Option<&str>, ip: &str) -> Result<LoginOutcome> {
        let name = username.trim().to_lowercase();
        // A name no account can have is looked up as no account: the same
        // work, the same answer and the same count as any unknown name.
        let user = match UserName::parse(&name) {
            Ok(valid) => self.store.user_by_name(&valid).await?.filter(|u| u.active),
            Err(_) => None,
        };
        let hash = user.as_ref().and_then(|u| u.password_hash.clone());
        let second = match &user {
            Some(u) => self.totp_secret_of(u)?.map(|secret| (u.id, secret)),
            None => None,
        };
        let check = async {
            if !verify_password(password.to_string(), hash).await {
                Verdict::WrongPassword
            } else if let Some((id, secret)) = &second
                && !code.is_some_and(|c| self.accept_totp(*id, secret, c))
            {
                // Only someone who knows the password learns that a code is needed.
                Verdict::WrongCode
            } else {
                Verdict::Passed
            }
        };
        let object = format!("user:{name}");
        if let Err(e) = self.attempt(&name, ip, check).await {
            let (outcome, details) = match &e {
                AppError::Locked { .. } => (Outcome::Denied, json!({ "reason": "locked" })),
                _ => (Outcome::Failure, json!({})),
            };
            self.audit().record("anonymous", "auth.login", None, &object, outcome, details).await?;
            return Err(e);
        }
        let user = user.ok_or(AppError::BadCredentials)?;
        if user.must_change_password && user.password_expires_at.is_some_and(|at| at <= self.clock.now()) {
            let details = json!({ "reason": "one-time password expired" });
            self.audit().record("anonymous", "auth.login", None, &object, Outcome::Failure, details).await?;
            return Err(AppError::PasswordExpired);
        }
        self.start_session(&user, "password").await
    }

    /// Opens a session for `user`, who has just authenticated by `method`.
    pub(crate) async fn start_session(&self, user: &User, method: &str) -> Result<LoginOutcome> {
        let now = self.clock.now();
        let name = &user.username;
        let cookie = random_hex(32);
        let row = SessionRow {
            id_hash: digest(&cookie),
            user_id: user.id,
            csrf_token: random_hex(32),
            created_at: now.as_microsecond(),
            last_seen_at: now.as_microsecond(),
            expires_at: now.saturating_add(self.sessions.absolute).unwrap_or(now).as_microsecond(),
        };
        self.store.create_session(row.clone()).await?;
        self.audit()
            .record(
                &format!("user:{name}"),
                "auth.login",
                None,
                &format!("user:{name}"),
                Outcome::Success,
                json!({ "method": method }),
            )
            .await?;
        let session = ValidSession {
            principal: principal_of(user, Via::Session { id_hash: row.id_hash.clone() }),
            csrf_token: row.csrf_token,
            id_hash: row.id_hash,
            must_change_password: user.must_change_password,
            locale: user.locale.clone(),
        };
        Ok(LoginOutcome { cookie, session })
    }

    /// The session for a cookie value, if valid now (idle and absolute
    /// timeouts, active user).
    pub async fn session(&self, cookie: &str) -> Result<ValidSession> {
        let now = self.clock.now().as_microsecond();
        let id_hash = digest(cookie);
        let row = self.store.session(&id_hash).await?.ok_or(AppError::Unauthenticated)?;
        let idle_end = row.last_seen_at.saturating_add(self.sessions.idle.as_micros() as i64);
        if now >= row.expires_at || now >= idle_end {
            self.store.delete_session(&id_hash).await?;
            return Err(AppError::Unauthenticated);
        }
        let user = self.store.user(row.user_id).await?.filter(|u| u.active).ok_or(AppError::Unauthenticated)?;
        // One write a minute at most.
        if now - row.last_seen_at > 60_000_000 {
            self.store.touch_session(&id_hash, self.clock.now()).await?;
        }
        Ok(ValidSession {
            principal: principal_of(&user, Via::Session { id_hash: id_hash.clone() }),
            csrf_token: row.csrf_token,
            id_hash,
            must_change_password: user.must_change_password,
            locale: user.locale,
        })
    }

    /// Checks a form's CSRF token against the session's.
    pub fn check_csrf(&self, session: &ValidSession, submitted: &str) -> Result<()> {
        if constant_time_eq(&session.csrf_token, submitted) {
            Ok(())
        } else {
            Err(AppError::Forbidden { action: "csrf" })
        }
    }

    /// Ends a session.
    pub async fn logout(&self, session: &ValidSession) -> Result<()> {
        self.store.delete_session(&session.id_hash).await?;
        let actor = session.principal.actor();
        self.audit()
            .record(
                &actor,
                "auth.logout",
                None,
                &format!("user:{}", session.principal.username),
                Outcome::Success,
                json!({}),
            )
            .await
    }

    /// Creates an API token for the principal itself.
    pub async fn create_token(
        &self,
        principal: &Principal,
        name: &str,
        scopes: &[String],
        expires_at: Option<Timestamp>,
    ) -> Result<NewApiToken> {
        principal.require(Action::ManageOwnTokens)?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AppError::invalid(
                "name",
                "give the token a name of 1 to 100 characters",
                "Der Name eines Tokens hat 1 bis 100 Zeichen",
            ));
        }
        if scopes.is_empty() || scopes.iter().any(|s| !matches!(s.as_str(), "read" | "write" | "ingest" | "calendar")) {
            return Err(AppError::invalid(
                "scopes",
                "scopes are \"read\", \"write\", \"ingest\" (sending alerts only) and \"calendar\" \
                 (subscribing to on-call calendars only); at least one",
                "Berechtigungen sind \"read\", \"write\", \"ingest\" (nur Alarme senden) und \"calendar\" \
                 (nur Bereitschaftskalender abonnieren); mindestens eine",
            ));
        }
        let now = self.clock.now();
        if expires_at.is_some_and(|e| e <= now) {
            return Err(AppError::invalid(
                "expires",
                "the expiry must be in the future",
                "Das Ablaufdatum muss in der Zukunft liegen",
            ));
        }
        // A tenant viewer can never hand out more than reading.
        if principal.role.is_tenant_bound() && scopes.iter().any(|s| s != "read" && s != "calendar") {
            return Err(AppError::invalid(
                "scopes",
                "a tenant viewer's token can only read (scopes \"read\" and \"calendar\")",
                "Das Token eines Mandantenbetrachters kann nur lesen (\"read\" und \"calendar\")",
            ));
        }
        // A token mints no more than it may do itself: `write` covers every
        // scope, `read` the calendar too.
        let covers =
            |own: &String, wanted: &String| own == wanted || own == "write" || (own == "read" && wanted == "calendar");
        if let Via::Token { scopes: own, .. } = &principal.via
            && scopes.iter().any(|wanted| !own.iter().any(|o| covers(o, wanted)))
        {
            return Err(AppError::Forbidden { action: "token.widen_scope" });
        }
        let secret = format!("lst_{}", random_hex(32));
        let token = ApiToken {
            id: Uuid::now_v7(),
            user_id: principal.user_id,
            name: name.to_string(),
            token_hash: digest(&secret),
            scopes: scopes.to_vec(),
            created_at: now,
            expires_at,
            last_used_at: None,
            revoked_at: None,
        };
        self.store.create_token(token.clone()).await?;
        self.audit()
            .record(
                &principal.actor(),
                "token.create",
                None,
                &format!("token:{}", token.id),
                Outcome::Success,
                // `user` is pseudonymised; the token's name is not personal.
                json!({
                    "token_name": name,
                    "user": principal.username,
                    "scopes": scopes,
                    "expires_at": expires_at.map(|e| e.to_string()),
                }),
            )
            .await?;
        Ok(NewApiToken { id: token.id, secret })
    }

    /// The principal behind a bearer token.
    pub async fn authenticate_token(&self, secret: &str) -> Result<Principal> {
        let now = self.clock.now();
        let token = self.store.token_by_hash(&digest(secret)).await?.ok_or(AppError::Unauthenticated)?;
        if token.revoked_at.is_some() || token.expires_at.is_some_and(|e| e <= now) {
            return Err(AppError::Unauthenticated);
        }
        let user = self.store.user(token.user_id).await?.filter(|u| u.active).ok_or(AppError::Unauthenticated)?;
        if token.last_used_at.is_none_or(|t| now.duration_since(t) > SignedDuration::from_mins(1)) {
            self.store.mark_token_used(token.id, now).await?;
        }
        Ok(principal_of(&user, Via::Token { id: token.id, scopes: token.scopes }))
    }

    /// The principal's own tokens.
    pub async fn tokens(&self, principal: &Principal) -> Result<Vec<ApiToken>> {
        principal.require(Action::ReadOwnTokens)?;
        Ok(self.store.tokens_of(principal.user_id).await?)
    }

    /// Revokes one of the principal's tokens.
    pub async fn revoke_token(&self, principal: &Principal, id: Uuid) -> Result<()> {
        principal.require(Action::ManageOwnTokens)?;
        self.store.revoke_token(id, principal.user_id, self.clock.now()).await?;
        self.audit()
            .record(&principal.actor(), "token.revoke", None, &format!("token:{id}"), Outcome::Success, json!({}))
            .await
    }

    /// The principal acting for `username` on the local command line (the
    /// audit log records the operator, `system via:cli`).
    pub async fn cli_principal(&self, username: &UserName) -> Result<Principal> {
        let user = self
            .store
            .user_by_name(username)
            .await?
            .ok_or_else(|| AppError::NotFound { entity: "user", key: username.to_string() })?;
        if !user.active {
            return Err(AppError::invalid(
                "user",
                format!("{username:?} is disabled; `leitstand user enable {username}` enables it again"),
                format!("{username:?} ist deaktiviert; `leitstand user enable {username}` aktiviert es wieder"),
            ));
        }
        Ok(principal_of(&user, Via::Cli))
    }
}
