//! The optional second factor: TOTP (RFC 6238: SHA-1, 6 digits, 30 s, one
//! step of clock skew — what every authenticator app speaks). A code is
//! accepted once: its time step is remembered per user, so a code seen by a
//! shoulder-surfer cannot be replayed within its window.

use std::collections::HashMap;
use std::sync::Mutex;

use leitstand_store::{UserChange, UserRepository};
use serde_json::json;
use totp_rs::{Builder, Secret, Totp};
use uuid::Uuid;

use crate::{App, AppError, Principal, Result};

/// Time steps already used, per user.
#[derive(Debug, Default)]
pub struct UsedSteps(Mutex<HashMap<Uuid, u64>>);

impl UsedSteps {
    /// Records `step` for `user`; false if it (or a later one) was used.
    fn claim(&self, user: Uuid, step: u64) -> bool {
        let mut used = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match used.get(&user) {
            Some(last) if *last >= step => false,
            _ => {
                used.insert(user, step);
                true
            }
        }
    }
}

/// A fresh random secret, base32 (160 bits, as RFC 4226 recommends).
pub fn new_totp_secret() -> String {
    let mut bytes = vec![0u8; 20];
    getrandom::fill(&mut bytes).expect("operating-system random source");
    Secret::from(bytes).to_base32()
}

fn totp(secret: &str) -> Option<Totp> {
    let secret = Secret::try_from_base32(secret.trim()).ok()?;
    Builder::new().with_secret(secret).build().ok()
}

/// The `otpauth://` URI for authenticator apps (manual entry or a QR code
/// made elsewhere).
pub fn otpauth_uri(secret: &str, username: &str) -> String {
    format!("otpauth://totp/Leitstand:{username}?secret={secret}&issuer=Leitstand&algorithm=SHA1&digits=6&period=30")
}

impl App {
    /// Checks `code` against `secret` now; the time step on success.
    pub(crate) fn totp_step(&self, secret: &str, code: &str) -> Option<u64> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        let now = u64::try_from(self.clock.now().as_second()).ok()?;
        totp(secret)?.check(&code, now)
    }

    /// Accepts `code` for `user` once.
    pub(crate) fn accept_totp(&self, user: Uuid, secret: &str, code: &str) -> bool {
        self.totp_step(secret, code).is_some_and(|step| self.used_totp_steps.claim(user, step))
    }

    /// Turns the second factor on, after the user proved the app shows codes
    /// for `secret`.
    pub async fn enable_totp(&self, principal: &Principal, secret: &str, code: &str) -> Result<()> {
        if totp(secret).is_none() {
            return Err(AppError::invalid("secret", "not a valid base32 TOTP secret"));
        }
        if !self.accept_totp(principal.user_id, secret, code) {
            return Err(AppError::invalid("code", "the code does not match; check the time on your device"));
        }
        self.store
            .change_user(principal.user_id, UserChange::Totp(Some(secret.trim().to_string())), self.clock.now())
            .await?;
        self.audit()
            .record(
                &principal.actor(),
                "auth.totp_enable",
                None,
                &format!("user:{}", principal.username),
                "success",
                json!({}),
            )
            .await
    }

    /// Turns the second factor off; needs a current code.
    pub async fn disable_totp(&self, principal: &Principal, code: &str) -> Result<()> {
        let user = self.store.user(principal.user_id).await?.ok_or(AppError::Unauthenticated)?;
        let secret = user.totp_secret.ok_or_else(|| AppError::invalid("code", "no second factor is set up"))?;
        if !self.accept_totp(user.id, &secret, code) {
            return Err(AppError::invalid("code", "the code does not match"));
        }
        self.store.change_user(user.id, UserChange::Totp(None), self.clock.now()).await?;
        self.audit()
            .record(
                &principal.actor(),
                "auth.totp_disable",
                None,
                &format!("user:{}", user.username),
                "success",
                json!({}),
            )
            .await
    }

    /// Whether the principal has the second factor on.
    pub async fn has_totp(&self, principal: &Principal) -> Result<bool> {
        Ok(self.store.user(principal.user_id).await?.is_some_and(|u| u.totp_secret.is_some()))
    }
}

/// The current code for `secret` at Unix second `at` (for tests and demos).
pub fn totp_code(secret: &str, at: u64) -> Option<String> {
    totp(secret).map(|t| t.generate(at).to_string())
}
