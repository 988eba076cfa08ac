//! The optional second factor: TOTP (RFC 6238: SHA-1, 6 digits, 30 s, one
//! step of clock skew — what every authenticator app speaks). A code is
//! accepted once: its time step is remembered per user, so a code seen by a
//! shoulder-surfer cannot be replayed within its window.
//!
//! Secrets are stored sealed ([`crate::sealing`]). Replacing or turning off
//! a second factor needs a current code of it, checked like a sign-in, so a
//! stolen session or token cannot take the factor over or guess its way
//! past it.

use leitstand_core::Outcome;
use std::collections::HashMap;
use std::sync::Mutex;

use leitstand_core::access::{Action, UserName};
use leitstand_store::{User, UserChange, UserRepository};
use serde_json::json;
use totp_rs::{Builder, Secret, Totp};
use uuid::Uuid;

use crate::identity::Verdict;
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
pub fn otpauth_uri(secret: &str, username: &UserName) -> String {
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

    /// Checks a code of the user's current second factor under the sign-in
    /// throttle (from `ip`).
    async fn prove_second_factor(&self, user: &User, secret: &str, code: &str, ip: &str) -> Result<()> {
        let check =
            async { if self.accept_totp(user.id, secret, code) { Verdict::Passed } else { Verdict::WrongCode } };
        self.attempt(user.username.as_str(), ip, check).await.map_err(|e| match e {
            AppError::BadSecondFactor => AppError::invalid(
                "current_code",
                "the code of the current second factor does not match",
                "Der Code des bisherigen zweiten Faktors stimmt nicht",
            ),
            other => other,
        })
    }

    /// A fresh secret for setting the second factor up, with its
    /// `otpauth://` URI (for authenticator apps).
    pub fn new_totp_setup(&self, principal: &Principal) -> Result<(String, String)> {
        principal.require(Action::ManageOwnAccount)?;
        let secret = new_totp_secret();
        let uri = otpauth_uri(&secret, &principal.username);
        Ok((secret, uri))
    }

    /// Turns the second factor on, after the user proved the app shows codes
    /// for `secret`. Replacing one already on needs a code of it
    /// (`current_code`), checked like a sign-in from `ip`.
    pub async fn enable_totp(
        &self,
        principal: &Principal,
        secret: &str,
        code: &str,
        current_code: Option<&str>,
        ip: &str,
    ) -> Result<()> {
        principal.require(Action::ManageOwnAccount)?;
        let user = self.store.user(principal.user_id).await?.ok_or(AppError::Unauthenticated)?;
        if totp(secret).is_none() {
            return Err(AppError::invalid(
                "secret",
                "not a valid base32 TOTP secret",
                "Kein gültiges TOTP-Geheimnis (Base32)",
            ));
        }
        // The new app's code proves the set-up; the old factor's code is
        // the one that counts as an attempt (and claims its time step).
        let step = self.totp_step(secret, code).ok_or_else(|| {
            AppError::invalid(
                "code",
                "the code does not match; check the time on your device",
                "Der Code stimmt nicht; bitte die Uhrzeit des Geräts prüfen",
            )
        })?;
        let replaces = self.totp_secret_of(&user)?;
        if let Some(old) = &replaces {
            let current = current_code.filter(|c| !c.trim().is_empty()).ok_or_else(|| {
                AppError::invalid(
                    "current_code",
                    "a second factor is on: give a code of it to replace it",
                    "Ein zweiter Faktor ist eingerichtet: zum Ersetzen einen Code davon angeben",
                )
            })?;
            self.prove_second_factor(&user, old, current, ip).await?;
        }
        let sealed = self.audit_sink.sealer().seal("totp", user.id, secret.trim());
        self.store.change_user(user.id, UserChange::Totp(Some(sealed)), self.clock.now()).await?;
        // Its code is used: it cannot sign in as well (a claim refused when
        // the old factor's code took the same step leaves the same state).
        let _ = self.used_totp_steps.claim(user.id, step);
        self.audit()
            .record(
                &principal.actor(),
                "auth.totp_enable",
                None,
                &format!("user:{}", principal.username),
                Outcome::Success,
                json!({ "replaced": replaces.is_some() }),
            )
            .await
    }

    /// Turns the second factor off; needs a current code, checked like a
    /// sign-in from `ip`.
    pub async fn disable_totp(&self, principal: &Principal, code: &str, ip: &str) -> Result<()> {
        principal.require(Action::ManageOwnAccount)?;
        let user = self.store.user(principal.user_id).await?.ok_or(AppError::Unauthenticated)?;
        let secret = self.totp_secret_of(&user)?.ok_or_else(|| {
            AppError::invalid("code", "no second factor is set up", "Es ist kein zweiter Faktor eingerichtet")
        })?;
        self.prove_second_factor(&user, &secret, code, ip).await.map_err(|e| match e {
            AppError::Invalid { .. } => AppError::invalid("code", "the code does not match", "Der Code stimmt nicht"),
            other => other,
        })?;
        self.store.change_user(user.id, UserChange::Totp(None), self.clock.now()).await?;
        self.audit()
            .record(
                &principal.actor(),
                "auth.totp_disable",
                None,
                &format!("user:{}", user.username),
                Outcome::Success,
                json!({}),
            )
            .await
    }

    /// Whether the principal has the second factor on.
    pub async fn has_totp(&self, principal: &Principal) -> Result<bool> {
        Ok(self.store.user(principal.user_id).await?.is_some_and(|u| u.totp_secret.is_some()))
    }

    /// Seals the second-factor secrets stored in clear before sealing
    /// existed; how many. Run at start.
    pub async fn seal_stored_secrets(&self) -> Result<usize> {
        let mut sealed = 0;
        for user in self.store.users().await? {
            if let Some(clear) = user.totp_secret.as_deref().filter(|s| !crate::Sealer::is_sealed(s)) {
                let value = self.audit_sink.sealer().seal("totp", user.id, clear);
                self.store.change_user(user.id, UserChange::Totp(Some(value)), user.updated_at).await?;
                sealed += 1;
            }
        }
        Ok(sealed)
    }
}

/// The current code for `secret` at Unix second `at` (for tests and demos).
pub fn totp_code(secret: &str, at: u64) -> Option<String> {
    totp(secret).map(|t| t.generate(at).to_string())
}
