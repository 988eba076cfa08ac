//! The audit trail over HTTP: submit, search by every filter (names in clear
//! are pseudonymised for the search), page with the cursor, export CSV, and
//! tenant viewers confined to their tenants.

use leitstand_app::store_test;
use leitstand_core::access::Role;
use serde_json::{Value, json};

use crate::spawn_app;

async fn token(app: &crate::App, name: &str, role: Role, tenants: &[&str], scope: &str) -> String {
    app.user(name, role, tenants).await;
    let p = app.state.app.cli_principal(&name.parse().unwrap()).await.unwrap();
    app.state.app.create_token(&p, "t", &[scope.to_string()], None).await.unwrap().secret
}

/// An app with tenants bank-a and bank-b and a portal's write token.
async fn two_tenants_and_a_writer(store: leitstand_app::Store) -> (crate::App, String) {
    let app = spawn_app(store).await;
    app.user("admin", Role::Admin, &[]).await;
    let admin = app.state.app.cli_principal(&"admin".parse().unwrap()).await.unwrap();
    app.state.app.create_tenant(&admin, "bank-a", "Bank A").await.unwrap();
    app.state.app.create_tenant(&admin, "bank-b", "Bank B").await.unwrap();
    let writer = token(&app, "portal", Role::Devops, &[], "write").await;
    (app, writer)
}

