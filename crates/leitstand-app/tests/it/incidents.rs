//! Incidents: opening, phases, severity with reasons, roles, the timeline,
//! DORA classification, reports and the clocks they drive — on both
//! engines, with a manual clock.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use leitstand_app::AppError;
use leitstand_app::incidents::{
    IncidentChange, IncidentQuery, IncidentSettings, OpenIncident, ReportSubmission, Roles, TimelineKind,
};
use leitstand_core::access::Role;
use leitstand_core::policy::{EntityType, Policy, PolicySet, Severity};
use leitstand_core::tenant::TenantSlug;
use leitstand_incidents::clocks::{ClockKind, ReportKind};
use leitstand_incidents::{ClockState, DoraAnswers, Phase, Status};
use leitstand_store::store_test;
use serde_json::json;

use crate::{add, admin, app, audit};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn open(title: &str, tenants: &[&str]) -> OpenIncident {
    OpenIncident {
        title: title.into(),
        severity: Severity::Sev1,
        detected_at: None,
        aware_at: None,
        services: vec!["portal".into()],
        tenants: tenants.iter().map(|t| t.to_string()).collect(),
        personal_data_breach: false,
    }
}

fn forbidden<T>(r: Result<T, AppError>) -> bool {
    matches!(r, Err(AppError::Forbidden { .. }))
}

/// The field an invalid input was refused for.
fn field<T>(r: Result<T, AppError>) -> &'static str {
    match r {
        Err(AppError::Invalid { field, .. }) => field,
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("accepted"),
    }
}

fn major() -> DoraAnswers {
    DoraAnswers {
        critical_services_affected: true,
        clients_total: Some(40_000),
        clients_affected: Some(40_000),
        downtime_minutes: Some(180),
        duration_minutes: Some(180),
        ..Default::default()
    }
}

store_test!(an_incident_opened_by_hand_runs_its_reaction_clock_and_is_audited, |store| {
    let (app, clock) = app(store);
    let admin = admin(&app).await;
    // Friday 2026-12-04, 15:00 CET.
    clock.set(ts("2026-12-04T14:00:00Z"));
    let devops = add(&app, &admin, "dora", Role::Devops, &[]).await;
    let inc = app.open_incident(&devops, open("Portal nicht erreichbar", &[])).await.unwrap();
    assert_eq!((inc.number, inc.severity, inc.phase, inc.status), (1, Severity::Sev1, Phase::Detection, Status::Open));
    let reaction = inc.clocks.iter().find(|c| c.clock.kind == ClockKind::Reaction).unwrap();
    assert_eq!(reaction.clock.due, ts("2026-12-04T14:15:00Z"), "SEV-1: 15 minutes");
    assert_eq!(reaction.state, ClockState::Running);
    assert!(
        !inc.clocks.iter().any(|c| matches!(c.clock.kind, ClockKind::Report(_))),
        "no report clock before classification: {:?}",
        inc.clocks
    );

    // Twenty minutes later: overdue, until a person moves the phase.
    clock.advance(SignedDuration::from_mins(20));
    let seen = app.incident(&devops, 1).await.unwrap();
    assert_eq!(seen.clocks.iter().find(|c| c.clock.kind == ClockKind::Reaction).unwrap().state, ClockState::Overdue);
    let overdue = app.incidents(&devops, &IncidentQuery { overdue: true, ..Default::default() }).await.unwrap();
    assert_eq!(overdue.len(), 1);
    let moved = app.change_incident(&devops, 1, IncidentChange::Phase(Phase::Containment)).await.unwrap();
    assert_eq!(moved.first_response_at, Some(ts("2026-12-04T14:20:00Z")));
    let reaction = moved.clocks.iter().find(|c| c.clock.kind == ClockKind::Reaction).unwrap();
    assert_eq!(reaction.state, ClockState::MetLate);

    let timeline = app.incident_timeline(&devops, 1, None, 100).await.unwrap();
    let kinds: Vec<TimelineKind> = timeline.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [TimelineKind::Opened, TimelineKind::Phase]);
    assert_eq!(timeline[1].text, "Phase: Erkennung → Eindämmung");
    assert_eq!(timeline[1].author, "user:dora");
    assert_eq!(timeline[1].at.as_second(), timeline[1].at.as_millisecond() / 1000, "to the second");
    let events = audit(&app).await;
    for action in ["incident.open", "incident.phase"] {
        let e = events.iter().find(|e| e.action == action).unwrap_or_else(|| panic!("no {action}"));
        assert_eq!(e.object.as_deref(), Some("incident:INC-1"));
    }
});

