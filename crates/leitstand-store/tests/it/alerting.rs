use std::collections::HashSet;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use leitstand_core::tenant::TenantSlug;
use leitstand_store::{
    AlertChanges, AlertFilter, AlertRepository, AlertRow, AttemptRow, Fence, Held, HistoryRow, IntakeProgress,
    LeaseRepository, NewTenant, NotificationOutcome, NotificationRow, OverrideRow, SilenceRow, Store, StoreError,
    TenantRepository, store_test,
};
use uuid::Uuid;

fn t(secs: i64) -> Timestamp {
    "2026-11-23T10:00:00.000123Z".parse::<Timestamp>().unwrap() + SignedDuration::from_secs(secs)
}

async fn tenant(store: &Store, slug: &str) -> Uuid {
    let new = NewTenant { id: Uuid::now_v7(), slug: TenantSlug::parse(slug).unwrap(), name: slug.to_uppercase() };
    store.create_tenant(new, t(0)).await.unwrap().id
}

fn alert(name: &str, tenant_id: Option<Uuid>, starts: i64) -> AlertRow {
    AlertRow {
        id: Uuid::now_v7(),
        fingerprint: format!("{:016x}", name.len() as u64 * 7919 + starts as u64),
        tenant_id,
        source: "rule".into(),
        labels: format!(r#"{{"alertname":"{name}","severity":"critical"}}"#),
        annotations: r#"{"summary":"Portal antwortet nicht"}"#.into(),
        generator_url: Some("https://leitstand.example/probes/portal".into()),
        alertname: name.into(),
        severity: "critical".into(),
        service: Some("portal".into()),
        group_key: format!("{{}}:{{alertname=\"{name}\"}}"),
        status: "firing".into(),
        starts_at: t(starts),
        ends_at: None,
        resolved_at: None,
        last_seen_at: t(starts),
        level: 2,
        level_since: t(starts),
        acked_by: None,
        acked_at: None,
        suppressed: None,
        notified_level: 0,
        next_step_at: Some(t(starts + 300)),
        updated_at: t(starts),
    }
}

fn history(alert: &AlertRow, secs: i64, kind: &str) -> HistoryRow {
    HistoryRow { alert_id: alert.id, at: t(secs), kind: kind.into(), actor: "engine".into(), detail: "{}".into() }
}

fn notification(alert: &AlertRow, not_before: i64) -> NotificationRow {
    NotificationRow {
        id: Uuid::now_v7(),
        alert_id: alert.id,
        group_key: alert.group_key.clone(),
        channel: "ops-mail".into(),
        kind: "firing".into(),
        level: alert.level,
        recipients: r#"["ops@example.org"]"#.into(),
        payload: r#"{"subject":"[FIRING] PortalDown"}"#.into(),
        status: "pending".into(),
        attempts: 0,
        not_before: t(not_before),
        created_at: t(not_before),
        delivered_at: None,
        last_error: None,
        fallback_of: None,
        claimed_by: None,
    }
}

fn attempt(id: Uuid, secs: i64, ok: bool) -> AttemptRow {
    AttemptRow {
        notification_id: id,
        at: t(secs),
        ok,
        status_code: Some(if ok { 250 } else { 451 }),
        error: (!ok).then(|| "451 try again later".to_string()),
        duration_ms: 42,
    }
}

/// One attempt recorded through the dispatcher's bulk form; whether `holder`
/// still held the claim.
async fn finish(store: &Store, id: Uuid, holder: &str, outcome: &NotificationOutcome, attempt: &AttemptRow) -> bool {
    let done = store.finish_notifications(holder, &[(id, outcome.clone(), attempt.clone())]).await.unwrap();
    assert_eq!(done.len(), 1);
    done[0]
}

fn new_alerts(alerts: &[AlertRow]) -> AlertChanges {
    AlertChanges {
        alerts: alerts.to_vec(),
        history: alerts.iter().map(|a| history(a, 0, "fired")).collect(),
        notifications: alerts.iter().map(|a| notification(a, 0)).collect(),
        inbox_done: None,
        intake: None,
    }
}

async fn write(store: &Store, changes: AlertChanges) {
    store.apply_alert_changes(None, t(0), &changes).await.unwrap();
}

fn ids(rows: &[AlertRow]) -> Vec<Uuid> {
    rows.iter().map(|a| a.id).collect()
}

async fn list(store: &Store, filter: AlertFilter<'_>) -> Vec<Uuid> {
    ids(&store.alerts(&filter).await.unwrap())
}

store_test!(an_upserted_alert_reads_back_and_a_second_upsert_replaces_every_field, |store| {
    let tenant_id = tenant(store, "vergabe").await;
    let first = alert("PortalDown", None, 10);
    write(store, new_alerts(std::slice::from_ref(&first))).await;
    assert_eq!(store.alert(first.id).await.unwrap().unwrap(), first);

    let changed = AlertRow {
        id: first.id,
        fingerprint: "00ff00ff00ff00ff".into(),
        tenant_id: Some(tenant_id),
        source: "api".into(),
        labels: r#"{"alertname":"PortalSlow"}"#.into(),
        annotations: "{}".into(),
        generator_url: None,
        alertname: "PortalSlow".into(),
        severity: "warning".into(),
        service: None,
        group_key: "other".into(),
        status: "resolved".into(),
        starts_at: t(11),
        ends_at: Some(t(500)),
        resolved_at: Some(t(400)),
        last_seen_at: t(390),
        level: 1,
        level_since: t(200),
        acked_by: Some("m.muster".into()),
        acked_at: Some(t(150)),
        suppressed: Some("silence:1234".into()),
        notified_level: 2,
        next_step_at: None,
        updated_at: t(400),
    };
    let changes = AlertChanges { alerts: vec![changed.clone()], ..Default::default() };
    store.apply_alert_changes(None, t(400), &changes).await.unwrap();
    assert_eq!(store.alert(first.id).await.unwrap().unwrap(), changed);
    assert_eq!(ids(&store.alerts(&AlertFilter::default()).await.unwrap()), [first.id], "still one episode");
    assert!(store.alert(Uuid::now_v7()).await.unwrap().is_none());
});

store_test!(the_last_row_of_an_id_in_one_batch_wins, |store| {
    let a = alert("PortalDown", None, 10);
    let later = AlertRow { level: 3, updated_at: t(20), ..a.clone() };
    write(store, AlertChanges { alerts: vec![a.clone(), later.clone()], ..Default::default() }).await;
    assert_eq!(store.alert(a.id).await.unwrap().unwrap(), later);
});

store_test!(history_is_in_time_order_then_in_the_order_written, |store| {
    let a = alert("PortalDown", None, 0);
    let other = alert("DiskFull", None, 0);
    let mut first = new_alerts(&[a.clone(), other.clone()]);
    first.history = vec![history(&a, 0, "fired"), history(&a, 60, "escalated"), history(&other, 5, "fired")];
    write(store, first).await;
    let second = AlertChanges {
        history: vec![history(&a, 60, "notified"), history(&a, 30, "acknowledged"), history(&a, 60, "suppressed")],
        ..Default::default()
    };
    write(store, second).await;
    let kinds: Vec<String> = store.alert_history(a.id).await.unwrap().into_iter().map(|h| h.kind).collect();
    assert_eq!(kinds, ["fired", "acknowledged", "escalated", "notified", "suppressed"]);
    assert_eq!(store.alert_history(other.id).await.unwrap(), [history(&other, 5, "fired")]);
});

store_test!(alerts_are_listed_by_what_holds_them_back, |store| {
    let free = alert("PortalDown", None, 1);
    let silenced = AlertRow { suppressed: Some(format!("silence:{}", Uuid::now_v7())), ..alert("DiskFull", None, 2) };
    let maintained = AlertRow { suppressed: Some("maintenance:db".into()), ..alert("DbSlow", None, 3) };
    let inhibited = AlertRow { suppressed: Some("inhibited:0123456789abcdef".into()), ..alert("ShopDown", None, 4) };
    write(store, new_alerts(&[free.clone(), silenced.clone(), maintained.clone(), inhibited.clone()])).await;
    let held = |active, silenced, inhibited| AlertFilter {
        held: Some(Held { active, silenced, inhibited }),
        ..Default::default()
    };
    assert_eq!(list(store, held(true, false, false)).await, [free.id]);
    assert_eq!(
        list(store, held(false, true, false)).await,
        [maintained.id, silenced.id],
        "a maintenance window silences"
    );
    assert_eq!(list(store, held(false, false, true)).await, [inhibited.id]);
    assert_eq!(list(store, held(true, false, true)).await, [inhibited.id, free.id]);
    assert!(list(store, held(false, false, false)).await.is_empty());
    assert_eq!(list(store, held(true, true, true)).await.len(), 4);
});

store_test!(filters_combine_and_tenant_scope_never_shows_other_or_platform_alerts, |store| {
    let vergabe = tenant(store, "vergabe").await;
    let makler = tenant(store, "makler").await;
    let platform_down = alert("PortalDown", None, 1);
    let vergabe_down = alert("PortalDown", Some(vergabe), 2);
    let vergabe_disk =
        AlertRow { severity: "warning".into(), service: Some("db".into()), ..alert("DiskFull", Some(vergabe), 3) };
    let vergabe_resolved =
        AlertRow { status: "resolved".into(), resolved_at: Some(t(9)), ..alert("PortalDown", Some(vergabe), 4) };
    let makler_down = alert("PortalDown", Some(makler), 5);
    let all = [
        platform_down.clone(),
        vergabe_down.clone(),
        vergabe_disk.clone(),
        vergabe_resolved.clone(),
        makler_down.clone(),
    ];
    write(store, new_alerts(&all)).await;

    assert_eq!(
        list(store, AlertFilter::default()).await,
        [makler_down.id, vergabe_resolved.id, vergabe_disk.id, vergabe_down.id, platform_down.id],
        "newest first, platform alerts included without a scope"
    );
    let only_vergabe = &[vergabe][..];
    assert_eq!(
        list(store, AlertFilter { tenants: Some(only_vergabe), ..Default::default() }).await,
        [vergabe_resolved.id, vergabe_disk.id, vergabe_down.id]
    );
    assert!(
        list(store, AlertFilter { tenants: Some(&[]), ..Default::default() }).await.is_empty(),
        "empty scope sees nothing"
    );
    assert!(
        list(store, AlertFilter { tenants: Some(only_vergabe), tenant_id: Some(makler), ..Default::default() })
            .await
            .is_empty(),
        "asking for another tenant's alerts does not widen the scope"
    );
    assert_eq!(list(store, AlertFilter { tenant_id: Some(makler), ..Default::default() }).await, [makler_down.id]);
    assert_eq!(
        list(store, AlertFilter { tenants: Some(only_vergabe), status: Some("firing"), ..Default::default() }).await,
        [vergabe_disk.id, vergabe_down.id]
    );
    assert_eq!(
        list(
            store,
            AlertFilter {
                status: Some("firing"),
                severity: Some("critical"),
                alertname: Some("PortalDown"),
                ..Default::default()
            }
        )
        .await,
        [makler_down.id, vergabe_down.id, platform_down.id]
    );
    assert_eq!(list(store, AlertFilter { service: Some("db"), ..Default::default() }).await, [vergabe_disk.id]);
    assert!(
        list(store, AlertFilter { service: Some("db"), severity: Some("critical"), ..Default::default() })
            .await
            .is_empty()
    );

    let counts = |scope| store.alert_counts(scope);
    let row = |status: &str, severity: &str, n: i64| (status.to_string(), severity.to_string(), n);
    assert_eq!(
        counts(None).await.unwrap(),
        [row("firing", "critical", 3), row("firing", "warning", 1), row("resolved", "critical", 1)]
    );
    assert_eq!(
        counts(Some(only_vergabe)).await.unwrap(),
        [row("firing", "critical", 1), row("firing", "warning", 1), row("resolved", "critical", 1)]
    );
    assert!(counts(Some(&[])).await.unwrap().is_empty());
});

store_test!(keyset_pages_cover_every_alert_once_even_with_equal_start_times, |store| {
    // Three alerts per start time, so the id must break ties.
    let all: Vec<AlertRow> = (0..25).map(|i| alert(&format!("A{i}"), None, i / 3)).collect();
    write(store, new_alerts(&all)).await;
    let mut expected = all.clone();
    expected.sort_by_key(|a| std::cmp::Reverse((a.starts_at, a.id)));

    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = store.alerts(&AlertFilter { before, limit: 10, ..Default::default() }).await.unwrap();
        assert!(page.len() <= 10);
        let Some(last) = page.last() else { break };
        before = Some((last.starts_at, last.id));
        seen.extend(ids(&page));
    }
    assert_eq!(seen, ids(&expected));
});

