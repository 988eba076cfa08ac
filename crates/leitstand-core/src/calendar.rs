//! The working-day calendar: German public holidays (nationwide and per
//! Bundesland), weekends, business hours and a time zone.
//!
//! Reaction times such as "next working day", post-mortem deadlines such as
//! "5 working days" and the DORA weekend/holiday relief all depend on it, so it
//! is computed here, purely, for any year — no holiday table to keep updated.

use std::fmt;

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A German federal state (Bundesland), by its ISO 3166-2:DE code without
/// the `DE-` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[allow(missing_docs)] // the codes are the documentation
pub enum Bundesland {
    BW,
    BY,
    BE,
    BB,
    HB,
    HH,
    HE,
    MV,
    NI,
    NW,
    RP,
    SL,
    SN,
    ST,
    SH,
    TH,
}

impl Bundesland {
    /// The state's German name.
    pub fn name(self) -> &'static str {
        use Bundesland::*;
        match self {
            BW => "Baden-Württemberg",
            BY => "Bayern",
            BE => "Berlin",
            BB => "Brandenburg",
            HB => "Bremen",
            HH => "Hamburg",
            HE => "Hessen",
            MV => "Mecklenburg-Vorpommern",
            NI => "Niedersachsen",
            NW => "Nordrhein-Westfalen",
            RP => "Rheinland-Pfalz",
            SL => "Saarland",
            SN => "Sachsen",
            ST => "Sachsen-Anhalt",
            SH => "Schleswig-Holstein",
            TH => "Thüringen",
        }
    }
}

impl fmt::Display for Bundesland {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// One public holiday.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    /// The day.
    pub date: Date,
    /// Its German name.
    pub name: &'static str,
}

/// Easter Sunday of `year` (Gregorian computus, anonymous algorithm).
pub fn easter_sunday(year: i16) -> Date {
    let y = i32::from(year);
    let a = y % 19;
    let b = y / 100;
    let c = y % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    // month is 3 or 4 and day 1..=31 by construction of the algorithm.
    Date::new(year, month as i8, day as i8).unwrap_or_else(|_| Date::constant(2000, 4, 23))
}

/// Public holidays of `year`, nationwide plus those of `state`, sorted by date.
///
/// Covers the holidays in force since 1990 with their introduction years
/// (Reformationstag in the northern states since 2018, Frauentag in Berlin
/// since 2019 and Mecklenburg-Vorpommern since 2023, Weltkindertag in Thüringen
/// since 2019) and the one-off days (Reformationstag 2017 nationwide, Tag der
/// Befreiung 2020 and 2025 in Berlin). Holidays that apply only in parts of a
/// state (Fronleichnam in parts of Sachsen and Thüringen, Mariä Himmelfahrt in
/// Bavarian communes, Augsburger Friedensfest) are not statewide: add them
/// with `calendar.extra_holidays`.
pub fn public_holidays(year: i16, state: Option<Bundesland>) -> Vec<Holiday> {
    use Bundesland::*;
    let easter = easter_sunday(year);
    let rel = |days: i64| easter.checked_add(days.days()).unwrap_or(easter);
    let fixed = |month: i8, day: i8| Date::new(year, month, day).unwrap_or(easter);
    let in_state = |states: &[Bundesland]| state.is_some_and(|s| states.contains(&s));

    let mut days = vec![
        Holiday { date: fixed(1, 1), name: "Neujahr" },
        Holiday { date: rel(-2), name: "Karfreitag" },
        Holiday { date: rel(1), name: "Ostermontag" },
        Holiday { date: fixed(5, 1), name: "Tag der Arbeit" },
        Holiday { date: rel(39), name: "Christi Himmelfahrt" },
        Holiday { date: rel(50), name: "Pfingstmontag" },
        Holiday { date: fixed(10, 3), name: "Tag der Deutschen Einheit" },
        Holiday { date: fixed(12, 25), name: "1. Weihnachtstag" },
        Holiday { date: fixed(12, 26), name: "2. Weihnachtstag" },
    ];
    let mut add = |applies: bool, date: Date, name: &'static str| {
        if applies {
            days.push(Holiday { date, name });
        }
    };
    add(in_state(&[BW, BY, ST]), fixed(1, 6), "Heilige Drei Könige");
    add(
        (in_state(&[BE]) && year >= 2019) || (in_state(&[MV]) && year >= 2023),
        fixed(3, 8),
        "Internationaler Frauentag",
    );
    add(in_state(&[BB]), easter, "Ostersonntag");
    add(in_state(&[BE]) && (year == 2020 || year == 2025), fixed(5, 8), "Tag der Befreiung");
    add(in_state(&[BB]), rel(49), "Pfingstsonntag");
    add(in_state(&[BW, BY, HE, NW, RP, SL]), rel(60), "Fronleichnam");
    add(in_state(&[SL]), fixed(8, 15), "Mariä Himmelfahrt");
    add(in_state(&[TH]) && year >= 2019, fixed(9, 20), "Weltkindertag");
    add(
        year == 2017 || in_state(&[BB, MV, SN, ST, TH]) || (in_state(&[HB, HH, NI, SH]) && year >= 2018),
        fixed(10, 31),
        "Reformationstag",
    );
    add(in_state(&[BW, BY, NW, RP, SL]), fixed(11, 1), "Allerheiligen");
    add(in_state(&[SN]), buss_und_bettag(year), "Buß- und Bettag");
    days.sort_by_key(|h| h.date);
    days
}

