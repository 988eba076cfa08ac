//! The effective policy page and API: what is in force, what is not yet
//! and what will enforce it, a tenant's own values; a tenant viewer sees
//! only its tenants' policies.

use leitstand_app::store_test;
use leitstand_core::access::Role;
use leitstand_core::policy::{Policy, PolicySet};
use leitstand_core::tenant::TenantSlug;
use serde_json::Value;

use crate::spawn_app_with;

store_test!(the_policy_page_shows_each_section_in_force_or_not_and_a_tenants_own_values, |store| {
    let app = spawn_app_with(store.clone(), |services| {
        let mut base = Policy::default();
        base.escalation.dedup_window = leitstand_core::time_limit::Duration::from_mins(7);
        let mut bank_a = base.clone();
        bank_a.escalation.dedup_window = leitstand_core::time_limit::Duration::from_mins(2);
        let tenants = [(TenantSlug::parse("bank-a".to_string()).unwrap(), bank_a)].into();
        let settings =
            leitstand_app::alerting::AlertingSettings { policy: PolicySet { base, tenants }, ..Default::default() };
        services.alerting = std::sync::Arc::new(leitstand_app::alerting::Alerting::new(
            settings,
            leitstand_alerting::link::LinkKey::new([7; 32]),
            "https://leitstand.example".into(),
        ));
    })
    .await;
    let admin = app.user("admin", Role::Admin, &[]).await;
    let principal = app.state.app.cli_principal(&"admin".parse().unwrap()).await.unwrap();
    app.state.app.create_tenant(&principal, "bank-a", "Bank A").await.unwrap();
    app.state.app.create_tenant(&principal, "bank-b", "Bank B").await.unwrap();

    let (status, html) = app.page(&admin, "/policy").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Grundrichtlinie der Plattform"), "{html}");
    assert!(html.contains("href=\"/policy\""), "in the navigation");
    assert!(html.contains("dedup_window = &#34;7m&#34;"), "{html}");
    assert!(html.contains("noch nicht in Kraft – kommt mit: Incident-Management"), "{html}");
    assert!(
        html.contains("<code>[retention]</code>") && html.contains("allowed_in_production"),
        "retention with its reasons"
    );

    let (status, html) = app.page(&admin, "/policy?tenant=bank-a").await;
    assert_eq!(status, 200);
    assert!(html.contains("Richtlinie des Mandanten bank-a"));
    assert!(html.contains("eigener Wert des Mandanten"), "escalation is bank-a's own");
    assert!(html.contains("dedup_window = &#34;2m&#34;"), "{html}");

    // A tenant viewer: its tenant only, no base policy, another tenant's not found.
    let viewer = app.user("vera", Role::TenantViewer, &["bank-a"]).await;
    let (status, html) = app.page(&viewer, "/policy").await;
    assert_eq!(status, 200);
    assert!(html.contains("Richtlinie des Mandanten bank-a"));
    assert!(!html.contains("Plattform (Grundrichtlinie)"), "no base policy to choose");
    let (status, _) = app.page(&viewer, "/policy?tenant=bank-b").await;
    assert_eq!(status, 404);

    // The API: the same, as JSON.
    let token = app.state.app.create_token(&principal, "read", &["read".into()], None).await.unwrap().secret;
    let res = app.client.get(app.url("/api/v1/policy?tenant=bank-a")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["tenant"], "bank-a");
    let sections = body["sections"].as_array().unwrap();
    let escalation = sections.iter().find(|s| s["key"] == "escalation").unwrap();
    assert_eq!(escalation["in_force"], true);
    assert_eq!(escalation["own"], true);
    assert_eq!(escalation["value"]["dedup_window"], "2m");
    let backup = sections.iter().find(|s| s["key"] == "backup").unwrap();
    assert_eq!(backup["in_force"], false);
    assert_eq!(backup["enforced_by"], "backups and restore drills");
});
