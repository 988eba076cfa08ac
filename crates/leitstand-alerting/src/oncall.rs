//! On-call schedules (Rufbereitschaft): who is paged for the `on_call`
//! audience at an instant, the who-is-on-call timeline for the pages, and
//! the iCalendar feed people subscribe to in their own calendar.
//!
//! The model follows PagerDuty's and Grafana OnCall's layers, because teams
//! moving from there already think in them:
//!
//! - A **rotation** hands over from one participant to the next every
//!   `length`, starting at `start`. The order of `participants` is the order
//!   of hand-over; a person may appear twice (`A, B, A`).
//! - **Hand-over happens at local wall-clock time** in the schedule's zone
//!   when the length is a whole number of days: a weekly rotation starting
//!   Monday 09:00 Europe/Berlin hands over every Monday at 09:00, summer and
//!   winter alike, so the week containing the clock change lasts 167 or 169
//!   hours. People plan their on-call week by the clock on the wall, not by
//!   UTC. Lengths that are not whole days (`"12h"`, `"36h"`) are exact
//!   elapsed time instead: they do not line up with the calendar (a 36 h
//!   rotation alternates between day and night hand-overs), so "keep the
//!   wall-clock time" has no single meaning, and exact time keeps every
//!   shift equally long. Who wants fixed 08:00/20:00 hand-overs uses two
//!   daily rotations restricted to day and night hours.
//! - A **restriction** limits a rotation to daily hours (`from`/`to`, which
//!   may cross midnight) and/or weekdays (the day a window *starts* on, so
//!   Friday's night shift runs into Saturday morning). Outside it the
//!   rotation has nobody.
//! - Several rotations are **layers**: the last one that has somebody at an
//!   instant wins, so a night or weekend layer lies over a weekly one and
//!   the weekly one shows through where the upper layer has nobody.
//! - **Overrides** (a swap, a stand-in when someone is ill) win over all
//!   rotations while active; of overlapping overrides the latest created
//!   (last in the slice) wins.
//!
//! Local times that do not exist or happen twice (DST gap and fold) are
//! refused for a rotation's `start`, where a person typed them. A later
//! hand-over or restriction boundary that falls into a gap moves forward by
//! the length of the gap; one in a fold takes the first occurrence
//! (RFC 5545's and Temporal's "compatible" rule).
//!
//! Pure: time is passed in, and the work per call is bounded
//! ([`MAX_SHIFTS`]), whatever the configuration.

use std::collections::HashSet;
use std::fmt::Write as _;

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Span, Timestamp};
use leitstand_core::time_limit::Duration;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// At most this many shifts come out of one [`Schedule::shifts`] call; a
/// longer timeline is cut off there (ask again from the last end).
pub const MAX_SHIFTS: usize = 10_000;

/// At most this many stretches of constant answer are examined per call:
/// hand-overs between the same person that merge, and the hours outside a
/// restricted layer, cost a step without producing a shift.
const MAX_STEPS: usize = 10 * MAX_SHIFTS;

/// The longest shift a rotation may have.
const MAX_LENGTH: Duration = Duration::from_days(365);

const SECONDS_PER_DAY: u64 = 86_400;

const ALL_DAYS: [Weekday; 7] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
    Weekday::Saturday,
    Weekday::Sunday,
];

/// An on-call schedule as configured (`[[alerting.schedules]]` in
/// `leitstand.toml`). Checked and made usable by [`validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleDef {
    /// Stable id of lowercase letters, digits and `-`, used in URLs and
    /// calendar entries, e.g. `"plattform"`.
    pub id: String,
    /// Name shown to people, e.g. `"Plattform-Team"`.
    pub name: String,
    /// IANA time zone of the hand-over times and restrictions, e.g.
    /// `"Europe/Berlin"`.
    pub time_zone: String,
    /// The layers, lowest first: where several have somebody, the last wins.
    pub rotations: Vec<RotationDef>,
}

/// One layer of a schedule: people taking turns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationDef {
    /// Name of the layer, unique in the schedule, e.g. `"Woche"` or
    /// `"Nacht"`; shown in the timeline and the calendar.
    pub name: String,
    /// Person ids in the order of hand-over; the first is on call from
    /// `start`. Someone may appear more than once.
    pub participants: Vec<String>,
    /// Local time of the first hand-over in the schedule's zone, e.g.
    /// `"2026-11-30T09:00"`. Nobody is on call in this layer before it.
    pub start: DateTime,
    /// Length of a shift, e.g. `"7d"`, `"1d"` or `"12h"`. Whole days hand
    /// over at the same local time; other lengths are exact elapsed time.
    pub length: Duration,
    /// Limits the layer to daily hours and/or weekdays; unset: always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restrict: Option<Restriction>,
}

/// When a rotation has somebody; outside, lower layers show through.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restriction {
    /// Daily start (local time), e.g. `"18:00"`; together with `to`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Time>,
    /// Daily end (local time), e.g. `"08:00"`; earlier than `from` means
    /// the next morning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Time>,
    /// Days a window starts on (`"mon"` … `"sun"`); unset: every day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<Vec<Day>>,
}

/// A day of the week as written in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    /// Monday, `"mon"`.
    Mon,
    /// Tuesday, `"tue"`.
    Tue,
    /// Wednesday, `"wed"`.
    Wed,
    /// Thursday, `"thu"`.
    Thu,
    /// Friday, `"fri"`.
    Fri,
    /// Saturday, `"sat"`.
    Sat,
    /// Sunday, `"sun"`.
    Sun,
}

impl Day {
    fn weekday(self) -> Weekday {
        match self {
            Day::Mon => Weekday::Monday,
            Day::Tue => Weekday::Tuesday,
            Day::Wed => Weekday::Wednesday,
            Day::Thu => Weekday::Thursday,
            Day::Fri => Weekday::Friday,
            Day::Sat => Weekday::Saturday,
            Day::Sun => Weekday::Sunday,
        }
    }
}

/// Someone standing in for the rotations for a while.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    /// Id of the override.
    pub id: Uuid,
    /// Person id of who is on call instead.
    pub person: String,
    /// Start of the override.
    pub starts_at: Timestamp,
    /// End of the override (exclusive).
    pub ends_at: Timestamp,
    /// Why, e.g. "Tausch mit Anna".
    pub reason: String,
}

/// Who is on call at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnCall {
    /// Person id.
    pub person: String,
    /// The rotation that put them on call; `None` for an override.
    pub rotation: Option<String>,
    /// Since when the answer has been this (hand-overs to the same person
    /// in the same rotation do not count as a change).
    pub since: Timestamp,
    /// The next instant the answer changes: the end of the shift or
    /// override, or a change caused by another layer or an override.
    /// `Timestamp::MAX` when it never changes.
    pub until: Timestamp,
}

