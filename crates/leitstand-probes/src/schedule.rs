//! When each job (probe, scrape, host collection) runs next: one min-heap
//! of due times for all of them, so thousands of probes cost one timer, not
//! thousands of sleeping tasks, and an idle probe costs only its entry.
//!
//! Pure: times are milliseconds on whatever clock the caller uses, and the
//! caller sleeps until [`Schedule::next_due`]. First runs are spread over
//! the interval (at most a minute) by a hash of the job's name, as
//! Prometheus spreads its scrapes, so jobs with the same interval do not
//! all fire in the same millisecond — and the same job keeps its slot
//! across restarts.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The longest spread of first runs.
pub const MAX_SPREAD_MS: i64 = 60_000;

/// The job's offset within its interval, from its name.
pub fn offset(name: &str, interval_ms: i64) -> i64 {
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let window = interval_ms.clamp(1, MAX_SPREAD_MS);
    (hash % window as u64) as i64
}

/// Due times of all jobs.
#[derive(Debug, Clone, Default)]
pub struct Schedule {
    heap: BinaryHeap<Reverse<(i64, usize)>>,
    intervals: Vec<i64>,
}

impl Schedule {
    /// Jobs by index with `(name, interval_ms)`; the first runs fall in
    /// `[start_ms, start_ms + min(interval, 1 min))`.
    pub fn new<S: AsRef<str>>(jobs: impl IntoIterator<Item = (S, i64)>, start_ms: i64) -> Self {
        let mut s = Schedule::default();
        for (i, (name, interval)) in jobs.into_iter().enumerate() {
            let interval = interval.max(1);
            s.intervals.push(interval);
            s.heap.push(Reverse((start_ms + offset(name.as_ref(), interval), i)));
        }
        s
    }

    /// Adds a job first due at `first_ms` (no spread), then every
    /// `interval_ms`; its index is the number of jobs before it.
    pub fn add(&mut self, first_ms: i64, interval_ms: i64) {
        let job = self.intervals.len();
        self.intervals.push(interval_ms.max(1));
        self.heap.push(Reverse((first_ms, job)));
    }

    /// Number of jobs.
    pub fn len(&self) -> usize {
        self.intervals.len()
    }

    /// Whether there are no jobs.
    pub fn is_empty(&self) -> bool {
        self.intervals.is_empty()
    }

    /// The earliest due time.
    pub fn next_due(&self) -> Option<i64> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// The jobs due at `now_ms`, each rescheduled one interval after its
    /// due time. Runs missed entirely (the process was suspended) are not
    /// made up: the next run is the next slot after `now_ms`.
    pub fn take_due(&mut self, now_ms: i64) -> Vec<usize> {
        let mut due = Vec::new();
        while let Some(&Reverse((at, job))) = self.heap.peek() {
            if at > now_ms {
                break;
            }
            self.heap.pop();
            let interval = self.intervals[job];
            let mut next = at + interval;
            if next <= now_ms {
                next += (now_ms - next) / interval * interval + interval;
            }
            self.heap.push(Reverse((next, job)));
            due.push(job);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_at_their_interval_spread_and_never_twice_per_slot() {
        let mut s = Schedule::new([("a", 1_000), ("b", 3_000)], 0);
        let (oa, ob) = (offset("a", 1_000), offset("b", 3_000));
        assert!(oa < 1_000 && ob < 3_000);
        let mut runs = [Vec::new(), Vec::new()];
        let mut now = 0;
        while now < 10_000 {
            for job in s.take_due(now) {
                runs[job].push(now);
            }
            now = s.next_due().unwrap();
        }
        assert_eq!(runs[0], (0..10).map(|k| oa + k * 1_000).filter(|t| *t < 10_000).collect::<Vec<_>>());
        assert_eq!(runs[1], (0..4).map(|k| ob + k * 3_000).filter(|t| *t < 10_000).collect::<Vec<_>>());
    }

    #[test]
    fn missed_runs_are_not_made_up() {
        let mut s = Schedule::new([("a", 1_000)], 0);
        let first = s.next_due().unwrap();
        assert_eq!(s.take_due(first + 5_500), [0], "one run after a long pause, not six");
        assert_eq!(s.next_due(), Some(first + 6_000));
        assert!(s.take_due(first + 5_999).is_empty());
    }

    #[test]
    fn offsets_are_stable_and_bounded_by_a_minute() {
        assert_eq!(offset("portal-http", 86_400_000), offset("portal-http", 86_400_000));
        assert!((0..1000).all(|i| offset(&format!("p{i}"), 86_400_000) < MAX_SPREAD_MS));
        let distinct: std::collections::BTreeSet<i64> = (0..1000).map(|i| offset(&format!("p{i}"), 30_000)).collect();
        assert!(distinct.len() > 900, "first runs are spread: {}", distinct.len());
    }
}
