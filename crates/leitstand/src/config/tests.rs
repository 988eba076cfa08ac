use std::path::Path;

use leitstand_core::policy::Policy;
use leitstand_core::tenant::TenantSlug;

use super::*;

fn load_text(text: &str) -> Result<Config, ConfigError> {
    load_str(Some(Path::new("leitstand.toml")), Some(text), Vec::new())
}

fn errors(text: &str) -> Vec<String> {
    match load_text(text) {
        Err(ConfigError::Invalid(problems)) => problems.iter().map(ToString::to_string).collect(),
        other => panic!("expected invalid config, got {other:?}"),
    }
}

#[test]
fn no_file_means_the_seed_defaults() {
    let config = load_str(None, None, Vec::new()).unwrap();
    assert_eq!(config.policy.base, Policy::default());
    assert_eq!(config.server, ServerConfig::default());
    assert_eq!(config.server.database_url().expose(), "sqlite://./leitstand-data/leitstand.db");
}

#[test]
fn a_partial_override_keeps_every_other_seed_value() {
    let config = load_text("[thresholds.infrastructure.cpu]\nwarning = 60\n").unwrap();
    let cpu = config.policy.base.thresholds.infrastructure.cpu;
    assert_eq!(cpu.warning, 60.0);
    assert_eq!(cpu.critical, 90.0);
    assert_eq!(cpu.interval.to_string(), "30s");
    assert_eq!(config.policy.base.thresholds.infrastructure.memory.warning, 75.0);
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let errs = errors("[server]\nlisten = \"127.0.0.1:9000\"\n\n[thresholds.infrastructure.cpu]\nwarnign = 60\n");
    assert_eq!(
        errs,
        [
            "leitstand.toml:5:1: thresholds.infrastructure.cpu.warnign: unknown field `warnign`, expected one of `warning`, `critical`, `interval`"
        ]
    );
}

#[test]
fn unknown_top_level_section_is_named() {
    let errs = errors("[alarms]\nx = 1\n");
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("leitstand.toml:1:2: alarms: unknown field `alarms`"), "{errs:?}");
}

#[test]
fn wrong_type_names_the_position() {
    let errs = errors("[escalation]\ndedup_window = 5\n");
    assert_eq!(errs, ["leitstand.toml:2:1: escalation.dedup_window: invalid type: integer `5`, expected a string"]);
}

#[test]
fn warning_above_critical_is_impossible() {
    let errs = errors("[thresholds.infrastructure.cpu]\nwarning = 95\n");
    assert_eq!(
        errs,
        [
            "leitstand.toml:2:1: thresholds.infrastructure.cpu.warning: warning (95) must be below critical (90): cpu fires above it"
        ]
    );
}

#[test]
fn negative_duration_is_rejected() {
    let errs = errors("[escalation]\ndedup_window = \"-5m\"\n");
    assert_eq!(
        errs,
        ["leitstand.toml:2:1: escalation.dedup_window: invalid duration \"-5m\": durations cannot be negative"]
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let errs = errors(
        "[thresholds.infrastructure.disk]\nwarning = 90\n\n[escalation.levels]\n\n[retention.audit]\nkeep = \"1 year\"\n",
    );
    assert_eq!(
        errs,
        [
            "leitstand.toml:4:13: escalation.levels: invalid type: map, expected a sequence",
            "leitstand.toml:2:1: thresholds.infrastructure.disk.warning: warning (90) must be below critical (85): disk fires above it",
            "leitstand.toml:7:1: retention.audit.keep: audit logs (1 year) must be kept at least as long as security logs (3 years)",
        ],
        "a type error no longer hides the other problems"
    );
    let errs = errors("[thresholds.infrastructure.disk]\nwarning = 90\n\n[retention.audit]\nkeep = \"1 year\"\n");
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].starts_with("leitstand.toml:2:1: thresholds.infrastructure.disk.warning"));
    assert!(errs[1].starts_with("leitstand.toml:5:1: retention.audit.keep: audit logs (1 year) must be kept"));
}

