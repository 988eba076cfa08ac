//! Times on pages are shown in one zone everywhere — the platform's, the
//! policy calendar's (`calendar.time_zone`, Europe/Berlin by default) — with
//! the zone's abbreviation, so that an alert, a probe run, an audit event
//! and a hand-over can be compared at a glance; date fields of forms are
//! read in the same zone.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::AppState;

/// The zone of every page.
pub(crate) fn zone(state: &AppState) -> TimeZone {
    state.app.time_zone()
}

/// `2026-11-23 14:30 CET`.
pub(crate) fn local(t: Timestamp, zone: &TimeZone) -> String {
    t.to_zoned(zone.clone()).strftime("%Y-%m-%d %H:%M %Z").to_string()
}

/// `2026-11-23 14:30:05 CET`, where seconds matter (probe runs, audit).
pub(crate) fn local_seconds(t: Timestamp, zone: &TimeZone) -> String {
    t.to_zoned(zone.clone()).strftime("%Y-%m-%d %H:%M:%S %Z").to_string()
}

/// The zone's IANA name (`Europe/Berlin`), for captions.
pub(crate) fn zone_name(zone: &TimeZone) -> String {
    zone.iana_name().unwrap_or("UTC").to_string()
}

/// A `datetime-local` value (`2026-11-23T14:30`) in `zone`.
pub(crate) fn parse_local(text: &str, zone: &TimeZone) -> Option<Timestamp> {
    let dt: jiff::civil::DateTime = text.trim().parse().ok()?;
    dt.to_zoned(zone.clone()).ok().map(|z| z.timestamp())
}

/// The start of day `date` in `zone`.
pub(crate) fn start_of(date: jiff::civil::Date, zone: &TimeZone) -> Option<Timestamp> {
    date.to_zoned(zone.clone()).ok().map(|z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_and_read_in_the_platform_zone() {
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let t: Timestamp = "2026-11-23T13:30:05Z".parse().unwrap();
        assert_eq!(local(t, &berlin), "2026-11-23 14:30 CET");
        assert_eq!(local_seconds(t, &berlin), "2026-11-23 14:30:05 CET");
        let summer: Timestamp = "2026-07-01T10:00:00Z".parse().unwrap();
        assert_eq!(local(summer, &berlin), "2026-07-01 12:00 CEST");
        assert_eq!(parse_local("2026-11-23T14:30", &berlin), Some("2026-11-23T13:30:00Z".parse().unwrap()));
        let day = start_of("2026-11-23".parse().unwrap(), &berlin).unwrap();
        assert_eq!(day, "2026-11-22T23:00:00Z".parse::<Timestamp>().unwrap());
    }
}