store_test!(open_alerts_are_the_firing_and_the_recently_resolved, |store| {
    let firing = alert("PortalDown", None, 0);
    let recent = AlertRow { status: "resolved".into(), resolved_at: Some(t(100)), ..alert("DiskFull", None, 0) };
    let old = AlertRow { status: "resolved".into(), resolved_at: Some(t(99)), ..alert("CertExpiry", None, 0) };
    write(store, new_alerts(&[firing.clone(), recent.clone(), old.clone()])).await;
    let open: HashSet<Uuid> = ids(&store.open_alerts(t(100)).await.unwrap()).into_iter().collect();
    assert_eq!(open, HashSet::from([firing.id, recent.id]));
});

store_test!(by_fingerprint_finds_the_newest_episode, |store| {
    let first = alert("PortalDown", None, 0);
    let again = AlertRow { id: Uuid::now_v7(), starts_at: t(3600), ..first.clone() };
    write(store, new_alerts(&[first.clone(), again.clone()])).await;
    assert_eq!(store.alert_by_fingerprint(&first.fingerprint).await.unwrap().unwrap().id, again.id);
    assert!(store.alert_by_fingerprint("0000000000000000").await.unwrap().is_none());
});

store_test!(a_notification_is_claimed_sent_retried_and_delivered, |store| {
    let a = alert("PortalDown", None, 0);
    let due = notification(&a, 0);
    let later = notification(&a, 600);
    let changes =
        AlertChanges { alerts: vec![a.clone()], notifications: vec![later.clone(), due.clone()], ..Default::default() };
    write(store, changes).await;
    assert_eq!(store.notification_backlog().await.unwrap(), 2);
    assert_eq!(store.notifications_of_alert(a.id).await.unwrap(), [due.clone(), later.clone()]);

    let claim = Duration::from_secs(30);
    let claimed = store.claim_notifications("sender-a", t(1), claim, 10).await.unwrap();
    assert_eq!(
        claimed,
        [NotificationRow { status: "sending".into(), claimed_by: Some("sender-a".into()), ..due.clone() }]
    );
    assert!(store.claim_notifications("sender-b", t(2), claim, 10).await.unwrap().is_empty(), "claimed rows are taken");

    // Someone else's claim cannot be finished, and nothing is recorded.
    let retry = NotificationOutcome::Retry { not_before: t(60), error: "451 try again later".into() };
    assert!(!finish(store, due.id, "sender-b", &retry, &attempt(due.id, 2, false)).await);
    assert!(store.notification_attempts(due.id).await.unwrap().is_empty());
    assert_eq!(store.notification(due.id).await.unwrap().unwrap(), claimed[0]);

    assert!(finish(store, due.id, "sender-a", &retry, &attempt(due.id, 2, false)).await);
    let retried = store.notification(due.id).await.unwrap().unwrap();
    assert_eq!(
        retried,
        NotificationRow {
            attempts: 1,
            not_before: t(60),
            last_error: Some("451 try again later".into()),
            ..due.clone()
        }
    );
    assert!(store.claim_notifications("sender-a", t(59), claim, 10).await.unwrap().is_empty(), "not before its time");
    assert_eq!(ids_of(&store.claim_notifications("sender-b", t(60), claim, 10).await.unwrap()), [due.id]);
    let delivered = NotificationOutcome::Delivered { at: t(61) };
    assert!(finish(store, due.id, "sender-b", &delivered, &attempt(due.id, 60, true)).await);
    assert!(!finish(store, due.id, "sender-b", &delivered, &attempt(due.id, 62, true)).await, "once");

    let done = store.notification(due.id).await.unwrap().unwrap();
    assert_eq!(
        (done.status.as_str(), done.attempts, done.delivered_at, done.claimed_by),
        ("delivered", 2, Some(t(61)), None)
    );
    assert_eq!(
        store.notification_attempts(due.id).await.unwrap(),
        [attempt(due.id, 2, false), attempt(due.id, 60, true)]
    );
    assert_eq!(store.notification_backlog().await.unwrap(), 1, "only the later one is left");

    // Failing for good, and a fallback copy inserted on its own.
    assert_eq!(ids_of(&store.claim_notifications("sender-a", t(600), claim, 10).await.unwrap()), [later.id]);
    let failed = NotificationOutcome::Failed { error: "550 no such user".into() };
    assert!(finish(store, later.id, "sender-a", &failed, &attempt(later.id, 600, false)).await);
    let gone = store.notification(later.id).await.unwrap().unwrap();
    assert_eq!((gone.status.as_str(), gone.last_error.as_deref()), ("failed", Some("550 no such user")));
    let fallback = NotificationRow { channel: "ops-chat".into(), fallback_of: Some(later.id), ..notification(&a, 600) };
    store.insert_notifications(std::slice::from_ref(&fallback)).await.unwrap();
    assert_eq!(store.notification(fallback.id).await.unwrap().unwrap(), fallback);
    assert_eq!(store.notification_backlog().await.unwrap(), 1);
});

