//! The embedded mode's short-term series store: every scraped, probed or
//! host sample, kept in memory for as long as the longest rule window needs
//! (Prometheus remains the long-term store where a team has one).
//!
//! A series is identified by its sorted label set, `__name__` included, as
//! in Prometheus. Points arrive in time order per series; an older point is
//! refused (as Prometheus refuses out-of-order samples) rather than
//! silently reordering history. Selection uses Prometheus's label matchers
//! with their exact semantics: regexes are fully anchored, and a matcher
//! for the empty string also matches series that lack the label.

use std::collections::{HashMap, VecDeque};

use regex::Regex;

/// A sorted label set, `__name__` included.
pub type Labels = Vec<(String, String)>;

/// The metric-name label.
pub const NAME: &str = "__name__";

/// Label matcher operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    Regex,
    /// `!~`
    NotRegex,
}

/// One label matcher.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// Label name.
    pub name: String,
    /// Operator.
    pub op: MatchOp,
    /// Value or pattern.
    pub value: String,
    regex: Option<Regex>,
}

/// Why a matcher cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("label matcher {name}{op}{value:?}: {reason}")]
pub struct MatcherError {
    /// Label name.
    pub name: String,
    /// Operator as written.
    pub op: &'static str,
    /// The pattern.
    pub value: String,
    /// Why.
    pub reason: String,
}

impl Matcher {
    /// A matcher; regexes are anchored at both ends, as in PromQL.
    pub fn new(name: &str, op: MatchOp, value: &str) -> Result<Self, MatcherError> {
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => {
                Some(Regex::new(&format!("^(?:{value})$")).map_err(|e| MatcherError {
                    name: name.to_string(),
                    op: if op == MatchOp::Regex { "=~" } else { "!~" },
                    value: value.to_string(),
                    // The regex crate's message ends with the one-line cause.
                    reason: e.to_string().lines().last().unwrap_or_default().trim_start_matches("error: ").to_string(),
                })?)
            }
            _ => None,
        };
        Ok(Self { name: name.to_string(), op, value: value.to_string(), regex })
    }

    /// Whether a label value (`""` if the label is absent) matches.
    pub fn matches(&self, value: &str) -> bool {
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => value == self.value,
            (MatchOp::NotEqual, _) => value != self.value,
            (MatchOp::Regex, Some(r)) => r.is_match(value),
            (MatchOp::NotRegex, Some(r)) => !r.is_match(value),
            _ => false,
        }
    }

    fn matches_labels(&self, labels: &Labels) -> bool {
        let value = labels.iter().find(|(n, _)| *n == self.name).map_or("", |(_, v)| v.as_str());
        self.matches(value)
    }
}

/// Why a point was not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// Older than the series' newest point.
    #[error("out of order: {at_ms} ms is before the series' last point at {last_ms} ms")]
    OutOfOrder {
        /// The point's time.
        at_ms: i64,
        /// The newest stored time.
        last_ms: i64,
    },
    /// Too many series.
    #[error("the series limit of {0} is reached")]
    TooManySeries(usize),
}

/// Points of one series.
#[derive(Debug, Default)]
struct Series {
    points: VecDeque<(i64, f64)>,
    /// How long its last point stands for the series (a check every 24 h
    /// says the state for 24 h); 0: the usual lookback.
    held_ms: i64,
}

/// The in-memory store. Series are kept by metric name first, so a
/// selector with a name (every rule's) looks only at that metric's series.
#[derive(Debug)]
pub struct SeriesStore {
    by_name: HashMap<String, HashMap<Labels, Series>>,
    count: usize,
    retention_ms: i64,
    max_series: usize,
}

fn name_of(labels: &Labels) -> &str {
    labels.iter().find(|(k, _)| k == NAME).map_or("", |(_, v)| v.as_str())
}

/// A selected series: its labels and its points in the range.
#[derive(Debug, Clone, PartialEq)]
pub struct Selected {
    /// Labels.
    pub labels: Labels,
    /// `(time ms, value)` in time order.
    pub points: Vec<(i64, f64)>,
}

