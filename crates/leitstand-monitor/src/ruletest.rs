//! Prometheus rule files and `promtool test rules` unit tests, read and run
//! by Leitstand itself (`leitstand rules test FILE`): the same test file
//! passes or fails the same way in both, so rules are tested once and
//! trusted in either evaluator.
//!
//! Supported: alerting rules (recording rules are refused by name),
//! `input_series` in promtool's expanding notation (`a+bxn`, `a-bxn`,
//! `axn`, `_`, `_xn`), `alert_rule_test` (firing alerts, labels and
//! annotations with `{{ $value }}` and `{{ $labels.x }}` expanded) and
//! `promql_expr_test`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::eval::{Value, eval};
use crate::promql::{parse, parse_duration};
use crate::rules::{AlertState, Rule, RuleError, RuleState, expand_template, go_float};
use crate::series::{Labels, NAME, SeriesStore, normalise};

/// Why a file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct FileError {
    /// The file.
    pub file: String,
    /// What and where.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    groups: Vec<Group>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Group {
    name: String,
    #[serde(default)]
    interval: Option<String>,
    rules: Vec<RuleDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDef {
    #[serde(default)]
    alert: Option<String>,
    #[serde(default)]
    record: Option<String>,
    expr: String,
    #[serde(default, rename = "for")]
    for_: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

fn yaml_error(file: &str, e: &serde_norway::Error) -> FileError {
    let at = e.location().map(|l| format!("line {}, column {}: ", l.line(), l.column())).unwrap_or_default();
    FileError { file: file.into(), message: format!("{at}{e}") }
}

fn duration_ms(file: &str, what: &str, text: &str) -> Result<i64, FileError> {
    parse_duration(text)
        .ok_or_else(|| FileError { file: file.into(), message: format!("{what}: {text:?} is not a duration") })
}

/// Reads a Prometheus rule file (alerting rules; `default_interval_ms`
/// for groups without an interval).
pub fn parse_rule_file(file: &str, text: &str, default_interval_ms: i64) -> Result<Vec<Rule>, FileError> {
    let parsed: RuleFile = serde_norway::from_str(text).map_err(|e| yaml_error(file, &e))?;
    let mut rules = Vec::new();
    for group in parsed.groups {
        let interval = match &group.interval {
            Some(i) => duration_ms(file, &format!("group {}: interval", group.name), i)?,
            None => default_interval_ms,
        };
        for (n, def) in group.rules.into_iter().enumerate() {
            let where_ = format!("group {}, rule {}", group.name, n + 1);
            let Some(name) = def.alert else {
                let what = def.record.map_or("a rule without alert".into(), |r| format!("recording rule {r}"));
                return Err(FileError { file: file.into(), message: format!("{where_}: {what} is not supported") });
            };
            let for_ms = match &def.for_ {
                Some(f) => duration_ms(file, &format!("{where_}: for"), f)?,
                None => 0,
            };
            let rule = Rule::new(
                &name,
                &def.expr,
                for_ms,
                interval,
                def.labels.into_iter().collect(),
                def.annotations.into_iter().collect(),
            )
            .map_err(|e: RuleError| FileError { file: file.into(), message: format!("{where_}: {e}") })?;
            rules.push(rule);
        }
    }
    Ok(rules)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    #[serde(default)]
    rule_files: Vec<String>,
    #[serde(default)]
    evaluation_interval: Option<String>,
    tests: Vec<TestGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestGroup {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    interval: Option<String>,
    #[serde(default)]
    input_series: Vec<InputSeries>,
    #[serde(default)]
    alert_rule_test: Vec<AlertTest>,
    #[serde(default)]
    promql_expr_test: Vec<ExprTest>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputSeries {
    series: String,
    values: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertTest {
    eval_time: String,
    alertname: String,
    #[serde(default)]
    exp_alerts: Vec<ExpAlert>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpAlert {
    #[serde(default)]
    exp_labels: BTreeMap<String, String>,
    #[serde(default)]
    exp_annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExprTest {
    expr: String,
    eval_time: String,
    #[serde(default)]
    exp_samples: Vec<ExpSample>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpSample {
    labels: String,
    value: f64,
}

/// Expands promtool's series notation into one value (or gap) per step.
pub fn expand_values(text: &str) -> Result<Vec<Option<f64>>, String> {
    let mut out = Vec::new();
    for token in text.split_whitespace() {
        if token == "_" {
            out.push(None);
            continue;
        }
        if token == "stale" {
            return Err("stale markers are not supported".into());
        }
        if let Some(n) = token.strip_prefix("_x") {
            let n: usize = n.parse().map_err(|_| format!("{token:?}: bad repeat count"))?;
            out.extend(std::iter::repeat_n(None, n));
            continue;
        }
        let Some((head, count)) = token.rsplit_once('x') else {
            out.push(Some(token.parse::<f64>().map_err(|_| format!("{token:?} is not a number"))?));
            continue;
        };
        let n: usize = count.parse().map_err(|_| format!("{token:?}: bad repeat count"))?;
        // `a+b`, `a-b` (a may be negative), or `a`.
        let split = head[1..].rfind(['+', '-']).map(|i| i + 1);
        let (start, step) = match split {
            Some(i) => {
                let step: f64 = head[i + 1..].parse().map_err(|_| format!("{token:?}: bad step"))?;
                (&head[..i], if &head[i..=i] == "-" { -step } else { step })
            }
            None => (head, 0.0),
        };
        let start: f64 = start.parse().map_err(|_| format!("{token:?}: bad start"))?;
        out.extend((0..=n).map(|k| Some(start + step * k as f64)));
    }
    Ok(out)
}

/// `name{a="b", …}` or `{…}` into labels.
fn parse_series(text: &str) -> Result<Labels, String> {
    let (expr, _) = parse(text).map_err(|e| format!("series {text:?}: {e}"))?;
    let crate::promql::Expr::Selector(sel) = expr else { return Err(format!("series {text:?} is not a selector")) };
    Ok(normalise(sel.matchers.iter().map(|m| (m.name.clone(), m.value.clone())).collect()))
}

fn show(labels: &Labels) -> String {
    let name = labels.iter().find(|(k, _)| k == NAME).map_or("", |(_, v)| v.as_str());
    let rest: Vec<String> = labels.iter().filter(|(k, _)| k != NAME).map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{name}{{{}}}", rest.join(", "))
}

/// One failed expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Test group.
    pub group: String,
    /// What was tested (alert name or expression) and when.
    pub what: String,
    /// Expected.
    pub expected: String,
    /// Got.
    pub got: String,
}

/// Runs a test file. `Err` if a file cannot be used; otherwise the failed
/// expectations (empty: all passed) and how many expectations were checked.
pub fn run_test_file(path: &Path) -> Result<(Vec<Failure>, usize), FileError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| FileError { file: name.clone(), message: e.to_string() })?;
    let file: TestFile = serde_norway::from_str(&text).map_err(|e| yaml_error(&name, &e))?;
    let eval_interval = match &file.evaluation_interval {
        Some(i) => duration_ms(&name, "evaluation_interval", i)?,
        None => 60_000,
    };
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut rules = Vec::new();
    for rule_file in &file.rule_files {
        let p: PathBuf = dir.join(rule_file);
        let pname = p.display().to_string();
        let text =
            std::fs::read_to_string(&p).map_err(|e| FileError { file: pname.clone(), message: e.to_string() })?;
        rules.extend(parse_rule_file(&pname, &text, eval_interval)?);
    }
    let mut failures = Vec::new();
    let mut checked = 0;
    for (g, group) in file.tests.iter().enumerate() {
        let group_name = group.name.clone().unwrap_or_else(|| format!("test {}", g + 1));
        let fail = |message: String| FileError { file: name.clone(), message: format!("{group_name}: {message}") };
        let interval = match &group.interval {
            Some(i) => duration_ms(&name, "interval", i)?,
            None => eval_interval,
        };
        let mut store = SeriesStore::new(i64::MAX / 4, 1_000_000);
        for input in &group.input_series {
            let labels = parse_series(&input.series).map_err(fail)?;
            let values = expand_values(&input.values).map_err(|e| fail(format!("series {}: {e}", input.series)))?;
            for (i, v) in values.into_iter().enumerate() {
                if let Some(v) = v {
                    store.append(labels.clone(), i as i64 * interval, v).map_err(|e| fail(e.to_string()))?;
                }
            }
        }
        // Alert tests: every rule at every evaluation step up to the last
        // asked-for time — as promtool does, whatever the groups' intervals.
        let mut times = Vec::new();
        for t in &group.alert_rule_test {
            times.push(duration_ms(&name, "eval_time", &t.eval_time)?);
        }
        let end = times.iter().copied().max().unwrap_or(0);
        let mut states: Vec<RuleState> = vec![RuleState::default(); rules.len()];
        // Per asked-for time: (alert name, "labels annotations") of firing alerts.
        let mut firing_at: BTreeMap<i64, Vec<(String, String)>> = BTreeMap::new();
        let mut t = 0;
        while t <= end {
            for (rule, state) in rules.iter().zip(states.iter_mut()) {
                let _ = state.evaluate(rule, &store, t);
            }
            if times.contains(&t) {
                let mut now = Vec::new();
                for (rule, state) in rules.iter().zip(&states) {
                    for alert in state.alerts.values().filter(|a| a.state == AlertState::Firing) {
                        let annotations: BTreeMap<String, String> = rule
                            .annotations
                            .iter()
                            .map(|(k, v)| (k.clone(), expand_template(v, &alert.labels, alert.value)))
                            .collect();
                        now.push((rule.name.clone(), format!("{} {annotations:?}", show(&alert.labels))));
                    }
                }
                firing_at.insert(t, now);
            }
            t += eval_interval;
        }
        for (test, at) in group.alert_rule_test.iter().zip(&times) {
            checked += 1;
            let got: Vec<String> = firing_at
                .get(at)
                .map(|all| all.iter().filter(|(n, _)| *n == test.alertname).map(|(_, text)| text.clone()).collect())
                .unwrap_or_default();
            let expected: Vec<String> = test
                .exp_alerts
                .iter()
                .map(|e| {
                    let mut labels: Labels = e.exp_labels.clone().into_iter().collect();
                    labels.push(("alertname".into(), test.alertname.clone()));
                    format!("{} {:?}", show(&normalise(labels)), e.exp_annotations)
                })
                .collect();
            let what = format!("alertname: {}, time: {}", test.alertname, test.eval_time);
            compare(&mut failures, &group_name, what, expected, got);
        }
        for test in &group.promql_expr_test {
            checked += 1;
            let at = duration_ms(&name, "eval_time", &test.eval_time)?;
            let (expr, _) = parse(&test.expr).map_err(|e| fail(format!("expr {:?}: {e}", test.expr)))?;
            let got = match eval(&expr, &store, at) {
                Ok(Value::Vector(v)) => {
                    v.iter().map(|e| format!("{} {}", show(&e.labels), go_float(e.value))).collect()
                }
                Ok(Value::Scalar(s)) => vec![format!("{{}} {}", go_float(s))],
                Err(e) => vec![format!("error: {e}")],
            };
            let mut expected = Vec::new();
            for s in &test.exp_samples {
                let labels =
                    parse_series(&s.labels).or_else(|_| if s.labels.trim() == "{}" { Ok(Vec::new()) } else { Err(()) });
                let labels = labels.map_err(|()| fail(format!("labels {:?} are not a series", s.labels)))?;
                expected.push(format!("{} {}", show(&labels), go_float(s.value)));
            }
            compare(
                &mut failures,
                &group_name,
                format!("expr: {:?}, time: {}", test.expr, test.eval_time),
                expected,
                got,
            );
        }
    }
    Ok((failures, checked))
}

/// Records a failure unless both sides hold the same lines (in any order).
fn compare(failures: &mut Vec<Failure>, group: &str, what: String, mut expected: Vec<String>, mut got: Vec<String>) {
    expected.sort();
    got.sort();
    if got != expected {
        failures.push(Failure { group: group.to_string(), what, expected: expected.join("; "), got: got.join("; ") });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn promtool_series_notation() {
        let v = |s: &str| expand_values(s).unwrap();
        assert_eq!(v("-2+4x3"), [Some(-2.0), Some(2.0), Some(6.0), Some(10.0)]);
        assert_eq!(v(" 1-2x4"), [Some(1.0), Some(-1.0), Some(-3.0), Some(-5.0), Some(-7.0)]);
        assert_eq!(v("1x4"), [Some(1.0); 5]);
        assert_eq!(v("1 _x3 5"), [Some(1.0), None, None, None, Some(5.0)]);
        assert_eq!(v("0.5 _ 2e3"), [Some(0.5), None, Some(2000.0)]);
        assert!(expand_values("1 stale").unwrap_err().contains("stale"));
        assert!(expand_values("1+x3").is_err());
    }

    #[test]
    fn go_float_formatting() {
        assert_eq!(go_float(95.0), "95");
        assert_eq!(go_float(95.5), "95.5");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(1.5e21), "1.5e+21");
        assert_eq!(go_float(-0.25), "-0.25");
    }

    #[test]
    fn rule_files_name_what_is_wrong() {
        let ok = "groups:\n  - name: g\n    interval: 30s\n    rules:\n      - alert: Down\n        expr: up == 0\n        for: 1m\n        labels:\n          severity: critical\n";
        let rules = parse_rule_file("r.yml", ok, 60_000).unwrap();
        assert_eq!((rules[0].name.as_str(), rules[0].interval_ms, rules[0].for_ms), ("Down", 30_000, 60_000));
        let bad = ok.replace("up == 0", "rate(up) > 1");
        let e = parse_rule_file("r.yml", &bad, 60_000).unwrap_err().to_string();
        assert!(e.starts_with("r.yml: group g, rule 1: rule Down: expr: column 6:"), "{e}");
        let rec = "groups:\n  - name: g\n    rules:\n      - record: job:up:sum\n        expr: sum(up)\n";
        let e = parse_rule_file("r.yml", rec, 60_000).unwrap_err().to_string();
        assert_eq!(e, "r.yml: group g, rule 1: recording rule job:up:sum is not supported");
        let e = parse_rule_file("r.yml", "groups:\n  - name: g\n    rulez: []\n", 60_000).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("rulez"), "{e}");
    }
}