/// One entry of the flattened who-is-on-call timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    /// Person id.
    pub person: String,
    /// The rotation; `None` for an override.
    pub rotation: Option<String>,
    /// Start of the shift.
    pub starts_at: Timestamp,
    /// End of the shift (exclusive).
    pub ends_at: Timestamp,
}

/// A problem with one field of a [`ScheduleDef`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct FieldError {
    /// Where, e.g. `rotations[1].participants[0]`.
    pub path: String,
    /// What is wrong and how to fix it.
    pub reason: String,
}

/// A checked schedule, ready to answer who is on call.
#[derive(Debug, Clone)]
pub struct Schedule {
    def: ScheduleDef,
    zone: TimeZone,
    rotations: Vec<Rotation>,
}

/// A rotation prepared for lookups.
#[derive(Debug, Clone)]
struct Rotation {
    start: DateTime,
    first: Timestamp,
    step: Step,
    people: i64,
    window: Option<Window>,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    /// Whole local days: hand-over at the same wall-clock time.
    Days(i64),
    /// Exact elapsed nanoseconds.
    Exact(i128),
}

/// A restriction with the defaults filled in. `from == to` is a whole day.
#[derive(Debug, Clone)]
struct Window {
    from: Time,
    to: Time,
    days: Vec<Weekday>,
}

/// A value that holds for every instant in `[start, end)`.
#[derive(Debug, Clone, Copy)]
struct Stretch<T> {
    value: T,
    start: Timestamp,
    end: Timestamp,
}

/// The answer of the layered schedule, compared to merge stretches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Who<'a> {
    person: &'a str,
    rotation: Option<&'a str>,
}

/// Checks `def`; `known_people` says whether a person id exists.
pub fn validate(def: &ScheduleDef, known_people: &dyn Fn(&str) -> bool) -> Result<Schedule, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut error = |path: String, reason: String| errors.push(FieldError { path, reason });

    if def.id.is_empty() || !def.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        error("id".into(), format!("{:?} is not a schedule id: use lowercase letters, digits and '-'", def.id));
    }
    if def.name.trim().is_empty() {
        error("name".into(), "must not be empty".into());
    }
    let zone = match TimeZone::get(&def.time_zone) {
        Ok(zone) => Some(zone),
        Err(_) => {
            error(
                "time_zone".into(),
                format!("unknown time zone {:?}; use an IANA name such as \"Europe/Berlin\"", def.time_zone),
            );
            None
        }
    };
    if def.rotations.is_empty() {
        error("rotations".into(), "needs at least one rotation".into());
    }

    let mut names = HashSet::new();
    let mut rotations = Vec::with_capacity(def.rotations.len());
    for (i, r) in def.rotations.iter().enumerate() {
        let path = format!("rotations[{i}]");
        if r.name.trim().is_empty() {
            error(format!("{path}.name"), "must not be empty".into());
        } else if !names.insert(r.name.as_str()) {
            error(format!("{path}.name"), format!("another rotation is already called {:?}", r.name));
        }
        if r.participants.is_empty() {
            error(format!("{path}.participants"), "needs at least one person".into());
        }
        for (j, person) in r.participants.iter().enumerate() {
            if !known_people(person) {
                error(format!("{path}.participants[{j}]"), format!("unknown person {person:?}"));
            }
        }
        let step = if r.length.is_zero() {
            error(format!("{path}.length"), "must be longer than 0s".into());
            None
        } else if r.length > MAX_LENGTH {
            error(format!("{path}.length"), format!("{} is longer than the maximum of {MAX_LENGTH}", r.length));
            None
        } else {
            step_of(r.length)
        };
        let window = match &r.restrict {
            None => None,
            Some(restrict) => window_of(restrict, &format!("{path}.restrict"), &mut error),
        };
        let first = zone.as_ref().and_then(|zone| first_handover(r.start, zone, &def.time_zone, &path, &mut error));
        if let (Some(first), Some(step)) = (first, step) {
            let people = i64::try_from(r.participants.len()).unwrap_or(i64::MAX);
            rotations.push(Rotation { start: r.start, first, step, people, window });
        }
    }

    match zone {
        Some(zone) if errors.is_empty() => Ok(Schedule { def: def.clone(), zone, rotations }),
        _ => Err(errors),
    }
}

fn step_of(length: Duration) -> Option<Step> {
    let std = length.std();
    if std.subsec_nanos() == 0 && std.as_secs().is_multiple_of(SECONDS_PER_DAY) {
        i64::try_from(std.as_secs() / SECONDS_PER_DAY).ok().map(Step::Days)
    } else {
        i128::try_from(std.as_nanos()).ok().map(Step::Exact)
    }
}

fn window_of(r: &Restriction, path: &str, error: &mut impl FnMut(String, String)) -> Option<Window> {
    let mut ok = true;
    let (from, to) = match (r.from, r.to) {
        (Some(from), Some(to)) if from == to => {
            error(format!("{path}.to"), "must differ from `from`; leave both out for whole days".into());
            ok = false;
            (from, to)
        }
        (Some(from), Some(to)) => (from, to),
        (None, None) => (Time::midnight(), Time::midnight()),
        (Some(_), None) => {
            error(format!("{path}.to"), "missing: `from` and `to` go together".into());
            return None;
        }
        (None, Some(_)) => {
            error(format!("{path}.from"), "missing: `from` and `to` go together".into());
            return None;
        }
    };
    let days: Vec<Weekday> = match &r.days {
        None => Vec::new(),
        Some(days) if days.is_empty() => {
            error(format!("{path}.days"), "names no day; leave it out for every day".into());
            return None;
        }
        Some(days) => days.iter().map(|d| d.weekday()).collect(),
    };
    let days = if days.is_empty() { ALL_DAYS.to_vec() } else { days };
    // `restrict = {}` or all seven whole days: no restriction at all.
    if !ok || (from == to && ALL_DAYS.iter().all(|d| days.contains(d))) {
        return None;
    }
    Some(Window { from, to, days })
}

