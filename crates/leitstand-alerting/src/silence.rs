//! Silences: a person's decision that alerts matching some labels are not
//! to be notified for a while ("we know, we are on it", "planned work").
//! A silence mutes; it does not resolve — the alert keeps its state and
//! history, and is notified as usual once the silence ends if it still
//! fires.
//!
//! Semantics are Alertmanager's: a silence is active from `starts_at`
//! (inclusive) to `ends_at` (exclusive), and expiring it early ends it from
//! that moment. Two rules are Leitstand's own: a silence belongs to a tenant
//! (then it only mutes that tenant's alerts, whatever its matchers say, so
//! a tenant cannot silence another's alerts) or to the platform, and a
//! silence must select something — one that would match every alert (no
//! matcher, or only matchers that also match an absent label) is refused,
//! because it would hide an outage nobody foresaw.
//!
//! Time is passed in; [`next_change`] tells the engine when the answer of
//! [`Silence::mutes`] can change next, so it can set a timer instead of
//! polling.

use jiff::{SignedDuration, Timestamp};
use uuid::Uuid;

use crate::labels::Labels;
use crate::matchers::{Matcher, matches_all, matches_empty, parse_matcher};

/// The longest a silence may last: a year (of 366 days, so "one year from
/// today" is always accepted). Longer is a configuration change, not a
/// silence.
pub const MAX_SILENCE: SignedDuration = SignedDuration::from_hours(366 * 24);

pub use leitstand_core::input::FieldError;

/// A silence.
#[derive(Debug, Clone)]
pub struct Silence {
    /// Identifier.
    pub id: Uuid,
    /// The tenant (slug) whose alerts it mutes; `None`: every alert, the
    /// platform's and all tenants' (only users bound to no tenant may
    /// create such silences; that is checked where silences are created).
    pub tenant: Option<String>,
    /// All must match. A silence without matchers mutes nothing.
    pub matchers: Vec<Matcher>,
    /// Start (inclusive).
    pub starts_at: Timestamp,
    /// End (exclusive).
    pub ends_at: Timestamp,
    /// Who created it.
    pub created_by: String,
    /// Why.
    pub comment: String,
    /// When it was expired early, if it was.
    pub expired_at: Option<Timestamp>,
}

/// Where a silence is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SilenceState {
    /// Starts later.
    Pending,
    /// Mutes matching alerts now.
    Active,
    /// Ended or expired early.
    Expired,
}

impl Silence {
    /// The state at `now`.
    pub fn state(&self, now: Timestamp) -> SilenceState {
        if self.expired_at.is_some_and(|at| now >= at) || now >= self.ends_at {
            SilenceState::Expired
        } else if now < self.starts_at {
            SilenceState::Pending
        } else {
            SilenceState::Active
        }
    }

    /// Whether it mutes an alert with `labels` belonging to `tenant_of_alert`
    /// (`None`: a platform alert) at `now`. A tenant's silence mutes only
    /// that tenant's alerts.
    pub fn mutes(&self, labels: &impl Labels, tenant_of_alert: Option<&str>, now: Timestamp) -> bool {
        if self.matchers.is_empty() || self.state(now) != SilenceState::Active {
            return false;
        }
        if let Some(tenant) = &self.tenant
            && tenant_of_alert != Some(tenant.as_str())
        {
            return false;
        }
        matches_all(&self.matchers, labels)
    }

    /// When it stops muting: its end, or its early expiry if sooner.
    pub fn effective_end(&self) -> Timestamp {
        self.expired_at.map_or(self.ends_at, |at| at.min(self.ends_at))
    }
}

/// Checks the fields of a new silence and returns its matchers, or every
/// problem found (each naming its field). A start in the past is accepted
/// (the silence is active at once).
pub fn validate_new_silence(
    matchers_text: &[String],
    starts_at: Timestamp,
    ends_at: Timestamp,
    comment: &str,
    now: Timestamp,
) -> Result<Vec<Matcher>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut matchers = Vec::with_capacity(matchers_text.len());
    for (i, text) in matchers_text.iter().enumerate() {
        match parse_matcher(text) {
            Ok(m) => matchers.push(m),
            Err(e) => errors.push(FieldError::new(format!("matchers[{i}]"), e.to_string())),
        }
    }
    if matchers_text.is_empty() {
        errors.push(FieldError::new("matchers", "at least one matcher is required"));
    } else if errors.is_empty() && matchers.iter().all(matches_empty) {
        errors.push(FieldError::new(
            "matchers",
            "would silence every alert: at least one matcher must require a non-empty value",
        ));
    }
    if ends_at <= starts_at {
        errors.push(FieldError::new("ends_at", "must be after starts_at"));
    } else if ends_at.duration_since(starts_at) > MAX_SILENCE {
        errors.push(FieldError::new("ends_at", "a silence lasts at most one year"));
    }
    if ends_at <= now {
        errors.push(FieldError::new("ends_at", "in the past"));
    }
    if comment.trim().is_empty() {
        errors.push(FieldError::new("comment", "required"));
    }
    if errors.is_empty() { Ok(matchers) } else { Err(errors) }
}

