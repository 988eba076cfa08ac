//! Durations and time limits as people write them in policies: `"15m"`,
//! `"72h"`, `"1 month"`, `"5 working days"`, `"next working day"`.
//!
//! A [`Duration`] is elapsed time. A [`TimeLimit`] is a deadline rule that may
//! need the calendar: months are calendar months (DORA's final report is due
//! "one month" after the intermediate one, not 30 days), working days skip
//! weekends and public holidays and end at close of business.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use jiff::{Timestamp, ToSpan};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::calendar::WorkingCalendar;

/// Elapsed time, written like `"30s"`, `"15m"`, `"4h"`, `"30d"` or
/// `"1h 30m"`. Never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(std::time::Duration);

impl Duration {
    /// From whole seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(std::time::Duration::from_secs(secs))
    }
    /// From whole milliseconds.
    pub const fn from_millis(millis: u64) -> Self {
        Self(std::time::Duration::from_millis(millis))
    }
    /// From whole minutes.
    pub const fn from_mins(mins: u64) -> Self {
        Self::from_secs(mins * 60)
    }
    /// From whole hours.
    pub const fn from_hours(hours: u64) -> Self {
        Self::from_secs(hours * 3600)
    }
    /// From whole days of 24 hours.
    pub const fn from_days(days: u64) -> Self {
        Self::from_secs(days * 86_400)
    }
    /// The standard-library duration.
    pub const fn std(self) -> std::time::Duration {
        self.0
    }
    /// True for a zero duration.
    pub const fn is_zero(self) -> bool {
        self.0.is_zero()
    }
    /// As a signed duration for timestamp arithmetic.
    pub fn signed(self) -> jiff::SignedDuration {
        jiff::SignedDuration::try_from(self.0).unwrap_or(jiff::SignedDuration::MAX)
    }
}

/// Why a duration or time limit did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason}")]
pub struct ParseDurationError {
    input: String,
    reason: String,
}

impl FromStr for Duration {
    type Err = ParseDurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| ParseDurationError { input: s.to_string(), reason: reason.to_string() };
        let trimmed = s.trim();
        if trimmed.starts_with('-') {
            return Err(err("durations cannot be negative"));
        }
        if trimmed.is_empty() {
            return Err(err("empty; write e.g. \"30s\", \"15m\", \"4h\" or \"30d\""));
        }
        let d = humantime::parse_duration(trimmed)
            .map_err(|e| err(&format!("{e}; write e.g. \"30s\", \"15m\", \"4h\" or \"30d\"")))?;
        if !d.subsec_nanos().is_multiple_of(1_000_000) {
            return Err(err("the finest unit is milliseconds (ms)"));
        }
        Ok(Self(d))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Compact, and parses back: "15m", "1h 30m", "72h", "30d". Days only
        // from a week up, as regulations count "24 h" and "72 h" in hours.
        let mut secs = self.0.as_secs();
        let day = if secs >= 7 * 86_400 && secs.is_multiple_of(86_400) { 86_400 } else { u64::MAX };
        let millis = self.0.subsec_millis();
        if secs == 0 && millis == 0 {
            return f.write_str("0s");
        }
        let mut parts = Vec::new();
        for (unit, size) in [("d", day), ("h", 3600), ("m", 60), ("s", 1)] {
            if secs >= size {
                parts.push(format!("{}{unit}", secs / size));
                secs %= size;
            }
        }
        if millis > 0 {
            parts.push(format!("{millis}ms"));
        }
        f.write_str(&parts.join(" "))
    }
}

impl Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "Elapsed time such as \"30s\", \"15m\", \"4h\", \"30d\" or \"1h 30m\".",
        })
    }
}

/// A deadline rule relative to a starting instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeLimit {
    /// A fixed amount of elapsed time (`"15m"`, `"72h"`).
    Elapsed(Duration),
    /// Calendar months in the calendar's time zone (`"1 month"`).
    Months(u16),
    /// Calendar years in the calendar's time zone (`"5 years"`).
    Years(u16),
    /// Close of business on the n-th working day after the start date
    /// (`"5 working days"`).
    WorkingDays(u16),
    /// Close of business on the next working day (`"next working day"`).
    NextWorkingDay,
}

