//! The alert engine and dispatcher against a real store, a real webhook
//! receiver on loopback and a manual clock: escalation to level 3 when
//! nobody acknowledges, acknowledgement stopping it, resolution sent, a
//! restart in the middle neither losing nor repeating a step, every state
//! change in the audit log.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::post;
use jiff::SignedDuration;
use leitstand_alerting::LabelSet;
use leitstand_alerting::link::LinkKey;
use leitstand_alerting::wire::IncomingAlert;
use leitstand_app::alerting::dispatch::dispatch_once;
use leitstand_app::alerting::engine::{Action, Engine};
use leitstand_app::alerting::intake::IntakeLog;
use leitstand_app::alerting::runtime;
use leitstand_app::alerting::{Alerting, AlertingSettings, AudienceRoute, ChannelDef, Observation, Source};
use leitstand_app::{App, AppError};
use leitstand_core::Clock;
use leitstand_core::access::Role;
use leitstand_core::policy::{Audience, ChannelKind};
use leitstand_notify::Locale;
use leitstand_notify::channels::{Channel, ChannelConfig};
use leitstand_store::AlertRepository;
use leitstand_store::store_test;
use serde_json::Value;

use crate::{admin, app, audit};

type Received = Arc<Mutex<Vec<Value>>>;

/// A webhook receiver on loopback; every body it got.
async fn receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let sink = got.clone();
    let router = Router::new().route(
        "/hook",
        post(move |body: String| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(serde_json::from_str(&body).unwrap_or(Value::Null));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, got)
}

fn with_webhook(app: &mut App, url: &str) {
    let settings = webhook_settings(url);
    app.alerting = Arc::new(Alerting::new(settings, LinkKey::new([7; 32]), "http://leitstand.test".into()));
}

fn webhook_settings(url: &str) -> AlertingSettings {
    leitstand_app::install_crypto_provider();
    let config: ChannelConfig =
        serde_json::from_value(serde_json::json!({ "kind": "webhook", "url": url, "timeout": "2s" })).unwrap();
    let channel = Channel::from_config("ops-hook", &config).unwrap();
    let mut audiences = BTreeMap::new();
    for a in [Audience::Devops, Audience::OnCall, Audience::Development, Audience::Management] {
        audiences.insert(a, AudienceRoute { channels: vec!["ops-hook".into()], schedule: None });
    }
    AlertingSettings {
        channels: vec![ChannelDef {
            id: leitstand_app::alerting::ChannelId::parse("ops-hook").unwrap(),
            name: "Ops".into(),
            channel,
            kind: ChannelKind::Webhook,
            locale: Locale::De,
            fallback: None,
        }],
        audiences,
        ..AlertingSettings::default()
    }
}

