//! The default rule pack: the seed's threshold tables turned into alerting
//! rules — for every metric a warning and a critical rule, thresholds and
//! evaluation intervals from the policy — and the same rules as a
//! Prometheus rule file, so a team that evaluates in Prometheus runs the
//! identical policy.
//!
//! The expressions fix which metric names Leitstand expects (the naming
//! contract in the README): node_exporter's names for host metrics
//! (Leitstand's own host collector uses the same), blackbox-style
//! `probe_*` for probes, and conventional application names. A rule whose
//! metrics a deployment does not have reports them as missing instead of
//! silently never firing.

use leitstand_core::policy::{AlertLevel, BatchJobThreshold, Direction, MetricInfo, Threshold, Thresholds, Unit};

use crate::rules::{Rule, RuleError};

/// The expression of a threshold's metric, in the threshold's unit, and
/// the labels its alerts are grouped by — `tenant` wherever a series can
/// belong to one, so a tenant's alert reaches that tenant's people.
fn expression(key: &str) -> Option<&'static str> {
    Some(match key {
        // Infrastructure (node_exporter names).
        "cpu" => r#"100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])))"#,
        "memory" => "100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)",
        "disk" => {
            r#"100 * (1 - node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"} / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs"})"#
        }
        "disk_io_latency" => {
            "1000 * (rate(node_disk_read_time_seconds_total[5m]) + rate(node_disk_write_time_seconds_total[5m])) / (rate(node_disk_reads_completed_total[5m]) + rate(node_disk_writes_completed_total[5m]))"
        }
        "network_latency" => r#"1000 * probe_duration_seconds{probe="tcp"}"#,
        // Application.
        "http_5xx_rate" => {
            r#"100 * sum by (service, tenant) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (service, tenant) (rate(http_requests_total[5m]))"#
        }
        "response_time_p95" => {
            "1000 * histogram_quantile(0.95, sum by (service, tenant, le) (rate(http_request_duration_seconds_bucket[5m])))"
        }
        "request_rate_drop" => {
            "100 * (1 - sum by (service, tenant) (rate(http_requests_total[5m])) / sum by (service, tenant) (rate(http_requests_total[1h])))"
        }
        "db_connections" => {
            "100 * sum by (service, tenant) (db_pool_connections_active) / sum by (service, tenant) (db_pool_connections_max)"
        }
        "queue_depth" => "max by (service, tenant, queue) (queue_depth)",
        // Security.
        "failed_logins_per_ip" => "max by (service, tenant) (increase(auth_login_failures_total[1m]))",
        "failed_api_auth" => {
            "100 * sum by (service, tenant) (rate(api_auth_failures_total[5m])) / sum by (service, tenant) (rate(api_requests_total[5m]))"
        }
        "rate_limit_hits" => "sum by (service, tenant) (increase(rate_limit_hits_total[1m]))",
        "certificate_expiry" => "(probe_ssl_earliest_cert_expiry - time()) / 86400",
        // Business.
        "contract_processing_success" => {
            r#"100 * sum by (tenant) (increase(contracts_processed_total{outcome="success"}[1h])) / sum by (tenant) (increase(contracts_processed_total[1h]))"#
        }
        "partner_sync_failures" => "count by (tenant) (partner_sync_up == 0)",
        _ => return None,
    })
}

/// `cpu` → `Cpu`, `http_5xx_rate` → `Http5xxRate`.
fn camel(key: &str) -> String {
    key.split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 { format!("{v:.0}") } else { v.to_string() }
}

fn rules_for(info: &MetricInfo, threshold: &Threshold, table: &str) -> Result<Vec<Rule>, RuleError> {
    let Some(expr) = expression(info.key) else { return Ok(Vec::new()) };
    let interval_ms = threshold.interval.std().as_millis() as i64;
    let op = match info.direction {
        Direction::Above => ">",
        Direction::Below => "<",
    };
    let (word_de, word_en) = match info.direction {
        Direction::Above => ("über", "above"),
        Direction::Below => ("unter", "below"),
    };
    let unit = info.unit.symbol();
    [
        (AlertLevel::Warning, threshold.warning, "warning", "Warning"),
        (AlertLevel::Critical, threshold.critical, "critical", "Critical"),
    ]
    .into_iter()
    .map(|(_, limit, severity, suffix)| {
        let limit_text = number(limit);
        Rule::new(
            &format!("{}{suffix}", camel(info.key)),
            &format!("{expr} {op} {limit_text}"),
            // The condition must hold at two evaluations in a row; a
            // certificate's remaining days do not flicker.
            if info.unit == Unit::Days { 0 } else { interval_ms },
            interval_ms,
            vec![("severity".into(), severity.into()), ("table".into(), table.into())],
            vec![
                (
                    "summary_de".into(),
                    format!("{} {word_de} {limit_text}{unit}: {{{{ $value }}}}{unit}", info.title_de),
                ),
                (
                    "summary_en".into(),
                    format!("{} {word_en} {limit_text}{unit}: {{{{ $value }}}}{unit}", info.title_en),
                ),
            ],
        )
    })
    .collect()
}