#[test]
fn every_bad_array_element_and_unknown_key_is_reported_in_one_run() {
    // Issue 17, item 5: the README's alerting block failed one level per run.
    let text = "[server]\nlistn = \"x\"\n\n[[escalation.levels]]\nname = \"Eins\"\nnotify = [\"devops\"]\n\
                channels = [\"email\"]\nact_within = 5\n[[escalation.levels]]\nname = \"Zwei\"\nnotify = [\"devops\"]\n\
                channels = [\"email\"]\n[[escalation.levels]]\nname = \"Drei\"\nnotify = [\"devops\"]\nchannels = [\"fax\"]\n\n\
                [thresholds.infrastructure.cpu]\nwarnign = 60\n";
    let errs = errors(text);
    assert_eq!(errs.len(), 4, "{errs:#?}");
    assert!(errs[0].starts_with("leitstand.toml:2:1: server.listn: unknown field `listn`"), "{errs:#?}");
    let rest = errs[1..].join("\n");
    assert!(rest.contains("escalation.levels[0].act_within: invalid type: integer `5`"), "{rest}");
    assert!(rest.contains("escalation.levels[2].channels[0]: unknown variant `fax`"), "{rest}");
    assert!(rest.contains("thresholds.infrastructure.cpu.warnign: unknown field `warnign`"), "{rest}");
}

#[test]
fn a_level_without_opens_incident_does_not_open_one() {
    let text = "[[escalation.levels]]\nname = \"Eins\"\nnotify = [\"devops\"]\nchannels = [\"email\"]\n\
                [[escalation.levels]]\nname = \"Zwei\"\nnotify = [\"devops\"]\nchannels = [\"email\"]\nopens_incident = true\n";
    let config = load_text(text).unwrap();
    let levels = &config.policy.base.escalation.levels;
    assert_eq!((levels[0].opens_incident, levels[1].opens_incident), (false, true));
}

#[test]
fn array_elements_are_located() {
    let text = "[escalation]\n[[escalation.levels]]\nname = \"Eins\"\nnotify = []\nchannels = [\"email\"]\nopens_incident = false\n";
    let errs = errors(text);
    assert_eq!(errs, ["leitstand.toml:4:1: escalation.levels[0].notify: level 1 notifies nobody"]);
}

#[test]
fn syntax_errors_point_at_the_character() {
    let errs = errors("[server]\nlisten = = 1\n");
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("leitstand.toml:2:10: TOML syntax:"), "{errs:?}");
}

#[test]
fn environment_overrides_the_file_and_is_named_in_errors() {
    let env = vec![
        ("LEITSTAND__SERVER__LISTEN".to_string(), "127.0.0.1:9999".to_string()),
        ("LEITSTAND__THRESHOLDS__INFRASTRUCTURE__CPU__WARNING".to_string(), "65".to_string()),
        ("PATH".to_string(), "/usr/bin".to_string()),
    ];
    let config = load_str(Some(Path::new("x.toml")), Some("[server]\nlisten = \"127.0.0.1:1\"\n"), env).unwrap();
    assert_eq!(config.server.listen.port(), 9999);
    assert_eq!(config.policy.base.thresholds.infrastructure.cpu.warning, 65.0);

    let env = vec![("LEITSTAND__INCIDENTS__SEVERITIES__SEV-4__REACTION".to_string(), "sometime".to_string())];
    let Err(ConfigError::Invalid(problems)) = load_str(None, None, env) else { panic!() };
    assert_eq!(problems[0].origin, Origin::Env("LEITSTAND__INCIDENTS__SEVERITIES__SEV-4__REACTION".into()));
    assert_eq!(problems[0].key, "incidents.severities.SEV-4.reaction");
}

#[test]
fn tenants_override_their_sections_only() {
    let config = load_text(
        "[tenants.makler-01.thresholds.infrastructure.cpu]\nwarning = 60\n\n[tenants.makler-01.calendar]\ntime_zone = \"Europe/Lisbon\"\n",
    )
    .unwrap();
    let slug = TenantSlug::parse("makler-01").unwrap();
    let tenant = config.policy.for_tenant(&slug);
    assert_eq!(tenant.thresholds.infrastructure.cpu.warning, 60.0);
    assert_eq!(tenant.calendar.time_zone, "Europe/Lisbon");
    assert_eq!(config.policy.base.thresholds.infrastructure.cpu.warning, 70.0, "the base policy is untouched");
    let other = TenantSlug::parse("vergabe").unwrap();
    assert_eq!(config.policy.for_tenant(&other), &config.policy.base);

    let errs = errors("[tenants.makler-01.oidc]\nissuer = \"x\"\n");
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].starts_with("leitstand.toml:1:20: tenants.makler-01.oidc: a tenant cannot override `oidc`"),
        "{errs:?}"
    );
    let errs = errors("[tenants.Makler]\n[tenants.Makler.calendar]\ntime_zone = \"Europe/Berlin\"\n");
    assert!(errs[0].contains("invalid tenant slug \"Makler\""), "{errs:?}");
    let errs = errors("[tenants.bank.thresholds.security.certificate_expiry]\ncritical = 40\n");
    assert_eq!(
        errs,
        [
            "leitstand.toml:1:35: tenants.bank.thresholds.security.certificate_expiry.warning: warning (30) must be above critical (40): certificate_expiry fires below it"
        ]
    );
}

