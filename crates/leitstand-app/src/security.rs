//! Failed-login rates for the security thresholds (failed logins per minute
//! per IP: warning > 10, critical > 50). Kept in memory as one-minute
//! sliding windows per key; exported as the maximum over keys, so no IP
//! address or user name becomes a metric label.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

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
}
