use jiff::{SignedDuration, Timestamp};
use leitstand_core::tenant::TenantSlug;
use leitstand_store::{
    AlertChanges, AlertRepository, AlertRow, ClassificationRow, IncidentFilter, IncidentRepository, NewIncident,
    NewTenant, NewTimelineEntry, ReportRow, Store, StoreError, TenantRepository, store_test,
};
use uuid::Uuid;

fn t(secs: i64) -> Timestamp {
    "2026-12-04T12:00:00.000123Z".parse::<Timestamp>().unwrap() + SignedDuration::from_secs(secs)
}

async fn tenant(store: &Store, slug: &str) -> Uuid {
    let new = NewTenant { id: Uuid::now_v7(), slug: TenantSlug::parse(slug).unwrap(), name: slug.to_uppercase() };
    store.create_tenant(new, t(0)).await.unwrap().id
}

fn new(title: &str, tenants: Vec<Uuid>) -> NewIncident {
    NewIncident {
        id: Uuid::now_v7(),
        title: title.into(),
        severity: "SEV-1".into(),
        phase: "detection".into(),
        opened_by: "user:anna".into(),
        opened_via: "hand".into(),
        detected_at: t(0),
        aware_at: Some(t(60)),
        services: vec!["portal".into(), "api".into()],
        tenants,
        personal_data_breach: false,
    }
}

fn entry(secs: i64, kind: &str, text: &str) -> NewTimelineEntry {
    NewTimelineEntry {
        at: t(secs),
        author: "user:anna".into(),
        kind: kind.into(),
        text: text.into(),
        detail: "{}".into(),
        internal: false,
        corrects: None,
    }
}

store_test!(an_opened_incident_reads_back_with_its_tenants_and_first_entry, |store| {
    let bank = tenant(store, "bank-a").await;
    let created = store
        .create_incident(new("Portal down", vec![bank]), vec![entry(60, "opened", "eröffnet")], t(60))
        .await
        .unwrap();
    assert_eq!(created.number, 1);
    assert_eq!((created.status.as_str(), created.phase.as_str()), ("open", "detection"));
    assert_eq!(created.tenants, vec![bank]);
    assert_eq!(created.services, vec!["portal".to_string(), "api".to_string()]);
    assert_eq!(created.detected_at, t(0), "microseconds survive");
    assert_eq!(store.incident(created.id).await.unwrap().unwrap(), created);
    assert_eq!(store.incident_by_number(1).await.unwrap().unwrap().id, created.id);
    let timeline = store.timeline(created.id, None, 100, true).await.unwrap();
    assert_eq!(timeline.len(), 1);
    assert_eq!((timeline[0].kind.as_str(), timeline[0].at), ("opened", t(60)));
    let second = store.create_incident(new("Second", vec![]), vec![], t(70)).await.unwrap();
    assert_eq!(second.number, 2, "numbers run on");
});

store_test!(a_save_writes_record_and_entries_together_and_refuses_a_stale_version, |store| {
    let created = store.create_incident(new("Portal down", vec![]), vec![], t(60)).await.unwrap();
    let mut changed = created.clone();
    changed.phase = "containment".into();
    changed.first_response_at = Some(t(120));
    changed.commander = Some("anna".into());
    changed.nis2_significant = true;
    let saved = store.save_incident(&changed, vec![entry(120, "phase", "Eindämmung")], t(120)).await.unwrap();
    assert_eq!(saved.phase, "containment");
    assert_eq!(saved.commander.as_deref(), Some("anna"));
    assert!(saved.nis2_significant);
    assert!(saved.updated_at > created.updated_at);

    // Someone else saved meanwhile: the stale copy is refused whole.
    let mut stale = created.clone();
    stale.severity = "SEV-3".into();
    let err = store.save_incident(&stale, vec![entry(130, "severity", "SEV-3")], t(130)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { entity: "incident version", .. }), "{err}");
    let now = store.incident(created.id).await.unwrap().unwrap();
    assert_eq!((now.severity.as_str(), now.phase.as_str()), ("SEV-1", "containment"));
    let kinds: Vec<String> =
        store.timeline(created.id, None, 100, true).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, ["phase"], "the refused save's entry was not written");

    // Two saves within the same microsecond still move the version.
    let mut again = saved.clone();
    again.title = "Portal nicht erreichbar".into();
    let saved2 = store.save_incident(&again, vec![], saved.updated_at).await.unwrap();
    assert!(saved2.updated_at > saved.updated_at);
    assert!(store.save_incident(&saved, vec![], t(200)).await.is_err(), "the older version is stale now");
});

