//! Differential test against Prometheus itself: the same input series go
//! into Leitstand's store and into a `promtool test rules` file, every
//! expression is evaluated by Leitstand, and promtool (Debian's
//! `prometheus` package) must confirm each value at each time — so the
//! embedded evaluator and a team's Prometheus fire on the same numbers.
#![allow(missing_docs, clippy::unwrap_used)]

use std::fmt::Write as _;
use std::process::Command;

use leitstand_monitor::eval::{Value, eval};
use leitstand_monitor::promql::parse;
use leitstand_monitor::series::{Labels, NAME, SeriesStore, normalise};

const INTERVAL_MS: i64 = 15_000;

fn series() -> Vec<(&'static str, Vec<f64>)> {
    let steady: Vec<f64> = (0..60).map(|i| f64::from(i) * 15.0).collect();
    // A counter with uneven steps that resets now and then.
    let bumpy: Vec<f64> =
        [0., 3., 7., 7., 12., 20., 2., 5., 9., 30., 31., 33., 1., 4., 4., 8.].into_iter().cycle().take(60).collect();
    let temp: Vec<f64> = (0..60).map(|i| 20.0 + f64::from(i % 7) * 1.5 - f64::from(i % 3)).collect();
    let mut out = vec![
        (r#"req_total{code="200",svc="a"}"#, steady.clone()),
        (r#"req_total{code="500",svc="a"}"#, bumpy),
        (r#"req_total{code="200",svc="b"}"#, steady.iter().map(|v| v * 2.0).collect()),
        (r#"temp{host="h1"}"#, temp.clone()),
        (r#"temp{host="h2"}"#, temp.iter().map(|v| v + 3.25).collect()),
        (r#"up{job="portal"}"#, (0..60).map(|i| if (20..30).contains(&i) { 0.0 } else { 1.0 }).collect()),
    ];
    for (le, share) in [("0.1", 0.5), ("0.25", 0.7), ("0.5", 0.9), ("1", 0.97), ("+Inf", 1.0)] {
        let name: &'static str = Box::leak(format!(r#"lat_bucket{{le="{le}",svc="a"}}"#).into_boxed_str());
        out.push((name, steady.iter().map(|v| (v * 4.0 * share).floor()).collect()));
    }
    out
}

fn labels_of(text: &str) -> Labels {
    let (name, rest) = text.split_once('{').unwrap();
    let mut labels = vec![(NAME.to_string(), name.to_string())];
    for pair in rest.trim_end_matches('}').split(',') {
        let (k, v) = pair.split_once('=').unwrap();
        labels.push((k.to_string(), v.trim_matches('"').to_string()));
    }
    normalise(labels)
}

fn show(labels: &Labels) -> String {
    let name = labels.iter().find(|(k, _)| k == NAME).map(|(_, v)| v.as_str()).unwrap_or("");
    let rest: Vec<String> = labels.iter().filter(|(k, _)| k != NAME).map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}{{{}}}", rest.join(", "))
}

/// Evaluation times off the 15 s sample grid: Prometheus 2 (Debian's
/// promtool) includes a point exactly at the start of a range or lookback
/// window, Prometheus 3 and Leitstand do not; off the grid both agree.
const EVAL_TIMES: [i64; 5] = [290, 457, 601, 737, 880];

const EXPRESSIONS: &[&str] = &[
    "rate(req_total[5m])",
    "increase(req_total[5m])",
    "irate(req_total[1m])",
    "delta(temp[10m])",
    "sum by (svc) (rate(req_total{code=~\"5..\"}[5m])) / sum by (svc) (rate(req_total[5m]))",
    "histogram_quantile(0.95, sum by (le) (rate(lat_bucket[5m])))",
    "histogram_quantile(0.5, lat_bucket)",
    "avg_over_time(temp[10m])",
    "max_over_time(temp[3m]) - min_over_time(temp[3m])",
    "count_over_time(up[5m])",
    "req_total > 300",
    "rate(req_total[5m]) > bool 1.5",
    "topk(1, temp)",
    "quantile(0.5, temp)",
    "max without (host) (temp) * 2 + 1",
    "count(req_total) by (svc)",
    "up{job=\"portal\"} == 0 or absent(up{job=\"mail\"})",
    "temp unless on (host) temp{host=\"h2\"}",
    "clamp_min(temp, 24) - on (host) temp",
    "abs(temp - 24) / on (host) (temp * 0 + 2)",
    // Result labels of matched operations: `on` keeps only the matching
    // labels and `ignoring` drops the ignored ones, filtering comparisons too.
    "req_total > on (code, svc) (req_total * 0 + 100)",
    "req_total{svc=\"b\"} + ignoring (code) (req_total{svc=\"b\"} * 0 + 1)",
    "req_total{svc=\"b\"} > ignoring (code) (req_total{svc=\"b\"} * 0 + 100)",
];

#[test]
fn promtool_confirms_every_value() {
    let mut store = SeriesStore::new(3_600_000, 1_000);
    let mut yaml =
        String::from("rule_files: []\nevaluation_interval: 15s\ntests:\n  - interval: 15s\n    input_series:\n");
    for (name, values) in series() {
        for (i, v) in values.iter().enumerate() {
            store.append(labels_of(name), i as i64 * INTERVAL_MS, *v).unwrap();
        }
        let values: Vec<String> = values.iter().map(|v| format!("{v}")).collect();
        writeln!(yaml, "      - series: '{name}'\n        values: '{}'", values.join(" ")).unwrap();
    }
    yaml.push_str("    promql_expr_test:\n");
    let mut checked = 0;
    for expr in EXPRESSIONS {
        let (parsed, _) = parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        for at_s in EVAL_TIMES {
            let value = eval(&parsed, &store, at_s * 1000).unwrap_or_else(|e| panic!("{expr} at {at_s}s: {e}"));
            let Value::Vector(elements) = value else { panic!("{expr} is a scalar") };
            writeln!(
                yaml,
                "      - expr: '{}'\n        eval_time: {at_s}s\n        exp_samples:",
                expr.replace('\'', "''")
            )
            .unwrap();
            if elements.is_empty() {
                yaml.truncate(yaml.len() - "        exp_samples:\n".len());
                yaml.push_str("        exp_samples: []\n");
            }
            for e in elements {
                writeln!(yaml, "          - labels: '{}'\n            value: {:e}", show(&e.labels), e.value).unwrap();
                checked += 1;
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leitstand_test.yml");
    std::fs::write(&file, &yaml).unwrap();
    let out = Command::new("promtool")
        .args(["test", "rules"])
        .arg(&file)
        .output()
        .expect("promtool is installed (Debian package prometheus; scripts/ensure-tools)");
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool disagrees:\n{report}\n--- test file ---\n{yaml}");
    assert!(checked > 100, "{checked} values checked");
}

#[test]
fn promtool_accepts_the_exported_default_pack() {
    let rules = leitstand_monitor::pack::default_pack(&leitstand_core::policy::Thresholds::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leitstand.rules.yml");
    std::fs::write(&file, leitstand_monitor::pack::prometheus_rule_file(&rules)).unwrap();
    let out = Command::new("promtool").args(["check", "rules"]).arg(&file).output().unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{report}");
    assert!(report.contains(&format!("SUCCESS: {} rules found", rules.len())), "{report}");
}

/// The default pack's unit tests pass in promtool and in Leitstand's own
/// runner (`leitstand rules test`).
#[test]
fn default_pack_tests_pass_in_promtool_and_in_leitstand() {
    let rules = leitstand_monitor::pack::default_pack(&leitstand_core::policy::Thresholds::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("leitstand.rules.yml"), leitstand_monitor::pack::prometheus_rule_file(&rules))
        .unwrap();
    let test = dir.path().join("default-pack.test.yml");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pack/default-pack.test.yml"), &test).unwrap();

    let (failures, checked) = leitstand_monitor::ruletest::run_test_file(&test).unwrap();
    assert!(failures.is_empty(), "leitstand: {failures:#?}");
    assert!(checked >= 9, "{checked}");
    let out = Command::new("promtool").args(["test", "rules"]).arg(&test).output().unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool: {report}");
}
