//! The audit service: own events pseudonymised, self-verification raising an
//! alert on tampering, retention pruning index and journal while the log
//! keeps verifying, and the outbox of CLI commands.

use std::sync::atomic::Ordering;

use jiff::SignedDuration;
use leitstand_app::{AuditLogSettings, AuditSink};
use leitstand_store::{AuditLogRepository, store_test};
use serde_json::json;

use crate::{admin, app, audit, audit_sink_with};

store_test!(own_events_are_pseudonymised_and_self_verification_alerts, |store| {
    let (app, _) = app(store);
    let admin = admin(&app).await;
    app.create_tenant(&admin, "bund", "Bund").await.unwrap();
    let events = audit(&app).await;
    let login = events.iter().find(|e| e.action == "auth.login").unwrap();
    assert!(login.actor.starts_with("ps:") && !login.event.contains("admin\""), "{}", login.event);
    assert_eq!(login.retention, "security");
    assert_eq!(events.iter().find(|e| e.action == "tenant.create").unwrap().tenant.as_deref(), Some("bund"));

    let report = app.verify_audit_log().await.unwrap();
    assert_eq!(report.findings, Vec::<String>::new());
    let log = app.audit_sink.log().unwrap().clone();
    log.ledger.wait_published(log.ledger.state().sequenced).await;
    assert_eq!(log.verify_findings.load(Ordering::Relaxed), 0);

    // Someone edits a stored event in the journal, keeping its checksum valid.
    let dir = log.ledger.journal_dir().to_path_buf();
    let journal = leitstand_audit::journal::Journal::open(&dir).unwrap();
    let mut records: Vec<_> = journal.read_from(0).map(Result::unwrap).collect();
    let victim = records.iter().position(|r| String::from_utf8_lossy(&r.event).contains("tenant.create")).unwrap();
    records[victim].event =
        String::from_utf8(records[victim].event.clone()).unwrap().replace("success", "failure").into_bytes();
    let class = records[victim].class;
    let same_class: Vec<_> = records.into_iter().filter(|r| r.class == class).collect();
    let forged = tempfile::tempdir().unwrap();
    let mut copy = leitstand_audit::journal::Journal::open(forged.path()).unwrap();
    copy.append(&same_class).unwrap();
    // Rewritten in place (same file), as an editor with write access would.
    let bytes = std::fs::read(&copy.segments(class)[0].path).unwrap();
    std::fs::write(&journal.segments(class)[0].path, bytes).unwrap();

    let report = app.verify_audit_log().await.unwrap();
    assert!(report.findings[0].contains("does not match its log entry"), "{:?}", report.findings);
    assert_eq!(log.verify_findings.load(Ordering::Relaxed), 1);
    let alert = audit(&app).await.into_iter().find(|e| e.action == "audit.verify").unwrap();
    assert_eq!(alert.outcome, "failure");
});

store_test!(debug_events_are_refused_unless_the_policy_allows_them, |store| {
    let (app, _) = app(store);
    let debug = |class: &str| leitstand_ledger::event::SubmittedEvent {
        actor: "service:batch".into(),
        action: "job.run".into(),
        outcome: "success".into(),
        retention: Some(class.into()),
        ..Default::default()
    };
    let err = app.audit().submit(vec![debug("application"), debug("debug")]).await.unwrap_err().to_string();
    assert!(err.contains("event 1: retention"), "{err}");
    assert!(err.contains("retention.debug.allowed_in_production = false"), "{err}");
    assert!(audit(&app).await.iter().all(|e| e.action != "job.run"), "all or nothing: the batch is refused");
});