/// The Wednesday before 23 November.
fn buss_und_bettag(year: i16) -> Date {
    let mut day = Date::new(year, 11, 22).unwrap_or(Date::constant(2000, 11, 22));
    while day.weekday() != Weekday::Wednesday {
        day = day.yesterday().unwrap_or(day);
    }
    day
}

/// A resolved working-day calendar, ready for deadline arithmetic.
#[derive(Debug, Clone)]
pub struct WorkingCalendar {
    tz: TimeZone,
    state: Option<Bundesland>,
    extra_holidays: Vec<Date>,
    business_start: Time,
    business_end: Time,
}

impl WorkingCalendar {
    /// A calendar for `tz` and (optionally) a Bundesland's holidays.
    pub fn new(
        tz: TimeZone,
        state: Option<Bundesland>,
        extra_holidays: Vec<Date>,
        business_start: Time,
        business_end: Time,
    ) -> Self {
        Self { tz, state, extra_holidays, business_start, business_end }
    }

    /// Germany, `Europe/Berlin`, nationwide holidays, 08:00–17:00.
    pub fn germany() -> Self {
        Self::new(
            TimeZone::get("Europe/Berlin").unwrap_or(TimeZone::UTC),
            None,
            Vec::new(),
            Time::constant(8, 0, 0, 0),
            Time::constant(17, 0, 0, 0),
        )
    }

