//! Browser sessions and API tokens. Only hashes of the secrets are stored
//! (SHA-256 of 256-bit random values, computed by the caller): a database
//! dump does not let anyone log in.

use std::future::Future;

use jiff::Timestamp;
use uuid::Uuid;

use crate::{Result, Store, StoreError, execute, from_db, on_pool, to_db};

/// A login session.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
    /// SHA-256 (hex) of the cookie value.
    pub id_hash: String,
    /// The user.
    pub user_id: Uuid,
    /// Token that state-changing forms must echo.
    pub csrf_token: String,
    /// Login time (Unix µs).
    pub created_at: i64,
    /// Last request (Unix µs).
    pub last_seen_at: i64,
    /// Absolute expiry (Unix µs).
    pub expires_at: i64,
}

/// An API token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Id.
    pub id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// Name given by the owner.
    pub name: String,
    /// SHA-256 (hex) of the secret.
    pub token_hash: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Created.
    pub created_at: Timestamp,
    /// Expiry, if any.
    pub expires_at: Option<Timestamp>,
    /// Last use.
    pub last_used_at: Option<Timestamp>,
    /// Revocation time.
    pub revoked_at: Option<Timestamp>,
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: Uuid,
    user_id: Uuid,
    name: String,
    token_hash: String,
    scopes: String,
    created_at: i64,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl From<TokenRow> for ApiToken {
    fn from(r: TokenRow) -> Self {
        ApiToken {
            id: r.id,
            user_id: r.user_id,
            name: r.name,
            token_hash: r.token_hash,
            scopes: r.scopes.split_whitespace().map(String::from).collect(),
            created_at: from_db(r.created_at),
            expires_at: r.expires_at.map(from_db),
            last_used_at: r.last_used_at.map(from_db),
            revoked_at: r.revoked_at.map(from_db),
        }
    }
}

const TOKEN_COLUMNS: &str = "id, user_id, name, token_hash, scopes, created_at, expires_at, last_used_at, revoked_at";

/// Sessions and tokens in the store.
pub trait SessionRepository {
    /// Stores a new session.
    fn create_session(&self, session: SessionRow) -> impl Future<Output = Result<()>> + Send;
    /// The session with this hash.
    fn session(&self, id_hash: &str) -> impl Future<Output = Result<Option<SessionRow>>> + Send;
    /// Records activity.
    fn touch_session(&self, id_hash: &str, now: Timestamp) -> impl Future<Output = Result<()>> + Send;
    /// Ends one session.
    fn delete_session(&self, id_hash: &str) -> impl Future<Output = Result<()>> + Send;
    /// Ends every session of a user (disable, password reset); with
    /// `except`, all but that one (one's own password change).
    fn delete_user_sessions(&self, user: Uuid, except: Option<&str>) -> impl Future<Output = Result<u64>> + Send;
    /// Stores a new token.
    fn create_token(&self, token: ApiToken) -> impl Future<Output = Result<()>> + Send;
    /// The token with this hash.
    fn token_by_hash(&self, hash: &str) -> impl Future<Output = Result<Option<ApiToken>>> + Send;
    /// A user's tokens, newest first.
    fn tokens_of(&self, user: Uuid) -> impl Future<Output = Result<Vec<ApiToken>>> + Send;
    /// Revokes every token of `user` not yet revoked; how many.
    fn revoke_user_tokens(&self, user: Uuid, now: Timestamp) -> impl Future<Output = Result<u64>> + Send;
    /// Revokes a token of `user`; not found if it is not theirs.
    fn revoke_token(&self, id: Uuid, user: Uuid, now: Timestamp) -> impl Future<Output = Result<()>> + Send;
    /// Records a use.
    fn mark_token_used(&self, id: Uuid, now: Timestamp) -> impl Future<Output = Result<()>> + Send;
}

impl SessionRepository for Store {
    async fn create_session(&self, s: SessionRow) -> Result<()> {
        execute!(
            self,
            "session.create",
            "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            &s.id_hash,
            s.user_id,
            &s.csrf_token,
            s.created_at,
            s.last_seen_at,
            s.expires_at
        )
        .map(|_| ())
    }

    async fn session(&self, id_hash: &str) -> Result<Option<SessionRow>> {
        self.timed("session.get", async {
            Ok(on_pool!(self, |pool| sqlx::query_as(
                "SELECT id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at FROM sessions WHERE id_hash = $1"
            )
            .bind(id_hash)
            .fetch_optional(pool)
            .await?))
        })
        .await
    }

    async fn touch_session(&self, id_hash: &str, now: Timestamp) -> Result<()> {
        execute!(self, "session.touch", "UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1", id_hash, to_db(now))
            .map(|_| ())
    }

    async fn delete_session(&self, id_hash: &str) -> Result<()> {
        execute!(self, "session.delete", "DELETE FROM sessions WHERE id_hash = $1", id_hash).map(|_| ())
    }

    async fn delete_user_sessions(&self, user: Uuid, except: Option<&str>) -> Result<u64> {
        execute!(
            self,
            "session.delete_user",
            "DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2",
            user,
            except.unwrap_or_default()
        )
    }

    async fn create_token(&self, t: ApiToken) -> Result<()> {
        execute!(
            self,
            "token.create",
            "INSERT INTO api_tokens (id, user_id, name, token_hash, scopes, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            t.id,
            t.user_id,
            &t.name,
            &t.token_hash,
            t.scopes.join(" "),
            to_db(t.created_at),
            t.expires_at.map(to_db)
        )
        .map(|_| ())
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<ApiToken>> {
        self.timed("token.by_hash", async {
            let row: Option<TokenRow> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1"
            )))
            .bind(hash)
            .fetch_optional(pool)
            .await?);
            Ok(row.map(ApiToken::from))
        })
        .await
    }

    async fn tokens_of(&self, user: Uuid) -> Result<Vec<ApiToken>> {
        self.timed("token.list", async {
            let rows: Vec<TokenRow> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id"
            )))
            .bind(user)
            .fetch_all(pool)
            .await?);
            Ok(rows.into_iter().map(ApiToken::from).collect())
        })
        .await
    }

    async fn revoke_user_tokens(&self, user: Uuid, now: Timestamp) -> Result<u64> {
        execute!(
            self,
            "token.revoke_user",
            "UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
            user,
            to_db(now)
        )
    }

    async fn revoke_token(&self, id: Uuid, user: Uuid, now: Timestamp) -> Result<()> {
        let sql = "UPDATE api_tokens SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL";
        match execute!(self, "token.revoke", sql, id, user, to_db(now))? {
            0 => Err(StoreError::NotFound { entity: "token", key: id.to_string() }),
            _ => Ok(()),
        }
    }

    async fn mark_token_used(&self, id: Uuid, now: Timestamp) -> Result<()> {
        execute!(self, "token.used", "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1", id, to_db(now))
            .map(|_| ())
    }
}