store_test!(submit_search_page_and_export, |store| {
    let (app, writer) = two_tenants_and_a_writer(store.clone()).await;
    let auditor = token(&app, "pruefer", Role::Auditor, &[], "read").await;
    let viewer = token(&app, "kunde", Role::TenantViewer, &["bank-a"], "read").await;

    let mut batch = Vec::new();
    for i in 0..30 {
        batch.push(json!({
            "time": format!("2026-11-23T09:{:02}:00Z", i),
            "actor": if i % 3 == 0 { "erika.muster" } else { "max.mustermann" },
            "action": if i % 2 == 0 { "order.create" } else { "approval.grant" },
            "tenant": if i < 20 { "bank-a" } else { "bank-b" },
            "object": format!("order:{i}"),
            "outcome": if i == 7 { "denied" } else { "success" },
            "source_ip": "198.51.100.4",
            "details": { "email": "erika@example.org", "amount": i },
        }));
    }
    let res = app.client.post(app.url("/api/v1/audit/events")).bearer_auth(&writer).json(&batch).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let indexes = res.json::<Value>().await.unwrap()["indexes"].as_array().unwrap().len();
    assert_eq!(indexes, 30);

    // Unknown tenants are refused, naming the event.
    let res = app
        .client
        .post(app.url("/api/v1/audit/events"))
        .bearer_auth(&writer)
        .json(&json!([{"actor": "a", "action": "x.y", "outcome": "success", "tenant": "bank-z"}]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("event 0: tenant"));

    let get = |token: String, query: &'static str| {
        let app = &app;
        async move {
            let res = app
                .client
                .get(app.url(&format!("/api/v1/audit/events?{query}")))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "{query}");
            res.json::<Value>().await.unwrap()
        }
    };
    let events = |v: &Value| v["events"].as_array().unwrap().clone();

    let erika = get(auditor.clone(), "actor=erika.muster&limit=1000").await;
    assert_eq!(events(&erika).len(), 10, "searched by name, matched by pseudonym");
    let text = erika.to_string();
    assert!(!text.contains("erika") && !text.contains("198.51.100.4"), "no personal data in answers: {text}");
    assert!(events(&erika).iter().all(|e| e["actor"].as_str().unwrap().starts_with("ps:")));
    assert_eq!(events(&get(auditor.clone(), "outcome=denied").await).len(), 1);
    assert_eq!(events(&get(auditor.clone(), "action=approval.grant&tenant=bank-b").await).len(), 5);
    assert_eq!(events(&get(auditor.clone(), "object=order:12").await).len(), 1);
    let window = get(auditor.clone(), "action=order.&from=2026-11-23T09:10:00Z&to=2026-11-23T09:20:00Z").await;
    assert_eq!(events(&window).len(), 5, "prefix and time range");

    // Pages of 8, newest first, until the cursor runs out.
    let mut seen = Vec::new();
    let mut cursor: Option<u64> = None;
    loop {
        let q = match cursor {
            Some(c) => format!("tenant=bank-a&limit=8&cursor={c}"),
            None => "tenant=bank-a&limit=8".into(),
        };
        let res =
            app.client.get(app.url(&format!("/api/v1/audit/events?{q}"))).bearer_auth(&auditor).send().await.unwrap();
        let page: Value = res.json().await.unwrap();
        seen.extend(events(&page).iter().map(|e| e["index"].as_u64().unwrap()));
        match page["next_cursor"].as_u64() {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 21, "20 from the portal and Leitstand's own tenant.create");
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first, no repeats");

    // The tenant viewer sees only bank-a, whatever it asks for.
    assert_eq!(
        events(&get(viewer.clone(), "limit=1000&action=order.").await)
            .iter()
            .filter(|e| e["tenant"] != "bank-a")
            .count(),
        0
    );
    assert!(events(&get(viewer.clone(), "tenant=bank-b").await).is_empty());

    let res = app
        .client
        .get(app.url("/api/v1/audit/events?format=csv&outcome=denied"))
        .bearer_auth(&auditor)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "index,logged_at,time,actor,action,tenant,object,outcome,retention,correlation_id,event");
    assert_eq!(lines.len(), 2);
    assert!(lines[1].contains(",denied,audit,,\"{"), "{}", lines[1]);

    let res =
        app.client.get(app.url("/api/v1/audit/events?from=yesterday")).bearer_auth(&auditor).send().await.unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("from"));
    // A mistyped filter is refused, not ignored.
    let res =
        app.client.get(app.url("/api/v1/audit/events?correlation_id=c-1")).bearer_auth(&auditor).send().await.unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("unknown field `correlation_id`"));

    // A value a spreadsheet would run as a formula is exported inert.
    let formula = json!([{"actor": "portal", "action": "order.create", "outcome": "success", "object": "=HYPERLINK(\"http://x\")"}]);
    let res =
        app.client.post(app.url("/api/v1/audit/events")).bearer_auth(&writer).json(&formula).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let csv = app
        .client
        .get(app.url("/api/v1/audit/events?format=csv&limit=1"))
        .bearer_auth(&auditor)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.contains(",\"'=HYPERLINK(\"\"http://x\"\")\","), "{csv}");

    // The stored event checks against its public log entry.
    let e = &events(&get(auditor.clone(), "outcome=denied").await)[0];
    let index = e["index"].as_u64().unwrap();
    let log = app.state.app.audit_sink.log().unwrap().clone();
    log.ledger.wait_published(index + 1).await;
    let bundle = log.ledger.read(&format!("tile/entries/000.p/{}", log.ledger.state().published)).unwrap().unwrap();
    let entries = leitstand_ledger::tiles::decode_bundle(&bundle).unwrap();
    let entry = leitstand_ledger::entry::Entry::decode(entries[index as usize]).unwrap();
    let salt: Vec<u8> =
        (0..16).map(|i| u8::from_str_radix(&e["salt"].as_str().unwrap()[2 * i..2 * i + 2], 16).unwrap()).collect();
    assert!(entry.matches(&salt.try_into().unwrap(), e["event"].as_str().unwrap().as_bytes()));

    // The public log: no sign-in, paths exactly as tlog-tiles writes them.
    let res = app.client.get(app.url("/audit/log/checkpoint")).send().await.unwrap();
    assert_eq!(
        (res.status().as_u16(), res.headers()["content-type"].to_str().unwrap()),
        (200, "text/plain; charset=utf-8")
    );
    for bad in ["/audit/log/tile/0/1", "/audit/log/tile/0/000.p/0", "/audit/log/tile/0/999"] {
        assert_eq!(app.client.get(app.url(bad)).send().await.unwrap().status(), 404, "{bad}");
    }
});

store_test!(a_log_that_is_not_public_is_served_only_to_who_may_read_the_trail, |store| {
    // `audit.public = false`.
    let app = crate::spawn_app_with(store.clone(), |services| {
        let dir = tempfile::Builder::new().prefix("leitstand-test-").tempdir().unwrap().keep();
        let mut settings = leitstand_app::AuditLogSettings::in_data_dir(&dir);
        settings.public = false;
        services.audit_sink = leitstand_app::AuditSink::open(settings, services.clock.clone(), false).unwrap();
    })
    .await;
    let auditor = app.user("pruefer", Role::Auditor, &[]).await;
    let devops = app.user("betrieb", Role::Devops, &[]).await;
    let get = async |cookie: Option<&str>| {
        let mut req = app.client.get(app.url("/audit/log/checkpoint"));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let res = req.send().await.unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    };
    let (status, body) = get(None).await;
    assert_eq!((status, body.as_str()), (403, "the audit log is not public here; sign in or use an API token\n"));
    assert_eq!(get(Some(&devops)).await.0, 403, "devops may not read the audit trail");
    let (status, body) = get(Some(&auditor)).await;
    assert_eq!(status, 200);
    assert!(body.starts_with("localhost/leitstand-audit\n"), "{body}");
});