#[test]
fn database_passwords_never_print() {
    let url = DatabaseUrl::new("postgres://leitstand:s3cret@db.internal:5432/leitstand");
    assert_eq!(url.to_string(), "postgres://leitstand:***@db.internal:5432/leitstand");
    assert!(!format!("{url:?}").contains("s3cret"));
    assert_eq!(DatabaseUrl::new("sqlite://./x.db").to_string(), "sqlite://./x.db");
    assert_eq!(DatabaseUrl::new("postgres://u@h/db").to_string(), "postgres://u@h/db");
}

#[test]
fn the_committed_reference_is_current() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md"))
        .unwrap_or_default();
    assert!(
        committed == reference::markdown(),
        "docs/configuration.md is stale: run `cargo run -- config reference > docs/configuration.md`"
    );
}

#[test]
fn session_idle_timeout_cannot_exceed_the_absolute_one() {
    let errs = errors("[server]\nsession_idle_timeout = \"13h\"\n");
    assert_eq!(
        errs,
        [
            "leitstand.toml:2:1: server.session_idle_timeout: must be longer than 0s and at most session_absolute_timeout (12h)"
        ]
    );
}

#[test]
fn probes_and_targets_are_checked_per_kind_with_file_line_probe_and_field() {
    let errs = errors(
        r#"
[[monitoring.probes]]
id = "portal"
kind = "http"
target = "portal.example/health"
server_name = "portal.example"

[[monitoring.probes]]
id = "Zert"
kind = "tls"
target = "portal.example"
interval = "500ms"

[[monitoring.probes]]
id = "dns"
kind = "dns"
target = "portal.example"
expect_addresses = ["not-an-ip"]
labels = { tenant = "bank-b" }

[[monitoring.targets]]
id = "app"
url = "ftp://app/metrics"
"#,
    );
    assert_eq!(
        errs,
        [
            "leitstand.toml:6:1: monitoring.probes[0].server_name: probe \"portal\": does not apply to a http probe",
            "leitstand.toml:5:1: monitoring.probes[0].target: probe \"portal\": \"portal.example/health\" is not an http(s):// URL",
            "leitstand.toml:9:1: monitoring.probes[1].id: probe \"Zert\": use lower-case letters, digits and - (at most 63)",
            "leitstand.toml:11:1: monitoring.probes[1].target: probe \"Zert\": \"portal.example\" is not host:port",
            "leitstand.toml:12:1: monitoring.probes[1].interval: probe \"Zert\": must be at least 1s",
            "leitstand.toml:18:1: monitoring.probes[2].expect_addresses: probe \"dns\": \"not-an-ip\" is not an IP address",
            "leitstand.toml:19:1: monitoring.probes[2].labels: probe \"dns\": \"tenant\" is set by Leitstand; use the tenant key where there is one",
            "leitstand.toml:23:1: monitoring.targets[0].url: target \"app\": must be an http(s):// URL",
        ]
    );
}

#[test]
fn a_valid_probe_config_becomes_runtime_settings() {
    let config = load_text(
        r#"
[[monitoring.probes]]
id = "portal-cert"
kind = "tls"
target = "portal.example:443"
tenant = "bank-a"

[[monitoring.probes]]
id = "vergabe"
kind = "http"
target = "https://vergabe.example/health"
json_pointer = "/status"
json_value = "UP"
headers = { Authorization = "Bearer geheim-123" }
"#,
    )
    .unwrap();
    assert!(!format!("{config:?}").contains("geheim-123"), "header values never print");
    let settings = config.monitoring.settings(&config.policy, Path::new("data")).unwrap();
    let tls = &settings.probes[0];
    assert_eq!(tls.interval, std::time::Duration::from_secs(86_400), "the policy's certificate interval");
    assert!(matches!(&tls.check, leitstand_probes::check::Check::Tls(tls) if tls.server_name == "portal.example"));
    assert_eq!(tls.tenant.as_ref().map(|t| t.as_str()), Some("bank-a"));
    assert_eq!(tls.retries, 0, "a daily check does not wait a day to retry");
    assert_eq!((settings.probes[1].retries, settings.probes[1].interval.as_secs()), (1, 30));
    assert!(!format!("{settings:?}").contains("geheim-123"));
    let leitstand_probes::check::Check::Http(http) = &settings.probes[1].check else { panic!() };
    assert_eq!(http.headers, [("Authorization".to_string(), "Bearer geheim-123".to_string())]);
    let probe_down = settings.rules.iter().find(|r| r.name == "ProbeDown").unwrap();
    assert_eq!((probe_down.for_ms, probe_down.interval_ms), (60_000, 30_000));
}