/// The availability rule for probes: down for `for_ms`.
fn availability(for_ms: i64) -> Result<Rule, RuleError> {
    Rule::new(
        "ProbeDown",
        "probe_success == 0",
        for_ms,
        30_000,
        vec![("severity".into(), "critical".into()), ("table".into(), "availability".into())],
        vec![
            ("summary_de".into(), "{{ $labels.instance }} ist nicht erreichbar".into()),
            ("summary_en".into(), "{{ $labels.instance }} is down".into()),
        ],
    )
}

/// The batch-job rules. The naming contract, gauges per job with the label
/// `job_name` and otherwise the same labels on all of a job's series:
///
/// - `batch_job_running_seconds`: how long the current run has been
///   running, 0 while the job is idle;
/// - `batch_job_normal_duration_seconds`: the job's normal run time;
/// - `batch_job_scheduled_timestamp_seconds`: the due time (Unix seconds)
///   of the run that should start next — the latest due time while that
///   run has not started, the next one after it has;
/// - `batch_job_last_start_timestamp_seconds`: when the last run started.
///
/// Warning: the current run takes longer than `warning_runtime_factor` ×
/// the normal duration. Critical: a due time lies more than
/// `critical_not_started_after` in the past and no run has started since
/// (the last start is before it).
fn batch_jobs(batch: &BatchJobThreshold) -> Result<Vec<Rule>, RuleError> {
    let interval_ms = batch.interval.std().as_millis() as i64;
    let labels = |severity: &str| vec![("severity".into(), severity.into()), ("table".into(), "business".into())];
    let factor = number(batch.warning_runtime_factor);
    let late = number(batch.critical_not_started_after.std().as_secs_f64());
    Ok(vec![
        Rule::new(
            "BatchJobsLateWarning",
            &format!("batch_job_running_seconds > {factor} * batch_job_normal_duration_seconds"),
            interval_ms,
            interval_ms,
            labels("warning"),
            vec![
                (
                    "summary_de".into(),
                    format!(
                        "Batch-Job {{{{ $labels.job_name }}}} läuft länger als {factor}× Normalzeit: {{{{ $value }}}}s"
                    ),
                ),
                (
                    "summary_en".into(),
                    format!(
                        "Batch job {{{{ $labels.job_name }}}} running longer than {factor}× its normal duration: {{{{ $value }}}}s"
                    ),
                ),
            ],
        )?,
        Rule::new(
            "BatchJobsNotStartedCritical",
            &format!(
                "time() - batch_job_scheduled_timestamp_seconds > {late} and batch_job_last_start_timestamp_seconds < batch_job_scheduled_timestamp_seconds"
            ),
            interval_ms,
            interval_ms,
            labels("critical"),
            vec![
                (
                    "summary_de".into(),
                    format!(
                        "Batch-Job {{{{ $labels.job_name }}}} nicht gestartet, über {late}s nach geplanter Zeit: {{{{ $value }}}}s"
                    ),
                ),
                (
                    "summary_en".into(),
                    format!(
                        "Batch job {{{{ $labels.job_name }}}} not started, more than {late}s after its scheduled time: {{{{ $value }}}}s"
                    ),
                ),
            ],
        )?,
    ])
}

/// The default rules for the policy's thresholds.
pub fn default_pack(thresholds: &Thresholds) -> Result<Vec<Rule>, RuleError> {
    let mut rules = vec![availability(60_000)?];
    let tables = [
        ("infrastructure", thresholds.infrastructure.entries()),
        ("application", thresholds.application.entries()),
        ("security", thresholds.security.entries()),
        ("business", thresholds.business.entries()),
    ];
    for (table, entries) in tables {
        for (info, threshold) in entries {
            rules.extend(rules_for(info, threshold, table)?);
        }
    }
    rules.extend(batch_jobs(&thresholds.business.batch_jobs)?);
    Ok(rules)
}

/// A YAML single-quoted scalar.
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn duration(ms: i64) -> String {
    match ms {
        0 => "0s".into(),
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1_000 == 0 => format!("{}s", ms / 1_000),
        ms => format!("{ms}ms"),
    }
}

