//! Instant evaluation of the PromQL subset over the series store, with
//! Prometheus's semantics where users can tell the difference: the 5-minute
//! lookback of instant selectors, `rate`/`increase` extrapolated to the
//! window edges with counter resets corrected, `histogram_quantile`'s linear
//! interpolation within a bucket, one-to-one vector matching on all labels
//! but the name (or `on`/`ignoring`), the name dropped by arithmetic and
//! kept by filtering comparisons.

use std::collections::BTreeMap;

use crate::promql::{Aggregation, BinaryOp, Expr, Function, Selector};
use crate::series::{Labels, MatchOp, NAME, SeriesStore};

/// How far back an instant selector looks for the latest point.
pub const LOOKBACK_MS: i64 = 5 * 60_000;

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    /// Labels.
    pub labels: Labels,
    /// Value.
    pub value: f64,
}

/// An evaluation result.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A number.
    Scalar(f64),
    /// An instant vector.
    Vector(Vec<Element>),
}

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// Two elements on the matching side have the same labels.
    #[error("many-to-one matching: several series with the matching labels {0} on {1}")]
    ManyToOne(String, &'static str),
    /// An aggregation produced two series with the same labels.
    #[error("vector cannot contain metrics with the same labels: {0}")]
    Duplicate(String),
    /// An expression the parser accepts in a place evaluation cannot use.
    #[error("cannot evaluate: {0}")]
    Unsupported(&'static str),
}

fn show(labels: &Labels) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

fn without_name(labels: &Labels) -> Labels {
    labels.iter().filter(|(k, _)| k != NAME).cloned().collect()
}

/// Evaluates `expr` at `at_ms`.
pub fn eval(expr: &Expr, store: &SeriesStore, at_ms: i64) -> Result<Value, EvalError> {
    Ok(match expr {
        Expr::Number(n) => Value::Scalar(*n),
        Expr::Negate(inner) => match eval(inner, store, at_ms)? {
            Value::Scalar(n) => Value::Scalar(-n),
            Value::Vector(v) => Value::Vector(
                v.into_iter().map(|e| Element { labels: without_name(&e.labels), value: -e.value }).collect(),
            ),
        },
        Expr::Selector(sel) if sel.range_ms.is_none() => Value::Vector(
            store
                .latest(&sel.matchers, at_ms, LOOKBACK_MS)
                .into_iter()
                .map(|(labels, _, value)| Element { labels, value })
                .collect(),
        ),
        Expr::Selector(_) => return Err(EvalError::Unsupported("a range vector as a result")),
        Expr::Call { func, args } => call(*func, args, store, at_ms)?,
        Expr::Aggregate { op, grouping, param, expr } => {
            let Value::Vector(v) = eval(expr, store, at_ms)? else {
                return Err(EvalError::Unsupported("aggregating a scalar"));
            };
            let param = match param {
                Some(p) => match eval(p, store, at_ms)? {
                    Value::Scalar(n) => Some(n),
                    Value::Vector(_) => return Err(EvalError::Unsupported("a vector as an aggregation parameter")),
                },
                None => None,
            };
            Value::Vector(aggregate(*op, grouping.as_ref(), param, v))
        }
        Expr::Binary { op, lhs, rhs, return_bool, matching } => {
            let l = eval(lhs, store, at_ms)?;
            let r = eval(rhs, store, at_ms)?;
            binary(*op, l, r, *return_bool, matching.as_ref())?
        }
    })
}

/// Points `(time ms, value)` of one series.
type Points = [(i64, f64)];

/// A range function: the points in the window and the window's length.
type RangeFn<'a> = &'a dyn Fn(&Points, i64) -> Option<f64>;

/// Applies `f` to each series' points in `(at - range, at]` (Prometheus's
/// ranges are left-open); the name is dropped.
fn over_range(sel: &Selector, store: &SeriesStore, at_ms: i64, f: RangeFn<'_>) -> Vec<Element> {
    let range = sel.range_ms.unwrap_or(LOOKBACK_MS);
    store
        .select(&sel.matchers, at_ms - range + 1, at_ms)
        .into_iter()
        .filter_map(|s| f(&s.points, range).map(|value| Element { labels: without_name(&s.labels), value }))
        .collect()
}

/// `rate`, `increase`, `delta`: the change over the window, extrapolated
/// to its edges as Prometheus does (`extrapolatedRate`).
fn extrapolated(points: &[(i64, f64)], at_ms: i64, range_ms: i64, counter: bool, per_second: bool) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (first, last) = (points[0], points[points.len() - 1]);
    let mut change = last.1 - first.1;
    if counter {
        for pair in points.windows(2) {
            if pair[1].1 < pair[0].1 {
                change += pair[0].1;
            }
        }
    }
    // Durations from integer milliseconds, in Prometheus's order of
    // operations, so the floating-point result is the same to the last bit.
    let range_start = at_ms - range_ms;
    let mut to_start = (first.0 - range_start) as f64 / 1000.0;
    let to_end = (at_ms - last.0) as f64 / 1000.0;
    let sampled = (last.0 - first.0) as f64 / 1000.0;
    let average = sampled / (points.len() - 1) as f64;
    if counter && change > 0.0 && first.1 >= 0.0 {
        let to_zero = sampled * (first.1 / change);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = average * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold { to_start } else { average / 2.0 };
    interval += if to_end < threshold { to_end } else { average / 2.0 };
    let mut factor = interval / sampled;
    if per_second {
        factor /= range_ms as f64 / 1000.0;
    }
    Some(change * factor)
}

fn scalar_arg(arg: &Expr, store: &SeriesStore, at_ms: i64) -> Result<f64, EvalError> {
    match eval(arg, store, at_ms)? {
        Value::Scalar(n) => Ok(n),
        Value::Vector(_) => Err(EvalError::Unsupported("a vector where a scalar is expected")),
    }
}

fn vector_arg(arg: &Expr, store: &SeriesStore, at_ms: i64) -> Result<Vec<Element>, EvalError> {
    match eval(arg, store, at_ms)? {
        Value::Vector(v) => Ok(v),
        Value::Scalar(_) => Err(EvalError::Unsupported("a scalar where a vector is expected")),
    }
}

fn call(func: Function, args: &[Expr], store: &SeriesStore, at_ms: i64) -> Result<Value, EvalError> {
    use Function::*;
    let over_range = |f: RangeFn<'_>| -> Result<Value, EvalError> {
        let Some(Expr::Selector(sel)) = args.first() else {
            return Err(EvalError::Unsupported("a range function needs a selector with a range"));
        };
        Ok(Value::Vector(over_range(sel, store, at_ms, f)))
    };
    let values = |points: &Points| points.iter().map(|p| p.1).collect::<Vec<f64>>();
    Ok(match func {
        Rate => over_range(&|p, r| extrapolated(p, at_ms, r, true, true))?,
        Increase => over_range(&|p, r| extrapolated(p, at_ms, r, true, false))?,
        Delta => over_range(&|p, r| extrapolated(p, at_ms, r, false, false))?,
        Irate => over_range(&|p, _| {
            let [.., a, b] = p else { return None };
            let change = if b.1 < a.1 { b.1 } else { b.1 - a.1 };
            let seconds = (b.0 - a.0) as f64 / 1000.0;
            (seconds > 0.0).then(|| change / seconds)
        })?,
        AvgOverTime => over_range(&|p, _| Some(incremental_mean(&values(p))))?,
        MinOverTime => over_range(&|p, _| values(p).into_iter().reduce(f64::min))?,
        MaxOverTime => over_range(&|p, _| values(p).into_iter().reduce(f64::max))?,
        SumOverTime => over_range(&|p, _| Some(values(p).iter().sum()))?,
        CountOverTime => over_range(&|p, _| Some(p.len() as f64))?,
        HistogramQuantile => {
            let q = scalar_arg(&args[0], store, at_ms)?;
            Value::Vector(histogram_quantile(q, vector_arg(&args[1], store, at_ms)?))
        }
        Abs => map(vector_arg(&args[0], store, at_ms)?, f64::abs),
        ClampMin => {
            let min = scalar_arg(&args[1], store, at_ms)?;
            map(vector_arg(&args[0], store, at_ms)?, |v| v.max(min))
        }
        ClampMax => {
            let max = scalar_arg(&args[1], store, at_ms)?;
            map(vector_arg(&args[0], store, at_ms)?, |v| v.min(max))
        }
        Timestamp => {
            let Some(Expr::Selector(sel)) = args.first() else {
                return Ok(map(vector_arg(&args[0], store, at_ms)?, |_| at_ms as f64 / 1000.0));
            };
            Value::Vector(
                store
                    .latest(&sel.matchers, at_ms, LOOKBACK_MS)
                    .into_iter()
                    .map(|(labels, t, _)| Element { labels: without_name(&labels), value: t as f64 / 1000.0 })
                    .collect(),
            )
        }
        Absent => {
            if !vector_arg(&args[0], store, at_ms)?.is_empty() {
                return Ok(Value::Vector(Vec::new()));
            }
            // Labels of the equality matchers, as Prometheus does.
            let labels = match &args[0] {
                Expr::Selector(sel) => sel
                    .matchers
                    .iter()
                    .filter(|m| m.op == MatchOp::Equal && m.name != NAME)
                    .map(|m| (m.name.clone(), m.value.clone()))
                    .collect(),
                _ => Vec::new(),
            };
            Value::Vector(vec![Element { labels, value: 1.0 }])
        }
        Time => Value::Scalar(at_ms as f64 / 1000.0),
        Vector => Value::Vector(vec![Element { labels: Vec::new(), value: scalar_arg(&args[0], store, at_ms)? }]),
    })
}

