use crate::run_in;

#[test]
fn policy_show_prints_every_seed_value() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["policy", "show"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let policy: toml::Table = toml::from_str(&text).unwrap();
    let get = |path: &str| {
        let mut v = toml::Value::Table(policy.clone());
        for key in path.split('.') {
            v = match key.parse::<usize>() {
                Ok(i) => v.as_array().unwrap()[i].clone(),
                Err(_) => v.get(key).unwrap_or_else(|| panic!("missing {path}")).clone(),
            };
        }
        v.to_string()
    };
    let expected = [
        ("thresholds.infrastructure.cpu.warning", "70.0"),
        ("thresholds.infrastructure.cpu.critical", "90.0"),
        ("thresholds.infrastructure.cpu.interval", "\"30s\""),
        ("thresholds.infrastructure.memory.warning", "75.0"),
        ("thresholds.infrastructure.disk.critical", "85.0"),
        ("thresholds.infrastructure.disk_io_latency.critical", "50.0"),
        ("thresholds.infrastructure.network_latency.critical", "500.0"),
        ("thresholds.application.http_5xx_rate.warning", "1.0"),
        ("thresholds.application.http_5xx_rate.critical", "5.0"),
        ("thresholds.application.response_time_p95.warning", "500.0"),
        ("thresholds.application.response_time_p95.critical", "2000.0"),
        ("thresholds.application.request_rate_drop.critical", "50.0"),
        ("thresholds.application.db_connections.critical", "90.0"),
        ("thresholds.application.queue_depth.critical", "500.0"),
        ("thresholds.security.failed_logins_per_ip.warning", "10.0"),
        ("thresholds.security.failed_logins_per_ip.critical", "50.0"),
        ("thresholds.security.failed_api_auth.critical", "10.0"),
        ("thresholds.security.rate_limit_hits.critical", "500.0"),
        ("thresholds.security.certificate_expiry.warning", "30.0"),
        ("thresholds.security.certificate_expiry.critical", "7.0"),
        ("thresholds.security.certificate_expiry.interval", "\"24h\""),
        ("thresholds.business.contract_processing_success.critical", "80.0"),
        ("thresholds.business.partner_sync_failures.critical", "5.0"),
        ("thresholds.business.batch_jobs.warning_runtime_factor", "2.0"),
        ("escalation.dedup_window", "\"5m\""),
        ("escalation.levels.1.ack_deadline", "\"15m\""),
        ("escalation.levels.2.opens_incident", "true"),
        ("incidents.severities.SEV-1.reaction", "\"15m\""),
        ("incidents.severities.SEV-2.reaction", "\"30m\""),
        ("incidents.severities.SEV-3.reaction", "\"2h\""),
        ("incidents.severities.SEV-4.reaction", "\"next working day\""),
        ("incidents.post_mortem_within", "\"5 working days\""),
        ("regulatory.dora.initial_after_classification", "\"4h\""),
        ("regulatory.dora.initial_after_awareness", "\"24h\""),
        ("regulatory.dora.intermediate_after_initial", "\"72h\""),
        ("regulatory.dora.final_after_intermediate", "\"1 month\""),
        ("regulatory.dora.entity_type", "\"other\""),
        ("regulatory.nis2.early_warning", "\"24h\""),
        ("regulatory.nis2.notification", "\"72h\""),
        ("regulatory.nis2.final_after_notification", "\"1 month\""),
        ("regulatory.gdpr.notification", "\"72h\""),
        ("backup.jobs.database-full.schedule", "\"0 2 * * *\""),
        ("backup.jobs.database-full.keep", "\"30d\""),
        ("backup.jobs.database-incremental.schedule", "\"0 * * * *\""),
        ("backup.jobs.database-incremental.keep", "\"7d\""),
        ("backup.jobs.database-wal.schedule", "\"continuous\""),
        ("backup.jobs.files-incremental.schedule", "\"0 3 * * *\""),
        ("backup.jobs.secrets.schedule", "\"0 4 * * *\""),
        ("backup.objectives.portal.rto", "\"4h\""),
        ("backup.objectives.portal.rpo", "\"1h\""),
        ("backup.objectives.enterprise-api.rpo", "\"15m\""),
        ("backup.tests.database-restore.frequency", "\"quarterly\""),
        ("backup.tests.disaster-recovery.frequency", "\"annual\""),
        ("changes.standard.approved_by.0", "\"pipeline\""),
        ("changes.normal.approved_by.0", "\"compliance\""),
        ("changes.emergency.retrospective_approval_by.0", "\"compliance\""),
        ("retention.audit.keep", "\"5 years\""),
        ("retention.security.keep", "\"3 years\""),
        ("retention.application.keep", "\"90d\""),
        ("retention.access.keep", "\"90d\""),
        ("retention.performance.keep", "\"1 year\""),
        ("retention.debug.keep", "\"14d\""),
        ("gates.min_coverage_percent", "80.0"),
        ("gates.max_accessibility_violations", "0"),
        ("gates.blocking_cvss", "7.0"),
        ("gates.max_secret_findings", "0"),
        ("gates.max_critical_container_findings", "0"),
        ("deployment.canary.steps", "[5, 25, 50, 100]"),
        ("deployment.canary.observe_for", "\"15m\""),
        ("deployment.blue_green.rollback_within", "\"1m\""),
    ];
    for (path, value) in expected {
        assert_eq!(get(path), value, "{path}");
    }
    assert!(get("gates.denied_licenses").contains("AGPL-"));
}

