use leitstand_app::store_test;
use leitstand_app::testing::{drop_postgres, postgres_empty};
use leitstand_app::{Store, StoreOptions};

use crate::spawn_app;

store_test!(healthz_and_readyz_answer_with_headers, |store| {
    let app = spawn_app(store.clone()).await;
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    for header in ["x-content-type-options", "referrer-policy", "x-frame-options", "content-security-policy"] {
        assert!(res.headers().contains_key(header), "missing {header}");
    }
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(request_id.len(), 32);
    assert!(res.headers()["traceparent"].to_str().unwrap().starts_with(&format!("00-{request_id}-")));
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["status"], "alive");

    let res = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"], store.backend().as_str());
    assert_eq!(body["schema"]["applied"], body["schema"]["known"]);
});

store_test!(readyz_fails_when_the_database_goes_away, |store| {
    let app = spawn_app(store.clone()).await;
    assert_eq!(app.client.get(app.url("/readyz")).send().await.unwrap().status(), 200);
    store.close().await;
    let res = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["reason"], "database unreachable");
    // Liveness is not readiness: the process still answers.
    assert_eq!(app.client.get(app.url("/healthz")).send().await.unwrap().status(), 200);
});

store_test!(readyz_turns_503_while_draining, |store| {
    let app = spawn_app(store.clone()).await;
    app.state.start_draining();
    let res = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["status"], "draining");
});

#[tokio::test]
async fn readyz_fails_while_the_schema_is_not_migrated() {
    let (url, admin, database) = postgres_empty().await;
    let store = Store::connect(&url, &StoreOptions::default()).await.unwrap();
    let app = spawn_app(store.clone()).await;
    let res = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["schema"]["applied"], 0);
    store.migrate().await.unwrap();
    assert_eq!(app.client.get(app.url("/readyz")).send().await.unwrap().status(), 200);
    store.close().await;
    drop_postgres(&admin, &database).await;
}

store_test!(incoming_trace_is_continued, |store| {
    let app = spawn_app(store.clone()).await;
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    let traceparent = res.headers()["traceparent"].to_str().unwrap();
    assert!(traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    assert!(!traceparent.contains("00f067aa0ba902b7"), "our own span id, not the caller's");
    // A malformed header starts a fresh trace instead of failing.
    let res = app.client.get(app.url("/healthz")).header("traceparent", "garbage").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_ne!(res.headers()["x-request-id"], "4bf92f3577b34da6a3ce929d0e0e4736");
});

store_test!(metrics_count_requests_by_route_and_time_the_store, |store| {
    let app = spawn_app(store.clone()).await;
    for _ in 0..3 {
        app.client.get(app.url("/healthz")).send().await.unwrap();
    }
    app.client.get(app.url("/readyz")).send().await.unwrap();
    app.client.get(app.url("/no/such/page?token=secret")).send().await.unwrap();
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let text = res.text().await.unwrap();
    assert!(text.contains(r#"leitstand_http_requests_total{route="/healthz",method="GET",status="200"} 3"#), "{text}");
    assert!(text.contains(r#"leitstand_http_requests_total{route="unmatched",method="GET",status="404"} 1"#));
    assert!(!text.contains("secret") && !text.contains("/no/such/page"), "raw paths never become labels");
    assert!(text.contains(r#"leitstand_http_request_duration_seconds_count{route="/healthz",method="GET"} 3"#));
    let backend = store.backend().as_str();
    assert!(text.contains(&format!(
        r#"leitstand_store_operation_duration_seconds_count{{backend="{backend}",operation="schema.status"}} 1"#
    )));
    assert!(text.contains(&format!(
        r#"leitstand_build_info{{version="{}",backend="{backend}"}} 1"#,
        env!("CARGO_PKG_VERSION")
    )));
    assert!(text.contains("leitstand_process_resident_memory_bytes "));
    assert!(text.trim_end().ends_with("# EOF"));
});

store_test!(unknown_paths_get_problem_details_or_a_page, |store| {
    let app = spawn_app(store.clone()).await;
    let res = app.client.get(app.url("/api/v1/nothing")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], 404);
    assert_eq!(body["request_id"], request_id.as_str());

    let res = app.client.get(app.url("/nothing")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(res.status(), 404);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    let page = res.text().await.unwrap();
    assert!(page.contains("<html lang=\"de\">") && page.contains(&request_id));
});

store_test!(openapi_document_describes_every_api_route, |store| {
    let app = spawn_app(store.clone()).await;
    let res = app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let doc: serde_json::Value = res.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/me",
        "/api/v1/tenants",
        "/api/v1/tenants/{slug}",
        "/api/v1/users",
        "/api/v1/users/{name}",
        "/api/v1/tokens",
        "/api/v1/tokens/{id}",
        "/api/v1/audit/events",
        "/api/v1/users/{name}/password",
        "/api/v1/me/password",
        "/api/v1/me/locale",
        "/api/v1/me/totp",
        "/api/v1/me/totp/secret",
        "/api/v1/incidents",
        "/api/v1/incidents/{number}",
        "/api/v1/incidents/{number}/changes",
        "/api/v1/incidents/{number}/timeline",
        "/api/v1/incidents/{number}/notes",
        "/api/v1/incidents/{number}/classification",
        "/api/v1/incidents/{number}/reports",
        "/api/v1/alerts/{id}/incident",
    ] {
        assert!(paths.contains_key(path), "{path} documented");
    }
    // Every documented operation is served: without credentials it answers
    // 401 (never 404 or 405), so the document and the router agree.
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let concrete = path
                .replace("{slug}", "x")
                .replace("{name}", "x")
                .replace("{number}", "1")
                .replace("{id}", "00000000-0000-0000-0000-000000000000");
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let res = app
                .client
                .request(method.clone(), app.url(&concrete))
                .json(&serde_json::json!({}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 401, "{method} {path}");
        }
    }
});