impl TimeLimit {
    /// When a limit that starts at `from` runs out.
    pub fn due(self, from: Timestamp, calendar: &WorkingCalendar) -> Timestamp {
        match self {
            TimeLimit::Elapsed(d) => from.saturating_add(d.signed()).unwrap_or(Timestamp::MAX),
            TimeLimit::Months(n) => add_calendar(from, calendar, i64::from(n).months()),
            TimeLimit::Years(n) => add_calendar(from, calendar, i64::from(n).years()),
            TimeLimit::WorkingDays(n) => {
                calendar.end_of_business(calendar.add_working_days(calendar.local_date(from), u32::from(n)))
            }
            TimeLimit::NextWorkingDay => calendar.end_of_business(calendar.next_working_day(calendar.local_date(from))),
        }
    }

    /// A rough length for ordering and sanity checks (a month as 31 days, a
    /// year as 366, a working day as three calendar days — the worst case
    /// over a weekend). Never use it for a real deadline; use [`Self::due`].
    pub fn upper_bound(self) -> Duration {
        match self {
            TimeLimit::Elapsed(d) => d,
            TimeLimit::Months(n) => Duration::from_days(31 * u64::from(n)),
            TimeLimit::Years(n) => Duration::from_days(366 * u64::from(n)),
            TimeLimit::WorkingDays(n) => Duration::from_days(3 * u64::from(n) + 4),
            TimeLimit::NextWorkingDay => Duration::from_days(7),
        }
    }

    /// True when the limit allows no time at all.
    pub fn is_zero(self) -> bool {
        matches!(self, TimeLimit::Elapsed(d) if d.is_zero())
            || matches!(self, TimeLimit::Months(0) | TimeLimit::Years(0) | TimeLimit::WorkingDays(0))
    }
}

fn add_calendar(from: Timestamp, calendar: &WorkingCalendar, span: jiff::Span) -> Timestamp {
    from.to_zoned(calendar.time_zone().clone()).checked_add(span).map(|z| z.timestamp()).unwrap_or(Timestamp::MAX)
}

impl FromStr for TimeLimit {
    type Err = ParseDurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim().to_ascii_lowercase();
        if text == "next working day" {
            return Ok(TimeLimit::NextWorkingDay);
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        let count = || -> Result<u16, ParseDurationError> {
            words[0].parse().map_err(|_| ParseDurationError {
                input: s.to_string(),
                reason: format!("{:?} is not a whole, non-negative number", words[0]),
            })
        };
        match words.as_slice() {
            [_, "month" | "months"] => Ok(TimeLimit::Months(count()?)),
            [_, "year" | "years"] => Ok(TimeLimit::Years(count()?)),
            [_, "working", "day" | "days"] => Ok(TimeLimit::WorkingDays(count()?)),
            _ => s.parse::<Duration>().map(TimeLimit::Elapsed).map_err(|e| ParseDurationError {
                input: e.input,
                reason: format!(
                    "{}; or a calendar rule: \"1 month\", \"5 years\", \"5 working days\", \"next working day\"",
                    e.reason
                ),
            }),
        }
    }
}

impl fmt::Display for TimeLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: u16| if n == 1 { "" } else { "s" };
        match *self {
            TimeLimit::Elapsed(d) => d.fmt(f),
            TimeLimit::Months(n) => write!(f, "{n} month{}", plural(n)),
            TimeLimit::Years(n) => write!(f, "{n} year{}", plural(n)),
            TimeLimit::WorkingDays(n) => write!(f, "{n} working day{}", plural(n)),
            TimeLimit::NextWorkingDay => f.write_str("next working day"),
        }
    }
}