#[test]
fn policy_show_json_and_per_tenant() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("leitstand.toml"), "[tenants.bank-a.calendar]\ntime_zone = \"Europe/Lisbon\"\n")
        .unwrap();
    let out = run_in(dir.path(), &["policy", "show", "--format", "json", "--tenant", "bank-a"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["calendar"]["time_zone"], "Europe/Lisbon");
    let out = run_in(dir.path(), &["policy", "show", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["calendar"]["time_zone"], "Europe/Berlin");
}

#[test]
fn policy_check_accepts_good_and_names_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.toml"), "[thresholds.infrastructure.cpu]\nwarning = 60\n").unwrap();
    let out = run_in(dir.path(), &["policy", "check", "good.toml"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "good.toml: valid (0 tenant overrides)");

    std::fs::write(
        dir.path().join("bad.toml"),
        "[thresholds.infrastructure.cpu]\nwarning = 95\n\n[incidents.severities.SEV-1]\nreaction = \"3h\"\n",
    )
    .unwrap();
    let out = run_in(dir.path(), &["policy", "check", "bad.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("bad.toml:2:1: thresholds.infrastructure.cpu.warning: warning (95) must be below critical (90)"),
        "{stderr}"
    );
    assert!(stderr.contains("bad.toml:5:1: incidents.severities.SEV-1.reaction: SEV-1 (3h) must not allow more time than the less severe SEV-2 (30m)"), "{stderr}");

    let out = run_in(dir.path(), &["policy", "check", "missing.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read config file missing.toml"));
}

#[test]
fn config_reference_is_markdown_for_every_section() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["config", "reference"]);
    let text = String::from_utf8(out.stdout).unwrap();
    for section in [
        "server",
        "log",
        "calendar",
        "thresholds",
        "escalation",
        "incidents",
        "regulatory",
        "backup",
        "changes",
        "deployment",
        "retention",
        "gates",
        "tenants",
    ] {
        assert!(text.contains(&format!("## `[{section}]`")), "{section}");
    }
}

#[test]
fn rules_export_is_the_policy_as_a_prometheus_rule_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("leitstand.toml"),
        "[thresholds.infrastructure.cpu]\nwarning = 65\ncritical = 88\ninterval = \"1m\"\n\n\
         [tenants.bank-a.thresholds.application.queue_depth]\nwarning = 50\ncritical = 200\ninterval = \"30s\"\n",
    )
    .unwrap();
    let out = run_in(dir.path(), &["rules", "export", "--format", "prometheus"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let file = String::from_utf8(out.stdout).unwrap();
    assert!(file.contains("      - alert: CpuWarning\n        expr: '100 * (1 - avg by (instance)"), "{file}");
    assert!(file.contains(") > 65'\n        for: 1m\n"), "{file}");
    std::fs::write(dir.path().join("rules.yml"), &file).unwrap();
    let check =
        std::process::Command::new("promtool").current_dir(dir.path()).args(["check", "rules", "rules.yml"]).output();
    let check = check.expect("promtool is installed (scripts/ensure-tools)");
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));

    let out = run_in(dir.path(), &["rules", "export", "--tenant", "bank-a"]);
    let tenant = String::from_utf8(out.stdout).unwrap();
    assert!(tenant.contains("expr: 'max by (service, tenant, queue) (queue_depth) > 50'"), "{tenant}");
    assert!(
        file.contains("expr: 'max by (service, tenant, queue) (queue_depth) > 100'"),
        "the base policy keeps the seed's 100"
    );
}

#[test]
fn rules_test_runs_promtool_unit_tests_of_the_exported_pack() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_in(dir.path(), &["rules", "export"]);
    std::fs::write(dir.path().join("leitstand.rules.yml"), &out.stdout).unwrap();
    let tests = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../leitstand-monitor/tests/pack/default-pack.test.yml"
    ))
    .unwrap();
    std::fs::write(dir.path().join("pack.test.yml"), &tests).unwrap();
    let out = run_in(dir.path(), &["rules", "test", "pack.test.yml"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("SUCCESS (15 expectations)"), "{stdout}");

    // A wrong expectation fails, naming the test, the alert and the time.
    std::fs::write(dir.path().join("wrong.test.yml"), tests.replace("eval_time: 4m", "eval_time: 3m")).unwrap();
    let out = run_in(dir.path(), &["rules", "test", "wrong.test.yml"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAILED (1 of 15 expectations)"), "{stdout}");
    assert!(
        stdout.contains("a probe down for a minute fires ProbeDown, and resolves: alertname: ProbeDown, time: 3m"),
        "{stdout}"
    );
}