fn critical(name: &str) -> Observation {
    let labels: LabelSet = [("alertname", name), ("severity", "critical"), ("service", "portal")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let annotations: LabelSet = [("summary".to_string(), "Portal antwortet nicht".to_string())].into();
    // An own rule's alert: it lasts until it is resolved (an API alert
    // without an end would resolve after alerting.resolve_timeout).
    Observation {
        source: Source::Rule,
        alert: IncomingAlert { labels, annotations, starts_at: None, ends_at: None, generator_url: None },
        resolved: false,
    }
}

fn levels(got: &Received) -> Vec<(String, i64)> {
    got.lock()
        .unwrap()
        .iter()
        .map(|b| {
            let l = &b["leitstand"];
            (l["kind"].as_str().unwrap_or("").to_string(), l["level"].as_i64().unwrap_or(-1))
        })
        .collect()
}

store_test!(unacknowledged_critical_escalates_once_across_a_restart, |store| {
    let (mut app, clock) = app(store);
    let _admin = admin(&app).await;
    let (url, got) = receiver().await;
    with_webhook(&mut app, &url);

    let mut engine = Engine::load(app.clone(), None).await.unwrap();
    engine.observe(vec![critical("ProbeDown")]).await.unwrap();
    // The same alert again within the dedup window: one alert, one message.
    clock.advance(SignedDuration::from_mins(1));
    engine.observe(vec![critical("ProbeDown")]).await.unwrap();
    assert_eq!(dispatch_once(&app, "replica-a").await.unwrap(), 1);
    assert_eq!(levels(&got), [("firing".to_string(), 2)]);

    // Restart in the middle of the 15 minutes.
    drop(engine);
    clock.advance(SignedDuration::from_mins(15));
    let mut engine = Engine::load(app.clone(), None).await.unwrap();
    assert_eq!(engine.len(), 1);
    engine.tick().await.unwrap();
    engine.tick().await.unwrap(); // nothing more is due
    assert_eq!(dispatch_once(&app, "replica-a").await.unwrap(), 1);
    assert_eq!(dispatch_once(&app, "replica-a").await.unwrap(), 0, "nothing is sent twice");
    assert_eq!(levels(&got), [("firing".to_string(), 2), ("escalated".to_string(), 3)]);
    let body = got.lock().unwrap()[1].clone();
    assert_eq!(body["version"], "4");
    assert_eq!(body["alerts"][0]["labels"]["alertname"], "ProbeDown");
    let ack_link = body["leitstand"]["links"]["ack"].as_str().unwrap().to_string();
    assert!(ack_link.starts_with("http://leitstand.test/alerts/act/"), "{ack_link}");

    // Another restart: the escalated state is kept, nothing repeats.
    drop(engine);
    let mut engine = Engine::load(app.clone(), None).await.unwrap();
    clock.advance(SignedDuration::from_mins(60));
    engine.tick().await.unwrap();
    assert_eq!(dispatch_once(&app, "replica-a").await.unwrap(), 0);

    // Resolution is sent to those told.
    let rows = store.alerts(&Default::default()).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].level, rows[0].notified_level), (3, 3));
    let mut resolved = critical("ProbeDown");
    resolved.resolved = true;
    engine.observe(vec![resolved]).await.unwrap();
    dispatch_once(&app, "replica-a").await.unwrap();
    assert_eq!(levels(&got).last().unwrap(), &("resolved".to_string(), 3));

    let history: Vec<String> = store.alert_history(rows[0].id).await.unwrap().into_iter().map(|h| h.kind).collect();
    assert_eq!(history, ["firing", "notified", "escalated", "incident_opened", "notified", "resolved", "notified"],);
    let actions: Vec<String> = audit(&app).await.into_iter().map(|e| e.action).rev().collect();
    for expected in ["alert.firing", "alert.notified", "alert.escalated", "incident.opened", "alert.resolved"] {
        assert!(actions.iter().any(|a| a == expected), "{expected} missing in {actions:?}");
    }
});

store_test!(acknowledgement_stops_escalation, |store| {
    let (mut app, clock) = app(store);
    let _admin = admin(&app).await;
    let (url, got) = receiver().await;
    with_webhook(&mut app, &url);
    let mut engine = Engine::load(app.clone(), None).await.unwrap();
    engine.observe(vec![critical("ProbeDown")]).await.unwrap();
    let id = store.alerts(&Default::default()).await.unwrap()[0].id;
    clock.advance(SignedDuration::from_mins(5));
    engine.act(id, "user:anna", Action::Ack).await.unwrap();
    let again = engine.act(id, "user:ben", Action::Ack).await;
    assert!(matches!(again, Err(AppError::AlertRefused { reason: "already acknowledged" })), "{again:?}");
    clock.advance(SignedDuration::from_mins(30));
    engine.tick().await.unwrap();
    dispatch_once(&app, "replica-a").await.unwrap();
    assert_eq!(levels(&got), [("firing".to_string(), 2)], "no escalation after the acknowledgement");
    let row = store.alert(id).await.unwrap().unwrap();
    assert_eq!((row.level, row.acked_by.as_deref()), (2, Some("user:anna")));
    let events = audit(&app).await;
    let ack = events.iter().find(|e| e.action == "alert.acknowledged").unwrap();
    assert_ne!(ack.actor, "anna", "the actor is pseudonymised in the audit log");
});