fn ids_of(rows: &[NotificationRow]) -> Vec<Uuid> {
    rows.iter().map(|n| n.id).collect()
}

store_test!(claims_are_oldest_first_and_limited, |store| {
    let a = alert("PortalDown", None, 0);
    let rows: Vec<NotificationRow> = [5, 1, 3, 2, 4].into_iter().map(|s| notification(&a, s)).collect();
    write(store, AlertChanges { alerts: vec![a.clone()], notifications: rows.clone(), ..Default::default() }).await;
    let claimed = store.claim_notifications("s", t(10), Duration::from_secs(30), 3).await.unwrap();
    let due: Vec<Timestamp> = claimed.iter().map(|n| n.not_before).collect();
    assert_eq!(due, [t(1), t(2), t(3)]);
});

store_test!(a_crashed_senders_claim_is_taken_over_after_it_runs_out, |store| {
    let a = alert("PortalDown", None, 0);
    let n = notification(&a, 0);
    write(store, AlertChanges { alerts: vec![a.clone()], notifications: vec![n.clone()], ..Default::default() }).await;
    let claim = Duration::from_secs(30);
    assert_eq!(ids_of(&store.claim_notifications("crashed", t(0), claim, 10).await.unwrap()), [n.id]);
    assert!(store.claim_notifications("other", t(30), claim, 10).await.unwrap().is_empty(), "claimed until t(30)");
    let taken = store.claim_notifications("other", t(31), claim, 10).await.unwrap();
    assert_eq!(taken[0].claimed_by.as_deref(), Some("other"));
    let delivered = NotificationOutcome::Delivered { at: t(32) };
    assert!(!finish(store, n.id, "crashed", &delivered, &attempt(n.id, 32, true)).await);
    assert!(finish(store, n.id, "other", &delivered, &attempt(n.id, 32, true)).await);
    assert_eq!(store.notification_attempts(n.id).await.unwrap().len(), 1);
});