impl Serialize for TimeLimit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeLimit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for TimeLimit {
    fn schema_name() -> Cow<'static, str> {
        "TimeLimit".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "Elapsed time (\"15m\", \"72h\") or a calendar rule (\"1 month\", \"5 years\", \"5 working days\", \"next working day\").",
        })
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;
    use proptest::prelude::*;

    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn durations_parse_and_print_compactly() {
        for (input, shown) in
            [("30s", "30s"), ("15m", "15m"), ("4h", "4h"), ("90m", "1h 30m"), ("30d", "30d"), ("250ms", "250ms")]
        {
            let d: Duration = input.parse().unwrap();
            assert_eq!(d.to_string(), shown);
            assert_eq!(shown.parse::<Duration>().unwrap(), d);
        }
    }

    #[test]
    fn negative_and_garbage_durations_are_explained() {
        let err = "-5m".parse::<Duration>().unwrap_err().to_string();
        assert_eq!(err, "invalid duration \"-5m\": durations cannot be negative");
        let err = "soon".parse::<Duration>().unwrap_err().to_string();
        assert!(err.contains("\"soon\"") && err.contains("\"15m\""), "{err}");
    }

    /// Found by `cargo fuzz run time_limit`: "3µs" parsed, but printed as "0s".
    #[test]
    fn sub_millisecond_durations_are_rejected_not_rounded() {
        let err = "3µs".parse::<Duration>().unwrap_err().to_string();
        assert_eq!(err, "invalid duration \"3µs\": the finest unit is milliseconds (ms)");
        assert_eq!("1500us".parse::<Duration>().unwrap_err().reason, "the finest unit is milliseconds (ms)");
        assert_eq!("2ms".parse::<Duration>().unwrap().to_string(), "2ms");
    }

    #[test]
    fn time_limits_round_trip() {
        for text in ["15m", "72h", "1 month", "5 years", "5 working days", "1 working day", "next working day"] {
            let limit: TimeLimit = text.parse().unwrap();
            assert_eq!(limit.to_string(), text);
        }
        assert!("x months".parse::<TimeLimit>().unwrap_err().to_string().contains("whole, non-negative"));
    }

    #[test]
    fn months_are_calendar_months() {
        let cal = WorkingCalendar::germany();
        let from = ts("2026-01-31T10:00:00Z");
        assert_eq!(TimeLimit::Months(1).due(from, &cal), ts("2026-02-28T10:00:00Z"));
        // Across the DST change the local wall time is kept.
        let from = ts("2026-03-15T10:00:00Z");
        assert_eq!(TimeLimit::Months(1).due(from, &cal), ts("2026-04-15T09:00:00Z"));
    }

    #[test]
    fn working_days_end_at_close_of_business() {
        let cal = WorkingCalendar::germany();
        // Friday 2026-11-20 14:00 local + 5 working days -> Fri 2026-11-27 17:00 CET.
        let from = cal.at(date(2026, 11, 20), jiff::civil::time(14, 0, 0, 0));
        assert_eq!(TimeLimit::WorkingDays(5).due(from, &cal), ts("2026-11-27T16:00:00Z"));
        // Saturday -> Monday close of business.
        let sat = cal.at(date(2026, 11, 21), jiff::civil::time(9, 0, 0, 0));
        assert_eq!(TimeLimit::NextWorkingDay.due(sat, &cal), ts("2026-11-23T16:00:00Z"));
    }

    proptest! {
        #[test]
        fn any_whole_second_duration_round_trips(secs in 0u64..10_000_000_000) {
            let d = Duration::from_secs(secs);
            prop_assert_eq!(d.to_string().parse::<Duration>().unwrap(), d);
        }

        #[test]
        fn elapsed_limits_never_end_before_they_start(secs in 0u64..1_000_000_000, start in 0i64..4_000_000_000) {
            let cal = WorkingCalendar::germany();
            let from = Timestamp::from_second(start).unwrap();
            prop_assert!(TimeLimit::Elapsed(Duration::from_secs(secs)).due(from, &cal) >= from);
            prop_assert!(TimeLimit::NextWorkingDay.due(from, &cal) > from);
        }
    }
}