fn first_handover(
    start: DateTime,
    zone: &TimeZone,
    zone_name: &str,
    path: &str,
    error: &mut impl FnMut(String, String),
) -> Option<Timestamp> {
    let ambiguous = zone.to_ambiguous_timestamp(start);
    let problem = match ambiguous.offset() {
        AmbiguousOffset::Unambiguous { .. } => None,
        AmbiguousOffset::Gap { before, after } => Some(format!(
            "{start} does not exist in {zone_name}: the clocks jump forward from {before} to {after} then; \
             pick a time outside the change"
        )),
        AmbiguousOffset::Fold { before, after } => Some(format!(
            "{start} happens twice in {zone_name}: the clocks go back from {before} to {after} then; \
             pick a time outside the change"
        )),
    };
    if let Some(reason) = problem {
        error(format!("{path}.start"), reason);
        return None;
    }
    match ambiguous.compatible() {
        Ok(first) => Some(first),
        Err(e) => {
            error(format!("{path}.start"), format!("{start} is out of range: {e}"));
            None
        }
    }
}

/// The instant of a local time; gaps move forward, folds take the first.
fn instant(zone: &TimeZone, dt: DateTime) -> Option<Timestamp> {
    zone.to_ambiguous_timestamp(dt).compatible().ok()
}

fn add_days(date: Date, days: i64) -> Option<Date> {
    date.checked_add(Span::new().try_days(days).ok()?).ok()
}

impl Rotation {
    /// The `k`-th hand-over (0 = the first); `None` out of range.
    fn handover(&self, zone: &TimeZone, k: i64) -> Option<Timestamp> {
        match self.step {
            Step::Days(n) => {
                let date = add_days(self.start.date(), k.checked_mul(n)?)?;
                instant(zone, date.to_datetime(self.start.time()))
            }
            Step::Exact(nanos) => {
                let offset = SignedDuration::try_from_nanos_i128(i128::from(k).checked_mul(nanos)?)?;
                self.first.checked_add(offset).ok()
            }
        }
    }

    /// The shift holding `t`: its number, start and end. `None` before the
    /// first hand-over (or out of range).
    fn shift_at(&self, zone: &TimeZone, t: Timestamp) -> Option<(i64, Timestamp, Timestamp)> {
        if t < self.first {
            return None;
        }
        // An estimate, off by at most one around the hand-over time of day.
        let mut k = match self.step {
            Step::Days(n) => {
                let days = self.start.date().until(zone.to_datetime(t).date()).ok()?.get_days();
                i64::from(days).div_euclid(n).max(0)
            }
            Step::Exact(nanos) => i64::try_from(t.duration_since(self.first).as_nanos() / nanos).ok()?,
        };
        let mut start = self.handover(zone, k)?;
        while start > t && k > 0 {
            k -= 1;
            start = self.handover(zone, k)?;
        }
        loop {
            match self.handover(zone, k + 1) {
                Some(next) if next <= t => {
                    k += 1;
                    start = next;
                }
                next => return Some((k, start, next.unwrap_or(Timestamp::MAX))),
            }
        }
    }

    /// Which participant (index) this layer has on call at `t`, if any.
    fn stretch_at(&self, zone: &TimeZone, t: Timestamp) -> Stretch<Option<usize>> {
        if t < self.first {
            return Stretch { value: None, start: Timestamp::MIN, end: self.first };
        }
        let Some((k, start, end)) = self.shift_at(zone, t) else {
            return Stretch { value: None, start: t, end: Timestamp::MAX };
        };
        let person = usize::try_from(k.rem_euclid(self.people)).unwrap_or_default();
        match &self.window {
            None => Stretch { value: Some(person), start, end },
            Some(window) => {
                let open = window.stretch_at(zone, t);
                if open.value {
                    Stretch { value: Some(person), start: start.max(open.start), end: end.min(open.end) }
                } else {
                    Stretch { value: None, start: open.start.max(self.first), end: open.end }
                }
            }
        }
    }
}

impl Window {
    /// The window starting on `day`, if `day` is listed and it is not empty.
    fn on(&self, zone: &TimeZone, day: Date) -> Option<(Timestamp, Timestamp)> {
        if !self.days.contains(&day.weekday()) {
            return None;
        }
        let end_day = if self.to <= self.from { day.tomorrow().ok()? } else { day };
        let start = instant(zone, day.to_datetime(self.from))?;
        let end = instant(zone, end_day.to_datetime(self.to))?;
        (end > start).then_some((start, end))
    }

    /// Whether the window is open at `t`, and for how long around it.
    fn stretch_at(&self, zone: &TimeZone, t: Timestamp) -> Stretch<bool> {
        let today = zone.to_datetime(t).date();
        let midnight = |n: i64| add_days(today, n).and_then(|d| instant(zone, d.to_datetime(Time::midnight())));
        // Windows starting from eight days back to eight days ahead are
        // computed; those are all that touch [lo, hi), a week either side.
        let lo = midnight(-7).unwrap_or(Timestamp::MIN);
        let hi = midnight(9).unwrap_or(Timestamp::MAX);
        let mut spans: Vec<(Timestamp, Timestamp)> =
            (-8..=8).filter_map(|n| add_days(today, n)).filter_map(|d| self.on(zone, d)).collect();
        spans.sort();
        let mut merged: Vec<(Timestamp, Timestamp)> = Vec::with_capacity(spans.len());
        for (s, e) in spans {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        let (mut start, mut end) = (lo, hi);
        for (s, e) in merged {
            if s <= t && t < e {
                return Stretch { value: true, start: s, end: e };
            }
            if e <= t {
                start = start.max(e);
            } else if s > t {
                end = end.min(s);
            }
        }
        Stretch { value: false, start, end }
    }
}

/// The override active at `t` (the last one in the slice), and the stretch
/// until the next start or end of any override.
fn override_at(overrides: &[Override], t: Timestamp) -> Stretch<Option<&Override>> {
    let mut stretch = Stretch { value: None, start: Timestamp::MIN, end: Timestamp::MAX };
    for o in overrides.iter().filter(|o| o.starts_at < o.ends_at) {
        for bound in [o.starts_at, o.ends_at] {
            if bound <= t {
                stretch.start = stretch.start.max(bound);
            } else {
                stretch.end = stretch.end.min(bound);
            }
        }
        if o.starts_at <= t && t < o.ends_at {
            stretch.value = Some(o);
        }
    }
    stretch
}

impl Schedule {
    /// The definition this schedule was validated from.
    pub fn def(&self) -> &ScheduleDef {
        &self.def
    }

    /// The schedule's id.
    pub fn id(&self) -> &str {
        &self.def.id
    }

    /// The schedule's time zone.
    pub fn time_zone(&self) -> &TimeZone {
        &self.zone
    }

