//! The calendar section: which time zone and which Bundesland's holidays the
//! working-day rules use.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Violations, join};
use crate::calendar::{Bundesland, WorkingCalendar};

/// Working-day calendar settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarPolicy {
    /// IANA time zone for local deadlines (close of business, DORA's 12:00
    /// relief, backup times).
    pub time_zone: String,
    /// Bundesland whose public holidays count in addition to the nationwide
    /// ones (ISO 3166-2:DE code without `DE-`, e.g. `"BY"`). Unset: nationwide
    /// holidays only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Bundesland>,
    /// Further non-working days (e.g. 24 and 31 December, local holidays),
    /// as `YYYY-MM-DD`.
    #[schemars(with = "Vec<String>")]
    pub extra_holidays: Vec<Date>,
    /// Start of business hours, `HH:MM`.
    #[schemars(with = "String")]
    pub business_start: Time,
    /// End of business hours (close of business), `HH:MM`; deadlines in
    /// working days end here.
    #[schemars(with = "String")]
    pub business_end: Time,
}

impl Default for CalendarPolicy {
    fn default() -> Self {
        Self {
            time_zone: "Europe/Berlin".into(),
            state: None,
            extra_holidays: Vec::new(),
            business_start: Time::constant(8, 0, 0, 0),
            business_end: Time::constant(17, 0, 0, 0),
        }
    }
}

impl CalendarPolicy {
    pub(crate) fn validate(&self, path: &str, v: &mut Violations) {
        if let Err(e) = TimeZone::get(&self.time_zone) {
            v.push(join(path, "time_zone"), format!("unknown time zone {:?}: {e}", self.time_zone));
        }
        v.check(self.business_start < self.business_end, path, "business_end", || {
            format!("close of business ({}) must be after the start ({})", self.business_end, self.business_start)
        });
    }

    /// The resolved calendar. An unknown time zone (rejected by validation)
    /// falls back to UTC.
    pub fn working_calendar(&self) -> WorkingCalendar {
        WorkingCalendar::new(
            TimeZone::get(&self.time_zone).unwrap_or(TimeZone::UTC),
            self.state,
            self.extra_holidays.clone(),
            self.business_start,
            self.business_end,
        )
    }
}
