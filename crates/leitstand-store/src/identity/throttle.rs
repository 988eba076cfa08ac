//! Sign-in attempt counters per account and per source address, with
//! lockout. The decision rules (limits, delay, lock length) are
//! `leitstand_core::access::Throttle`.
//!
//! An attempt is counted before its password is checked, in one
//! `INSERT … ON CONFLICT DO UPDATE … RETURNING` statement, so concurrent
//! attempts cannot lose each other's counts (a read followed by a write
//! could, and did). Keys are pseudonyms chosen by the caller: the table
//! never holds a user name, a password typed into the name field, or an
//! address. Rows are deleted once their lock and window have passed.

use std::future::Future;

use jiff::Timestamp;
use leitstand_core::access::Throttle;

use crate::{Result, Store, execute, from_db, on_pool, to_db};

/// The state of one throttle key after an attempt was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleState {
    /// Attempts counted within the window, this one included (attempts
    /// that succeeded were given back).
    pub failures: u32,
    /// Locked until this instant, if locked.
    pub locked_until: Option<Timestamp>,
}

/// Sign-in throttling in the store.
pub trait ThrottleRepository {
    /// Counts an attempt for `key` (`account:…`, `ip:…`) atomically and
    /// locks the key when the count reaches its limit. A lapsed lock, or a
    /// window without a lock that has passed, starts the count afresh.
    fn count_attempt(
        &self,
        key: &str,
        now: Timestamp,
        rules: &Throttle,
    ) -> impl Future<Output = Result<ThrottleState>> + Send;
    /// Gives back the count of an attempt that succeeded (and the lock, if
    /// that attempt had set it).
    fn refund_attempt(&self, key: &str, rules: &Throttle) -> impl Future<Output = Result<()>> + Send;
    /// Clears a key (an account after a successful sign-in).
    fn clear_throttle(&self, key: &str) -> impl Future<Output = Result<()>> + Send;
    /// Deletes the rows whose lock and window have passed; how many.
    fn purge_throttle(&self, now: Timestamp, rules: &Throttle) -> impl Future<Output = Result<u64>> + Send;
}

#[derive(sqlx::FromRow)]
struct Counted {
    failures: i64,
    locked_until: i64,
}

/// Whether the stored count starts afresh: its lock lapsed, or it had no
/// lock and its window passed. `$2` is now, `$5` the start of the window.
const FRESH: &str = "(login_throttle.locked_until <= $2 AND \
                     (login_throttle.locked_until > 0 OR login_throttle.first_failure_at <= $5))";

impl ThrottleRepository for Store {
    async fn count_attempt(&self, key: &str, now: Timestamp, rules: &Throttle) -> Result<ThrottleState> {
        let limit = i64::from(rules.limit_for(key));
        let lock_end = now.saturating_add(rules.lock_for).map_or(i64::MAX, to_db);
        let window_start = now.checked_sub(rules.window).map_or(i64::MIN, to_db);
        let sql = format!(
            "INSERT INTO login_throttle (throttle_key, failures, first_failure_at, locked_until) \
             VALUES ($1, 1, $2, CASE WHEN $3 <= 1 THEN $4 ELSE 0 END) \
             ON CONFLICT (throttle_key) DO UPDATE SET \
             failures = CASE WHEN {FRESH} THEN 1 ELSE login_throttle.failures + 1 END, \
             first_failure_at = CASE WHEN {FRESH} THEN $2 ELSE login_throttle.first_failure_at END, \
             locked_until = CASE \
                 WHEN login_throttle.locked_until > $2 THEN login_throttle.locked_until \
                 WHEN (CASE WHEN {FRESH} THEN 1 ELSE login_throttle.failures + 1 END) >= $3 THEN $4 \
                 ELSE 0 END \
             RETURNING failures, locked_until"
        );
        self.timed_write("throttle.count", async {
            let row: Counted = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(key)
                .bind(to_db(now))
                .bind(limit)
                .bind(lock_end)
                .bind(window_start)
                .fetch_one(pool)
                .await?);
            Ok(ThrottleState {
                failures: u32::try_from(row.failures).unwrap_or(u32::MAX),
                locked_until: Some(from_db(row.locked_until)).filter(|until| *until > now),
            })
        })
        .await
    }

    async fn refund_attempt(&self, key: &str, rules: &Throttle) -> Result<()> {
        execute!(
            self,
            "throttle.refund",
            "UPDATE login_throttle SET failures = failures - 1, \
             locked_until = CASE WHEN failures - 1 < $2 THEN 0 ELSE locked_until END \
             WHERE throttle_key = $1 AND failures > 0",
            key,
            i64::from(rules.limit_for(key))
        )
        .map(|_| ())
    }

    async fn clear_throttle(&self, key: &str) -> Result<()> {
        execute!(self, "throttle.clear", "DELETE FROM login_throttle WHERE throttle_key = $1", key).map(|_| ())
    }

    async fn purge_throttle(&self, now: Timestamp, rules: &Throttle) -> Result<u64> {
        let window_start = now.checked_sub(rules.window).map_or(i64::MIN, to_db);
        execute!(
            self,
            "throttle.purge",
            "DELETE FROM login_throttle WHERE locked_until <= $1 AND first_failure_at <= $2",
            to_db(now),
            window_start
        )
    }
}