store_test!(the_timeline_appends_in_order_hides_internal_notes_and_keeps_corrections_apart, |store| {
    let created =
        store.create_incident(new("Portal down", vec![]), vec![entry(0, "opened", "eröffnet")], t(0)).await.unwrap();
    let mut note = entry(10, "note", "Vermutung: Zertifikat");
    note.internal = true;
    let written =
        store.append_timeline(created.id, vec![note, entry(10, "communication", "Erstinformation")]).await.unwrap();
    let mut correction = entry(20, "note", "Korrektur: DNS, nicht Zertifikat");
    correction.corrects = Some(written[0].id);
    correction.internal = true;
    store.append_timeline(created.id, vec![correction]).await.unwrap();
    let all = store.timeline(created.id, None, 100, true).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.text.as_str()).collect::<Vec<_>>(),
        ["eröffnet", "Vermutung: Zertifikat", "Erstinformation", "Korrektur: DNS, nicht Zertifikat"]
    );
    assert_eq!(all[3].corrects, Some(all[1].id));
    assert_eq!(all[1].text, "Vermutung: Zertifikat", "the corrected entry is unchanged");
    let public = store.timeline(created.id, None, 100, false).await.unwrap();
    assert_eq!(public.len(), 2, "internal notes are not for tenant viewers");
    let page = store.timeline(created.id, Some(all[1].id), 1, true).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id, all[2].id, "pages by entry id");
});

store_test!(lists_filter_by_status_severity_tenant_and_scope, |store| {
    let (a, b) = (tenant(store, "bank-a").await, tenant(store, "bank-b").await);
    let one = store.create_incident(new("A", vec![a]), vec![], t(0)).await.unwrap();
    let two = store.create_incident(new("B", vec![b]), vec![], t(0)).await.unwrap();
    let both = store.create_incident(new("AB", vec![a, b]), vec![], t(0)).await.unwrap();
    let platform = store.create_incident(new("P", vec![]), vec![], t(0)).await.unwrap();
    let mut resolved = two.clone();
    resolved.status = "resolved".into();
    resolved.severity = "SEV-3".into();
    store.save_incident(&resolved, vec![], t(10)).await.unwrap();
    let numbers = |rows: Vec<leitstand_store::IncidentRow>| rows.into_iter().map(|r| r.number).collect::<Vec<_>>();
    let list = |f: IncidentFilter| async move {
        let limit = if f.limit == 0 { 100 } else { f.limit };
        numbers(store.incidents(&IncidentFilter { limit, ..f }).await.unwrap())
    };
    assert_eq!(list(IncidentFilter::default()).await, [platform.number, both.number, two.number, one.number]);
    assert_eq!(list(IncidentFilter { status: Some("resolved".into()), ..Default::default() }).await, [two.number]);
    assert_eq!(list(IncidentFilter { severity: Some("SEV-1".into()), ..Default::default() }).await.len(), 3);
    assert_eq!(list(IncidentFilter { tenant: Some(a), ..Default::default() }).await, [both.number, one.number]);
    assert_eq!(
        list(IncidentFilter { only: Some(vec![b]), ..Default::default() }).await,
        [both.number, two.number],
        "a tenant viewer sees its tenants' incidents, never platform or other tenants' ones"
    );
    assert!(list(IncidentFilter { only: Some(vec![]), ..Default::default() }).await.is_empty());
    assert_eq!(
        list(IncidentFilter { before: Some(both.number), ..Default::default() }).await,
        [two.number, one.number]
    );
    assert_eq!(list(IncidentFilter { limit: 1, ..Default::default() }).await.len(), 1);
    let unclosed = store.unclosed_incidents().await.unwrap();
    assert_eq!(unclosed.len(), 4);
    assert_eq!(unclosed.iter().find(|r| r.id == both.id).unwrap().tenants.len(), 2);
});