/// Prometheus's `avg_over_time`: an incremental mean with Kahan
/// compensation (robust against overflow, and bit-for-bit what Prometheus
/// reports).
fn incremental_mean(values: &[f64]) -> f64 {
    let (mut mean, mut c, mut count) = (0.0_f64, 0.0_f64, 0.0_f64);
    for &v in values {
        count += 1.0;
        if mean.is_infinite() {
            if v.is_infinite() && (mean > 0.0) == (v > 0.0) {
                continue;
            }
            if !v.is_infinite() && !v.is_nan() {
                continue;
            }
        }
        let inc = v / count - mean / count;
        let t = mean + inc;
        c += if mean.abs() >= inc.abs() { (mean - t) + inc } else { (inc - t) + mean };
        mean = t;
    }
    if mean.is_infinite() { mean } else { mean + c }
}

fn map(v: Vec<Element>, f: impl Fn(f64) -> f64) -> Value {
    Value::Vector(v.into_iter().map(|e| Element { labels: without_name(&e.labels), value: f(e.value) }).collect())
}

/// Prometheus's `bucketQuantile`: buckets by `le`, cumulative counts,
/// linear interpolation inside the bucket that holds the rank.
fn histogram_quantile(q: f64, v: Vec<Element>) -> Vec<Element> {
    let mut groups: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
    for e in v {
        let Some(le) = e.labels.iter().find(|(k, _)| k == "le").and_then(|(_, v)| parse_le(v)) else { continue };
        let key: Labels = e.labels.iter().filter(|(k, _)| k != "le" && k != NAME).cloned().collect();
        groups.entry(key).or_default().push((le, e.value));
    }
    groups
        .into_iter()
        .filter_map(|(labels, mut buckets)| {
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            Some(Element { labels, value: bucket_quantile(q, &buckets)? })
        })
        .collect()
}