store_test!(retention_prunes_expired_events_and_the_log_still_verifies, |store| {
    let (mut app, clock) = app(store);
    // A staging installation (`retention.debug.allowed_in_production = true`).
    app.audit_sink = audit_sink_with(clock.clone(), |s| s.rules.refused_classes.clear());
    let admin = admin(&app).await;
    let events = |n: usize, class: &str| {
        (0..n)
            .map(|i| leitstand_ledger::event::SubmittedEvent {
                actor: "service:batch".into(),
                action: "job.run".into(),
                outcome: "success".into(),
                object: Some(format!("job:{i}")),
                retention: Some(class.into()),
                ..Default::default()
            })
            .collect::<Vec<_>>()
    };
    app.audit().submit(events(4, "debug")).await.unwrap();
    app.audit().submit(events(2, "application")).await.unwrap();
    clock.advance(SignedDuration::from_hours(24 * 20));
    app.audit().submit(events(1, "debug")).await.unwrap();
    app.create_tenant(&admin, "later", "Later").await.unwrap();
    assert_eq!(audit(&app).await.iter().filter(|e| e.retention == "debug").count(), 5);

    let removed = app.apply_audit_retention().await.unwrap();
    assert_eq!(removed, 4, "the 20-day-old debug events (14 days) go, application (90 days) stays");
    let left = audit(&app).await;
    assert_eq!(left.iter().filter(|e| e.retention == "debug").count(), 1);
    assert_eq!(left.iter().filter(|e| e.retention == "application").count(), 2);
    // Verification reads the published tiles: wait until every event is in
    // them (under load, publishing may lag behind sequencing).
    let log = app.audit_sink.log().unwrap();
    log.ledger.wait_published(log.ledger.state().sequenced).await;
    let report = app.verify_audit_log().await.unwrap();
    assert_eq!(report.findings, Vec::<String>::new());
    assert_eq!(report.pruned, 4, "reported as pruned per retention, not missing");
});

store_test!(cli_events_wait_in_the_outbox_until_the_server_appends_them, |store| {
    let (server, clock) = app(store);
    let held = server.audit_sink.log().unwrap().ledger.journal_dir().parent().unwrap().to_path_buf();
    let mut settings = AuditLogSettings::in_data_dir(held.parent().unwrap());
    settings.dir = held;
    let sink = AuditSink::open(settings, clock.clone(), true).unwrap();
    assert!(sink.log().is_none(), "the server holds the log; the CLI gets the outbox");
    let cli = leitstand_app::App::new(store.clone(), clock.clone(), sink);
    cli.audit()
        .record(
            "user:admin via:cli",
            "user.disable",
            None,
            "user:anna",
            leitstand_app::audit::Outcome::Success,
            json!({}),
        )
        .await
        .unwrap();
    let parked = store.audit_outbox(10).await.unwrap();
    assert_eq!(parked.len(), 1);
    assert!(!parked[0].2.contains("anna") && !parked[0].2.contains("\"admin\""), "pseudonymised before it is parked");
    assert_eq!(server.relay_audit_outbox().await.unwrap(), 1);
    assert!(store.audit_outbox(10).await.unwrap().is_empty());
    let e = audit(&server).await.into_iter().find(|e| e.action == "user.disable").unwrap();
    assert!(e.event.contains(r#""via":"cli""#), "{}", e.event);
});

store_test!(interim_events_move_into_the_log_pseudonymised_with_time_and_tenant, |store| {
    use leitstand_store::{AuditEvent, AuditRepository};
    let (app, _) = app(store);
    let admin = admin(&app).await;
    let tenant = app.create_tenant(&admin, "bund", "Bund").await.unwrap();
    let at: jiff::Timestamp = "2026-10-01T08:00:00Z".parse().unwrap();
    let old = AuditEvent {
        id: uuid::Uuid::now_v7(),
        at,
        actor: "user:anna token:42".into(),
        action: "tenant.rename".into(),
        tenant_id: Some(tenant.id),
        object: "user:anna".into(),
        outcome: "success".into(),
        details: r#"{"email":"anna@example.org"}"#.into(),
    };
    store.record_audit(&old).await.unwrap();
    assert_eq!(app.migrate_interim_audit().await.unwrap(), 1);
    assert!(store.interim_audit_events().await.unwrap().is_empty());
    assert_eq!(app.migrate_interim_audit().await.unwrap(), 0, "nothing moves twice");
    let moved = audit(&app).await.into_iter().find(|e| e.action == "tenant.rename").unwrap();
    assert_eq!((moved.time, moved.tenant.as_deref()), (at, Some("bund")));
    assert!(moved.actor.starts_with("ps:") && !moved.event.contains("anna"), "{}", moved.event);
    assert!(moved.event.contains(r#""via":"token:42""#), "{}", moved.event);
});