store_test!(who_may_do_what_with_incidents, |store| {
    let (app, _clock) = app(store);
    let admin = admin(&app).await;
    app.create_tenant(&admin, "bank-a", "Bank A").await.unwrap();
    app.create_tenant(&admin, "bank-b", "Bank B").await.unwrap();
    let devops = add(&app, &admin, "dora", Role::Devops, &[]).await;
    let compliance = add(&app, &admin, "carla", Role::Compliance, &[]).await;
    let auditor = add(&app, &admin, "paul", Role::Auditor, &[]).await;
    let viewer = add(&app, &admin, "vera", Role::TenantViewer, &["bank-a"]).await;
    assert!(forbidden(app.open_incident(&compliance, open("x", &[])).await), "compliance classifies, not opens");
    assert!(forbidden(app.open_incident(&auditor, open("x", &[])).await));
    let a = app.open_incident(&devops, open("Bank A down", &["bank-a"])).await.unwrap();
    let b = app.open_incident(&devops, open("Bank B down", &["bank-b"])).await.unwrap();
    let platform = app.open_incident(&devops, open("Platform", &[])).await.unwrap();
    assert!(forbidden(app.classify_incident(&devops, a.number, major()).await), "devops does not classify");
    assert!(app.classify_incident(&compliance, a.number, major()).await.is_ok());
    assert_eq!(app.incidents(&auditor, &IncidentQuery::default()).await.unwrap().len(), 3, "auditors read all");

    // A tenant viewer sees its tenant's incident and nothing else, and no internal notes.
    let seen: Vec<i64> =
        app.incidents(&viewer, &IncidentQuery::default()).await.unwrap().into_iter().map(|i| i.number).collect();
    assert_eq!(seen, [a.number]);
    for hidden in [b.number, platform.number] {
        assert!(matches!(app.incident(&viewer, hidden).await, Err(AppError::NotFound { .. })), "INC-{hidden}");
    }
    app.add_incident_note(&devops, a.number, "Kunde informiert", false, None).await.unwrap();
    app.add_incident_note(&devops, a.number, "Vermutung: Zertifikat", true, None).await.unwrap();
    let texts =
        |list: Vec<leitstand_app::incidents::TimelineEntry>| list.into_iter().map(|e| e.text).collect::<Vec<_>>();
    let internal = texts(app.incident_timeline(&devops, a.number, None, 100).await.unwrap());
    assert!(internal.contains(&"Vermutung: Zertifikat".to_string()));
    let public = texts(app.incident_timeline(&viewer, a.number, None, 100).await.unwrap());
    assert!(public.contains(&"Kunde informiert".to_string()) && !public.contains(&"Vermutung: Zertifikat".to_string()));
    assert!(forbidden(app.add_incident_note(&viewer, a.number, "x", false, None).await));
});