store_test!(the_audit_page_filters_pages_and_keeps_tenants_apart, |store| {
    let (app, writer) = two_tenants_and_a_writer(store.clone()).await;
    let batch: Vec<Value> = (0..70)
        .map(|i| {
            json!({
                "time": format!("2026-11-23T09:{:02}:00Z", i % 60),
                "actor": "erika.muster",
                "action": "order.create",
                "tenant": if i < 60 { "bank-a" } else { "bank-b" },
                "object": format!("order:{i}"),
                "outcome": if i == 7 { "denied" } else { "success" },
            })
        })
        .collect();
    let res = app.client.post(app.url("/api/v1/audit/events")).bearer_auth(&writer).json(&batch).send().await.unwrap();
    assert_eq!(res.status(), 201);

    let auditor = app.user("pruefer", Role::Auditor, &[]).await;
    let (status, html) = app.page(&auditor, "/audit").await;
    assert_eq!(status, 200);
    assert!(html.contains("<h1>Audit-Trail</h1>") && html.contains("aria-current=\"page\">Audit-Trail"), "{html}");
    assert!(html.contains("Einträge im signierten Checkpoint") && html.contains("localhost/leitstand-audit+"));
    assert!(html.contains(">order:69<") && !html.contains(">order:5<"), "newest first, 50 a page");
    assert!(!html.contains("erika"), "pseudonyms only");
    let next = html.split("href=\"/audit?cursor=").nth(1).expect("a link to older events").split('"').next().unwrap();
    let (_, older) = app.page(&auditor, &format!("/audit?cursor={next}")).await;
    assert!(older.contains(">order:5<") && !older.contains(">order:69<"));

    // Filters, with the name in clear turned into its pseudonym.
    let (_, denied) = app.page(&auditor, "/audit?outcome=denied&actor=erika.muster").await;
    assert_eq!(denied.matches("<th scope=\"row\">").count(), 1, "{denied}");
    assert!(denied.contains(">order:7<") && denied.contains("verweigert"));
    let csv = denied.split("href=\"/api/v1/audit/events?").nth(1).unwrap().split('"').next().unwrap();
    assert!(
        csv.contains("actor=erika.muster") && csv.contains("outcome=denied") && csv.contains("format=csv"),
        "{csv}"
    );
    // The CSV link carries the same search, dates as times (days in the
    // platform's zone, Europe/Berlin: 23 November starts at 23:00 UTC the
    // day before), and works.
    let (_, dated) = app.page(&auditor, "/audit?from=2026-11-23&to=2026-11-23&outcome=denied").await;
    let href =
        dated.split("href=\"/api/v1/audit/events?").nth(1).unwrap().split('"').next().unwrap().replace("&#38;", "&");
    assert!(href.contains("from=2026-11-22T23%3A00%3A00Z") && href.contains("to=2026-11-23T23%3A00%3A00Z"), "{href}");
    let res = app
        .client
        .get(app.url(&format!("/api/v1/audit/events?{href}")))
        .header("cookie", &auditor)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let csv = res.text().await.unwrap();
    assert_eq!(csv.lines().count(), 2, "header and the one denied event: {href}\n{csv}");
    let (_, day) = app.page(&auditor, "/audit?from=2026-11-24").await;
    assert!(day.contains("Keine Ereignisse für diese Suche."));
    let (status, bad) = app.page(&auditor, "/audit?from=23.11.2026&outcome=maybe").await;
    assert_eq!(status, 422);
    assert!(
        bad.contains("from: &#34;23.11.2026&#34; is not a date") || bad.contains("from: &quot;23.11.2026&quot;"),
        "{bad}"
    );
    assert!(bad.contains("outcome:"), "{bad}");

    // A tenant viewer sees its tenant's events only.
    let viewer = app.user("kunde", Role::TenantViewer, &["bank-b"]).await;
    let (status, html) = app.page(&viewer, "/audit").await;
    assert_eq!(status, 200);
    assert_eq!(html.matches(">order:").count(), 10, "bank-b's ten portal events (and its own tenant event)");
    assert!(html.contains(">order:65<") && !html.contains(">order:1<"));
    // Devops may write events but not read the trail.
    let devops = app.user("ops", Role::Devops, &[]).await;
    assert_eq!(app.page(&devops, "/audit").await.0, 403);
});