store_test!(a_down_channel_retries_and_loses_nothing, |store| {
    let (mut app, clock) = app(store);
    let _admin = admin(&app).await;
    // Nothing listens on this port.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    with_webhook(&mut app, &url);
    let mut engine = Engine::load(app.clone(), None).await.unwrap();
    engine.observe(vec![critical("ProbeDown")]).await.unwrap();
    assert_eq!(dispatch_once(&app, "replica-a").await.unwrap(), 1);
    let id = store.alerts(&Default::default()).await.unwrap()[0].id;
    let n = &store.notifications_of_alert(id).await.unwrap()[0];
    assert_eq!((n.status.as_str(), n.attempts), ("pending", 1));
    assert!(n.last_error.is_some());
    // Not due yet: nothing is tried.
    assert_eq!(dispatch_once(&app, "replica-a").await.unwrap(), 0);
    clock.advance(SignedDuration::from_mins(1));
    assert_eq!(dispatch_once(&app, "replica-a").await.unwrap(), 1);
    let n = &store.notifications_of_alert(id).await.unwrap()[0];
    assert_eq!(n.attempts, 2);
    assert_eq!(store.notification_attempts(n.id).await.unwrap().len(), 2);
});

fn warning(name: &str, labels: &[(&str, &str)]) -> Observation {
    let mut o = critical(name);
    o.alert.labels.insert("severity".into(), "warning".into());
    for (k, v) in labels {
        o.alert.labels.insert(k.to_string(), v.to_string());
    }
    o
}

store_test!(silence_holds_back_and_resolution_is_still_sent, |store| {
    let (mut app, clock) = app(store);
    let admin = admin(&app).await;
    let (url, got) = receiver().await;
    with_webhook(&mut app, &url);
    let mut engine = Engine::load(app.clone(), None).await.unwrap();
    engine.observe(vec![critical("ProbeDown")]).await.unwrap();
    dispatch_once(&app, "a").await.unwrap();
    // A silence for it, then a second alert it matches.
    let new = leitstand_app::alerting::NewSilence {
        matchers: vec!["service=\"portal\"".into()],
        starts_at: None,
        ends_at: clock.now() + SignedDuration::from_hours(2),
        comment: "Wartung Portal".into(),
        tenant: None,
    };
    app.create_silence(&admin, new).await.unwrap();
    engine.reexamine().await.unwrap();
    engine.observe(vec![critical("PortalSlow")]).await.unwrap();
    clock.advance(SignedDuration::from_mins(30));
    engine.tick().await.unwrap();
    dispatch_once(&app, "a").await.unwrap();
    assert_eq!(levels(&got), [("firing".to_string(), 2)], "held back: no escalation, no new alert notified");
    let mut done = critical("ProbeDown");
    done.resolved = true;
    engine.observe(vec![done]).await.unwrap();
    dispatch_once(&app, "a").await.unwrap();
    assert_eq!(levels(&got).last().unwrap(), &("resolved".to_string(), 2), "resolution sent despite the silence");
    let slow =
        store.alerts(&Default::default()).await.unwrap().into_iter().find(|a| a.alertname == "PortalSlow").unwrap();
    assert!(slow.suppressed.as_deref().unwrap().starts_with("silence:"));
    // Invalid silences are refused with the field.
    let bad = leitstand_app::alerting::NewSilence {
        matchers: vec!["alertname=~\".*\"".into()],
        ends_at: clock.now() - SignedDuration::from_mins(1),
        comment: String::new(),
        ..Default::default()
    };
    let err = app.create_silence(&admin, bad).await.unwrap_err().to_string();
    assert!(err.contains("every alert") && err.contains("ends_at") && err.contains("comment"), "{err}");
});

