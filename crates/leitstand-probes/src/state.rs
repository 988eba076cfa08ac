//! From single probe results to an up/down state: a target is down after
//! `retries + 1` failures in a row and up again at the first success, and
//! each change carries the time it happened — the first failed check of a
//! run, not the one that confirmed it, so outages are measured from when
//! they began.

/// A change of state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// When the new state began (ms since the epoch).
    pub at_ms: i64,
    /// The new state.
    pub up: bool,
}

/// The state of one probe.
#[derive(Debug, Clone, Default)]
pub struct ProbeState {
    up: Option<bool>,
    failures: u32,
    first_failure_ms: Option<i64>,
}

impl ProbeState {
    /// The current state (`None` before the first decision).
    pub fn up(&self) -> Option<bool> {
        self.up
    }

    /// Records a result at `at_ms`; returns the change it causes.
    pub fn record(&mut self, success: bool, at_ms: i64, retries: u32) -> Option<Change> {
        if success {
            self.failures = 0;
            self.first_failure_ms = None;
            if self.up != Some(true) {
                self.up = Some(true);
                return Some(Change { at_ms, up: true });
            }
            return None;
        }
        self.failures += 1;
        let since = *self.first_failure_ms.get_or_insert(at_ms);
        if self.failures > retries && self.up != Some(false) {
            self.up = Some(false);
            return Some(Change { at_ms: since, up: false });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_after_retries_dated_from_the_first_failure() {
        let mut s = ProbeState::default();
        assert_eq!(s.record(true, 0, 2), Some(Change { at_ms: 0, up: true }));
        assert_eq!(s.record(false, 30, 2), None);
        assert_eq!(s.record(false, 60, 2), None);
        assert_eq!(s.record(false, 90, 2), Some(Change { at_ms: 30, up: false }), "down since the first failure");
        assert_eq!(s.record(false, 120, 2), None);
        assert_eq!(s.record(true, 150, 2), Some(Change { at_ms: 150, up: true }));
        // A blip within the retries changes nothing.
        assert_eq!(s.record(false, 180, 2), None);
        assert_eq!(s.record(true, 210, 2), None);
        // Without retries the first failure is down; a fresh probe that fails starts down.
        let mut fresh = ProbeState::default();
        assert_eq!(fresh.record(false, 5, 0), Some(Change { at_ms: 5, up: false }));
        assert_eq!(fresh.up(), Some(false));
    }
}