/// The rules as a Prometheus rule file: one group per evaluation interval.
pub fn prometheus_rule_file(rules: &[Rule]) -> String {
    let mut intervals: Vec<i64> = rules.iter().map(|r| r.interval_ms).collect();
    intervals.sort_unstable();
    intervals.dedup();
    let mut out =
        String::from("# Generated by `leitstand rules export --format prometheus` from the policy.\ngroups:\n");
    for interval in intervals {
        out.push_str(&format!(
            "  - name: leitstand-{}\n    interval: {}\n    rules:\n",
            duration(interval),
            duration(interval)
        ));
        for rule in rules.iter().filter(|r| r.interval_ms == interval) {
            out.push_str(&format!("      - alert: {}\n        expr: {}\n", rule.name, quoted(&rule.expr_text)));
            if rule.for_ms > 0 {
                out.push_str(&format!("        for: {}\n", duration(rule.for_ms)));
            }
            for (section, pairs) in [("labels", &rule.labels), ("annotations", &rule.annotations)] {
                if !pairs.is_empty() {
                    out.push_str(&format!("        {section}:\n"));
                    for (k, v) in pairs {
                        out.push_str(&format!("          {k}: {}\n", quoted(v)));
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_seed_threshold_has_a_warning_and_a_critical_rule() {
        let rules = default_pack(&Thresholds::default()).unwrap();
        let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
        for name in [
            "CpuWarning",
            "CpuCritical",
            "Http5xxRateCritical",
            "CertificateExpiryWarning",
            "PartnerSyncFailuresCritical",
            "ProbeDown",
        ] {
            assert!(names.contains(&name), "{name} in {names:?}");
        }
        assert_eq!(rules.len(), 1 + 2 * 16 + 2);
        let cpu = rules.iter().find(|r| r.name == "CpuCritical").unwrap();
        assert!(cpu.expr_text.ends_with(") > 90"), "{}", cpu.expr_text);
        assert_eq!((cpu.interval_ms, cpu.for_ms), (30_000, 30_000));
        let cert = rules.iter().find(|r| r.name == "CertificateExpiryCritical").unwrap();
        assert!(cert.expr_text.ends_with("/ 86400 < 7") && cert.interval_ms == 86_400_000 && cert.for_ms == 0);
        let contract = rules.iter().find(|r| r.name == "ContractProcessingSuccessWarning").unwrap();
        assert!(contract.expr_text.ends_with(" < 90"));
        assert!(contract.annotations[0].1.starts_with("Vertragsverarbeitung unter 90%"), "{:?}", contract.annotations);
    }

    #[test]
    fn batch_job_rules_come_from_the_policy() {
        let rules = default_pack(&Thresholds::default()).unwrap();
        let late = rules.iter().find(|r| r.name == "BatchJobsLateWarning").unwrap();
        assert_eq!(late.expr_text, "batch_job_running_seconds > 2 * batch_job_normal_duration_seconds");
        assert_eq!((late.interval_ms, late.for_ms), (300_000, 300_000));
        assert_eq!(late.labels, [("severity".into(), "warning".into()), ("table".into(), "business".into())]);
        assert!(late.annotations[0].1.contains("läuft länger als 2× Normalzeit"), "{:?}", late.annotations);
        let missing = rules.iter().find(|r| r.name == "BatchJobsNotStartedCritical").unwrap();
        assert!(missing.expr_text.starts_with("time() - batch_job_scheduled_timestamp_seconds > 300 and "));
        assert_eq!(missing.labels[0], ("severity".into(), "critical".into()));
        assert_eq!(
            missing.metric_names(),
            ["batch_job_scheduled_timestamp_seconds", "batch_job_last_start_timestamp_seconds"]
        );

        let mut t = Thresholds::default();
        t.business.batch_jobs.warning_runtime_factor = 1.5;
        t.business.batch_jobs.critical_not_started_after = leitstand_core::time_limit::Duration::from_mins(10);
        t.business.batch_jobs.interval = leitstand_core::time_limit::Duration::from_mins(2);
        let rules = default_pack(&t).unwrap();
        let late = rules.iter().find(|r| r.name == "BatchJobsLateWarning").unwrap();
        assert!(late.expr_text.contains(" > 1.5 * ") && late.interval_ms == 120_000 && late.for_ms == 120_000);
        let missing = rules.iter().find(|r| r.name == "BatchJobsNotStartedCritical").unwrap();
        assert!(missing.expr_text.contains(" > 600 and ") && missing.annotations[1].1.contains("more than 600s"));
    }

    #[test]
    fn thresholds_come_from_the_policy() {
        let mut t = Thresholds::default();
        t.infrastructure.cpu.warning = 60.0;
        t.infrastructure.cpu.interval = leitstand_core::time_limit::Duration::from_mins(2);
        let rules = default_pack(&t).unwrap();
        let cpu = rules.iter().find(|r| r.name == "CpuWarning").unwrap();
        assert!(cpu.expr_text.ends_with(" > 60") && cpu.interval_ms == 120_000);
        let file = prometheus_rule_file(&rules);
        assert!(
            file.contains("  - name: leitstand-2m\n    interval: 2m\n    rules:\n      - alert: CpuWarning\n"),
            "{file}"
        );
    }
}