store_test!(host_down_inhibits_its_services_one_notification_per_outage, |store| {
    let (mut app, _clock) = app(store);
    let _admin = admin(&app).await;
    let (url, got) = receiver().await;
    let mut settings = webhook_settings(&url);
    settings.inhibit = vec![
        leitstand_alerting::inhibit::parse_rule(
            &["alertname=\"HostDown\"".into()],
            &["severity=~\"warning|critical\"".into()],
            &["host".into()],
        )
        .unwrap(),
    ];
    app.alerting = Arc::new(Alerting::new(settings, LinkKey::new([7; 32]), "http://leitstand.test".into()));
    let mut engine = Engine::load(app.clone(), None).await.unwrap();
    let mut host = critical("HostDown");
    host.alert.labels.insert("host".into(), "web-1".into());
    host.alert.labels.remove("service");
    let services: Vec<Observation> = ["portal", "api", "shop"]
        .iter()
        .map(|s| {
            let mut o = warning("ProbeDown", &[("host", "web-1")]);
            o.alert.labels.insert("service".into(), s.to_string());
            o
        })
        .collect();
    let other = warning("ProbeDown", &[("host", "web-2")]);
    let mut batch = services;
    batch.push(host);
    batch.push(other);
    engine.observe(batch).await.unwrap();
    dispatch_once(&app, "a").await.unwrap();
    let names: Vec<(String, String)> = got
        .lock()
        .unwrap()
        .iter()
        .map(|b| {
            let labels = &b["alerts"][0]["labels"];
            (labels["alertname"].as_str().unwrap().to_string(), labels["host"].as_str().unwrap().to_string())
        })
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, [("HostDown".to_string(), "web-1".to_string()), ("ProbeDown".to_string(), "web-2".to_string())]);
});