/// Sorts labels by name and drops empty values (an empty label is the same
/// as no label in Prometheus).
pub fn normalise(mut labels: Labels) -> Labels {
    labels.retain(|(_, v)| !v.is_empty());
    labels.sort();
    labels
}

/// The series labels of a scraped sample: its name, its labels, and the
/// target's labels (`job`, `instance`, tenant, service). A sample label that
/// collides with a target label is kept as `exported_<name>`, as Prometheus
/// does with `honor_labels: false`, so a target cannot claim another
/// tenant or job.
pub fn scraped_labels(sample: &crate::exposition::Sample, target: &[(String, String)]) -> Labels {
    let mut labels: Labels = Vec::with_capacity(sample.labels.len() + target.len() + 1);
    labels.push((NAME.to_string(), sample.name.clone()));
    for (name, value) in &sample.labels {
        if target.iter().any(|(t, _)| t == name) {
            labels.push((format!("exported_{name}"), value.clone()));
        } else {
            labels.push((name.clone(), value.clone()));
        }
    }
    labels.extend(target.iter().cloned());
    normalise(labels)
}

impl SeriesStore {
    /// A store keeping `retention_ms` of history and at most `max_series`.
    pub fn new(retention_ms: i64, max_series: usize) -> Self {
        Self { by_name: HashMap::new(), count: 0, retention_ms, max_series }
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there is no series.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends one point (labels are normalised).
    pub fn append(&mut self, labels: Labels, at_ms: i64, value: f64) -> Result<(), AppendError> {
        self.append_held(labels, at_ms, value, 0)
    }

    /// Appends one point that stands for the series for `held_ms` — longer
    /// than the 5-minute lookback when the series is measured more rarely
    /// (a daily certificate check): instant selectors see it, and pruning
    /// keeps it, until then.
    pub fn append_held(&mut self, labels: Labels, at_ms: i64, value: f64, held_ms: i64) -> Result<(), AppendError> {
        let labels = normalise(labels);
        let (limit, count) = (self.max_series, self.count);
        let family = match self.by_name.get_mut(name_of(&labels)) {
            Some(f) => f,
            None => self.by_name.entry(name_of(&labels).to_string()).or_default(),
        };
        let series = match family.get_mut(&labels) {
            Some(s) => s,
            None if count >= limit => return Err(AppendError::TooManySeries(limit)),
            None => {
                self.count += 1;
                family.entry(labels).or_default()
            }
        };
        if let Some(&(last_ms, _)) = series.points.back() {
            if at_ms < last_ms {
                return Err(AppendError::OutOfOrder { at_ms, last_ms });
            }
            if at_ms == last_ms {
                // The same scrape seen twice: the newer value wins.
                series.points.pop_back();
            }
        }
        series.points.push_back((at_ms, value));
        series.held_ms = held_ms;
        Ok(())
    }

    /// Whether any series has this metric name.
    pub fn has_metric(&self, name: &str) -> bool {
        self.by_name.get(name).is_some_and(|f| !f.is_empty())
    }

    /// Drops points older than the retention — but a series' last point
    /// while it is still held — and series left empty.
    pub fn prune(&mut self, now_ms: i64) {
        let oldest = now_ms - self.retention_ms;
        for family in self.by_name.values_mut() {
            family.retain(|_, s| {
                let last_held = s.points.back().is_some_and(|&(t, _)| t >= now_ms - s.held_ms);
                while s.points.front().is_some_and(|&(t, _)| t < oldest) && !(last_held && s.points.len() == 1) {
                    s.points.pop_front();
                }
                !s.points.is_empty()
            });
        }
        self.by_name.retain(|_, f| !f.is_empty());
        self.count = self.by_name.values().map(HashMap::len).sum();
    }

    /// The latest point at or before `at_ms` of each series matching all
    /// `matchers` that is no older than `lookback_ms` — or than the series'
    /// hold, if longer — sorted by labels: what an instant selector sees.
    pub fn latest(&self, matchers: &[Matcher], at_ms: i64, lookback_ms: i64) -> Vec<(Labels, i64, f64)> {
        let mut out: Vec<(Labels, i64, f64)> = self
            .matching(matchers)
            .filter_map(|(labels, s)| {
                let end = s.points.partition_point(|&(t, _)| t <= at_ms);
                let &(t, v) = s.points.get(end.checked_sub(1)?)?;
                (t >= at_ms - lookback_ms.max(s.held_ms)).then(|| (labels.clone(), t, v))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The series matching all `matchers`.
    fn matching<'a>(&'a self, matchers: &'a [Matcher]) -> impl Iterator<Item = (&'a Labels, &'a Series)> + 'a {
        let named = matchers.iter().find(|m| m.name == NAME && m.op == MatchOp::Equal);
        let families: Vec<&HashMap<Labels, Series>> = match named {
            Some(m) => self.by_name.get(&m.value).into_iter().collect(),
            None => self.by_name.values().collect(),
        };
        families
            .into_iter()
            .flat_map(|f| f.iter())
            .filter(|(labels, _)| matchers.iter().all(|m| m.matches_labels(labels)))
    }

    /// Series matching all `matchers`, with their points in `from_ms..=to_ms`
    /// (series without points there are left out), sorted by labels.
    pub fn select(&self, matchers: &[Matcher], from_ms: i64, to_ms: i64) -> Vec<Selected> {
        let mut out: Vec<Selected> = self
            .matching(matchers)
            .filter_map(|(labels, s)| {
                let start = s.points.partition_point(|&(t, _)| t < from_ms);
                let points: Vec<(i64, f64)> =
                    s.points.range(start..).take_while(|&&(t, _)| t <= to_ms).copied().collect();
                (!points.is_empty()).then(|| Selected { labels: labels.clone(), points })
            })
            .collect();
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn store() -> SeriesStore {
        let mut s = SeriesStore::new(60_000, 100);
        for (code, path) in [("200", "/a"), ("500", "/a"), ("503", "/b")] {
            for t in 0..5 {
                let l = labels(&[(NAME, "http_requests_total"), ("code", code), ("path", path)]);
                s.append(l, t * 15_000, (t * 10) as f64).unwrap();
            }
        }
        s.append(labels(&[(NAME, "up"), ("job", "node")]), 0, 1.0).unwrap();
        s
    }

    fn names(sel: &[Selected], label: &str) -> Vec<String> {
        sel.iter().map(|s| s.labels.iter().find(|(n, _)| n == label).map_or("", |(_, v)| v).to_string()).collect()
    }

    #[test]
    fn matchers_follow_promql() {
        let s = store();
        let name = Matcher::new(NAME, MatchOp::Equal, "http_requests_total").unwrap();
        let all = s.select(std::slice::from_ref(&name), 0, 60_000);
        assert_eq!(all.len(), 3);
        let five = Matcher::new("code", MatchOp::Regex, "5..").unwrap();
        assert_eq!(names(&s.select(&[name.clone(), five], 0, 60_000), "code"), ["500", "503"]);
        // Anchored: "5" alone does not match "500".
        let partial = Matcher::new("code", MatchOp::Regex, "5").unwrap();
        assert!(s.select(&[name.clone(), partial], 0, 60_000).is_empty());
        let not_a = Matcher::new("path", MatchOp::NotEqual, "/a").unwrap();
        assert_eq!(names(&s.select(&[name.clone(), not_a], 0, 60_000), "code"), ["503"]);
        let not_5xx = Matcher::new("code", MatchOp::NotRegex, "5.*").unwrap();
        assert_eq!(names(&s.select(&[name, not_5xx], 0, 60_000), "code"), ["200"]);
        // `job=""` matches series without a job label.
        let no_job = Matcher::new("job", MatchOp::Equal, "").unwrap();
        assert_eq!(s.select(&[no_job], 0, 60_000).len(), 3);
        let err = Matcher::new("code", MatchOp::Regex, "5(").unwrap_err();
        assert!(err.to_string().starts_with("label matcher code=~\"5(\": "), "{err}");
    }

    #[test]
    fn a_target_cannot_claim_another_tenant() {
        let sample = crate::exposition::Sample {
            name: "queue_depth".into(),
            labels: labels(&[("tenant", "bank-b"), ("queue", "orders")]),
            value: 3.0,
            timestamp_ms: None,
        };
        let target = labels(&[("job", "portal"), ("tenant", "bank-a")]);
        assert_eq!(
            scraped_labels(&sample, &target),
            labels(&[
                (NAME, "queue_depth"),
                ("exported_tenant", "bank-b"),
                ("job", "portal"),
                ("queue", "orders"),
                ("tenant", "bank-a")
            ])
        );
    }

    #[test]
    fn ranges_order_retention_and_limits() {
        let mut s = store();
        let name = Matcher::new(NAME, MatchOp::Equal, "http_requests_total").unwrap();
        let sel = s.select(std::slice::from_ref(&name), 15_000, 45_000);
        assert_eq!(sel[0].points, [(15_000, 10.0), (30_000, 20.0), (45_000, 30.0)]);
        let l = labels(&[(NAME, "up"), ("job", "node")]);
        assert_eq!(s.append(l.clone(), -1, 0.0), Err(AppendError::OutOfOrder { at_ms: -1, last_ms: 0 }));
        s.append(l, 0, 0.0).unwrap();
        let up = Matcher::new(NAME, MatchOp::Equal, "up").unwrap();
        assert_eq!(s.select(std::slice::from_ref(&up), 0, 0)[0].points, [(0, 0.0)], "same time: newer value wins");
        s.prune(70_000);
        assert!(s.select(std::slice::from_ref(&up), 0, 100_000).is_empty(), "older than 60 s is gone");
        assert_eq!(s.len(), 3);
        let mut tiny = SeriesStore::new(1_000, 1);
        tiny.append(labels(&[(NAME, "a")]), 0, 1.0).unwrap();
        assert_eq!(tiny.append(labels(&[(NAME, "b")]), 0, 1.0), Err(AppendError::TooManySeries(1)));
        // Empty label values are no labels; order does not matter.
        tiny.append(labels(&[("x", ""), (NAME, "a")]), 1, 2.0).unwrap();
        assert_eq!(tiny.len(), 1);
    }

    #[test]
    fn a_held_point_stands_for_its_series_past_lookback_and_retention() {
        // Issue 17, item 2: a daily check's result went stale after 5 min.
        let day = 24 * 3_600_000;
        let mut s = SeriesStore::new(2 * 3_600_000, 10);
        let probe = labels(&[(NAME, "probe_success"), ("probe_id", "cert")]);
        s.append_held(probe.clone(), 0, 0.0, day + 10_000).unwrap();
        s.append(labels(&[(NAME, "probe_success"), ("probe_id", "web")]), 0, 1.0).unwrap();
        let name = Matcher::new(NAME, MatchOp::Equal, "probe_success").unwrap();
        let five_min = 5 * 60_000;
        let seen = |s: &SeriesStore, at: i64| -> Vec<String> {
            s.latest(std::slice::from_ref(&name), at, five_min).iter().map(|(l, _, _)| l[1].1.clone()).collect()
        };
        assert_eq!(seen(&s, 60_000), ["cert", "web"]);
        assert_eq!(seen(&s, 6 * 60_000), ["cert"], "the 5-minute lookback ends the unheld one only");
        s.prune(3 * 3_600_000);
        assert_eq!(seen(&s, 3 * 3_600_000), ["cert"], "pruning keeps the held point");
        assert_eq!(s.len(), 1);
        assert!(seen(&s, day + 20_000).is_empty(), "until its hold ends");
        s.prune(day + 20_000);
        assert!(s.is_empty());
    }
}