fn parse_le(v: &str) -> Option<f64> {
    match v {
        "+Inf" | "Inf" | "inf" => Some(f64::INFINITY),
        v => v.parse().ok(),
    }
}

fn bucket_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    if q.is_nan() {
        return Some(f64::NAN);
    }
    if q < 0.0 {
        return Some(f64::NEG_INFINITY);
    }
    if q > 1.0 {
        return Some(f64::INFINITY);
    }
    let &(last_le, total) = buckets.last()?;
    if last_le != f64::INFINITY || buckets.len() < 2 || total == 0.0 {
        return if total == 0.0 && last_le == f64::INFINITY { Some(f64::NAN) } else { None };
    }
    let rank = q * total;
    let index = buckets.iter().position(|&(_, count)| count >= rank).unwrap_or(buckets.len() - 1);
    if index == buckets.len() - 1 {
        return Some(buckets[buckets.len() - 2].0);
    }
    if index == 0 && buckets[0].0 <= 0.0 {
        return Some(buckets[0].0);
    }
    let (start, below) = if index == 0 { (0.0, 0.0) } else { (buckets[index - 1].0, buckets[index - 1].1) };
    let (end, count) = (buckets[index].0, buckets[index].1 - below);
    Some(start + (end - start) * ((rank - below) / count))
}

