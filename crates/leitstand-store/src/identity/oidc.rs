//! OpenID Connect authorisation requests in flight. The callback takes a
//! request exactly once (delete … returning), so a replayed callback finds
//! nothing; requests older than ten minutes are ignored and swept.

use std::future::Future;

use jiff::{SignedDuration, Timestamp};

use crate::{Result, Store, from_db, on_pool, to_db};

/// One authorisation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcLogin {
    /// The `state` parameter (random).
    pub state: String,
    /// The ID token's expected `nonce`.
    pub nonce: String,
    /// The PKCE code verifier.
    pub pkce_verifier: String,
    /// Where to go after sign-in.
    pub next_path: String,
    /// When the request started.
    pub created_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct Row {
    state: String,
    nonce: String,
    pkce_verifier: String,
    next_path: String,
    created_at: i64,
}

/// How long an authorisation request stays valid.
pub const OIDC_LOGIN_TTL: SignedDuration = SignedDuration::from_mins(10);

/// OIDC requests in the store.
pub trait OidcLoginRepository {
    /// Records a request (and sweeps expired ones).
    fn put_oidc_login(&self, login: &OidcLogin) -> impl Future<Output = Result<()>> + Send;
    /// Takes the request with `state` if it is still valid at `now`.
    fn take_oidc_login(&self, state: &str, now: Timestamp) -> impl Future<Output = Result<Option<OidcLogin>>> + Send;
}

impl OidcLoginRepository for Store {
    async fn put_oidc_login(&self, login: &OidcLogin) -> Result<()> {
        self.timed("oidc.put", async {
            let cutoff = to_db(login.created_at.saturating_sub(OIDC_LOGIN_TTL).unwrap_or(login.created_at));
            on_pool!(self, |pool| sqlx::query("DELETE FROM oidc_logins WHERE created_at < $1")
                .bind(cutoff)
                .execute(pool)
                .await
                .map(|_| ())?);
            on_pool!(self, |pool| sqlx::query(
                "INSERT INTO oidc_logins (state, nonce, pkce_verifier, next_path, created_at) VALUES ($1, $2, $3, $4, $5)"
            )
            .bind(&login.state)
            .bind(&login.nonce)
            .bind(&login.pkce_verifier)
            .bind(&login.next_path)
            .bind(to_db(login.created_at))
            .execute(pool)
            .await
            .map(|_| ())?);
            Ok(())
        })
        .await
    }

    async fn take_oidc_login(&self, state: &str, now: Timestamp) -> Result<Option<OidcLogin>> {
        self.timed("oidc.take", async {
            let row: Option<Row> = on_pool!(self, |pool| {
                sqlx::query_as(
                "DELETE FROM oidc_logins WHERE state = $1 RETURNING state, nonce, pkce_verifier, next_path, created_at"
            )
            .bind(state)
            .fetch_optional(pool)
            .await?
            });
            Ok(row
                .map(|r| OidcLogin {
                    state: r.state,
                    nonce: r.nonce,
                    pkce_verifier: r.pkce_verifier,
                    next_path: r.next_path,
                    created_at: from_db(r.created_at),
                })
                .filter(|l| l.created_at.saturating_add(OIDC_LOGIN_TTL).is_ok_and(|end| end > now)))
        })
        .await
    }
}