#[test]
fn a_tenant_with_its_own_thresholds_gets_its_own_rules_and_the_platform_the_rest() {
    let config = load_text("[tenants.bank-a.thresholds.application.queue_depth]\ncritical = 200\n").unwrap();
    let settings = config.monitoring.settings(&config.policy, Path::new("data")).unwrap();
    let queue: Vec<(&str, Option<String>)> = settings
        .rules
        .iter()
        .filter(|r| r.name == "QueueDepthCritical")
        .map(|r| (r.expr_text.as_str(), r.scope.as_ref().map(ToString::to_string)))
        .collect();
    assert_eq!(
        queue,
        [
            ("max by (service, tenant, queue) (queue_depth) > 500", Some("tenant!~\"bank-a\"".to_string())),
            ("max by (service, tenant, queue) (queue_depth) > 200", Some("tenant=\"bank-a\"".to_string()))
        ]
    );
    assert_eq!(settings.rules.iter().filter(|r| r.name == "ProbeDown").count(), 1);
    // Without tenant thresholds, the platform's pack alone, unscoped.
    let plain = load_text("").unwrap();
    let rules = plain.monitoring.settings(&plain.policy, Path::new("data")).unwrap().rules;
    assert!(rules.iter().all(|r| r.scope.is_none()));
}

#[test]
fn credentials_belong_in_headers_not_in_urls_and_never_in_messages() {
    let errs = errors(
        "[[monitoring.targets]]\nid = \"app\"\nurl = \"https://scraper:geheim@app.example/metrics\"\nheaders = { Authorization = \"Bearer a\\nb\" }\n\n[[monitoring.targets]]\nid = \"probe\"\nurl = \"http://x/metrics\"\n",
    );
    assert_eq!(
        errs,
        [
            "leitstand.toml:3:1: monitoring.targets[0].url: target \"app\": the URL carries credentials, which would be shown and logged; put them in headers",
            "leitstand.toml:4:1: monitoring.targets[0].headers: target \"app\": the value of \"Authorization\" is not a valid header value",
            "leitstand.toml:7:1: monitoring.targets[1].id: target \"probe\": the job name is Leitstand's own",
        ]
    );
    assert!(errs.iter().all(|e| !e.contains("geheim") && !e.contains("Bearer")));
}

#[test]
fn a_rule_file_that_is_no_file_is_named_and_does_not_stall_the_start() {
    let errs = errors("[monitoring]\nrule_files = [\"/dev/zero\", \"/nicht/da.yml\"]\n");
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].contains("monitoring.rule_files[0]: cannot read /dev/zero: larger than 16 MiB"), "{errs:?}");
    assert!(errs[1].contains("monitoring.rule_files[1]: cannot read /nicht/da.yml: "), "{errs:?}");
}

#[test]
fn alerting_config_problems_name_path_and_reason() {
    leitstand_app::install_crypto_provider();
    let errs = errors(
        r#"
[[alerting.channels]]
id = "ops-hook"
kind = "webhook"
url = "ftp://hooks.example/x"
fallback = "nowhere"

[[alerting.channels]]
id = "ops-mail"
kind = "email"
to = ["not an address"]
smtp = { host = "127.0.0.1", port = 2525, tls = "none", from = "leitstand@example.org" }

[alerting.audiences.devops]
channels = ["ops-hook", "ops-chat"]

[alerting.audiences.everyone]
channels = []

[alerting.people.anna]
name = "Anna"

[[alerting.schedules]]
id = "primary"
name = "Rufbereitschaft"
time_zone = "Europe/Berlln"
[[alerting.schedules.rotations]]
name = "Woche"
participants = ["anna", "zoe"]
start = "2026-11-30T09:00"
length = "7d"

[[alerting.inhibit]]
source = ['alertname="HostDown"']
target = ['severity=~"(warning"']
"#,
    );
    let text = errs.join("\n");
    for expected in [
        "alerting.channels[0].url: channel \"ops-hook\"",
        "alerting.channels[1].to[0]: channel \"ops-mail\"",
        "alerting.audiences.devops.channels[1]: no channel \"ops-chat\"",
        "alerting.audiences.everyone: unknown audience",
        "alerting.schedules[0].time_zone: schedule \"primary\"",
        "alerting.schedules[0].rotations[0].participants[1]: schedule \"primary\"",
        "alerting.inhibit[0].target_matchers[0]",
    ] {
        assert!(text.contains(expected), "{expected:?} missing in:\n{text}");
    }
    // Each names the file and line.
    assert!(errs.iter().all(|e| e.starts_with("leitstand.toml:")), "{text}");
}