    /// The layered answer at `t`, and a stretch over which it holds.
    fn answer_at<'a>(&'a self, t: Timestamp, overrides: &'a [Override]) -> Stretch<Option<Who<'a>>> {
        let by_override = override_at(overrides, t);
        if let Some(o) = by_override.value {
            let who = Who { person: &o.person, rotation: None };
            return Stretch { value: Some(who), start: by_override.start, end: by_override.end };
        }
        let (mut start, mut end) = (by_override.start, by_override.end);
        // From the top layer down: the first with somebody wins, and the
        // answer holds as long as it and every layer above it stay the same.
        for (rotation, def) in self.rotations.iter().zip(&self.def.rotations).rev() {
            let layer = rotation.stretch_at(&self.zone, t);
            start = start.max(layer.start);
            end = end.min(layer.end);
            if let Some(person) = layer.value {
                let who = Who { person: &def.participants[person], rotation: Some(&def.name) };
                return Stretch { value: Some(who), start, end };
            }
        }
        Stretch { value: None, start, end }
    }

    /// Who is on call at `at`, by rotation or override; `None` when nobody
    /// is. `since` and `until` look at most [`MAX_SHIFTS`] hand-overs back
    /// and ahead.
    pub fn on_call(&self, at: Timestamp, overrides: &[Override]) -> Option<OnCall> {
        let (who, since, until) = self.whole_stretch(at, overrides)?;
        Some(OnCall { person: who.person.to_string(), rotation: who.rotation.map(str::to_string), since, until })
    }

    /// The person (and rotation) on call at `at` and how long they are
    /// without a break: looked at most [`MAX_SHIFTS`] hand-overs back and
    /// ahead.
    fn whole_stretch<'a>(
        &'a self,
        at: Timestamp,
        overrides: &'a [Override],
    ) -> Option<(Who<'a>, Timestamp, Timestamp)> {
        let now = self.answer_at(at, overrides);
        let who = now.value?;
        let (mut since, mut until) = (now.start, now.end);
        for _ in 0..MAX_SHIFTS {
            if until == Timestamp::MAX {
                break;
            }
            let next = self.answer_at(until, overrides);
            if next.value != Some(who) || next.end <= until {
                break;
            }
            until = next.end;
        }
        for _ in 0..MAX_SHIFTS {
            let Ok(before) = since.checked_sub(SignedDuration::from_nanos(1)) else { break };
            let previous = self.answer_at(before, overrides);
            if previous.value != Some(who) || previous.start >= since {
                break;
            }
            since = previous.start;
        }
        Some((who, since, until))
    }

    /// [`Schedule::shifts`] without the cut at the range's ends: a shift
    /// that began before `from` or ends after `to` keeps its own start and
    /// end. A calendar feed fetched at different moments then shows the
    /// same events — same start, same end, same UID — instead of one that
    /// starts whenever it was fetched.
    pub fn whole_shifts(&self, from: Timestamp, to: Timestamp, overrides: &[Override]) -> Vec<Shift> {
        let mut shifts = self.shifts(from, to, overrides);
        if let Some(first) = shifts.first_mut()
            && first.starts_at == from
            && let Some((_, since, _)) = self.whole_stretch(from, overrides)
        {
            first.starts_at = since;
        }
        if let Some(last) = shifts.last_mut()
            && last.ends_at == to
            && let Ok(inside) = to.checked_sub(SignedDuration::from_nanos(1))
            && let Some((_, _, until)) = self.whole_stretch(inside, overrides)
        {
            last.ends_at = until;
        }
        shifts
    }

    /// Who is on call in `[from, to)`: the flattened timeline after layers
    /// and overrides, in time order, clipped to the range, with adjacent
    /// shifts of the same person and rotation merged. Times with nobody on
    /// call are gaps. At most [`MAX_SHIFTS`] shifts; a longer timeline is
    /// cut off.
    pub fn shifts(&self, from: Timestamp, to: Timestamp, overrides: &[Override]) -> Vec<Shift> {
        let mut out: Vec<Shift> = Vec::new();
        let mut t = from;
        for _ in 0..MAX_STEPS {
            if t >= to {
                break;
            }
            let now = self.answer_at(t, overrides);
            let end = now.end.min(to);
            if end <= t {
                break;
            }
            if let Some(who) = now.value {
                let full = out.len() == MAX_SHIFTS;
                match out.last_mut() {
                    Some(last)
                        if last.ends_at == t
                            && last.person == who.person
                            && last.rotation.as_deref() == who.rotation =>
                    {
                        last.ends_at = end;
                    }
                    _ if full => break,
                    _ => out.push(Shift {
                        person: who.person.to_string(),
                        rotation: who.rotation.map(str::to_string),
                        starts_at: t,
                        ends_at: end,
                    }),
                }
            }
            t = end;
        }
        out
    }

    /// `shifts` as an iCalendar feed (RFC 5545) to subscribe to, one event
    /// per shift in UTC. `now` stamps the events, `prod_host` makes their
    /// UIDs globally unique, `person_name` turns a person id into the name
    /// shown. An event's UID depends on the schedule, person and start, so
    /// a calendar client updates rather than duplicates it on refresh.
    pub fn ical(
        &self,
        shifts: &[Shift],
        now: Timestamp,
        prod_host: &str,
        person_name: &dyn Fn(&str) -> String,
    ) -> String {
        let mut out = String::new();
        content_line(&mut out, "BEGIN", "VCALENDAR");
        content_line(&mut out, "VERSION", "2.0");
        content_line(&mut out, "PRODID", "-//Leitstand//Rufbereitschaft//DE");
        content_line(&mut out, "CALSCALE", "GREGORIAN");
        content_line(&mut out, "METHOD", "PUBLISH");
        // "Rufbereitschaft" once, also for a schedule named so.
        let name = if self.def.name.to_lowercase().contains("rufbereitschaft") {
            self.def.name.clone()
        } else {
            format!("Rufbereitschaft {}", self.def.name)
        };
        content_line(&mut out, "X-WR-CALNAME", &escape_text(&name));
        let stamp = utc(now);
        for shift in shifts {
            let uid = format!("{}@{prod_host}", uid(&self.def.id, &shift.person, shift.starts_at));
            let description = match &shift.rotation {
                Some(rotation) => format!("Dienstplan: {}\nRotation: {rotation}", self.def.name),
                None => format!("Dienstplan: {}\nVertretung (Override)", self.def.name),
            };
            content_line(&mut out, "BEGIN", "VEVENT");
            content_line(&mut out, "UID", &escape_text(&uid));
            content_line(&mut out, "DTSTAMP", &stamp);
            content_line(&mut out, "DTSTART", &utc(shift.starts_at));
            content_line(&mut out, "DTEND", &utc(shift.ends_at));
            content_line(
                &mut out,
                "SUMMARY",
                &escape_text(&format!("Rufbereitschaft: {}", person_name(&shift.person))),
            );
            content_line(&mut out, "DESCRIPTION", &escape_text(&description));
            content_line(&mut out, "END", "VEVENT");
        }
        content_line(&mut out, "END", "VCALENDAR");
        out
    }
}