store_test!(concurrent_claimers_never_get_the_same_notification, |store| {
    let a = alert("PortalDown", None, 0);
    let rows: Vec<NotificationRow> = (0..300).map(|i| notification(&a, i % 7)).collect();
    write(store, AlertChanges { alerts: vec![a.clone()], notifications: rows.clone(), ..Default::default() }).await;
    let mut tasks = Vec::new();
    for sender in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let holder = format!("sender-{sender}");
            let mut got = Vec::new();
            loop {
                let batch = store.claim_notifications(&holder, t(10), Duration::from_secs(60), 25).await.unwrap();
                if batch.is_empty() {
                    return got;
                }
                assert!(batch.iter().all(|n| n.claimed_by.as_deref() == Some(holder.as_str())));
                got.extend(ids_of(&batch));
            }
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let unique: HashSet<Uuid> = all.iter().copied().collect();
    assert_eq!(all.len(), rows.len(), "every row claimed exactly once");
    assert_eq!(unique, ids_of(&rows).into_iter().collect());
});

store_test!(a_fenced_batch_with_a_lost_lease_writes_nothing, |store| {
    let ttl = Duration::from_secs(30);
    let lease = store.try_acquire_lease("alerting", "replica-a", t(0), ttl).await.unwrap().unwrap();
    let inbox = store.push_alert_inbox(t(0), "api", "[]", None).await.unwrap();
    let a = alert("PortalDown", None, 0);
    let intake = IntakeProgress { journal: "replica-a-log".into(), applied: 7 };
    let changes =
        AlertChanges { inbox_done: Some(inbox), intake: Some(intake), ..new_alerts(std::slice::from_ref(&a)) };
    let fence = |holder: &str, token: i64| Fence { lease: "alerting".into(), holder: holder.into(), token };

    for (f, now, why) in [
        (fence("replica-a", lease.token + 1), t(1), "wrong token"),
        (fence("replica-b", lease.token), t(1), "wrong holder"),
        (fence("replica-a", lease.token), t(30), "expired"),
        (Fence { lease: "other".into(), ..fence("replica-a", lease.token) }, t(1), "unknown lease"),
    ] {
        let err = store.apply_alert_changes(Some(&f), now, &changes).await.unwrap_err();
        assert!(matches!(err, StoreError::LeaseLost { .. }), "{why}: {err}");
        assert!(err.to_string().contains("not written"), "{err}");
        assert!(store.alert(a.id).await.unwrap().is_none(), "{why}");
        assert!(store.alert_history(a.id).await.unwrap().is_empty(), "{why}");
        assert_eq!(store.notification_backlog().await.unwrap(), 0, "{why}");
        assert_eq!(store.alert_inbox(0, 10).await.unwrap().len(), 1, "{why}");
        assert_eq!(store.alert_intake_progress("replica-a-log").await.unwrap(), None, "{why}");
    }

    store.apply_alert_changes(Some(&fence("replica-a", lease.token)), t(29), &changes).await.unwrap();
    assert!(store.alert(a.id).await.unwrap().is_some());
    assert_eq!(store.alert_intake_progress("replica-a-log").await.unwrap(), Some(7));
    assert!(store.alert_inbox(0, 10).await.unwrap().is_empty());

    // After a takeover the old holder's token is stale.
    let b = store.try_acquire_lease("alerting", "replica-b", t(31), ttl).await.unwrap().unwrap();
    let stale = store.apply_alert_changes(Some(&fence("replica-a", lease.token)), t(31), &changes).await;
    assert!(matches!(stale, Err(StoreError::LeaseLost { .. })));
    let next = AlertChanges { alerts: vec![AlertRow { level: 3, ..a.clone() }], ..Default::default() };
    store.apply_alert_changes(Some(&fence("replica-b", b.token)), t(32), &next).await.unwrap();
    assert_eq!(store.alert(a.id).await.unwrap().unwrap().level, 3);
});