/// The silence muting an alert at `now`, if any; of several, the one that
/// ends last (the alert stays muted at least that long).
pub fn muting<'a>(
    silences: &'a [Silence],
    labels: &impl Labels,
    tenant: Option<&str>,
    now: Timestamp,
) -> Option<&'a Silence> {
    silences
        .iter()
        .filter(|s| s.mutes(labels, tenant, now))
        // `max_by_key` returns the last maximum; reversed, the first one.
        .rev()
        .max_by_key(|s| s.effective_end())
}

/// The earliest moment after `now` at which some silence starts, ends or
/// expires — when muting decisions must be looked at again.
pub fn next_change(silences: &[Silence], now: Timestamp) -> Option<Timestamp> {
    silences
        .iter()
        .filter(|s| s.state(now) != SilenceState::Expired)
        .flat_map(|s| [s.starts_at, s.effective_end()])
        .filter(|&t| t > now)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::LabelSet;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn set(pairs: &[(&str, &str)]) -> LabelSet {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn silence(tenant: Option<&str>, matchers: &[&str], from: &str, to: &str) -> Silence {
        Silence {
            id: Uuid::nil(),
            tenant: tenant.map(str::to_string),
            matchers: matchers.iter().map(|m| parse_matcher(m).unwrap()).collect(),
            starts_at: ts(from),
            ends_at: ts(to),
            created_by: "anna".into(),
            comment: "maintenance".into(),
            expired_at: None,
        }
    }

    fn texts(ms: &[&str]) -> Vec<String> {
        ms.iter().map(|m| m.to_string()).collect()
    }

    #[test]
    fn active_from_start_until_end_or_early_expiry() {
        let mut s = silence(None, &[r#"service="portal""#], "2026-12-01T10:00:00Z", "2026-12-01T12:00:00Z");
        assert_eq!(s.state(ts("2026-12-01T09:59:59Z")), SilenceState::Pending);
        assert_eq!(s.state(ts("2026-12-01T10:00:00Z")), SilenceState::Active);
        assert_eq!(s.state(ts("2026-12-01T11:59:59Z")), SilenceState::Active);
        assert_eq!(s.state(ts("2026-12-01T12:00:00Z")), SilenceState::Expired);
        s.expired_at = Some(ts("2026-12-01T11:00:00Z"));
        assert_eq!(s.state(ts("2026-12-01T10:59:59Z")), SilenceState::Active);
        assert_eq!(s.state(ts("2026-12-01T11:00:00Z")), SilenceState::Expired);
        assert_eq!(s.effective_end(), ts("2026-12-01T11:00:00Z"));
    }

    #[test]
    fn a_tenant_silence_mutes_only_that_tenants_alerts() {
        let now = ts("2026-12-01T11:00:00Z");
        let alert = set(&[("alertname", "ProbeDown"), ("service", "portal")]);
        let own = silence(Some("acme"), &[r#"service="portal""#], "2026-12-01T10:00:00Z", "2026-12-01T12:00:00Z");
        assert!(own.mutes(&alert, Some("acme"), now));
        assert!(!own.mutes(&alert, Some("globex"), now), "another tenant's alert");
        assert!(!own.mutes(&alert, None, now), "a platform alert");
        let platform = Silence { tenant: None, ..own.clone() };
        assert!(platform.mutes(&alert, Some("globex"), now));
        assert!(platform.mutes(&alert, None, now));
        assert!(!platform.mutes(&set(&[("service", "shop")]), None, now));
        assert!(!platform.mutes(&alert, None, ts("2026-12-01T12:00:00Z")), "ended");
        let empty = Silence { matchers: Vec::new(), ..platform };
        assert!(!empty.mutes(&alert, None, now), "a silence without matchers is invalid and mutes nothing");
    }

    #[test]
    fn muting_picks_the_silence_that_ends_last() {
        let now = ts("2026-12-01T11:00:00Z");
        let alert = set(&[("alertname", "ProbeDown"), ("service", "portal")]);
        let mut a = silence(None, &[r#"service="portal""#], "2026-12-01T10:00:00Z", "2026-12-01T12:00:00Z");
        a.id = Uuid::from_u128(1);
        let mut b = silence(None, &[r#"alertname="ProbeDown""#], "2026-12-01T10:00:00Z", "2026-12-01T14:00:00Z");
        b.id = Uuid::from_u128(2);
        let mut c = silence(None, &[r#"alertname="Other""#], "2026-12-01T10:00:00Z", "2026-12-01T20:00:00Z");
        c.id = Uuid::from_u128(3);
        let all = vec![a, b, c];
        assert_eq!(muting(&all, &alert, None, now).map(|s| s.id), Some(Uuid::from_u128(2)));
        assert_eq!(muting(&all, &set(&[("alertname", "Else")]), None, now).map(|s| s.id), None);
    }

    #[test]
    fn next_change_is_the_earliest_future_start_or_end() {
        let mut early = silence(None, &["a=b"], "2026-12-01T10:00:00Z", "2026-12-01T12:00:00Z");
        let later = silence(None, &["a=b"], "2026-12-01T13:00:00Z", "2026-12-01T15:00:00Z");
        let done = silence(None, &["a=b"], "2026-12-01T08:00:00Z", "2026-12-01T09:00:00Z");
        let all = vec![early.clone(), later.clone(), done];
        assert_eq!(next_change(&all, ts("2026-12-01T09:30:00Z")), Some(ts("2026-12-01T10:00:00Z")));
        assert_eq!(next_change(&all, ts("2026-12-01T10:00:00Z")), Some(ts("2026-12-01T12:00:00Z")));
        assert_eq!(next_change(&all, ts("2026-12-01T12:30:00Z")), Some(ts("2026-12-01T13:00:00Z")));
        assert_eq!(next_change(&all, ts("2026-12-01T15:00:00Z")), None);
        early.expired_at = Some(ts("2026-12-01T11:00:00Z"));
        assert_eq!(next_change(&[early, later], ts("2026-12-01T10:30:00Z")), Some(ts("2026-12-01T11:00:00Z")));
    }

    #[test]
    fn a_valid_new_silence() {
        let now = ts("2026-12-01T10:00:00Z");
        let ms = validate_new_silence(
            &texts(&[r#"alertname="ProbeDown""#, "service=~portal|shop"]),
            ts("2026-12-01T09:00:00Z"),
            ts("2026-12-01T12:00:00Z"),
            "Wartung / maintenance",
            now,
        )
        .unwrap();
        assert_eq!(ms.len(), 2);
        assert!(
            validate_new_silence(&texts(&["a=b"]), now, now.checked_add(MAX_SILENCE).unwrap(), "planned", now).is_ok()
        );
    }

    #[test]
    fn invalid_new_silences_name_every_problem() {
        let now = ts("2026-12-01T10:00:00Z");
        let fields = |ms: &[&str], from: &str, to: &str, comment: &str| -> Vec<String> {
            validate_new_silence(&texts(ms), ts(from), ts(to), comment, now)
                .unwrap_err()
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        let e = fields(&["a=b", "1x=y", r#"c=~"(""#], "2026-12-01T11:00:00Z", "2026-12-01T10:30:00Z", " ");
        assert_eq!(e.len(), 4, "{e:?}");
        assert!(e[0].starts_with("matchers[1]: column 1"), "{e:?}");
        assert!(e[1].starts_with("matchers[2]: column 4") && e[1].contains("invalid regex"), "{e:?}");
        assert_eq!(e[2..], ["ends_at: must be after starts_at", "comment: required"]);
        assert_eq!(
            fields(&[], "2026-12-01T09:00:00Z", "2026-12-01T09:30:00Z", "x"),
            ["matchers: at least one matcher is required", "ends_at: in the past"]
        );
        for every in [&[r#"a=~".*""#][..], &[r#"a!="x""#, r#"b="""#]] {
            let e = fields(every, "2026-12-01T10:00:00Z", "2026-12-01T11:00:00Z", "x");
            assert_eq!(e.len(), 1);
            assert!(e[0].starts_with("matchers: would silence every alert"), "{e:?}");
        }
        assert_eq!(
            fields(&["a=b"], "2026-12-01T10:00:00Z", "2027-12-03T10:00:00Z", "x"),
            ["ends_at: a silence lasts at most one year"]
        );
    }
}
