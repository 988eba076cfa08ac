//! Availability as the contracts compute it (EVB-IT):
//!
//! `availability = (total minutes − outage minutes) / total minutes`
//!
//! over a period (usually a calendar month), from a probe's up/down history
//! with exact transition times. Agreed maintenance windows count neither as
//! time nor as outage. Time before the first result or while the probe was
//! not running is "unknown": reported, and left out of the total rather
//! than guessed either way.

/// One state change of a probe: from `at_ms` on, the target is up or down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// Time of the change (ms since the epoch).
    pub at_ms: i64,
    /// Up (`true`), down (`false`), or unknown (`None`: probe stopped).
    pub up: Option<bool>,
}

/// The figures for one period.
#[derive(Debug, Clone, PartialEq)]
pub struct Availability {
    /// Minutes counted (period minus maintenance minus unknown).
    pub total_minutes: f64,
    /// Minutes down outside maintenance.
    pub outage_minutes: f64,
    /// Minutes of maintenance windows within the period.
    pub maintenance_minutes: f64,
    /// Minutes without a probe result.
    pub unknown_minutes: f64,
    /// `(total − outage) / total`; `None` if nothing was counted.
    pub ratio: Option<f64>,
    /// Outages `[start, end)` in ms, clipped to the period, maintenance cut out.
    pub outages: Vec<(i64, i64)>,
}

/// Subtracts `holes` from the interval `[start, end)`.
fn minus(start: i64, end: i64, holes: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut pieces = vec![(start, end)];
    for &(hs, he) in holes {
        pieces = pieces
            .into_iter()
            .flat_map(|(s, e)| {
                if he <= s || hs >= e {
                    vec![(s, e)]
                } else {
                    [(s, hs.max(s)), (he.min(e), e)].into_iter().filter(|(a, b)| b > a).collect()
                }
            })
            .collect();
    }
    pieces
}

fn minutes(pieces: &[(i64, i64)]) -> f64 {
    // From 0.0, not the empty sum's -0.0 (which prints as "-0").
    pieces.iter().fold(0.0, |sum, (s, e)| sum + (e - s) as f64 / 60_000.0)
}

/// Availability over `[from_ms, to_ms)` from `history` (sorted by time; a
/// state before `from_ms` carries into the period) with `maintenance`
/// windows excluded.
pub fn availability(history: &[Transition], maintenance: &[(i64, i64)], from_ms: i64, to_ms: i64) -> Availability {
    let mut windows: Vec<(i64, i64)> =
        maintenance.iter().map(|&(s, e)| (s.max(from_ms), e.min(to_ms))).filter(|(s, e)| e > s).collect();
    windows.sort_unstable();
    let maintenance_minutes = minutes(&merge(&windows));
    let mut up_pieces = Vec::new();
    let mut down_pieces = Vec::new();
    let mut unknown_pieces = Vec::new();
    // The state in force at each point: the last transition at or before it.
    let mut state: Option<bool> = None;
    let mut cursor = from_ms;
    for t in history {
        if t.at_ms <= from_ms {
            state = t.up;
            continue;
        }
        if t.at_ms >= to_ms {
            break;
        }
        let piece = minus(cursor, t.at_ms, &windows);
        match state {
            Some(true) => up_pieces.extend(piece),
            Some(false) => down_pieces.extend(piece),
            None => unknown_pieces.extend(piece),
        }
        state = t.up;
        cursor = t.at_ms;
    }
    let piece = minus(cursor, to_ms, &windows);
    match state {
        Some(true) => up_pieces.extend(piece),
        Some(false) => down_pieces.extend(piece),
        None => unknown_pieces.extend(piece),
    }
    let outages = merge(&down_pieces);
    let (up, down, unknown) = (minutes(&up_pieces), minutes(&outages), minutes(&unknown_pieces));
    let total = up + down;
    Availability {
        total_minutes: total,
        outage_minutes: down,
        maintenance_minutes,
        unknown_minutes: unknown,
        ratio: (total > 0.0).then(|| (total - down) / total),
        outages,
    }
}

/// Joins touching or overlapping intervals (sorted input).
fn merge(pieces: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for &(s, e) in pieces {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn t(min: i64, up: Option<bool>) -> Transition {
        Transition { at_ms: min * MIN, up }
    }

    #[test]
    fn the_evb_it_formula_over_a_30_day_month() {
        let month = 30 * 24 * 60;
        // Up all month but a 43-minute outage.
        let history = [t(-10, Some(true)), t(1_000, Some(false)), t(1_043, Some(true))];
        let a = availability(&history, &[], 0, month * MIN);
        assert_eq!((a.total_minutes, a.outage_minutes), (43_200.0, 43.0));
        assert!((a.ratio.unwrap() - (43_200.0 - 43.0) / 43_200.0).abs() < 1e-12);
        assert_eq!(a.outages, [(1_000 * MIN, 1_043 * MIN)]);
    }

    #[test]
    fn maintenance_is_neither_time_nor_outage_and_unknown_is_not_guessed() {
        // Down from minute 100 to 160; maintenance 90–130; probe stopped 500–520.
        let history = [t(0, Some(true)), t(100, Some(false)), t(160, Some(true)), t(500, None), t(520, Some(true))];
        let a = availability(&history, &[(90 * MIN, 130 * MIN)], 0, 1_000 * MIN);
        assert_eq!(a.maintenance_minutes, 40.0);
        assert_eq!(a.outage_minutes, 30.0, "only 130–160 counts");
        assert_eq!(a.unknown_minutes, 20.0);
        assert_eq!(a.total_minutes, 1_000.0 - 40.0 - 20.0);
        assert_eq!(a.outages, [(130 * MIN, 160 * MIN)]);
        // Before the first result everything is unknown; nothing counted → no ratio.
        let none = availability(&[], &[], 0, 60 * MIN);
        assert_eq!((none.unknown_minutes, none.ratio), (60.0, None));
        assert!(none.maintenance_minutes.is_sign_positive(), "no \"-0\" minutes of maintenance");
        // A state from before the period carries in; an outage spanning the
        // end is clipped.
        let a = availability(&[t(-5, Some(false))], &[], 0, 10 * MIN);
        assert_eq!((a.outage_minutes, a.ratio), (10.0, Some(0.0)));
    }
}
