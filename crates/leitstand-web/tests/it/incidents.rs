//! The incident API over HTTP: open, change, note, classify, report, and
//! what a tenant viewer sees.

use leitstand_app::store_test;
use leitstand_core::access::Role;
use serde_json::{Value, json};

use crate::{App, spawn_app};

async fn call(app: &App, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn token(app: &App, name: &str, role: Role, tenants: &[&str], scopes: &[&str]) -> String {
    app.user(name, role, tenants).await;
    let p = app.state.app.cli_principal(&name.parse().unwrap()).await.unwrap();
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    app.state.app.create_token(&p, "t", &scopes, None).await.unwrap().secret
}

store_test!(an_incident_through_the_api_from_opening_to_its_first_report, |store| {
    use reqwest::Method;
    let app = spawn_app(store.clone()).await;
    let admin = token(&app, "admin", Role::Admin, &[], &["write"]).await;
    let admin_p = app.state.app.cli_principal(&"admin".parse().unwrap()).await.unwrap();
    app.state.app.create_tenant(&admin_p, "bank-a", "Bank A").await.unwrap();
    let devops = token(&app, "dora", Role::Devops, &[], &["write"]).await;
    let compliance = token(&app, "carla", Role::Compliance, &[], &["write"]).await;
    let viewer = token(&app, "vera", Role::TenantViewer, &["bank-a"], &["read"]).await;

    let (status, inc) = call(
        &app,
        Method::POST,
        "/api/v1/incidents",
        &devops,
        Some(json!({ "title": "Portal nicht erreichbar", "severity": "SEV-1", "tenants": ["bank-a"], "services": ["portal"] })),
    )
    .await;
    assert_eq!(status, 201, "{inc}");
    assert_eq!((inc["number"].as_i64(), inc["phase"].as_str()), (Some(1), Some("detection")));
    assert_eq!(inc["clocks"][0]["kind"], "reaction");
    assert_eq!(inc["clocks"][0]["state"], "running");

    let (status, bad) =
        call(&app, Method::POST, "/api/v1/incidents", &devops, Some(json!({ "title": "x", "severity": "SEV-5" })))
            .await;
    assert_eq!(status, 422);
    assert!(bad["detail"].as_str().unwrap_or_default().contains("SEV-5"), "{bad}");
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/v1/incidents/1/changes",
        &devops,
        Some(json!({ "phase": "analysis", "severity": {} })),
    )
    .await;
    assert_eq!(status, 422, "one change at a time");

    let (status, moved) =
        call(&app, Method::POST, "/api/v1/incidents/1/changes", &devops, Some(json!({ "phase": "containment" }))).await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["phase"], "containment");
    assert!(moved["first_response_at"].is_string());
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/v1/incidents/1/notes",
        &devops,
        Some(json!({ "text": "Vermutung: DNS", "internal": true })),
    )
    .await;
    assert_eq!(status, 201);

    let (status, classified) = call(
        &app,
        Method::POST,
        "/api/v1/incidents/1/classification",
        &compliance,
        Some(json!({ "critical_services_affected": true, "malicious_unauthorised_access": true, "data_confidentiality": true })),
    )
    .await;
    assert_eq!(status, 200, "{classified}");
    assert_eq!(classified["result"]["major"], true);
    assert_eq!(classified["result"]["basis"], "unauthorised_access");
    let clocks = classified["incident"]["clocks"].as_array().unwrap();
    let initial = clocks.iter().find(|c| c["kind"] == "dora_initial").expect("the DORA initial clock runs");
    assert_eq!(initial["party"], "bank-a");
    let (status, typo) = call(
        &app,
        Method::POST,
        "/api/v1/incidents/1/classification",
        &compliance,
        Some(json!({ "clients_afected": 1 })),
    )
    .await;
    assert_eq!(status, 422);
    assert!(typo.to_string().contains("clients_afected"), "names the unknown answer: {typo}");

    let (status, report) = call(
        &app,
        Method::POST,
        "/api/v1/incidents/1/reports",
        &compliance,
        Some(json!({ "kind": "dora_initial", "tenant": "bank-a", "reference": "BAFIN-1", "content": { "title": "Portal" } })),
    )
    .await;
    assert_eq!(status, 201, "{report}");
    assert_eq!(report["authority"], "BaFin");
    let (_, inc) = call(&app, Method::GET, "/api/v1/incidents/1", &compliance, None).await;
    let initial = inc["clocks"].as_array().unwrap().iter().find(|c| c["kind"] == "dora_initial").unwrap().clone();
    assert_eq!(initial["state"], "met");
    assert!(inc["clocks"].as_array().unwrap().iter().any(|c| c["kind"] == "dora_intermediate"));

    // The tenant viewer reads the incident and its timeline, not the internal note.
    let (status, list) = call(&app, Method::GET, "/api/v1/incidents", &viewer, None).await;
    assert_eq!((status, list.as_array().unwrap().len()), (200, 1));
    let (_, timeline) = call(&app, Method::GET, "/api/v1/incidents/1/timeline", &viewer, None).await;
    let texts: Vec<&str> = timeline.as_array().unwrap().iter().map(|e| e["text"].as_str().unwrap()).collect();
    assert!(!texts.contains(&"Vermutung: DNS"), "{texts:?}");
    let (_, all) = call(&app, Method::GET, "/api/v1/incidents/1/timeline", &admin, None).await;
    assert!(all.as_array().unwrap().iter().any(|e| e["text"] == "Vermutung: DNS" && e["internal"] == true));
    let (status, _) = call(&app, Method::GET, "/api/v1/incidents/1/reports", &viewer, None).await;
    assert_eq!(status, 200);
    let (status, _) = call(&app, Method::GET, "/api/v1/incidents?status=done", &admin, None).await;
    assert_eq!(status, 422);

    // The overview lists the open incident with its nearest deadline.
    let cookie = app.login("carla", crate::PASSWORD).await.unwrap();
    let (_, html) = app.page(&cookie, "/").await;
    assert!(html.contains("Offene Vorfälle") && html.contains("INC-1 SEV-1 – Portal nicht erreichbar"), "{html}");
    assert!(html.contains("nächste Frist: ") || html.contains("überfällig: "), "{html}");
});