store_test!(a_failing_batch_is_rolled_back_whole, |store| {
    let a = alert("PortalDown", None, 0);
    let stranger = alert("NeverWritten", None, 0);
    let mut changes = new_alerts(std::slice::from_ref(&a));
    changes.notifications.push(notification(&stranger, 0));
    assert!(store.apply_alert_changes(None, t(0), &changes).await.is_err(), "a notification of an unknown alert");
    assert!(store.alert(a.id).await.unwrap().is_none());
    assert!(store.alert_history(a.id).await.unwrap().is_empty());
});

store_test!(inbox_rows_are_read_in_order_and_removed_with_the_batch, |store| {
    let first = store.push_alert_inbox(t(1), "api", r#"[{"labels":{"alertname":"A"}}]"#, None).await.unwrap();
    let second = store.push_alert_inbox(t(2), "webhook", r#"{"alerts":[]}"#, None).await.unwrap();
    let third = store.push_alert_inbox(t(3), "api", "[]", None).await.unwrap();
    assert!(first < second && second < third);
    let all = store.alert_inbox(0, 10).await.unwrap();
    assert_eq!(all.iter().map(|r| r.id).collect::<Vec<_>>(), [first, second, third]);
    assert_eq!(
        (all[1].received_at, all[1].source.as_str(), all[1].body.as_str()),
        (t(2), "webhook", r#"{"alerts":[]}"#)
    );
    assert_eq!(store.alert_inbox(first, 1).await.unwrap()[0].id, second);

    write(store, AlertChanges { inbox_done: Some(second), ..Default::default() }).await;
    assert_eq!(store.alert_inbox(0, 10).await.unwrap().iter().map(|r| r.id).collect::<Vec<_>>(), [third]);
    assert!(store.push_alert_inbox(t(4), "api", "[]", None).await.unwrap() > third, "ids are not reused");
});

store_test!(intake_progress_moves_with_the_write_that_stores_the_records, |store| {
    let progress = |journal: &str, applied| IntakeProgress { journal: journal.into(), applied };
    assert_eq!(store.alert_intake_progress("log-a").await.unwrap(), None);
    // Forwarded to the inbox: the row and the progress together.
    let id = store.push_alert_inbox(t(1), "observe", "[]", Some(&progress("log-a", 3))).await.unwrap();
    assert_eq!(store.alert_intake_progress("log-a").await.unwrap(), Some(3));
    assert_eq!(store.alert_inbox(0, 10).await.unwrap()[0].id, id);
    // Applied by the engine: moves on, per log.
    write(store, AlertChanges { intake: Some(progress("log-a", 9)), ..Default::default() }).await;
    write(store, AlertChanges { intake: Some(progress("log-b", 1)), ..Default::default() }).await;
    assert_eq!(store.alert_intake_progress("log-a").await.unwrap(), Some(9));
    assert_eq!(store.alert_intake_progress("log-b").await.unwrap(), Some(1));
    // A batch that fails leaves the progress where it was.
    let stranger = alert("NeverWritten", None, 0);
    let failing = AlertChanges {
        notifications: vec![notification(&stranger, 0)],
        intake: Some(progress("log-a", 12)),
        ..Default::default()
    };
    assert!(store.apply_alert_changes(None, t(2), &failing).await.is_err());
    assert_eq!(store.alert_intake_progress("log-a").await.unwrap(), Some(9));
});

fn silence(tenant_id: Option<Uuid>, created: i64, ends: i64) -> SilenceRow {
    SilenceRow {
        id: Uuid::now_v7(),
        tenant_id,
        matchers: r#"["service=\"portal\""]"#.into(),
        starts_at: t(0),
        ends_at: t(ends),
        created_by: "m.muster".into(),
        comment: "Wartung / maintenance".into(),
        created_at: t(created),
        expired_at: None,
    }
}

store_test!(silences_are_scoped_and_expire_once, |store| {
    let vergabe = tenant(store, "vergabe").await;
    let makler = tenant(store, "makler").await;
    let platform = silence(None, 1, 1000);
    let own = silence(Some(vergabe), 2, 1000);
    let foreign = silence(Some(makler), 3, 1000);
    let short = silence(Some(vergabe), 4, 50);
    for s in [&platform, &own, &foreign, &short] {
        store.insert_silence(s).await.unwrap();
    }
    assert_eq!(store.silence(own.id).await.unwrap().unwrap(), own);

    assert!(!store.expire_silence(short.id, t(50)).await.unwrap(), "it had already ended");
    assert!(store.expire_silence(own.id, t(100)).await.unwrap());
    assert!(!store.expire_silence(own.id, t(101)).await.unwrap(), "only once");
    assert_eq!(store.silence(own.id).await.unwrap().unwrap().expired_at, Some(t(100)));

    let list = async |scope: Option<&[Uuid]>, after: Option<Timestamp>| {
        store.silences(scope, after).await.unwrap().into_iter().map(|s| s.id).collect::<Vec<_>>()
    };
    assert_eq!(list(None, None).await, [platform.id, foreign.id, short.id]);
    assert_eq!(list(None, Some(t(99))).await, [platform.id, own.id, foreign.id, short.id]);
    assert_eq!(list(None, Some(t(100))).await, [platform.id, foreign.id, short.id]);
    assert_eq!(list(Some(&[vergabe]), Some(t(0))).await, [own.id, short.id]);
    assert!(list(Some(&[]), Some(t(0))).await.is_empty());
});

fn override_row(schedule: &str, person: &str, from: i64, to: i64, created: i64) -> OverrideRow {
    OverrideRow {
        id: Uuid::now_v7(),
        schedule: schedule.into(),
        person: person.into(),
        starts_at: t(from),
        ends_at: t(to),
        reason: "Urlaub / vacation".into(),
        created_by: "lead".into(),
        created_at: t(created),
        deleted_at: None,
    }
}

store_test!(overrides_overlapping_a_period_by_creation_order, |store| {
    let early = override_row("ops", "anna", 100, 200, 3);
    let late = override_row("ops", "ben", 300, 400, 1);
    let other = override_row("dev", "cem", 150, 350, 2);
    for o in [&early, &late, &other] {
        store.insert_override(o).await.unwrap();
    }
    let list = async |schedule: Option<&str>, from: i64, to: i64| {
        store.overrides(schedule, t(from), t(to)).await.unwrap().into_iter().map(|o| o.id).collect::<Vec<_>>()
    };
    assert_eq!(list(None, 0, 1000).await, [late.id, other.id, early.id]);
    assert_eq!(list(Some("ops"), 0, 1000).await, [late.id, early.id]);
    assert_eq!(list(Some("ops"), 200, 300).await, Vec::<Uuid>::new(), "the period is half-open on both sides");
    assert_eq!(list(Some("ops"), 199, 301).await, [late.id, early.id]);
    assert_eq!(store.overrides(Some("dev"), t(0), t(1000)).await.unwrap(), std::slice::from_ref(&other));

    assert!(store.delete_override(early.id, t(50)).await.unwrap());
    assert!(!store.delete_override(early.id, t(51)).await.unwrap());
    assert!(!store.delete_override(Uuid::now_v7(), t(51)).await.unwrap());
    assert_eq!(list(Some("ops"), 0, 1000).await, [late.id]);
});

fn storm(n: usize, tenants: &[Uuid]) -> Vec<AlertRow> {
    (0..n)
        .map(|i| {
            let tenant_id = if i % 4 == 0 { None } else { Some(tenants[i % tenants.len()]) };
            AlertRow {
                severity: if i % 3 == 0 { "warning" } else { "critical" }.into(),
                ..alert(&format!("A{i}"), tenant_id, (i % 600) as i64)
            }
        })
        .collect()
}

store_test!(a_batch_of_5000_alerts_is_written_in_chunks_and_reads_back, |store| {
    let tenants = [tenant(store, "vergabe").await, tenant(store, "makler").await];
    let alerts = storm(5000, &tenants);
    write(store, new_alerts(&alerts)).await;
    let mut open = store.open_alerts(t(0)).await.unwrap();
    open.sort_by_key(|a| a.id);
    let mut expected = alerts.clone();
    expected.sort_by_key(|a| a.id);
    assert_eq!(open, expected);
    assert_eq!(store.notification_backlog().await.unwrap(), 5000);
    assert_eq!(store.alert_history(alerts[4321].id).await.unwrap(), [history(&alerts[4321], 0, "fired")]);

    // Resolving all of them replaces every row, again in chunks.
    let resolved: Vec<AlertRow> = alerts
        .iter()
        .map(|a| AlertRow { status: "resolved".into(), resolved_at: Some(t(900)), updated_at: t(900), ..a.clone() })
        .collect();
    write(store, AlertChanges { alerts: resolved.clone(), ..Default::default() }).await;
    let counts = store.alert_counts(None).await.unwrap();
    assert_eq!(counts.iter().map(|(_, _, n)| n).sum::<i64>(), 5000);
    assert!(counts.iter().all(|(status, _, _)| status == "resolved"));
    assert_eq!(store.alert(alerts[4999].id).await.unwrap().unwrap(), resolved[4999]);
    assert!(store.open_alerts(t(901)).await.unwrap().is_empty());
});