/// A UTC DATE-TIME value, `YYYYMMDDTHHMMSSZ`.
fn utc(t: Timestamp) -> String {
    t.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// 128 bits of SHA-256 over schedule id, person and start, in hex.
fn uid(schedule: &str, person: &str, start: Timestamp) -> String {
    let mut hash = Sha256::new();
    for part in [schedule, person, &start.as_nanosecond().to_string()] {
        hash.update(part.as_bytes());
        hash.update([0u8]);
    }
    let mut hex = String::with_capacity(32);
    for byte in hash.finalize().iter().take(16) {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Escapes a TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and
/// newline; other control characters are not allowed and dropped.
fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends `NAME:VALUE` with CRLF, folded at 75 octets (RFC 5545 3.1):
/// never inside a UTF-8 sequence, continuation lines start with a space.
fn content_line(out: &mut String, name: &str, value: &str) {
    let line = format!("{name}:{value}");
    let mut rest = line.as_str();
    let mut room = 75;
    while rest.len() > room {
        let mut cut = room;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        room = 74;
    }
    out.push_str(rest);
    out.push_str("\r\n");
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const BERLIN: &str = "Europe/Berlin";

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// A local time in Berlin as an instant.
    fn local(s: &str) -> Timestamp {
        instant(&TimeZone::get(BERLIN).unwrap(), s.parse().unwrap()).unwrap()
    }

    fn known(person: &str) -> bool {
        ["anna", "ben", "cem", "dora", "nacht"].contains(&person)
    }

    fn rotation(name: &str, people: &[&str], start: &str, length: &str) -> RotationDef {
        RotationDef {
            name: name.into(),
            participants: people.iter().map(|p| p.to_string()).collect(),
            start: start.parse().unwrap(),
            length: length.parse().unwrap(),
            restrict: None,
        }
    }

    fn def(rotations: Vec<RotationDef>) -> ScheduleDef {
        ScheduleDef { id: "plattform".into(), name: "Plattform".into(), time_zone: BERLIN.into(), rotations }
    }

    fn schedule(rotations: Vec<RotationDef>) -> Schedule {
        validate(&def(rotations), &known).unwrap()
    }

    fn weekly() -> RotationDef {
        rotation("Woche", &["anna", "ben"], "2026-11-30T09:00", "7d")
    }

    /// Weekly layer with a night layer (Mon–Fri nights, 18:00–08:00) over it.
    fn with_nights() -> Schedule {
        let mut nights = rotation("Nacht", &["nacht"], "2026-11-30T18:00", "7d");
        nights.restrict = Some(Restriction {
            from: Some("18:00".parse().unwrap()),
            to: Some("08:00".parse().unwrap()),
            days: Some(vec![Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri]),
        });
        schedule(vec![weekly(), nights])
    }

    fn who(s: &Schedule, at: Timestamp) -> Option<String> {
        s.on_call(at, &[]).map(|c| c.person)
    }

    fn summary(shifts: &[Shift]) -> Vec<(String, String, String)> {
        shifts.iter().map(|s| (s.person.clone(), s.starts_at.to_string(), s.ends_at.to_string())).collect()
    }

    fn entry(person: &str, start: &str, end: &str) -> (String, String, String) {
        (person.into(), start.into(), end.into())
    }

    fn stand_in(person: &str, from: &str, to: &str) -> Override {
        Override {
            id: Uuid::nil(),
            person: person.into(),
            starts_at: ts(from),
            ends_at: ts(to),
            reason: "Tausch".into(),
        }
    }

    #[test]
    fn oncall_weekly_hand_over_stays_at_local_time_across_dst() {
        let s = schedule(vec![rotation("Woche", &["anna", "ben"], "2026-10-19T09:00", "7d")]);
        // Summer time ends on Sunday 25 October 2026: the first week lasts 169 h.
        let autumn = s.shifts(ts("2026-10-19T07:00:00Z"), ts("2026-11-02T08:00:00Z"), &[]);
        assert_eq!(
            summary(&autumn),
            [
                entry("anna", "2026-10-19T07:00:00Z", "2026-10-26T08:00:00Z"),
                entry("ben", "2026-10-26T08:00:00Z", "2026-11-02T08:00:00Z"),
            ]
        );
        // Summer time starts on Sunday 28 March 2027: that week lasts 167 h.
        let spring = s.on_call(ts("2027-03-28T12:00:00Z"), &[]).unwrap();
        assert_eq!(spring.person, "anna");
        assert_eq!(spring.since, ts("2027-03-22T08:00:00Z"));
        assert_eq!(spring.until, ts("2027-03-29T07:00:00Z"));
        assert_eq!(who(&s, ts("2027-03-29T07:00:00Z")).as_deref(), Some("ben"));
        // A whole year: every hand-over is Monday 09:00 on the wall clock.
        let zone = TimeZone::get(BERLIN).unwrap();
        let year = s.shifts(ts("2026-10-19T07:00:00Z"), ts("2027-10-18T07:00:00Z"), &[]);
        assert_eq!(year.len(), 52);
        for shift in &year {
            let start = shift.starts_at.to_zoned(zone.clone());
            assert_eq!((start.weekday(), start.hour(), start.minute()), (Weekday::Monday, 9, 0), "{shift:?}");
        }
        assert_eq!(who(&s, ts("2026-10-19T06:59:59Z")), None, "nobody before the first hand-over");
    }

    #[test]
    fn oncall_sub_day_lengths_are_exact_time_across_dst() {
        let s = schedule(vec![rotation("Tag/Nacht", &["anna", "ben"], "2026-10-24T09:00", "12h")]);
        let starts: Vec<String> = s
            .shifts(local("2026-10-24T09:00"), local("2026-10-26T00:00"), &[])
            .iter()
            .map(|s| s.starts_at.to_zoned(TimeZone::get(BERLIN).unwrap()).strftime("%d. %H:%M %Z").to_string())
            .collect();
        assert_eq!(starts, ["24. 09:00 CEST", "24. 21:00 CEST", "25. 08:00 CET", "25. 20:00 CET"]);
    }

    #[test]
    fn oncall_daily_rotation_of_three() {
        let s = schedule(vec![rotation("Tag", &["anna", "ben", "cem"], "2026-11-30T08:00", "1d")]);
        assert_eq!(who(&s, local("2026-11-30T07:59")), None);
        assert_eq!(who(&s, local("2026-11-30T08:00")).as_deref(), Some("anna"));
        assert_eq!(who(&s, local("2026-12-01T12:00")).as_deref(), Some("ben"));
        assert_eq!(who(&s, local("2026-12-02T07:59")).as_deref(), Some("ben"));
        assert_eq!(who(&s, local("2026-12-02T08:00")).as_deref(), Some("cem"));
        assert_eq!(who(&s, local("2026-12-03T08:00")).as_deref(), Some("anna"));
        assert_eq!(who(&s, local("2027-01-01T12:00")).as_deref(), Some("cem"), "day 32 of the rotation");
        let people: Vec<String> =
            s.shifts(local("2026-11-30T00:00"), local("2026-12-04T08:00"), &[]).into_iter().map(|s| s.person).collect();
        assert_eq!(people, ["anna", "ben", "cem", "anna"]);
    }

    #[test]
    fn oncall_night_layer_covers_the_weekly_layer() {
        let s = with_nights();
        let at = |t: &str| {
            let c = s.on_call(local(t), &[]).unwrap();
            format!("{} ({})", c.person, c.rotation.unwrap())
        };
        assert_eq!(at("2026-11-30T12:00"), "anna (Woche)");
        assert_eq!(at("2026-11-30T20:00"), "nacht (Nacht)");
        assert_eq!(at("2026-12-01T07:59"), "nacht (Nacht)");
        assert_eq!(at("2026-12-01T08:00"), "anna (Woche)");
        // Friday's night runs into Saturday morning; weekend nights are the weekly layer's.
        assert_eq!(at("2026-12-04T23:00"), "nacht (Nacht)");
        assert_eq!(at("2026-12-05T07:00"), "nacht (Nacht)");
        assert_eq!(at("2026-12-05T20:00"), "anna (Woche)");
        assert_eq!(at("2026-12-06T03:00"), "anna (Woche)");
        assert_eq!(at("2026-12-07T03:00"), "anna (Woche)", "Sunday's night is not restricted to the night layer");
        assert_eq!(at("2026-12-07T09:00"), "ben (Woche)");
        assert_eq!(at("2026-12-07T18:00"), "nacht (Nacht)");

        let week = s.shifts(local("2026-11-30T09:00"), local("2026-12-07T09:00"), &[]);
        assert_eq!(week.len(), 11, "{week:#?}");
        let mut expected = Vec::new();
        let days = ["2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04", "2026-12-05"];
        for (i, pair) in days.windows(2).enumerate() {
            let (day, next) = (pair[0], pair[1]);
            let morning = if i == 0 { "09:00" } else { "08:00" };
            expected.push(("anna", local(&format!("{day}T{morning}")), local(&format!("{day}T18:00"))));
            expected.push(("nacht", local(&format!("{day}T18:00")), local(&format!("{next}T08:00"))));
        }
        expected.push(("anna", local("2026-12-05T08:00"), local("2026-12-07T09:00")));
        let got: Vec<(&str, Timestamp, Timestamp)> =
            week.iter().map(|s| (s.person.as_str(), s.starts_at, s.ends_at)).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn oncall_until_is_the_next_change_from_any_layer() {
        let s = with_nights();
        let monday = s.on_call(local("2026-11-30T12:00"), &[]).unwrap();
        assert_eq!((monday.since, monday.until), (local("2026-11-30T09:00"), local("2026-11-30T18:00")));
        let night = s.on_call(local("2026-12-02T03:00"), &[]).unwrap();
        assert_eq!((night.since, night.until), (local("2026-12-01T18:00"), local("2026-12-02T08:00")));
        // Over the weekend the weekly layer holds until its hand-over on Monday.
        let weekend = s.on_call(local("2026-12-05T12:00"), &[]).unwrap();
        assert_eq!((weekend.since, weekend.until), (local("2026-12-05T08:00"), local("2026-12-07T09:00")));
        // One person only: the answer never changes.
        let alone = schedule(vec![rotation("Allein", &["anna"], "2026-11-30T09:00", "1d")]);
        let c = alone.on_call(local("2026-12-24T12:00"), &[]).unwrap();
        assert_eq!(c.since, local("2026-11-30T09:00"));
        assert!(c.until > ts("2050-01-01T00:00:00Z"), "{c:?}");
    }

    #[test]
    fn oncall_override_wins_and_ends() {
        let s = with_nights();
        let dora = stand_in("dora", "2026-12-01T10:00:00Z", "2026-12-01T14:00:00Z");
        let during = s.on_call(ts("2026-12-01T11:00:00Z"), std::slice::from_ref(&dora)).unwrap();
        assert_eq!(
            during,
            OnCall {
                person: "dora".into(),
                rotation: None,
                since: ts("2026-12-01T10:00:00Z"),
                until: ts("2026-12-01T14:00:00Z"),
            }
        );
        let after = s.on_call(ts("2026-12-01T14:00:00Z"), std::slice::from_ref(&dora)).unwrap();
        assert_eq!((after.person.as_str(), after.rotation.as_deref()), ("anna", Some("Woche")));
        assert_eq!((after.since, after.until), (ts("2026-12-01T14:00:00Z"), local("2026-12-01T18:00")));
        // Overrides cover the night layer too, and the later one wins on overlap.
        let cem = stand_in("cem", "2026-12-01T12:00:00Z", "2026-12-01T20:00:00Z");
        let both = [dora, cem];
        let shifts = s.shifts(ts("2026-12-01T09:00:00Z"), ts("2026-12-01T21:00:00Z"), &both);
        assert_eq!(
            summary(&shifts),
            [
                entry("anna", "2026-12-01T09:00:00Z", "2026-12-01T10:00:00Z"),
                entry("dora", "2026-12-01T10:00:00Z", "2026-12-01T12:00:00Z"),
                entry("cem", "2026-12-01T12:00:00Z", "2026-12-01T20:00:00Z"),
                entry("nacht", "2026-12-01T20:00:00Z", "2026-12-01T21:00:00Z"),
            ]
        );
        assert_eq!(shifts[1].rotation, None);
    }

    #[test]
    fn oncall_shifts_merge_repeated_people_and_clip_to_the_range() {
        let s = schedule(vec![rotation("Tag", &["anna", "anna", "ben"], "2026-11-30T08:00", "1d")]);
        let shifts = s.shifts(local("2026-11-30T12:00"), local("2026-12-03T12:00"), &[]);
        assert_eq!(
            summary(&shifts),
            [
                entry("anna", "2026-11-30T11:00:00Z", "2026-12-02T07:00:00Z"),
                entry("ben", "2026-12-02T07:00:00Z", "2026-12-03T07:00:00Z"),
                entry("anna", "2026-12-03T07:00:00Z", "2026-12-03T11:00:00Z"),
            ]
        );
        let c = s.on_call(local("2026-11-30T12:00"), &[]).unwrap();
        assert_eq!((c.since, c.until), (local("2026-11-30T08:00"), local("2026-12-02T08:00")));
        // A rotation that has nobody leaves gaps, and an empty range nothing.
        assert!(s.shifts(local("2026-11-29T00:00"), local("2026-11-30T08:00"), &[]).is_empty());
        assert!(s.shifts(local("2026-12-01T00:00"), local("2026-12-01T00:00"), &[]).is_empty());
    }

    #[test]
    fn oncall_shifts_are_bounded() {
        let s = schedule(vec![rotation("Minute", &["anna", "ben"], "2026-01-01T00:00", "1m")]);
        let shifts = s.shifts(ts("2026-01-01T00:00:00Z"), ts("2027-01-01T00:00:00Z"), &[]);
        assert_eq!(shifts.len(), MAX_SHIFTS);
        assert_eq!(shifts.last().unwrap().ends_at, ts("2026-01-01T00:00:00Z") + SignedDuration::from_mins(10_000));
    }

    #[test]
    fn oncall_validation_names_each_field() {
        let mut broken = def(vec![
            rotation("Woche", &[], "2026-11-30T09:00", "0s"),
            rotation("Woche", &["anna", "zoe", "anna"], "2026-11-30T09:00", "400d"),
        ]);
        broken.id = "Team A".into();
        let errors = validate(&broken, &known).unwrap_err();
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "id",
                "rotations[0].participants",
                "rotations[0].length",
                "rotations[1].name",
                "rotations[1].participants[1]",
                "rotations[1].length",
            ]
        );
        assert_eq!(errors[4].to_string(), "rotations[1].participants[1]: unknown person \"zoe\"");
        assert_eq!(errors[5].reason, "400d is longer than the maximum of 365d");

        let mut zone = def(vec![weekly()]);
        zone.time_zone = "Mars/Olympus".into();
        assert_eq!(validate(&zone, &known).unwrap_err()[0].path, "time_zone");

        let gap = validate(&def(vec![rotation("W", &["anna"], "2027-03-28T02:30", "7d")]), &known).unwrap_err();
        assert_eq!(gap[0].path, "rotations[0].start");
        assert!(gap[0].reason.starts_with("2027-03-28T02:30:00 does not exist in Europe/Berlin"), "{}", gap[0].reason);
        let fold = validate(&def(vec![rotation("W", &["anna"], "2026-10-25T02:30", "7d")]), &known).unwrap_err();
        assert!(fold[0].reason.contains("happens twice"), "{}", fold[0].reason);

        let mut restricted = weekly();
        restricted.restrict = Some(Restriction { from: Some(Time::midnight()), to: None, days: Some(vec![]) });
        let mut same = weekly();
        same.name = "Gleich".into();
        same.restrict = Some(Restriction { from: Some(Time::midnight()), to: Some(Time::midnight()), days: None });
        let errors = validate(&def(vec![restricted, same]), &known).unwrap_err();
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["rotations[0].restrict.to", "rotations[1].restrict.to"]);

        let empty = validate(&def(vec![]), &known).unwrap_err();
        assert_eq!(empty[0].path, "rotations");
    }

    #[test]
    fn oncall_definitions_read_like_the_policy() {
        let json = serde_json::json!({
            "id": "plattform",
            "name": "Plattform",
            "time_zone": "Europe/Berlin",
            "rotations": [
                {"name": "Woche", "participants": ["anna", "ben", "anna"], "start": "2026-11-30T09:00", "length": "7d"},
                {"name": "Nacht", "participants": ["nacht"], "start": "2026-11-30T18:00", "length": "1d",
                 "restrict": {"from": "18:00", "to": "08:00", "days": ["mon", "fri"]}},
            ],
        });
        let parsed: ScheduleDef = serde_json::from_value(json).unwrap();
        assert_eq!(parsed.rotations[0].length, Duration::from_days(7));
        assert_eq!(parsed.rotations[1].restrict.as_ref().unwrap().days, Some(vec![Day::Mon, Day::Fri]));
        let s = validate(&parsed, &known).unwrap();
        assert_eq!(who(&s, local("2026-12-01T20:00")).as_deref(), Some("anna"), "Tuesday is not listed");
        assert_eq!(who(&s, local("2026-12-04T20:00")).as_deref(), Some("nacht"));
        let back: ScheduleDef = serde_json::from_value(serde_json::to_value(&parsed).unwrap()).unwrap();
        assert_eq!(back, parsed);

        let unknown = serde_json::json!({"id": "x", "name": "x", "time_zone": "UTC", "rotations": [], "layers": []});
        assert!(serde_json::from_value::<ScheduleDef>(unknown).unwrap_err().to_string().contains("layers"));
    }

    #[test]
    fn oncall_hand_over_in_a_dst_gap_moves_forward() {
        let s = schedule(vec![rotation("Tag", &["anna", "ben"], "2027-03-20T02:30", "1d")]);
        // 02:30 does not exist on 28 March 2027; that hand-over is at 03:30 CEST.
        let c = s.on_call(ts("2027-03-28T00:30:00Z"), &[]).unwrap();
        assert_eq!(c.until, ts("2027-03-28T01:30:00Z"));
        assert_eq!(s.on_call(c.until, &[]).unwrap().until, ts("2027-03-29T00:30:00Z"));
    }

    #[test]
    fn a_feed_fetched_at_different_times_shows_the_same_events() {
        // Issue 17, item 6: the first and last events were cut at the
        // moment of fetching, so every sync changed them.
        let s = schedule(vec![weekly()]);
        let feed_at = |now: &str| {
            let now = ts(now);
            let day = SignedDuration::from_hours(24);
            s.whole_shifts(now - day * 7, now + day * 90, &[])
        };
        let a = feed_at("2026-12-09T10:17:00Z");
        let b = feed_at("2026-12-09T15:42:31Z");
        assert_eq!(a, b, "the same events whenever it is fetched");
        assert_eq!(a[0].starts_at, ts("2026-11-30T08:00:00Z"), "the first shift from its hand-over (09:00 CET)");
        assert_eq!(a.last().unwrap().ends_at.strftime("%H:%M").to_string(), "08:00", "the last to its hand-over");
        let mut named = def(vec![weekly()]);
        named.name = "Rufbereitschaft Netz".into();
        let feed =
            validate(&named, &known).unwrap().ical(&a[..1], ts("2026-12-09T10:17:00Z"), "l.example", &|p| p.into());
        assert!(feed.contains("\r\nX-WR-CALNAME:Rufbereitschaft Netz\r\n"), "not twice: {feed}");
    }

    fn one_shift(person: &str, rotation: Option<&str>) -> Shift {
        Shift {
            person: person.into(),
            rotation: rotation.map(str::to_string),
            starts_at: ts("2026-11-30T08:00:00Z"),
            ends_at: ts("2026-12-07T08:00:00Z"),
        }
    }

    #[test]
    fn oncall_ical_feed() {
        let s = schedule(vec![weekly()]);
        let name = |p: &str| if p == "anna" { "Anna Groß".to_string() } else { p.to_string() };
        let feed =
            s.ical(&[one_shift("anna", Some("Woche"))], ts("2026-11-29T12:34:56.789Z"), "leitstand.example", &name);
        let uid = uid("plattform", "anna", ts("2026-11-30T08:00:00Z"));
        assert_eq!(uid.len(), 32);
        let expected = [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//Leitstand//Rufbereitschaft//DE",
            "CALSCALE:GREGORIAN",
            "METHOD:PUBLISH",
            "X-WR-CALNAME:Rufbereitschaft Plattform",
            "BEGIN:VEVENT",
            &format!("UID:{uid}@leitstand.example"),
            "DTSTAMP:20261129T123456Z",
            "DTSTART:20261130T080000Z",
            "DTEND:20261207T080000Z",
            "SUMMARY:Rufbereitschaft: Anna Groß",
            "DESCRIPTION:Dienstplan: Plattform\\nRotation: Woche",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
        .join("\r\n");
        assert_eq!(feed, expected);
        // Stable UIDs: same schedule, person and start, same event.
        assert_eq!(uid, super::uid("plattform", "anna", ts("2026-11-30T08:00:00Z")));
        assert_ne!(uid, super::uid("plattform", "ben", ts("2026-11-30T08:00:00Z")));
        assert_ne!(uid, super::uid("plattform", "anna", ts("2026-12-07T08:00:00Z")));
    }

    #[test]
    fn oncall_ical_escapes_text() {
        assert_eq!(escape_text(r"a\b;c,d"), r"a\\b\;c\,d");
        assert_eq!(escape_text("Zeile 1\nZeile 2\r\nZeile 3"), r"Zeile 1\nZeile 2\nZeile 3");
        assert_eq!(escape_text("bell\u{7}\ttab"), "bell\ttab");
        let mut d = def(vec![weekly()]);
        d.name = "Netz, Nacht; \\Dienst".into();
        let s = validate(&d, &known).unwrap();
        let feed = s.ical(&[one_shift("x", None)], ts("2026-11-29T00:00:00Z"), "h", &|_| "Müller, Jo".into());
        assert!(feed.contains("\r\nX-WR-CALNAME:Rufbereitschaft Netz\\, Nacht\\; \\\\Dienst\r\n"), "{feed}");
        assert!(feed.contains("\r\nSUMMARY:Rufbereitschaft: Müller\\, Jo\r\n"), "{feed}");
        assert!(feed.contains("\r\nDESCRIPTION:Dienstplan: Netz\\, Nacht\\; \\\\Dienst\\nVertretung (Override)\r\n"));
    }

    #[test]
    fn oncall_ical_folds_at_75_octets_on_char_boundaries() {
        // Exactly 75 octets stay on one line; 76 fold after 75.
        let mut out = String::new();
        content_line(&mut out, "X", &"a".repeat(73));
        assert_eq!(out, format!("X:{}\r\n", "a".repeat(73)));
        out.clear();
        content_line(&mut out, "X", &"a".repeat(74));
        assert_eq!(out, format!("X:{}\r\n a\r\n", "a".repeat(73)));
        // "ü" (2 octets) would straddle octet 75: the line breaks before it.
        out.clear();
        content_line(&mut out, "SUMMARY", &format!("Rufbereitschaft: {}ü", "a".repeat(49)));
        assert_eq!(out, format!("SUMMARY:Rufbereitschaft: {}\r\n ü\r\n", "a".repeat(49)));
        // Continuation lines hold 74 octets after the space.
        out.clear();
        content_line(&mut out, "X", &"b".repeat(73 + 74 + 1));
        assert_eq!(out, format!("X:{}\r\n {}\r\n b\r\n", "b".repeat(73), "b".repeat(74)));
    }

    #[test]
    fn oncall_ical_parses_as_content_lines() {
        let s = with_nights();
        let shifts = s.shifts(local("2026-11-30T09:00"), local("2026-12-14T09:00"), &[]);
        let long = |p: &str| format!("{p} — Rufbereitschaftsbeauftragte für Störungen, Ausfälle; Eskalationen ✓ {p}");
        let feed = s.ical(&shifts, ts("2026-11-29T00:00:00Z"), "leitstand.example", &long);
        assert!(feed.ends_with("\r\n"));
        let physical: Vec<&str> = feed.strip_suffix("\r\n").unwrap().split("\r\n").collect();
        for line in &physical {
            assert!(line.len() <= 75, "longer than 75 octets: {line:?}");
            assert!(!line.contains('\r') && !line.contains('\n'), "bare line break in {line:?}");
        }
        assert!(physical.iter().any(|l| l.starts_with(' ')), "the long summaries fold");
        let unfolded = feed.replace("\r\n ", "");
        let lines: Vec<&str> = unfolded.strip_suffix("\r\n").unwrap().split("\r\n").collect();
        for line in &lines {
            let (name, value) = line.split_once(':').unwrap_or_else(|| panic!("no NAME:VALUE: {line:?}"));
            assert!(!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'), "{line:?}");
            assert!(!value.is_empty(), "{line:?}");
        }
        assert_eq!(lines.iter().filter(|l| **l == "BEGIN:VEVENT").count(), shifts.len());
        assert_eq!(lines.iter().filter(|l| **l == "END:VEVENT").count(), shifts.len());
        assert!(lines.contains(&"SUMMARY:Rufbereitschaft: nacht — Rufbereitschaftsbeauftragte für Störungen\\, Ausfälle\\; Eskalationen ✓ nacht"));
        let uids: HashSet<&&str> = lines.iter().filter(|l| l.starts_with("UID:")).collect();
        assert_eq!(uids.len(), shifts.len(), "UIDs are unique");
    }
}
