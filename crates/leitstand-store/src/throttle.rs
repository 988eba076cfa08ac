//! Failed-login counters per account and per source address, with lockout.
//! The decision rules (delay, lock length) are `leitstand_core::access::Throttle`.

use std::future::Future;

use jiff::Timestamp;
use leitstand_core::access::Throttle;

use crate::{Result, Store, execute, from_db, on_pool, to_db};

/// The state of one throttle key after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleState {
    /// Consecutive failures within the window.
    pub failures: u32,
    /// Locked until this instant, if locked.
    pub locked_until: Option<Timestamp>,
}

/// Login throttling in the store.
pub trait ThrottleRepository {
    /// The current state of `key` (`account:NAME`, `ip:ADDR`).
    fn throttle_state(
        &self,
        key: &str,
        now: Timestamp,
        rules: &Throttle,
    ) -> impl Future<Output = Result<ThrottleState>> + Send;
    /// Counts a failure and locks the key when the rules say so.
    fn register_failure(
        &self,
        key: &str,
        now: Timestamp,
        rules: &Throttle,
    ) -> impl Future<Output = Result<ThrottleState>> + Send;
    /// Clears a key after a successful login.
    fn clear_throttle(&self, key: &str) -> impl Future<Output = Result<()>> + Send;
}

#[derive(sqlx::FromRow)]
struct Row {
    failures: i64,
    first_failure_at: i64,
    locked_until: i64,
}

fn state(row: Option<&Row>, now: Timestamp, rules: &Throttle) -> ThrottleState {
    let Some(row) = row else { return ThrottleState { failures: 0, locked_until: None } };
    let locked = Some(from_db(row.locked_until)).filter(|until| *until > now);
    let stale = from_db(row.first_failure_at).saturating_add(rules.window).is_ok_and(|end| end <= now);
    if stale && locked.is_none() {
        return ThrottleState { failures: 0, locked_until: None };
    }
    ThrottleState { failures: u32::try_from(row.failures).unwrap_or(u32::MAX), locked_until: locked }
}

impl Store {
    async fn throttle_row(&self, key: &str) -> Result<Option<Row>> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "SELECT failures, first_failure_at, locked_until FROM login_throttle WHERE throttle_key = $1"
        )
        .bind(key)
        .fetch_optional(pool)
        .await?))
    }
}

impl ThrottleRepository for Store {
    async fn throttle_state(&self, key: &str, now: Timestamp, rules: &Throttle) -> Result<ThrottleState> {
        self.timed("throttle.get", async { Ok(state(self.throttle_row(key).await?.as_ref(), now, rules)) }).await
    }

    async fn register_failure(&self, key: &str, now: Timestamp, rules: &Throttle) -> Result<ThrottleState> {
        self.timed("throttle.fail", async {
            let row = self.throttle_row(key).await?;
            let current = state(row.as_ref(), now, rules);
            let failures = current.failures.saturating_add(1);
            let first = match row {
                Some(row) if current.failures > 0 => row.first_failure_at,
                _ => to_db(now),
            };
            let locked_until = if failures >= rules.limit_for(key) {
                now.saturating_add(rules.lock_for).ok()
            } else {
                current.locked_until
            };
            on_pool!(self, |pool| sqlx::query(
                "INSERT INTO login_throttle (throttle_key, failures, first_failure_at, locked_until) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (throttle_key) DO UPDATE SET \
                 failures = excluded.failures, first_failure_at = excluded.first_failure_at, \
                 locked_until = excluded.locked_until"
            )
            .bind(key)
            .bind(i64::from(failures))
            .bind(first)
            .bind(locked_until.map_or(0, to_db))
            .execute(pool)
            .await
            .map(|_| ())?);
            Ok(ThrottleState { failures, locked_until })
        })
        .await
    }

    async fn clear_throttle(&self, key: &str) -> Result<()> {
        execute!(self, "throttle.clear", "DELETE FROM login_throttle WHERE throttle_key = $1", key).map(|_| ())
    }
}