fn group_key(labels: &Labels, grouping: Option<&(bool, Vec<String>)>) -> Labels {
    match grouping {
        Some((true, by)) => labels.iter().filter(|(k, _)| by.contains(k)).cloned().collect(),
        Some((false, without)) => labels.iter().filter(|(k, _)| k != NAME && !without.contains(k)).cloned().collect(),
        None => Vec::new(),
    }
}

fn aggregate(
    op: Aggregation,
    grouping: Option<&(bool, Vec<String>)>,
    param: Option<f64>,
    v: Vec<Element>,
) -> Vec<Element> {
    let mut groups: BTreeMap<Labels, Vec<Element>> = BTreeMap::new();
    for e in v {
        groups.entry(group_key(&e.labels, grouping)).or_default().push(e);
    }
    let mut out = Vec::new();
    for (labels, mut members) in groups {
        let values: Vec<f64> = members.iter().map(|e| e.value).collect();
        let single = |value: f64| vec![Element { labels: labels.clone(), value }];
        out.extend(match op {
            Aggregation::Sum => single(values.iter().sum()),
            Aggregation::Avg => single(values.iter().sum::<f64>() / values.len() as f64),
            Aggregation::Min => single(values.iter().copied().fold(f64::INFINITY, f64::min)),
            Aggregation::Max => single(values.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
            Aggregation::Count => single(values.len() as f64),
            Aggregation::Quantile => {
                let mut sorted = values;
                sorted.sort_by(f64::total_cmp);
                single(quantile(param.unwrap_or(f64::NAN), &sorted))
            }
            Aggregation::Topk | Aggregation::Bottomk => {
                let k = param.unwrap_or(0.0).max(0.0) as usize;
                members.sort_by(|a, b| {
                    if op == Aggregation::Topk { b.value.total_cmp(&a.value) } else { a.value.total_cmp(&b.value) }
                });
                members.truncate(k);
                members
            }
        });
    }
    out
}

/// The φ-quantile of sorted values with linear interpolation (PromQL's
/// `quantile`).
fn quantile(q: f64, sorted: &[f64]) -> f64 {
    if sorted.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let rank = q * (sorted.len() - 1) as f64;
    let (lower, upper) = (rank.floor() as usize, rank.ceil() as usize);
    let weight = rank - rank.floor();
    sorted[lower] * (1.0 - weight) + sorted[upper] * weight
}

fn apply(op: BinaryOp, l: f64, r: f64) -> (f64, bool) {
    let cmp = |b: bool| (if b { 1.0 } else { 0.0 }, b);
    match op {
        BinaryOp::Add => (l + r, true),
        BinaryOp::Sub => (l - r, true),
        BinaryOp::Mul => (l * r, true),
        BinaryOp::Div => (l / r, true),
        BinaryOp::Mod => (l % r, true),
        BinaryOp::Pow => (l.powf(r), true),
        BinaryOp::Eq => cmp(l == r),
        BinaryOp::Ne => cmp(l != r),
        BinaryOp::Lt => cmp(l < r),
        BinaryOp::Le => cmp(l <= r),
        BinaryOp::Gt => cmp(l > r),
        BinaryOp::Ge => cmp(l >= r),
        BinaryOp::And | BinaryOp::Or | BinaryOp::Unless => (f64::NAN, false),
    }
}

fn match_key(labels: &Labels, matching: Option<&(bool, Vec<String>)>) -> Labels {
    match matching {
        Some((true, on)) => labels.iter().filter(|(k, _)| on.contains(k)).cloned().collect(),
        Some((false, ignoring)) => labels.iter().filter(|(k, _)| k != NAME && !ignoring.contains(k)).cloned().collect(),
        None => without_name(labels),
    }
}

fn binary(
    op: BinaryOp,
    l: Value,
    r: Value,
    return_bool: bool,
    matching: Option<&(bool, Vec<String>)>,
) -> Result<Value, EvalError> {
    // The value an element keeps, or None if a comparison filters it out.
    let result = |lv: f64, rv: f64, kept: f64| -> Option<f64> {
        let (value, ok) = apply(op, lv, rv);
        if !op.is_comparison() || return_bool { Some(value) } else { ok.then_some(kept) }
    };
    let name_kept = op.is_comparison() && !return_bool;
    let relabel = |labels: &Labels| if name_kept { labels.clone() } else { without_name(labels) };
    Ok(match (l, r) {
        (Value::Scalar(a), Value::Scalar(b)) => Value::Scalar(apply(op, a, b).0),
        (Value::Vector(v), Value::Scalar(s)) => Value::Vector(
            v.into_iter()
                .filter_map(|e| result(e.value, s, e.value).map(|value| Element { labels: relabel(&e.labels), value }))
                .collect(),
        ),
        (Value::Scalar(s), Value::Vector(v)) => Value::Vector(
            v.into_iter()
                .filter_map(|e| result(s, e.value, e.value).map(|value| Element { labels: relabel(&e.labels), value }))
                .collect(),
        ),
        (Value::Vector(lv), Value::Vector(rv)) => {
            let mut right: BTreeMap<Labels, Element> = BTreeMap::new();
            for e in rv {
                let key = match_key(&e.labels, matching);
                if right.insert(key.clone(), e).is_some()
                    && !matches!(op, BinaryOp::And | BinaryOp::Or | BinaryOp::Unless)
                {
                    return Err(EvalError::ManyToOne(show(&key), "the right-hand side"));
                }
            }
            let keys: Vec<Labels> = lv.iter().map(|e| match_key(&e.labels, matching)).collect();
            match op {
                BinaryOp::And => Value::Vector(
                    lv.into_iter().zip(&keys).filter(|(_, k)| right.contains_key(*k)).map(|(e, _)| e).collect(),
                ),
                BinaryOp::Unless => Value::Vector(
                    lv.into_iter().zip(&keys).filter(|(_, k)| !right.contains_key(*k)).map(|(e, _)| e).collect(),
                ),
                BinaryOp::Or => {
                    let left: std::collections::BTreeSet<&Labels> = keys.iter().collect();
                    let mut out = lv.clone();
                    out.extend(right.into_iter().filter(|(k, _)| !left.contains(k)).map(|(_, e)| e));
                    Value::Vector(out)
                }
                _ => {
                    let mut seen: std::collections::BTreeSet<&Labels> = std::collections::BTreeSet::new();
                    let mut out = Vec::new();
                    for (e, key) in lv.iter().zip(&keys) {
                        let Some(r) = right.get(key) else { continue };
                        if !seen.insert(key) {
                            return Err(EvalError::ManyToOne(show(key), "the left-hand side"));
                        }
                        if let Some(value) = result(e.value, r.value, e.value) {
                            // As Prometheus: `on` keeps only the matching labels,
                            // `ignoring` drops the ignored ones — comparisons too.
                            let labels = match matching {
                                Some((true, _)) => key.clone(),
                                Some((false, ignoring)) => {
                                    relabel(&e.labels).into_iter().filter(|(k, _)| !ignoring.contains(k)).collect()
                                }
                                None => relabel(&e.labels),
                            };
                            out.push(Element { labels, value });
                        }
                    }
                    Value::Vector(out)
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::promql::parse;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        crate::series::normalise(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    fn run(store: &SeriesStore, expr: &str, at_ms: i64) -> Value {
        eval(&parse(expr).unwrap().0, store, at_ms).unwrap()
    }

    fn vector(v: Value) -> Vec<(Labels, f64)> {
        let Value::Vector(v) = v else { panic!("not a vector: {v:?}") };
        let mut out: Vec<(Labels, f64)> = v.into_iter().map(|e| (e.labels, e.value)).collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// A counter rising 1 per second, sampled every 15 s, and one with a reset.
    fn counters() -> SeriesStore {
        let mut s = SeriesStore::new(3_600_000, 100);
        for i in 0..=40 {
            let t = i * 15_000;
            s.append(l(&[(NAME, "req_total"), ("code", "200"), ("svc", "a")]), t, (i * 15) as f64).unwrap();
            let reset = if i < 20 { i * 15 } else { (i - 20) * 15 };
            s.append(l(&[(NAME, "req_total"), ("code", "500"), ("svc", "a")]), t, reset as f64).unwrap();
        }
        s
    }

    #[test]
    fn rate_and_increase_extrapolate_like_prometheus() {
        let s = counters();
        let at = 600_000;
        let rates = vector(run(&s, "rate(req_total[5m])", at));
        for (_, v) in &rates {
            assert!((v - 1.0).abs() < 1e-9, "{rates:?}");
        }
        assert!(rates.iter().all(|(labels, _)| !labels.iter().any(|(k, _)| k == NAME)), "rate drops the name");
        // Window (300 s, 600 s]: 20 samples from 315 s to 600 s, 285 s apart;
        // the 15 s gap to the window start is under 1.1 sample intervals, so
        // the change is extrapolated to it: 300 s × 1/s.
        let inc = vector(run(&s, "increase(req_total{code=\"200\"}[5m])", at));
        assert!((inc[0].1 - 300.0).abs() < 1e-9, "{inc:?}");
        let irate = vector(run(&s, "irate(req_total[1m])", at));
        assert!(irate.iter().all(|(_, v)| (v - 1.0).abs() < 1e-9), "{irate:?}");
    }

    #[test]
    fn ratios_comparisons_and_aggregation() {
        let s = counters();
        let at = 600_000;
        let expr = "sum by (svc) (rate(req_total{code=~\"5..\"}[5m])) / sum by (svc) (rate(req_total[5m])) > 0.4";
        let ratio = vector(run(&s, expr, at));
        assert_eq!(ratio.len(), 1);
        assert!((ratio[0].1 - 0.5).abs() < 1e-9 && ratio[0].0 == l(&[("svc", "a")]), "{ratio:?}");
        assert!(vector(run(&s, &expr.replace("0.4", "0.6"), at)).is_empty(), "the comparison filters");
        let flags = vector(run(&s, "rate(req_total[5m]) > bool 2", at));
        assert_eq!(flags.iter().map(|e| e.1).collect::<Vec<_>>(), [0.0, 0.0]);
        // Filtering keeps the name; arithmetic drops it.
        let kept = vector(run(&s, "req_total > 100", at));
        assert!(kept.iter().all(|(labels, _)| labels.contains(&(NAME.into(), "req_total".into()))));
        assert_eq!(vector(run(&s, "count(req_total)", at)), [(vec![], 2.0)]);
        assert_eq!(vector(run(&s, "max without (code) (req_total)", at)), [(l(&[("svc", "a")]), 600.0)]);
        assert_eq!(vector(run(&s, "topk(1, req_total)", at))[0].1, 600.0);
        assert_eq!(run(&s, "1 + 2 * 3", 0), Value::Scalar(7.0));
        assert_eq!(run(&s, "time()", 90_000), Value::Scalar(90.0));
    }

    #[test]
    fn histogram_quantile_interpolates_within_the_bucket() {
        let mut s = SeriesStore::new(3_600_000, 100);
        for (le, count) in [("0.1", 50.0), ("0.5", 90.0), ("1", 100.0), ("+Inf", 100.0)] {
            s.append(l(&[(NAME, "lat_bucket"), ("le", le), ("svc", "a")]), 0, count).unwrap();
        }
        // Rank 95 lies in (0.5, 1]: 0.5 + 0.5 × (95 − 90) / 10 = 0.75.
        let p95 = vector(run(&s, "histogram_quantile(0.95, lat_bucket)", 0));
        assert_eq!(p95, [(l(&[("svc", "a")]), 0.75)]);
        // Rank 25 in the first bucket: 0 + 0.1 × 25 / 50.
        assert!((vector(run(&s, "histogram_quantile(0.25, lat_bucket)", 0))[0].1 - 0.05).abs() < 1e-12);
    }

    #[test]
    fn absent_lookback_and_set_operators() {
        let mut s = SeriesStore::new(3_600_000, 100);
        s.append(l(&[(NAME, "up"), ("job", "portal")]), 0, 0.0).unwrap();
        s.append(l(&[(NAME, "up"), ("job", "db")]), 0, 1.0).unwrap();
        assert_eq!(vector(run(&s, "up == 0", 60_000)).len(), 1);
        assert!(vector(run(&s, "up", LOOKBACK_MS + 1)).is_empty(), "older than the lookback is stale");
        assert_eq!(vector(run(&s, "absent(up{job=\"mail\"})", 0)), [(l(&[("job", "mail")]), 1.0)]);
        assert!(vector(run(&s, "absent(up{job=\"db\"})", 0)).is_empty());
        let down = vector(run(&s, "up{job=\"portal\"} == 0 or absent(up{job=\"portal\"})", 0));
        assert_eq!(down.len(), 1);
        assert_eq!(vector(run(&s, "up unless up{job=\"db\"}", 0)).len(), 1);
        let err = eval(&parse("up / on() up").unwrap().0, &s, 0).unwrap_err();
        assert!(matches!(err, EvalError::ManyToOne(..)), "{err}");
    }
}