#[test]
fn alerting_config_builds_channels_and_schedules() {
    leitstand_app::install_crypto_provider();
    let config = load_text(
        r#"
[alerting]
group_wait = "0s"
[[alerting.channels]]
id = "ops-hook"
kind = "webhook"
url = "http://127.0.0.1:9000/hook"
secret = "0123456789abcdef"
[alerting.audiences.on_call]
channels = ["ops-hook"]
schedule = "primary"
[alerting.people.anna]
name = "Anna"
email = "anna@example.org"
[[alerting.schedules]]
id = "primary"
name = "Rufbereitschaft"
time_zone = "Europe/Berlin"
[[alerting.schedules.rotations]]
name = "Woche"
participants = ["anna"]
start = "2026-11-30T09:00"
length = "7d"
"#,
    )
    .unwrap();
    let s = &config.alerting_settings;
    assert_eq!(s.channels.len(), 1);
    assert_eq!(s.schedules[0].id(), "primary");
    assert!(s.group_wait.is_zero());
    assert!(!format!("{config:?}").contains("0123456789abcdef"), "the webhook secret is never printed");
}

#[test]
fn debug_events_are_recorded_only_where_the_policy_allows_them() {
    use leitstand_ledger::entry::RetentionClass;
    let refused = |text: &str| crate::serve::audit_settings(&load_text(text).unwrap()).rules.refused_classes;
    assert_eq!(refused(""), [RetentionClass::Debug], "the seed: never debug logs in production");
    assert_eq!(refused("[retention.debug]\nallowed_in_production = true\n"), []);
    assert_eq!(
        refused("[retention.access]\nallowed_in_production = false\n"),
        [RetentionClass::Access, RetentionClass::Debug]
    );
}

#[test]
fn sections_nothing_enforces_yet_are_refused_with_the_reason() {
    let errs = errors(
        "[deployment]\nsnapshot_before_migration = false\n\n[tenants.bank-a.incidents]\n\
         post_mortem_within = \"3 working days\"\n",
    );
    assert_eq!(
        errs,
        [
            "leitstand.toml:2:1: deployment.snapshot_before_migration: not in force yet: this build has no deployments, so the value would change nothing; remove it (`leitstand policy show` lists the seed value)",
            "leitstand.toml:5:1: tenants.bank-a.incidents.post_mortem_within: not in force yet: this build has no incident management, so the value would change nothing; remove it (`leitstand policy show` lists the seed value)",
        ]
    );
    let env = vec![("LEITSTAND__INCIDENTS__FIX_NEEDS_COMPLIANCE_APPROVAL".to_string(), "false".to_string())];
    let Err(ConfigError::Invalid(problems)) = load_str(None, None, env) else { panic!("refused") };
    assert!(problems.iter().any(|p| p.message.contains("no incident management")), "{problems:?}");
    // The seed values stay in the policy, for reference.
    assert!(load_text("").unwrap().policy.base.deployment.snapshot_before_migration);
}

#[test]
fn audit_retention_counts_in_the_configured_calendar() {
    let epiphany: jiff::civil::Date = "2026-01-06".parse().unwrap();
    let calendar = |text: &str| crate::serve::audit_settings(&load_text(text).unwrap()).calendar;
    assert!(calendar("").is_working_day(epiphany), "nationwide, 6 January is a working day");
    let bavaria = calendar("[calendar]\nstate = \"BY\"\nextra_holidays = [\"2026-12-24\"]\n");
    assert!(!bavaria.is_working_day(epiphany), "Heilige Drei Könige in Bavaria");
    assert!(!bavaria.is_working_day("2026-12-24".parse().unwrap()));
}

#[test]
fn zero_audit_intervals_are_refused() {
    let errs = errors("[audit]\nverify_interval = \"0s\"\nretention_interval = \"0s\"\n");
    assert_eq!(
        errs,
        [
            "leitstand.toml:2:1: audit.verify_interval: must be longer than 0s",
            "leitstand.toml:3:1: audit.retention_interval: must be longer than 0s"
        ]
    );
}
