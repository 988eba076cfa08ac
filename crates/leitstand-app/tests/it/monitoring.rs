//! Monitoring services over a real web server on loopback, with a manual
//! clock: probe runs turn into up/down history (dated from the first
//! failure), audit events, availability per EVB-IT with maintenance
//! windows, rule alerts — and tenant viewers see only their tenant's.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use leitstand_app::AppError;
use leitstand_app::alerting::engine::Engine;
use leitstand_app::alerting::runtime::rule_observation;
use leitstand_app::monitoring::runtime::{
    EvaluationPlan, evaluate_group, jobs, reconcile_group, run_probe, stop_recording,
};
use leitstand_app::monitoring::{Monitoring, MonitoringSettings, ProbeDef};
use leitstand_core::Clock;
use leitstand_core::access::Role;
use leitstand_core::policy::MaintenanceWindow;
use leitstand_core::tenant::TenantSlug;
use leitstand_monitor::rules::Rule;
use leitstand_probes::check::{Check, Checker};
use leitstand_probes::http::HttpProbe;
use leitstand_probes::tcp::TcpProbe;
use leitstand_store::{LeaseRepository, ProbeHistoryRepository, ProbeTransition, store_test};

use crate::{add, admin, app, audit};

/// A web server whose health page answers 200 or 503 as `healthy` says.
async fn portal(healthy: Arc<AtomicBool>) -> String {
    let app = axum::Router::new().route(
        "/health",
        axum::routing::get(move || {
            let ok = healthy.load(Ordering::SeqCst);
            async move {
                if ok {
                    (axum::http::StatusCode::OK, "ready")
                } else {
                    (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down")
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/health")
}

fn probe(id: &str, tenant: Option<&str>, check: Check) -> ProbeDef {
    ProbeDef {
        id: id.into(),
        name: None,
        tenant: tenant.map(|t| TenantSlug::parse(t.to_string()).unwrap()),
        service: Some("portal".into()),
        labels: vec![],
        check,
        interval: Duration::from_secs(30),
        timeout: Duration::from_secs(2),
        retries: 1,
    }
}

fn at(t0: Timestamp, secs: i64) -> Timestamp {
    t0 + SignedDuration::from_secs(secs)
}

store_test!(probe_runs_become_history_audit_availability_and_alerts, |store| {
    leitstand_app::install_crypto_provider();
    let healthy = Arc::new(AtomicBool::new(true));
    let url = portal(healthy.clone()).await;
    let (mut app, clock) = app(store);
    let t0 = clock.now();
    let probes = vec![
        probe(
            "portal-web",
            Some("bank-a"),
            Check::Http(HttpProbe { body_contains: Some("ready".into()), ..HttpProbe::get(&url) }),
        ),
        probe(
            "intern-tcp",
            None,
            Check::Tcp(TcpProbe::new(url.trim_start_matches("http://").trim_end_matches("/health"))),
        ),
    ];
    let rules = vec![
        Rule::new(
            "ProbeDown",
            "probe_success == 0",
            0,
            30_000,
            vec![("severity".into(), "critical".into())],
            vec![("summary_de".into(), "{{ $labels.instance }} ist nicht erreichbar".into())],
        )
        .unwrap(),
    ];
    let mut settings = MonitoringSettings { probes, rules, ..Default::default() };
    // A maintenance window 10:01:00–10:01:30 (UTC) daily for the portal.
    settings.policy.base.calendar.time_zone = "UTC".into();
    settings.policy.base.maintenance.windows = vec![MaintenanceWindow {
        name: "Wartung".into(),
        start: "1 10 * * *".into(),
        duration: leitstand_core::time_limit::Duration::from_secs(30),
        time_zone: None,
        services: vec!["portal".into()],
    }];
    app.monitoring = Arc::new(Monitoring::new(settings));
    let checker = Checker::new(leitstand_probes::tls::system_roots()).unwrap();
    let admin = admin(&app).await;
    app.create_tenant(&admin, "bank-a", "Bank A").await.unwrap();

    // Up at 10:00; failing at 10:00:30 (tolerated once) and 10:01 (down since 10:00:30); up at 10:02.
    for (secs, ok) in [(0, true), (30, false), (60, false), (120, true)] {
        clock.set(at(t0, secs));
        healthy.store(ok, Ordering::SeqCst);
        run_probe(&app, 0, &checker).await;
        if secs == 60 {
            let events = evaluate_group(&app.monitoring, 30_000, clock.now());
            let firing: Vec<_> = events.iter().filter(|e| e.state == "firing").collect();
            assert_eq!(firing.len(), 1, "{events:?}");
            assert_eq!(firing[0].label("tenant"), Some("bank-a"));
            assert_eq!(firing[0].annotations, [("summary_de".to_string(), format!("{url} ist nicht erreichbar"))]);
        }
    }
    let history = store.probe_history("portal-web", t0, at(t0, 600)).await.unwrap();
    let states: Vec<(Timestamp, Option<bool>)> = history.iter().map(|t| (t.at, t.up)).collect();
    assert_eq!(states, [(t0, Some(true)), (at(t0, 30), Some(false)), (at(t0, 120), Some(true))]);
    assert_eq!(history[1].message, "status 503, expected 200–399");

    let events = audit(&app).await;
    let down = events.iter().find(|e| e.action == "probe.down").expect("probe.down audited");
    assert_eq!((down.object.as_deref(), down.tenant.as_deref()), (Some("probe:portal-web"), Some("bank-a")));
    assert_eq!(down.time, at(t0, 30), "the audit event is dated when the outage began");
    assert!(events.iter().any(|e| e.action == "probe.up"));

    // 3 minutes, 90 s down, 30 s of it in the maintenance window: (150 − 60) / 150.
    clock.set(at(t0, 180));
    let a = app.probe_availability(&admin, "portal-web", Some(t0), Some(at(t0, 180))).await.unwrap();
    assert_eq!((a.figures.total_minutes, a.figures.outage_minutes, a.figures.maintenance_minutes), (2.5, 1.0, 0.5));
    assert!((a.figures.ratio.unwrap() - 0.6).abs() < 1e-9);
    // A period reaching into the future is measured up to now.
    let month = app.probe_availability(&admin, "portal-web", Some(t0), None).await.unwrap();
    assert_eq!(month.measured_until, at(t0, 180));
    assert_eq!(
        month.to,
        "2026-12-01T00:00:00Z".parse::<Timestamp>().unwrap(),
        "to the end of the month in the policy's zone"
    );
    assert!(matches!(
        app.probe_availability(&admin, "portal-web", Some(t0), Some(t0)).await,
        Err(AppError::Invalid { .. })
    ));

    // The tenant viewer of bank-a sees the portal's probe and alert, not the platform's probe.
    clock.set(at(t0, 200));
    let viewer = add(&app, &admin, "viewer", Role::TenantViewer, &["bank-a"]).await;
    let ids: Vec<String> = app.probes(&viewer).await.unwrap().into_iter().map(|p| p.id).collect();
    assert_eq!(ids, ["portal-web"]);
    assert!(matches!(app.probe(&viewer, "intern-tcp").await, Err(AppError::NotFound { .. })));
    assert!(matches!(
        app.probe_availability(&viewer, "intern-tcp", Some(t0), Some(at(t0, 60))).await,
        Err(AppError::NotFound { .. })
    ));
    assert_eq!(app.probes(&admin).await.unwrap().len(), 2);
    let (view, points) = app.probe(&viewer, "portal-web").await.unwrap();
    assert_eq!((view.up, view.since), (Some(true), Some(at(t0, 120))));
    assert_eq!(points.iter().map(|p| p.success).collect::<Vec<_>>(), [true, false, false, true]);
    assert_eq!(app.alert_changes(&viewer).await.unwrap().len(), 1);
    assert!(app.host_metrics_status(&viewer).await.unwrap().is_none(), "the platform host is not a tenant's");

    // A graceful stop: from now on the state is unknown, not up — written
    // only by the replica holding the lease.
    stop_recording(&app, "another-replica").await;
    assert_eq!(
        store.latest_probe_transitions().await.unwrap().iter().find(|(p, _)| p == "portal-web").unwrap().1.up,
        Some(true)
    );
    store.try_acquire_lease("monitoring", "replica-test", clock.now(), Duration::from_secs(30)).await.unwrap().unwrap();
    stop_recording(&app, "replica-test").await;
    let latest = store.latest_probe_transitions().await.unwrap();
    let portal = latest.iter().find(|(p, _)| p == "portal-web").unwrap();
    assert_eq!(portal.1, ProbeTransition { at: at(t0, 200), up: None, message: "Leitstand stopped".into() });
});

store_test!(rule_alerts_are_scoped_to_the_viewers_tenants, |store| {
    let (mut app, clock) = app(store);
    let rules = vec![Rule::new("QueueDeep", "queue_depth > 500", 0, 30_000, vec![], vec![]).unwrap()];
    app.monitoring = Arc::new(Monitoring::new(MonitoringSettings { rules, ..Default::default() }));
    let admin = admin(&app).await;
    app.create_tenant(&admin, "bank-a", "Bank A").await.unwrap();
    app.create_tenant(&admin, "bank-b", "Bank B").await.unwrap();
    let viewer = add(&app, &admin, "viewer", Role::TenantViewer, &["bank-b"]).await;
    let now = clock.now();
    let rules = app.rules(&viewer).await.unwrap();
    assert_eq!(rules[0].last_eval, None);
    // Fill the store through the public scrape path's labels: one deep queue per tenant.
    {
        let text = "queue_depth{queue=\"orders\"} 700\n";
        let families = leitstand_monitor::exposition::parse(
            text,
            leitstand_monitor::exposition::Format::Prometheus,
            &Default::default(),
        )
        .unwrap();
        for tenant in ["bank-a", "bank-b"] {
            let target = leitstand_probes::scrape::Target {
                headers: Vec::new(),
                url: String::new(),
                labels: vec![("job".into(), "portal".into()), ("tenant".into(), tenant.into())],
                timeout: Duration::from_secs(1),
            };
            let scrape = leitstand_probes::scrape::Scrape {
                up: true,
                duration: Duration::from_millis(3),
                samples: families[0]
                    .samples
                    .iter()
                    .map(|s| (leitstand_monitor::series::scraped_labels(s, &target.labels), s.value))
                    .collect(),
                error: None,
            };
            let refused = app
                .monitoring
                .with_series(|s| leitstand_probes::scrape::store(s, &target, &scrape, now.as_millisecond(), 0));
            assert!(refused.is_empty());
        }
    }
    let events = evaluate_group(&app.monitoring, 30_000, now);
    assert_eq!(events.len(), 2);
    let seen = app.rules(&viewer).await.unwrap();
    let tenants: Vec<&str> = seen[0]
        .alerts
        .iter()
        .flat_map(|a| a.labels.iter().filter(|(k, _)| k == "tenant").map(|(_, v)| v.as_str()))
        .collect();
    assert_eq!(tenants, ["bank-b"]);
    assert_eq!(seen[0].state(), "firing");
    assert_eq!(app.rules(&admin).await.unwrap()[0].alerts.len(), 2);
    let auditor = add(&app, &admin, "pruefer", Role::Auditor, &[]).await;
    assert_eq!(app.alert_changes(&auditor).await.unwrap().len(), 2);
});

/// One probe of `url` every `interval`, and `ProbeDown` at once.
fn down_rule_settings(url: &str, interval: Duration) -> MonitoringSettings {
    let mut p =
        probe("portal", None, Check::Http(HttpProbe { body_contains: Some("ready".into()), ..HttpProbe::get(url) }));
    p.interval = interval;
    p.retries = 0;
    let rule = Rule::new(
        "ProbeDown",
        "probe_success == 0",
        0,
        30_000,
        vec![("severity".into(), "critical".into())],
        vec![("summary_de".into(), "{{ $labels.instance }} ist nicht erreichbar".into())],
    )
    .unwrap();
    MonitoringSettings { probes: vec![p], rules: vec![rule], ..Default::default() }
}

/// Evaluates the 30 s group and hands what changed to the engine.
async fn evaluate_into(app: &leitstand_app::App, engine: &mut leitstand_app::alerting::engine::Engine) -> Vec<String> {
    let events = evaluate_group(&app.monitoring, 30_000, app.clock.now());
    let states = events.iter().map(|e| e.state.to_string()).collect();
    let observations = events.into_iter().filter_map(|e| rule_observation(e, "http://leitstand.test")).collect();
    engine.observe(observations).await.unwrap();
    states
}

async fn statuses(store: &leitstand_store::Store) -> Vec<String> {
    use leitstand_store::AlertRepository;
    store.alerts(&Default::default()).await.unwrap().into_iter().map(|a| a.status).collect()
}

store_test!(a_rule_alert_firing_before_a_restart_resolves_once_the_condition_has_ended, |store| {
    // Issue 17, item 1: rule states live in memory; after a restart a
    // condition that ended meanwhile sent no transition, and the alert
    // stayed open for good.
    leitstand_app::install_crypto_provider();
    let healthy = Arc::new(AtomicBool::new(false));
    let url = portal(healthy.clone()).await;
    let (mut app, clock) = app(store);
    let _admin = admin(&app).await;
    let settings = down_rule_settings(&url, Duration::from_secs(30));
    app.monitoring = Arc::new(Monitoring::new(settings.clone()));
    let checker = Checker::new(leitstand_probes::tls::system_roots()).unwrap();
    let mut engine = Engine::load(app.clone(), None).await.unwrap();
    run_probe(&app, 0, &checker).await;
    assert_eq!(evaluate_into(&app, &mut engine).await, ["firing"]);
    assert_eq!(statuses(store).await, ["firing"]);

    // Restart while it fires: fresh rule states, the alert loaded again.
    clock.advance(SignedDuration::from_secs(60));
    app.monitoring = Arc::new(Monitoring::new(settings.clone()));
    let mut engine = Engine::load(app.clone(), None).await.unwrap();
    run_probe(&app, 0, &checker).await;
    assert_eq!(evaluate_into(&app, &mut engine).await, ["firing"], "still down: the same alert again");
    assert!(reconcile_group(&app, 30_000).await.is_empty(), "an alert whose condition holds stays");
    assert_eq!(statuses(store).await, ["firing"]);

    // Restart after the portal came back: nothing transitions, the
    // reconciliation resolves it.
    healthy.store(true, Ordering::SeqCst);
    clock.advance(SignedDuration::from_secs(60));
    app.monitoring = Arc::new(Monitoring::new(settings));
    let mut engine = Engine::load(app.clone(), None).await.unwrap();
    run_probe(&app, 0, &checker).await;
    assert!(evaluate_into(&app, &mut engine).await.is_empty(), "inactive to inactive is no transition");
    let resolved = reconcile_group(&app, 30_000).await;
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].label("instance"), Some(url.as_str()));
    let observations = resolved.into_iter().filter_map(|e| rule_observation(e, "http://leitstand.test")).collect();
    engine.observe(observations).await.unwrap();
    assert_eq!(statuses(store).await, ["resolved"]);
    assert_eq!(
        app.alert_changes(&_admin).await.unwrap().last().map(|c| c.state),
        Some("resolved"),
        "shown as a change"
    );
});

store_test!(a_daily_probes_alert_holds_as_long_as_its_check, |store| {
    // Issue 17, item 2: the result of a 24-hour check went stale after the
    // 5-minute lookback and the alert resolved while the probe was down.
    leitstand_app::install_crypto_provider();
    let healthy = Arc::new(AtomicBool::new(false));
    let url = portal(healthy.clone()).await;
    let (mut app, clock) = app(store);
    let _admin = admin(&app).await;
    let mut settings = down_rule_settings(&url, Duration::from_secs(24 * 3600));
    settings.retention = Duration::from_secs(2 * 3600);
    app.monitoring = Arc::new(Monitoring::new(settings));
    let checker = Checker::new(leitstand_probes::tls::system_roots()).unwrap();
    let mut engine = Engine::load(app.clone(), None).await.unwrap();
    run_probe(&app, 0, &checker).await;
    assert_eq!(evaluate_into(&app, &mut engine).await, ["firing"]);
    let t0 = clock.now();
    for minutes in [6, 60, 180, 23 * 60] {
        clock.set(t0 + SignedDuration::from_mins(minutes));
        app.monitoring.prune(clock.now());
        assert!(evaluate_into(&app, &mut engine).await.is_empty(), "still down after {minutes} min");
    }
    assert_eq!(statuses(store).await, ["firing"]);
});

store_test!(after_a_restart_an_alert_is_not_resolved_before_its_probe_has_run, |store| {
    // Issue 17: the reconciliation ran at a group's first evaluation, 30 s
    // after the start, while the README's daily certificate probe has its
    // first run only later in the first minute: with no result yet its
    // ProbeDown looked ended, a false resolution went out, and the alert
    // fired again at once.
    leitstand_app::install_crypto_provider();
    let (mut app, clock) = app(store);
    let _admin = admin(&app).await;
    let mut cert = probe(
        "portal-cert",
        None,
        Check::Tls(leitstand_probes::tls::TlsProbe {
            address: "127.0.0.1:9".into(),
            server_name: "portal.example.de".into(),
        }),
    );
    cert.interval = Duration::from_secs(24 * 3600);
    cert.timeout = Duration::from_secs(10);
    cert.retries = 0;
    let mut settings = down_rule_settings("http://127.0.0.1:9/health", Duration::from_secs(30));
    settings.probes = vec![cert];
    let checker = Checker::new(leitstand_probes::tls::system_roots()).unwrap();
    app.monitoring = Arc::new(Monitoring::new(settings.clone()));
    let mut engine = Engine::load(app.clone(), None).await.unwrap();
    run_probe(&app, 0, &checker).await;
    assert_eq!(evaluate_into(&app, &mut engine).await, ["firing"]);

    // The restart: the plan the runtime follows.
    clock.advance(SignedDuration::from_secs(60));
    app.monitoring = Arc::new(Monitoring::new(settings));
    let mut engine = Engine::load(app.clone(), None).await.unwrap();
    let (planned, _) = jobs(&app.monitoring);
    let plan = EvaluationPlan::new(&app.monitoring, &planned);
    let probe_done = leitstand_probes::schedule::offset("probe/portal-cert", 24 * 3600 * 1000) + 10_000;
    assert!(plan.first_round > probe_done, "the first round waits for the certificate probe");
    assert!(plan.first_evaluation(30_000) < probe_done, "the group's first verdict comes before the probe has run");
    let mut reconciled = std::collections::HashSet::new();
    let mut at = plan.first_evaluation(30_000);
    let mut ran = false;
    while !plan.reconciles(30_000, at, &mut reconciled) {
        assert!(at < probe_done, "no reconciliation after the probe's first run is possible ({at} ms)");
        evaluate_into(&app, &mut engine).await;
        at += 30_000;
        if !ran && at >= probe_done {
            run_probe(&app, 0, &checker).await;
            ran = true;
        }
    }
    assert!(ran && at >= plan.first_round, "reconciled at {at} ms, after the probe's first run");
    evaluate_into(&app, &mut engine).await;
    assert!(reconcile_group(&app, 30_000).await.is_empty(), "the alert still holds and is not resolved");
    assert_eq!(statuses(store).await, ["firing"]);
});