    /// The calendar's time zone.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The holiday on `date`, if any (statutory or configured).
    pub fn holiday(&self, date: Date) -> Option<&'static str> {
        if self.extra_holidays.contains(&date) {
            return Some("zusätzlicher Feiertag");
        }
        public_holidays(date.year(), self.state).into_iter().find(|h| h.date == date).map(|h| h.name)
    }

    /// Monday to Friday and not a holiday.
    pub fn is_working_day(&self, date: Date) -> bool {
        !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday) && self.holiday(date).is_none()
    }

    /// The first working day strictly after `date`.
    pub fn next_working_day(&self, date: Date) -> Date {
        self.add_working_days(date, 1)
    }

    /// The `n`-th working day strictly after `date` (`n = 0` gives `date`).
    pub fn add_working_days(&self, mut date: Date, n: u32) -> Date {
        for _ in 0..n {
            date = date.tomorrow().unwrap_or(date);
            while !self.is_working_day(date) {
                date = date.tomorrow().unwrap_or(date);
            }
        }
        date
    }

    /// The local calendar date of an instant.
    pub fn local_date(&self, at: Timestamp) -> Date {
        at.to_zoned(self.tz.clone()).date()
    }

    /// The instant of `time` on local `date`. Times skipped by a DST change
    /// resolve to the later instant ("compatible" disambiguation).
    pub fn at(&self, date: Date, time: Time) -> Timestamp {
        let civil = DateTime::from_parts(date, time);
        self.tz.to_ambiguous_timestamp(civil).compatible().unwrap_or(Timestamp::UNIX_EPOCH)
    }

    /// End of business hours on `date`.
    pub fn end_of_business(&self, date: Date) -> Timestamp {
        self.at(date, self.business_end)
    }

    /// Start of business hours on `date`.
    pub fn start_of_business(&self, date: Date) -> Timestamp {
        self.at(date, self.business_start)
    }
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    #[test]
    fn easter_dates_match_published_tables() {
        let known = [(2024, 3, 31), (2025, 4, 20), (2026, 4, 5), (2027, 3, 28), (2038, 4, 25), (2285, 3, 22)];
        for (y, m, d) in known {
            assert_eq!(easter_sunday(y), date(y, m, d), "{y}");
        }
    }

    #[test]
    fn nationwide_holidays_2026() {
        let names: Vec<_> = public_holidays(2026, None).into_iter().map(|h| (h.date.to_string(), h.name)).collect();
        assert_eq!(
            names,
            vec![
                ("2026-01-01".to_string(), "Neujahr"),
                ("2026-04-03".to_string(), "Karfreitag"),
                ("2026-04-06".to_string(), "Ostermontag"),
                ("2026-05-01".to_string(), "Tag der Arbeit"),
                ("2026-05-14".to_string(), "Christi Himmelfahrt"),
                ("2026-05-25".to_string(), "Pfingstmontag"),
                ("2026-10-03".to_string(), "Tag der Deutschen Einheit"),
                ("2026-12-25".to_string(), "1. Weihnachtstag"),
                ("2026-12-26".to_string(), "2. Weihnachtstag"),
            ]
        );
    }

    #[test]
    fn state_holidays_follow_their_introduction() {
        let has = |y, s, d: Date| public_holidays(y, Some(s)).iter().any(|h| h.date == d);
        assert!(has(2026, Bundesland::BY, date(2026, 6, 4)), "Fronleichnam in Bayern");
        assert!(!has(2026, Bundesland::BE, date(2026, 6, 4)), "no Fronleichnam in Berlin");
        assert!(has(2026, Bundesland::SN, date(2026, 11, 18)), "Buß- und Bettag 2026");
        assert!(has(2025, Bundesland::SN, date(2025, 11, 19)), "Buß- und Bettag 2025");
        assert!(has(2018, Bundesland::HH, date(2018, 10, 31)));
        assert!(!has(2016, Bundesland::HH, date(2016, 10, 31)));
        assert!(has(2017, Bundesland::BY, date(2017, 10, 31)), "Reformationsjubiläum nationwide");
        assert!(has(2023, Bundesland::MV, date(2023, 3, 8)));
        assert!(!has(2022, Bundesland::MV, date(2022, 3, 8)));
        assert!(has(2025, Bundesland::BE, date(2025, 5, 8)));
        assert!(!has(2026, Bundesland::BE, date(2026, 5, 8)));
    }

    #[test]
    fn working_days_skip_weekends_and_holidays() {
        let cal = WorkingCalendar::germany();
        // Thursday before Easter 2026 -> Tuesday after Easter Monday.
        assert_eq!(cal.next_working_day(date(2026, 4, 2)), date(2026, 4, 7));
        // Friday 2026-11-20 plus five working days -> Friday 2026-11-27.
        assert_eq!(cal.add_working_days(date(2026, 11, 20), 5), date(2026, 11, 27));
        // Christmas 2026: Thu 24 is a working day, 25/26 holidays, 27 Sunday.
        assert_eq!(cal.next_working_day(date(2026, 12, 24)), date(2026, 12, 28));
    }

    #[test]
    fn extra_holidays_count() {
        let mut cal = WorkingCalendar::germany();
        cal.extra_holidays.push(date(2026, 12, 24));
        assert!(!cal.is_working_day(date(2026, 12, 24)));
        assert_eq!(cal.next_working_day(date(2026, 12, 23)), date(2026, 12, 28));
    }

    #[test]
    fn local_time_respects_daylight_saving() {
        let cal = WorkingCalendar::germany();
        assert_eq!(cal.end_of_business(date(2026, 7, 1)).to_string(), "2026-07-01T15:00:00Z");
        assert_eq!(cal.end_of_business(date(2026, 12, 1)).to_string(), "2026-12-01T16:00:00Z");
    }
}
