//! Agreed maintenance windows ("Wartungsfenster" in the Betriebshandbuch):
//! recurring, written as a cron expression for the start and a duration,
//! in the calendar's time zone (or one of their own). Availability per the
//! EVB-IT formula leaves them out of both the total and the outage time;
//! the alerting capability pauses notifications during them.
//!
//! Recurrence is computed in local time, so "Sundays 02:00" stays 02:00
//! across the change to and from summer time.

use std::str::FromStr;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Violations, join};
use crate::time_limit::Duration;

/// One recurring maintenance window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceWindow {
    /// Name shown in reports, e.g. `"Patch-Sonntag"`.
    pub name: String,
    /// When a window starts: a cron expression (`minute hour day-of-month
    /// month day-of-week`, local time), e.g. `"0 2 * * 0"` for Sundays 02:00.
    pub start: String,
    /// How long each window lasts, e.g. `"2h"`.
    pub duration: Duration,
    /// IANA time zone of `start`; unset: the calendar's time zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Services the window applies to (the `service` label of probes and
    /// alerts); empty: all services.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
}

/// The maintenance windows in force.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Maintenance {
    /// Recurring windows (`[[maintenance.windows]]`); none by default.
    pub windows: Vec<MaintenanceWindow>,
}

/// At most this many occurrences are expanded per window and query (a
/// window every minute for a whole month is 44 640).
const MAX_OCCURRENCES: usize = 100_000;

impl MaintenanceWindow {
    fn applies_to(&self, service: Option<&str>) -> bool {
        self.services.is_empty() || service.is_some_and(|s| self.services.iter().any(|w| w == s))
    }

    fn zone(&self, default_zone: &TimeZone) -> TimeZone {
        match &self.time_zone {
            Some(name) => TimeZone::get(name).unwrap_or_else(|_| default_zone.clone()),
            None => default_zone.clone(),
        }
    }

    /// The windows `[start, end)` of this schedule that overlap
    /// `[from, to)`, in time order.
    pub fn occurrences(&self, from: Timestamp, to: Timestamp, default_zone: &TimeZone) -> Vec<(Timestamp, Timestamp)> {
        let Ok(cron) = croner::Cron::from_str(&self.start) else { return Vec::new() };
        let length = self.duration.signed();
        // A window that began up to one duration before `from` still overlaps.
        let Ok(begin) = from.checked_sub(length) else { return Vec::new() };
        let zone = self.zone(default_zone);
        let mut out = Vec::new();
        for start in cron.iter_from(begin.to_zoned(zone), croner::Direction::Forward).take(MAX_OCCURRENCES) {
            let start = start.timestamp();
            if start >= to {
                break;
            }
            let end = start.checked_add(length).unwrap_or(Timestamp::MAX);
            if end > from {
                out.push((start, end));
            }
        }
        out
    }

    pub(crate) fn validate(&self, path: &str, v: &mut Violations) {
        v.check(!self.name.trim().is_empty(), path, "name", || "must not be empty".into());
        if let Err(e) = croner::Cron::from_str(&self.start) {
            v.push(join(path, "start"), format!("{:?} is not a cron expression: {e}", self.start));
        }
        v.check(!self.duration.is_zero(), path, "duration", || "must be longer than 0s".into());
        if let Some(Err(e)) = self.time_zone.as_deref().map(TimeZone::get) {
            v.push(join(path, "time_zone"), format!("unknown time zone: {e}"));
        }
    }
}

