//! Leases: which replica runs the schedulers. A replica holds a named lease
//! until it expires; it renews before then. Another replica may take it over
//! only after expiry, and every change of holder increases the fencing token,
//! so work stamped with an old token can be recognised and discarded.
//!
//! A lease row rather than a PostgreSQL advisory lock: it works the same on
//! SQLite, survives connection drops predictably, takes `now` from the caller
//! (testable), and its state is visible to operators.

use std::future::Future;
use std::time::Duration;

use jiff::Timestamp;

use crate::{Result, Store, execute, from_db, on_pool, to_db};

/// A held lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Lease name, e.g. `scheduler`.
    pub name: String,
    /// Holder id (replica id).
    pub holder: String,
    /// Fencing token; grows whenever the holder changes.
    pub token: i64,
    /// When the lease lapses unless renewed.
    pub expires_at: Timestamp,
}

/// Leases in the store.
pub trait LeaseRepository {
    /// Acquires `name` for `holder`, or renews it if `holder` already holds
    /// it. Returns `None` while another holder's lease is unexpired.
    fn try_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> impl Future<Output = Result<Option<Lease>>> + Send;
    /// Gives the lease up early; false if it was no longer held.
    fn release_lease(&self, lease: &Lease) -> impl Future<Output = Result<bool>> + Send;
    /// The current lease row, expired or not.
    fn lease(&self, name: &str) -> impl Future<Output = Result<Option<Lease>>> + Send;
}

#[derive(sqlx::FromRow)]
struct Row {
    name: String,
    holder: String,
    token: i64,
    expires_at: i64,
}

impl From<Row> for Lease {
    fn from(row: Row) -> Self {
        Lease { name: row.name, holder: row.holder, token: row.token, expires_at: from_db(row.expires_at) }
    }
}

impl LeaseRepository for Store {
    async fn try_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<Option<Lease>> {
        let expires = now.saturating_add(jiff::SignedDuration::try_from(ttl).unwrap_or(jiff::SignedDuration::MAX));
        let expires = expires.unwrap_or(Timestamp::MAX);
        self.timed_write("lease.acquire", async {
            // One statement, atomic on both engines: insert, take over an
            // expired lease (new token), or renew our own (same token).
            let row: Option<Row> = on_pool!(self, |pool| sqlx::query_as(
                "INSERT INTO leases (name, holder, token, acquired_at, expires_at) VALUES ($1, $2, 1, $3, $4) \
                 ON CONFLICT (name) DO UPDATE SET \
                   token = CASE WHEN leases.holder = excluded.holder AND leases.expires_at > $3 \
                                THEN leases.token ELSE leases.token + 1 END, \
                   acquired_at = CASE WHEN leases.holder = excluded.holder AND leases.expires_at > $3 \
                                THEN leases.acquired_at ELSE excluded.acquired_at END, \
                   holder = excluded.holder, \
                   expires_at = excluded.expires_at \
                 WHERE leases.holder = excluded.holder OR leases.expires_at <= $3 \
                 RETURNING name, holder, token, expires_at"
            )
            .bind(name)
            .bind(holder)
            .bind(to_db(now))
            .bind(to_db(expires))
            .fetch_optional(pool)
            .await?);
            Ok(row.map(Lease::from))
        })
        .await
    }

    async fn release_lease(&self, lease: &Lease) -> Result<bool> {
        let sql = "UPDATE leases SET expires_at = acquired_at WHERE name = $1 AND holder = $2 AND token = $3";
        execute!(self, "lease.release", sql, &lease.name, &lease.holder, lease.token).map(|done| done == 1)
    }

    async fn lease(&self, name: &str) -> Result<Option<Lease>> {
        self.timed("lease.get", async {
            let row: Option<Row> = on_pool!(self, |pool| sqlx::query_as(
                "SELECT name, holder, token, expires_at FROM leases WHERE name = $1"
            )
            .bind(name)
            .fetch_optional(pool)
            .await?);
            Ok(row.map(Lease::from))
        })
        .await
    }
}