fn alert(fingerprint: &str) -> AlertRow {
    AlertRow {
        id: Uuid::now_v7(),
        fingerprint: fingerprint.into(),
        tenant_id: None,
        source: "rule".into(),
        labels: r#"{"alertname":"ProbeDown"}"#.into(),
        annotations: "{}".into(),
        generator_url: None,
        alertname: "ProbeDown".into(),
        severity: "critical".into(),
        service: None,
        group_key: "{}".into(),
        status: "firing".into(),
        starts_at: t(0),
        ends_at: None,
        resolved_at: None,
        last_seen_at: t(0),
        level: 3,
        level_since: t(0),
        acked_by: None,
        acked_at: None,
        suppressed: None,
        notified_level: 3,
        next_step_at: None,
        updated_at: t(0),
    }
}

store_test!(an_alert_joins_one_incident_and_its_fingerprint_finds_the_open_one, |store| {
    let (first, second) = (alert("00000000000000aa"), alert("00000000000000aa"));
    let changes = AlertChanges { alerts: vec![first.clone(), second.clone()], ..Default::default() };
    store.apply_alert_changes(None, t(0), &changes).await.unwrap();
    let inc = store.create_incident(new("Portal down", vec![]), vec![], t(0)).await.unwrap();
    let other = store.create_incident(new("Other", vec![]), vec![], t(0)).await.unwrap();
    assert!(store.link_alert(inc.id, first.id, &first.fingerprint, t(1)).await.unwrap());
    assert!(!store.link_alert(other.id, first.id, &first.fingerprint, t(2)).await.unwrap(), "one incident per alert");
    assert_eq!(store.unclosed_incident_for("00000000000000aa").await.unwrap(), Some(inc.id));
    assert!(store.link_alert(inc.id, second.id, &second.fingerprint, t(3)).await.unwrap(), "the alert fired again");
    assert_eq!(store.incident_alerts(inc.id).await.unwrap().len(), 2);
    let mut closed = inc.clone();
    closed.status = "closed".into();
    store.save_incident(&closed, vec![], t(4)).await.unwrap();
    assert_eq!(store.unclosed_incident_for("00000000000000aa").await.unwrap(), None, "a closed incident takes no more");
});

store_test!(classifications_reports_and_reminders_are_kept, |store| {
    let bank = tenant(store, "bank-a").await;
    let inc = store.create_incident(new("Portal down", vec![bank]), vec![], t(0)).await.unwrap();
    for (secs, major) in [(100, false), (200, true)] {
        let row = ClassificationRow {
            id: Uuid::now_v7(),
            incident_id: inc.id,
            at: t(secs),
            author: "user:carla".into(),
            answers: r#"{"critical_services_affected":true}"#.into(),
            result: format!(r#"{{"major":{major}}}"#),
            major,
        };
        store.add_classification(row).await.unwrap();
    }
    let history = store.classifications(inc.id).await.unwrap();
    assert_eq!(
        history.iter().map(|c| c.major).collect::<Vec<_>>(),
        [false, true],
        "reclassification keeps the history"
    );
    let report = ReportRow {
        id: Uuid::now_v7(),
        incident_id: inc.id,
        tenant_id: Some(bank),
        kind: "dora_initial".into(),
        authority: "BaFin".into(),
        submitted_at: t(300),
        submitted_by: "user:carla".into(),
        reference: Some("BAFIN-2026-0042".into()),
        content: r#"{"title":"Portal down"}"#.into(),
        sha256: "00".repeat(32),
    };
    store.add_report(report.clone()).await.unwrap();
    assert_eq!(store.reports(inc.id).await.unwrap(), vec![report]);
    assert!(store.mark_reminder(inc.id, "dora_initial", 0, t(400)).await.unwrap());
    assert!(!store.mark_reminder(inc.id, "dora_initial", 0, t(401)).await.unwrap(), "a step is sent once");
    assert!(store.mark_reminder(inc.id, "dora_initial", 1, t(402)).await.unwrap());
    assert_eq!(
        store.reminders(inc.id).await.unwrap(),
        vec![("dora_initial".to_string(), 0), ("dora_initial".to_string(), 1)]
    );
});