impl Maintenance {
    /// The merged maintenance periods `[start, end)` for `service` within
    /// `[from, to)`, clipped to it, sorted and without overlaps.
    pub fn periods(
        &self,
        service: Option<&str>,
        from: Timestamp,
        to: Timestamp,
        default_zone: &TimeZone,
    ) -> Vec<(Timestamp, Timestamp)> {
        let mut all: Vec<(Timestamp, Timestamp)> = self
            .windows
            .iter()
            .filter(|w| w.applies_to(service))
            .flat_map(|w| w.occurrences(from, to, default_zone))
            .map(|(s, e)| (s.max(from), e.min(to)))
            .filter(|(s, e)| e > s)
            .collect();
        all.sort();
        let mut merged: Vec<(Timestamp, Timestamp)> = Vec::with_capacity(all.len());
        for (s, e) in all {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        merged
    }

    /// Whether `at` lies in a window for `service`.
    pub fn in_window(&self, service: Option<&str>, at: Timestamp, default_zone: &TimeZone) -> bool {
        let next = at.checked_add(jiff::SignedDuration::from_millis(1)).unwrap_or(at);
        !self.periods(service, at, next, default_zone).is_empty()
    }

    /// The window open at `at` for `service` (its name and end), and when
    /// that answer changes next (a window's start or end within the next
    /// `look_ahead`), so a caller can cache it until then.
    pub fn window_at(
        &self,
        service: Option<&str>,
        at: Timestamp,
        look_ahead: jiff::SignedDuration,
        default_zone: &TimeZone,
    ) -> (Option<(&str, Timestamp)>, Option<Timestamp>) {
        let horizon = at.checked_add(look_ahead).unwrap_or(Timestamp::MAX);
        let mut open: Option<(&str, Timestamp)> = None;
        let mut next_start: Option<Timestamp> = None;
        for w in self.windows.iter().filter(|w| w.applies_to(service)) {
            for (start, end) in w.occurrences(at, horizon, default_zone) {
                if start <= at && at < end {
                    if open.is_none_or(|(_, e)| end > e) {
                        open = Some((w.name.as_str(), end));
                    }
                } else if start > at {
                    next_start = Some(next_start.map_or(start, |n: Timestamp| n.min(start)));
                }
            }
        }
        let changes = match open {
            Some((_, end)) => Some(end),
            None => next_start,
        };
        (open, changes)
    }

    pub(crate) fn validate(&self, path: &str, v: &mut Violations) {
        for (i, w) in self.windows.iter().enumerate() {
            w.validate(&format!("{}[{i}]", join(path, "windows")), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn sunday_patch() -> MaintenanceWindow {
        MaintenanceWindow {
            name: "Patch-Sonntag".into(),
            start: "0 2 * * 0".into(),
            duration: Duration::from_hours(2),
            time_zone: None,
            services: vec!["portal".into()],
        }
    }

    #[test]
    fn window_at_names_the_open_window_and_the_next_change() {
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let m = Maintenance { windows: vec![sunday_patch()] };
        let week = jiff::SignedDuration::from_hours(24 * 7);
        // Sunday 6 December 2026, 02:30 Berlin = 01:30 UTC: open until 04:00 local.
        let (open, changes) = m.window_at(Some("portal"), ts("2026-12-06T01:30:00Z"), week, &berlin);
        assert_eq!(open, Some(("Patch-Sonntag", ts("2026-12-06T03:00:00Z"))));
        assert_eq!(changes, Some(ts("2026-12-06T03:00:00Z")));
        let (open, changes) = m.window_at(Some("portal"), ts("2026-12-06T03:00:00Z"), week, &berlin);
        assert_eq!((open, changes), (None, Some(ts("2026-12-13T01:00:00Z"))));
        assert_eq!(m.window_at(Some("shop"), ts("2026-12-06T01:30:00Z"), week, &berlin), (None, None));
    }

    #[test]
    fn sundays_at_two_local_time_across_the_clock_change() {
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let m = Maintenance { windows: vec![sunday_patch()] };
        // Summer time ends on Sunday 25 October 2026 at 03:00, so 02:00 comes
        // twice that night; the window starts at the first. From November on
        // 02:00 is 01:00 UTC.
        let periods = m.periods(Some("portal"), ts("2026-10-01T00:00:00Z"), ts("2026-11-02T00:00:00Z"), &berlin);
        let starts: Vec<String> = periods.iter().map(|(s, _)| s.to_string()).collect();
        assert_eq!(
            starts,
            [
                "2026-10-04T00:00:00Z",
                "2026-10-11T00:00:00Z",
                "2026-10-18T00:00:00Z",
                "2026-10-25T00:00:00Z",
                "2026-11-01T01:00:00Z"
            ]
        );
        assert!(periods.iter().all(|(s, e)| e.duration_since(*s) == jiff::SignedDuration::from_hours(2)));
        assert!(m.periods(Some("api"), ts("2026-10-01T00:00:00Z"), ts("2026-11-01T00:00:00Z"), &berlin).is_empty());
        assert!(m.in_window(Some("portal"), ts("2026-10-04T01:59:59Z"), &berlin));
        assert!(!m.in_window(Some("portal"), ts("2026-10-04T02:00:00Z"), &berlin));
    }

    #[test]
    fn windows_are_clipped_and_merged() {
        let utc = TimeZone::UTC;
        let mut nightly = sunday_patch();
        nightly.start = "0 23 * * *".into();
        nightly.services.clear();
        let mut overlap = nightly.clone();
        overlap.start = "30 0 * * *".into();
        let m = Maintenance { windows: vec![nightly, overlap] };
        // 23:00–01:00 and 00:30–02:30 merge to 23:00–02:30; the query cuts at 00:00 and 02:00.
        let p = m.periods(Some("x"), ts("2026-11-02T00:00:00Z"), ts("2026-11-02T02:00:00Z"), &utc);
        assert_eq!(p, [(ts("2026-11-02T00:00:00Z"), ts("2026-11-02T02:00:00Z"))]);
    }

    #[test]
    fn bad_windows_are_named() {
        let mut w = sunday_patch();
        w.start = "61 * * * *".into();
        w.duration = Duration::from_secs(0);
        w.time_zone = Some("Mars/Olympus".into());
        let mut v = Violations::default();
        Maintenance { windows: vec![w] }.validate("maintenance", &mut v);
        let paths: Vec<&str> = v.0.iter().map(|v| v.path.as_str()).collect();
        assert_eq!(
            paths,
            ["maintenance.windows[0].start", "maintenance.windows[0].duration", "maintenance.windows[0].time_zone"]
        );
    }
}