store_test!(a_major_dora_incident_runs_each_tenants_clocks_until_the_reports_are_in, |store| {
    let (mut app, clock) = app(store);
    let admin = admin(&app).await;
    app.create_tenant(&admin, "bank-a", "Bank A").await.unwrap();
    app.create_tenant(&admin, "bank-b", "Bank B").await.unwrap();
    // Bank B is a credit institution in Bavaria: no weekend relief.
    let mut set = PolicySet::default();
    let mut bank_b = Policy::default();
    bank_b.regulatory.dora.entity_type = EntityType::CreditInstitution;
    set.tenants.insert(TenantSlug::parse("bank-b").unwrap(), bank_b);
    app.incidents = Arc::new(IncidentSettings { policy: set });
    let devops = add(&app, &admin, "dora", Role::Devops, &[]).await;
    let compliance = add(&app, &admin, "carla", Role::Compliance, &[]).await;
    // Aware Friday 2026-12-04 13:00 CET; classified 15:00 CET.
    clock.set(ts("2026-12-04T12:00:00Z"));
    let inc = app.open_incident(&devops, open("Portal nicht erreichbar", &["bank-a", "bank-b"])).await.unwrap();
    clock.set(ts("2026-12-04T14:00:00Z"));
    let (view, result) = app.classify_incident(&compliance, inc.number, major()).await.unwrap();
    assert!(result.major && view.dora_major == Some(true));
    assert_eq!(view.classified_at, Some(ts("2026-12-04T14:00:00Z")));
    let initial = |v: &leitstand_app::incidents::IncidentView, party: &str| {
        v.clocks
            .iter()
            .find(|c| {
                c.clock.kind == ClockKind::Report(ReportKind::DoraInitial)
                    && c.party.as_ref().map(TenantSlug::as_str) == Some(party)
            })
            .unwrap_or_else(|| panic!("no initial clock for {party}: {:?}", v.clocks))
            .clone()
    };
    assert_eq!(initial(&view, "bank-a").clock.due, ts("2026-12-04T18:00:00Z"), "4 h after classification");
    assert_eq!(initial(&view, "bank-b").clock.due, ts("2026-12-04T18:00:00Z"));
    assert!(
        !view.clocks.iter().any(|c| matches!(c.clock.kind, ClockKind::Report(ReportKind::Nis2EarlyWarning))),
        "NIS2 runs only for a significant incident"
    );

    // Bank A reports at 18:30 CET (in time); the intermediate is due 72 h later.
    clock.set(ts("2026-12-04T17:45:00Z"));
    let content = json!({ "title": "Portal nicht erreichbar", "classification": "major" });
    let submitted = app
        .submit_incident_report(
            &compliance,
            inc.number,
            ReportSubmission {
                kind: ReportKind::DoraInitial,
                tenant: Some("bank-a".into()),
                submitted_at: Some(ts("2026-12-04T17:30:00Z")),
                reference: Some("BAFIN-2026-0042".into()),
                content: content.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(submitted.authority, "BaFin");
    assert_eq!(submitted.sha256.len(), 64);
    let view = app.incident(&compliance, inc.number).await.unwrap();
    assert_eq!(initial(&view, "bank-a").state, ClockState::Met);
    assert_eq!(initial(&view, "bank-b").state, ClockState::Running, "bank B has not reported");
    let intermediate = view
        .clocks
        .iter()
        .find(|c| c.clock.kind == ClockKind::Report(ReportKind::DoraIntermediate))
        .expect("bank A's intermediate clock");
    assert_eq!(intermediate.party.as_ref().map(TenantSlug::as_str), Some("bank-a"));
    assert_eq!(intermediate.clock.due, ts("2026-12-07T17:30:00Z"), "72 h after the actual submission");
    let timeline = app.incident_timeline(&compliance, inc.number, None, 100).await.unwrap();
    assert!(timeline.iter().any(|e| e.kind == TimelineKind::Report
        && e.text == "DORA Erstmeldung an BaFin übermittelt für bank-a, Aktenzeichen BAFIN-2026-0042"));
    let events = audit(&app).await;
    let report = events.iter().find(|e| e.action == "incident.report").unwrap();
    assert!(report.event.contains(&submitted.sha256), "the hash is in the audit log");

    // At 19:00 CET bank B's initial report is overdue.
    clock.set(ts("2026-12-04T18:00:01Z"));
    let view = app.incident(&compliance, inc.number).await.unwrap();
    assert_eq!(initial(&view, "bank-b").state, ClockState::Overdue);
    assert_eq!(app.incident_reports(&compliance, inc.number).await.unwrap().len(), 1);
});

store_test!(impossible_input_is_refused_with_the_field_and_nothing_changes, |store| {
    let (app, clock) = app(store);
    let admin = admin(&app).await;
    app.create_tenant(&admin, "bank-a", "Bank A").await.unwrap();
    clock.set(ts("2026-12-04T14:00:00Z"));
    let mut future = open("x", &[]);
    future.detected_at = Some(ts("2026-12-04T15:00:00Z"));
    assert_eq!(field(app.open_incident(&admin, future).await), "detected_at");
    let mut backwards = open("x", &[]);
    backwards.detected_at = Some(ts("2026-12-04T13:00:00Z"));
    backwards.aware_at = Some(ts("2026-12-04T12:00:00Z"));
    assert_eq!(field(app.open_incident(&admin, backwards).await), "aware_at");
    assert_eq!(field(app.open_incident(&admin, open("x", &["bank-z"])).await), "tenant");
    assert_eq!(field(app.open_incident(&admin, open("  ", &[])).await), "title");
    assert!(app.incidents(&admin, &IncidentQuery::default()).await.unwrap().is_empty(), "nothing opened");

    let inc = app.open_incident(&admin, open("Portal", &["bank-a"])).await.unwrap();
    let resolve_before = IncidentChange::Resolve { at: Some(ts("2026-12-04T13:00:00Z")) };
    assert_eq!(field(app.change_incident(&admin, inc.number, resolve_before).await), "resolved_at");
    let no_reason = IncidentChange::Severity { severity: Severity::Sev2, reason: " ".into() };
    assert_eq!(field(app.change_incident(&admin, inc.number, no_reason).await), "reason");
    let contradicting = DoraAnswers { clients_total: Some(10), clients_affected: Some(20), ..major() };
    assert_eq!(field(app.classify_incident(&admin, inc.number, contradicting).await), "answers");
    let nis2 = ReportSubmission {
        kind: ReportKind::Nis2EarlyWarning,
        tenant: Some("bank-a".into()),
        submitted_at: None,
        reference: None,
        content: json!({}),
    };
    assert_eq!(field(app.submit_incident_report(&admin, inc.number, nis2).await), "kind", "not significant under NIS2");
    let unnamed = ReportSubmission {
        kind: ReportKind::DoraInitial,
        tenant: None,
        submitted_at: None,
        reference: None,
        content: json!({}),
    };
    assert_eq!(field(app.submit_incident_report(&admin, inc.number, unnamed).await), "tenant");
    let kept = app.incident(&admin, inc.number).await.unwrap();
    assert_eq!((kept.severity, kept.status, kept.dora_major), (Severity::Sev1, Status::Open, None), "unchanged");
    assert_eq!(app.incident_timeline(&admin, inc.number, None, 100).await.unwrap().len(), 1, "only the opening");

    // Severity with a reason, roles, resolution; then a note corrects an entry.
    let changed = IncidentChange::Severity { severity: Severity::Sev2, reason: "Workaround verfügbar".into() };
    let view = app.change_incident(&admin, inc.number, changed).await.unwrap();
    assert_eq!(view.severity, Severity::Sev2);
    let roles = Roles { commander: Some("admin".parse().unwrap()), ..Default::default() };
    let view = app.change_incident(&admin, inc.number, IncidentChange::Roles(roles.clone())).await.unwrap();
    assert_eq!(view.roles, roles);
    let view = app.change_incident(&admin, inc.number, IncidentChange::Resolve { at: None }).await.unwrap();
    assert_eq!((view.status, view.phase), (Status::Resolved, Phase::FollowUp));
    let post_mortem = view.clocks.iter().find(|c| c.clock.kind == ClockKind::PostMortem).unwrap();
    assert_eq!(post_mortem.clock.due, ts("2026-12-11T16:00:00Z"), "five working days, SEV-2");
    let list = app.incident_timeline(&admin, inc.number, None, 100).await.unwrap();
    let severity_entry = list.iter().find(|e| e.kind == TimelineKind::Severity).unwrap();
    assert_eq!(severity_entry.text, "Schweregrad: SEV-1 → SEV-2 (Workaround verfügbar)");
    let fix = app
        .add_incident_note(&admin, inc.number, "Grund war ein Fehlalarm", false, Some(severity_entry.id))
        .await
        .unwrap();
    assert_eq!((fix.kind, fix.corrects), (TimelineKind::Correction, Some(severity_entry.id)));
    let again = app.incident_timeline(&admin, inc.number, None, 100).await.unwrap();
    assert_eq!(again.iter().find(|e| e.id == severity_entry.id).unwrap().text, severity_entry.text, "never edited");
    assert_eq!(field(app.add_incident_note(&admin, inc.number, "x", false, Some(99_999)).await), "corrects");
});

store_test!(overdue_incidents_are_found_past_newer_ones_that_are_not, |store| {
    let (app, clock) = app(store);
    let admin = admin(&app).await;
    clock.set(ts("2026-12-04T14:00:00Z"));
    app.open_incident(&admin, open("Alt und überfällig", &[])).await.unwrap();
    clock.advance(SignedDuration::from_mins(20));
    for title in ["Neu", "Neuer"] {
        app.open_incident(&admin, open(title, &[])).await.unwrap();
    }
    let query = IncidentQuery { overdue: true, limit: Some(1), ..Default::default() };
    let found: Vec<String> = app.incidents(&admin, &query).await.unwrap().into_iter().map(|i| i.title).collect();
    assert_eq!(found, ["Alt und überfällig"], "the page is filled from older incidents");
});
