//! Failed-login rates for the security thresholds (failed logins per minute
//! per IP: warning > 10, critical > 50). Kept in memory as one-minute
//! sliding windows per key; exported as the maximum over keys, so no IP
//! address or user name becomes a metric label.
//!
//! Also the sign-in attempts in flight per throttle key: the stored counts
//! bound how many passwords are ever tried, this bounds how many are
//! checked at the same moment (each check is tens of milliseconds of CPU
//! and 19 MiB of Argon2 memory); more wait their turn.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Sliding one-minute windows of failed logins per IP and per account.
#[derive(Debug, Default)]
pub struct FailedLogins {
    inner: Mutex<Windows>,
}

#[derive(Debug, Default)]
struct Windows {
    by_ip: HashMap<String, VecDeque<Timestamp>>,
    by_account: HashMap<String, VecDeque<Timestamp>>,
    total: u64,
}

fn prune(map: &mut HashMap<String, VecDeque<Timestamp>>, now: Timestamp) {
    let cutoff = now - SignedDuration::from_mins(1);
    map.retain(|_, q| {
        while q.front().is_some_and(|t| *t <= cutoff) {
            q.pop_front();
        }
        !q.is_empty()
    });
}

impl FailedLogins {
    /// Records one failed login.
    pub fn record(&self, ip: &str, account: &str, now: Timestamp) {
        let mut w = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        w.by_ip.entry(ip.to_string()).or_default().push_back(now);
        w.by_account.entry(account.to_string()).or_default().push_back(now);
        w.total += 1;
        prune(&mut w.by_ip, now);
        prune(&mut w.by_account, now);
    }

    /// (max failures in the last minute from one IP, from one account,
    /// total failures ever).
    pub fn snapshot(&self, now: Timestamp) -> (u64, u64, u64) {
        let mut w = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        prune(&mut w.by_ip, now);
        prune(&mut w.by_account, now);
        let max = |m: &HashMap<String, VecDeque<Timestamp>>| m.values().map(|q| q.len() as u64).max().unwrap_or(0);
        (max(&w.by_ip), max(&w.by_account), w.total)
    }
}

/// Sign-in attempts being checked now, per throttle key: a semaphore per
/// key, made on first use and forgotten when idle.
#[derive(Debug, Default)]
pub struct InFlight(Mutex<HashMap<String, Arc<Semaphore>>>);

/// Holds places in [`InFlight`] until dropped.
#[derive(Debug)]
pub struct InFlightGuard<'a> {
    owner: &'a InFlight,
    permits: Vec<OwnedSemaphorePermit>,
}

impl InFlight {
    /// Waits for a place for each of `keys` (key and its limit), in the
    /// order given — callers give the address before the account, so no two
    /// wait for each other.
    pub async fn enter<'a>(&'a self, keys: &[(&str, u32)]) -> InFlightGuard<'a> {
        let mut guard = InFlightGuard { owner: self, permits: Vec::with_capacity(keys.len()) };
        for (key, limit) in keys {
            let semaphore = {
                let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
                map.entry((*key).to_string()).or_insert_with(|| Arc::new(Semaphore::new(*limit as usize))).clone()
            };
            // The semaphore is never closed.
            if let Ok(permit) = semaphore.acquire_owned().await {
                guard.permits.push(permit);
            }
        }
        guard
    }

    /// Keys with a semaphore now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.permits.clear();
        // Under the lock nobody can take a new reference: one left means
        // only the map holds it, and the key is idle.
        let mut map = self.owner.0.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, semaphore| Arc::strong_count(semaphore) > 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_slide() {
        let f = FailedLogins::default();
        let t0: Timestamp = "2026-11-23T10:00:00Z".parse().unwrap();
        for i in 0..12 {
            f.record("10.0.0.1", "anna", t0 + SignedDuration::from_secs(i));
        }
        f.record("10.0.0.2", "bob", t0);
        assert_eq!(f.snapshot(t0 + SignedDuration::from_secs(20)), (12, 12, 13));
        assert_eq!(f.snapshot(t0 + SignedDuration::from_secs(65)), (6, 6, 13));
        assert_eq!(f.snapshot(t0 + SignedDuration::from_mins(5)), (0, 0, 13));
    }

    #[tokio::test]
    async fn in_flight_places_are_bounded_per_key_and_given_back() {
        let places = InFlight::default();
        let a = places.enter(&[("ip:1", 8), ("account:x", 2)]).await;
        let b = places.enter(&[("ip:2", 8), ("account:x", 2)]).await;
        let third = places.enter(&[("ip:3", 8), ("account:x", 2)]);
        tokio::pin!(third);
        let waited = tokio::time::timeout(std::time::Duration::from_millis(50), &mut third).await;
        assert!(waited.is_err(), "a third attempt for the account waits");
        let _other = places.enter(&[("ip:3", 8), ("account:y", 2)]).await;
        drop(a);
        let c = third.await;
        drop((b, c));
        assert_eq!(places.len(), 2, "idle keys are forgotten: only ip:3 and account:y are held");
    }
}