store_test!(a_replica_that_lost_the_lease_cannot_write, |store| {
    use leitstand_store::{Fence, LeaseRepository};
    let (app, clock) = app(store);
    let _admin = admin(&app).await;
    let lease = store
        .try_acquire_lease("alerting", "a", clock.now(), std::time::Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    let stale = Fence { lease: "alerting".into(), holder: "a".into(), token: lease.token };
    let mut engine = Engine::load(app.clone(), Some(stale)).await.unwrap();
    // Replica b takes over after the lease expired.
    clock.advance(SignedDuration::from_secs(31));
    store.try_acquire_lease("alerting", "b", clock.now(), std::time::Duration::from_secs(30)).await.unwrap().unwrap();
    let err = engine.observe(vec![critical("ProbeDown")]).await.unwrap_err();
    assert!(err.to_string().contains("lease"), "{err}");
    assert!(store.alerts(&Default::default()).await.unwrap().is_empty(), "nothing written by the old holder");
});

store_test!(escalation_notifies_whoever_is_on_call_then, |store| {
    use leitstand_alerting::oncall::{RotationDef, ScheduleDef, validate};
    let (mut app, clock) = app(store);
    let admin = admin(&app).await;
    let (url, got) = receiver().await;
    let mut settings = webhook_settings(&url);
    // This channel stands for e-mail here: the on-call person's address is added.
    settings.channels[0].kind = ChannelKind::Email;
    for (id, name) in [("anna", "Anna"), ("ben", "Ben")] {
        settings.people.insert(
            id.into(),
            leitstand_app::alerting::Person { name: name.into(), email: Some(format!("{id}@example.org")), chat: None },
        );
    }
    let def = ScheduleDef {
        id: "primary".into(),
        name: "Rufbereitschaft".into(),
        time_zone: "Europe/Berlin".into(),
        rotations: vec![RotationDef {
            name: "Woche".into(),
            participants: vec!["anna".into(), "ben".into()],
            start: "2026-11-16T09:00".parse().unwrap(),
            length: "7d".parse().unwrap(),
            restrict: None,
        }],
    };
    settings.schedules = vec![validate(&def, &|_| true).unwrap()];
    settings.audiences.insert(
        Audience::OnCall,
        AudienceRoute { channels: vec!["ops-hook".into()], schedule: Some("primary".into()) },
    );
    app.alerting = Arc::new(Alerting::new(settings, LinkKey::new([7; 32]), "http://leitstand.test".into()));
    // 2026-11-23 10:00 UTC: the second week, Ben's.
    let view = app.on_call_now(&admin, "primary").await.unwrap();
    assert_eq!(view.now.as_ref().map(|o| o.person.as_str()), Some("ben"));
    let mut engine = Engine::load(app.clone(), None).await.unwrap();
    engine.observe(vec![critical("ProbeDown")]).await.unwrap();
    dispatch_once(&app, "a").await.unwrap();
    // Anna takes over by override before the escalation.
    let now = clock.now();
    app.create_override(&admin, "primary", "anna", now, now + SignedDuration::from_hours(4), "Tausch").await.unwrap();
    engine.reexamine().await.unwrap();
    clock.advance(SignedDuration::from_mins(15));
    engine.tick().await.unwrap();
    dispatch_once(&app, "a").await.unwrap();
    let recipients: Vec<Value> = got.lock().unwrap().iter().map(|b| b["leitstand"]["recipients"].clone()).collect();
    assert_eq!(recipients[0], serde_json::json!(["ben@example.org"]));
    // Level 3 has no on-call audience: whoever the override names is not paged twice.
    assert_eq!(recipients.len(), 2);
    assert_eq!(levels(&got), [("firing".to_string(), 2), ("escalated".to_string(), 3)]);
    assert_eq!(recipients[1], serde_json::json!([]));
    // The resolution goes to everyone told, the on-call route to who is on call now: Anna.
    let mut done = critical("ProbeDown");
    done.resolved = true;
    engine.observe(vec![done]).await.unwrap();
    dispatch_once(&app, "a").await.unwrap();
    let last = got.lock().unwrap().last().unwrap()["leitstand"]["recipients"].clone();
    assert_eq!(last, serde_json::json!(["anna@example.org"]), "the override, at the moment of sending");
    let ics = app.schedule_ical(&admin, "primary", "leitstand.test").await.unwrap();
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\n") && ics.contains("SUMMARY:Rufbereitschaft: Anna"), "{ics}");
});

store_test!(alerts_in_the_intake_log_are_applied_once_across_restarts, |store| {
    let (mut app, _clock) = app(store);
    let _admin = admin(&app).await;
    let (url, got) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let with_log = |app: &mut App| {
        let log = IntakeLog::open(dir.path()).unwrap();
        let alerting = Alerting::new(webhook_settings(&url), LinkKey::new([7; 32]), "http://leitstand.test".into());
        app.alerting = Arc::new(alerting.with_intake_log(log));
    };
    let open = async |app: &App| app.store().open_alerts(jiff::Timestamp::UNIX_EPOCH).await.unwrap().len();
    // Waiting for the runtime's tasks to get there (not for timing logic).
    let until = async |what: &str, ok: &dyn Fn() -> bool| {
        for _ in 0..1000 {
            if ok() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("{what}: not within 10 s");
    };
    with_log(&mut app);
    let journal = app.alerting.intake_log().unwrap().journal().to_string();

    // Taken while no engine runs (as if it had crashed): on disk only.
    for name in ["A", "B", "C"] {
        runtime::submit(&app, vec![critical(name)]).await.unwrap();
    }
    assert_eq!(open(&app).await, 0, "not applied before an engine runs");
    assert_eq!(app.store().alert_intake_progress(&journal).await.unwrap(), None);

    // The engine starts and replays them; then takes new ones as they come.
    let running = runtime::spawn(app.clone(), "replica-a".into());
    until("the replayed alerts notified", &|| got.lock().unwrap().len() == 3).await;
    runtime::submit(&app, vec![critical("D"), critical("E")]).await.unwrap();
    until("the new alerts notified", &|| got.lock().unwrap().len() == 5).await;
    assert_eq!(open(&app).await, 5);
    assert_eq!(app.store().alert_intake_progress(&journal).await.unwrap(), Some(4), "four records, applied");
    running.shutdown().await;

    // Restarted on the same log: one more record; only it is applied.
    with_log(&mut app);
    assert_eq!(app.alerting.intake_log().unwrap().journal(), journal, "the log keeps its id");
    runtime::submit(&app, vec![critical("F")]).await.unwrap();
    let running = runtime::spawn(app.clone(), "replica-a".into());
    until("the sixth alert notified", &|| got.lock().unwrap().len() == 6).await;
    running.shutdown().await;
    let names: Vec<String> = got
        .lock()
        .unwrap()
        .iter()
        .map(|b| b["alerts"][0]["labels"]["alertname"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted, ["A", "B", "C", "D", "E", "F"], "each alert notified exactly once: {names:?}");
    assert_eq!(open(&app).await, 6);
    assert_eq!(app.store().alert_intake_progress(&journal).await.unwrap(), Some(5));
});

store_test!(alerts_for_a_tenant_created_after_start_keep_their_tenant, |store| {
    // Issue 16, item 3: the engine read the tenants at start only, so a
    // tenant created later had its alerts stored as the platform's.
    let (app, _) = app(store);
    let admin = admin(&app).await;
    let mut engine = Engine::load(app.clone(), None).await.unwrap();
    let bank = app.create_tenant(&admin, "bank-c", "Bank C").await.unwrap();
    let mut alert = critical("ProbeDown");
    alert.alert.labels.insert("tenant".into(), "bank-c".into());
    let mut stray = critical("ProbeDown");
    stray.alert.labels.insert("tenant".into(), "bank-x".into());
    engine.observe(vec![alert, stray]).await.unwrap();
    let rows = store.alerts(&Default::default()).await.unwrap();
    assert_eq!(rows.len(), 1, "the alert of a tenant that does not exist is refused, not stored");
    assert_eq!(rows[0].tenant_id, Some(bank.id));
    let refused = audit(&app).await.into_iter().find(|e| e.action == "alert.refuse").expect("the refusal is audited");
    assert_eq!(refused.outcome, "failure");
    assert!(refused.event.contains("bank-x"), "{}", refused.event);
});

store_test!(alerts_from_the_api_without_an_end_resolve_after_the_resolve_timeout, |store| {
    // Issue 17, item 4: an alert posted without endsAt never ended.
    let (app, clock) = app(store);
    let _admin = admin(&app).await;
    let mut engine = Engine::load(app.clone(), None).await.unwrap();
    let status = |name: &'static str| async move {
        store.alerts(&Default::default()).await.unwrap().into_iter().find(|a| a.alertname == name).unwrap().status
    };
    let api = || Observation { source: Source::Api, ..critical("NoEnd") };
    let mut forwarded = critical("Forwarded");
    forwarded.source = Source::Webhook;
    engine.observe(vec![api(), forwarded]).await.unwrap();
    clock.advance(SignedDuration::from_mins(4));
    engine.tick().await.unwrap();
    assert_eq!(status("NoEnd").await, "firing");
    engine.observe(vec![api()]).await.unwrap(); // sent again: 5 minutes from now
    clock.advance(SignedDuration::from_mins(4));
    engine.tick().await.unwrap();
    assert_eq!(status("NoEnd").await, "firing", "the refresh moved its end");
    clock.advance(SignedDuration::from_mins(2));
    engine.tick().await.unwrap();
    assert_eq!(status("NoEnd").await, "resolved", "five minutes without a refresh");
    assert_eq!(status("Forwarded").await, "firing", "an Alertmanager's forwarded alert ends when it says so");
});

store_test!(no_next_step_is_shown_for_acknowledged_or_top_level_alerts, |store| {
    // Issue 17, item 8: acknowledged and level-3 alerts showed a silence's
    // end as their next step.
    use leitstand_app::alerting::{AlertListQuery, NewSilence};
    let (app, clock) = app(store);
    let admin = admin(&app).await;
    let mut engine = Engine::load(app.clone(), None).await.unwrap();
    engine.observe(vec![critical("Acked"), critical("Escalates")]).await.unwrap();
    let next = |name: &'static str| {
        let (app, admin) = (app.clone(), admin.clone());
        async move {
            let list = app.alerts(&admin, &AlertListQuery::default()).await.unwrap();
            list.into_iter().find(|a| a.alertname == name).unwrap().next_step_at
        }
    };
    let deadline = clock.now() + SignedDuration::from_mins(15);
    assert_eq!(next("Acked").await, Some(deadline), "level 2: acknowledge within 15 minutes");
    let id = store.alerts(&Default::default()).await.unwrap().into_iter().find(|a| a.alertname == "Acked").unwrap().id;
    engine.act(id, "user:admin", Action::Ack).await.unwrap();
    assert_eq!(next("Acked").await, None, "acknowledged: no step to come");
    clock.advance(SignedDuration::from_mins(16));
    engine.tick().await.unwrap();
    let silence = NewSilence {
        matchers: vec!["service=\"portal\"".into()],
        starts_at: None,
        ends_at: clock.now() + SignedDuration::from_hours(2),
        comment: "Wartung".into(),
        tenant: None,
    };
    app.create_silence(&admin, silence).await.unwrap();
    engine.reload().await.unwrap();
    engine.tick().await.unwrap();
    assert_eq!(next("Escalates").await, None, "level 3 is the top: the silence's end is no step");
    assert_eq!(next("Acked").await, None);
});

store_test!(a_burst_of_rule_alerts_larger_than_any_buffer_loses_none, |store| {
    // Issue 18: own rule alerts reached the engine through a broadcast of
    // 4,096 changes; a lagging engine lost the rest. 5,000 alerts fire at
    // once while nothing takes them yet; every one is stored and notified,
    // each once.
    use leitstand_app::monitoring::{Monitoring, MonitoringSettings, runtime::evaluate_group};
    use leitstand_monitor::rules::Rule;
    const N: usize = 5_000;
    let (mut app, clock) = app(store);
    let _admin = admin(&app).await;
    let (url, got) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = webhook_settings(&url);
    settings.group_by = leitstand_alerting::group::GroupBy::All; // one notification per alert
    let alerting = Alerting::new(settings, LinkKey::new([7; 32]), "http://leitstand.test".into());
    app.alerting = Arc::new(alerting.with_intake_log(IntakeLog::open(dir.path()).unwrap()));
    let rule =
        Rule::new("Burst", "burst > 0", 0, 30_000, vec![("severity".into(), "critical".into())], vec![]).unwrap();
    app.monitoring = Arc::new(Monitoring::new(MonitoringSettings { rules: vec![rule], ..Default::default() }));
    let now = clock.now().as_millisecond();
    app.monitoring.with_series(|s| {
        for i in 0..N {
            let labels = vec![("__name__".to_string(), "burst".to_string()), ("n".to_string(), i.to_string())];
            s.append(labels, now, 1.0).unwrap();
        }
    });
    // The forwarder listens; all 5,000 fire at once, before it can take
    // any (the evaluation does not yield), and before any engine runs.
    let forwarder = runtime::forward_rule_alerts(app.clone()).expect("the feed is there");
    assert!(runtime::forward_rule_alerts(app.clone()).is_none(), "one consumer");
    let events = evaluate_group(&app.monitoring, 30_000, clock.now());
    assert_eq!(events.len(), N);
    let running = runtime::spawn(app.clone(), "replica-a".into());
    // Waiting for the runtime's tasks to get there (not for timing logic).
    for _ in 0..6000 {
        if got.lock().unwrap().len() >= N {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    forwarder.finish(std::time::Duration::from_secs(5)).await;
    running.shutdown().await;
    let mut names: Vec<String> =
        got.lock().unwrap().iter().map(|b| b["alerts"][0]["labels"]["n"].as_str().unwrap().to_string()).collect();
    assert_eq!(names.len(), N, "every alert notified");
    names.sort();
    names.dedup();
    assert_eq!(names.len(), N, "each once");
    assert_eq!(store.open_alerts(jiff::Timestamp::UNIX_EPOCH).await.unwrap().len(), N);
});

store_test!(level_three_opens_a_sev1_incident_and_the_alert_firing_again_joins_it, |store| {
    // Issue 19: level 3 only wrote `incident.opened` into the alert's history.
    let (mut app, clock) = app(store);
    let admin = admin(&app).await;
    let (url, _got) = receiver().await;
    with_webhook(&mut app, &url);
    let mut engine = Engine::load(app.clone(), None).await.unwrap();
    engine.observe(vec![critical("ProbeDown")]).await.unwrap();
    assert!(app.incidents(&admin, &Default::default()).await.unwrap().is_empty(), "level 2 opens none");
    clock.advance(SignedDuration::from_mins(16));
    engine.tick().await.unwrap();
    let list = app.incidents(&admin, &Default::default()).await.unwrap();
    assert_eq!(list.len(), 1, "level 3 without acknowledgement opens one");
    let inc = &list[0];
    assert_eq!(inc.severity, leitstand_app::incidents::IncidentSeverity::Sev1);
    assert_eq!((inc.opened_by.as_str(), inc.opened_via.as_str()), ("system", "escalation"));
    let timeline = app.incident_timeline(&admin, inc.number, None, 100).await.unwrap();
    assert!(timeline[0].text.contains("ProbeDown ohne Bestätigung auf Eskalationsstufe 3"), "{}", timeline[0].text);
    let actions: Vec<String> = audit(&app).await.into_iter().map(|e| e.action).collect();
    assert!(actions.iter().any(|a| a == "incident.open") && actions.iter().any(|a| a == "incident.opened"));

    // Resolved, then firing again after the dedup window: a new episode that
    // joins the open incident instead of opening another.
    let mut resolved = critical("ProbeDown");
    resolved.resolved = true;
    engine.observe(vec![resolved]).await.unwrap();
    clock.advance(SignedDuration::from_mins(10));
    engine.observe(vec![critical("ProbeDown")]).await.unwrap();
    let list = app.incidents(&admin, &Default::default()).await.unwrap();
    assert_eq!(list.len(), 1, "no second incident");
    let timeline = app.incident_timeline(&admin, list[0].number, None, 100).await.unwrap();
    assert!(
        timeline.iter().any(|e| e.kind == leitstand_app::incidents::TimelineKind::Alert),
        "the new episode joined: {timeline:?}"
    );
});

store_test!(an_incident_opened_from_an_alert_is_that_outages_one_incident, |store| {
    let (mut app, _clock) = app(store);
    let admin = admin(&app).await;
    let (url, _got) = receiver().await;
    with_webhook(&mut app, &url);
    let devops = crate::add(&app, &admin, "dora", Role::Devops, &[]).await;
    let compliance = crate::add(&app, &admin, "carla", Role::Compliance, &[]).await;
    let mut engine = Engine::load(app.clone(), None).await.unwrap();
    engine.observe(vec![critical("ProbeDown")]).await.unwrap();
    let id = store.alerts(&Default::default()).await.unwrap()[0].id;
    let forbidden = app.open_incident_from_alert(&compliance, id, None).await;
    assert!(matches!(forbidden, Err(AppError::Forbidden { .. })), "{forbidden:?}");
    let inc = app.open_incident_from_alert(&devops, id, None).await.unwrap();
    assert_eq!(inc.severity, leitstand_app::incidents::IncidentSeverity::Sev2, "a critical alert: SEV-2 unless chosen");
    assert_eq!((inc.opened_by.as_str(), inc.opened_via.as_str()), ("user:dora", "alert"));
    let again = app
        .open_incident_from_alert(&devops, id, Some(leitstand_app::incidents::IncidentSeverity::Sev1))
        .await
        .unwrap();
    assert_eq!(again.number, inc.number, "the same outage, the same incident");
    assert_eq!(app.incidents(&admin, &Default::default()).await.unwrap().len(), 1);
    let missing = app.open_incident_from_alert(&devops, uuid::Uuid::now_v7(), None).await;
    assert!(matches!(missing, Err(AppError::NotFound { .. })), "{missing:?}");
});
