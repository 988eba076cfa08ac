//! The role × endpoint matrix: every API route tried with every role and
//! with no credentials; cross-tenant reads and writes refused.

use leitstand_app::store_test;
use leitstand_core::access::Role;
use reqwest::Method;

use crate::spawn_app;

/// (method, path, body, expected status per role in `Role::ALL` order, without credentials).
type Case = (Method, &'static str, Option<serde_json::Value>, [u16; 6], u16);

/// An alerting action on something that does not exist: admin and devops
/// may act (and learn it is not there), the others are refused first.
const ACT: [u16; 6] = [404, 404, 403, 403, 403, 403];

fn cases() -> Vec<Case> {
    use serde_json::json;
    //                                                      admin devops compl secur audit viewer   none
    vec![
        (Method::GET, "/api/v1/me", None, [200, 200, 200, 200, 200, 200], 401),
        // One's own account: a tenant viewer's token only reads, so none of these.
        (Method::PUT, "/api/v1/me/locale", Some(json!({"locale": "de"})), [204, 204, 204, 204, 204, 403], 401),
        (
            Method::PUT,
            "/api/v1/me/password",
            Some(json!({"current_password": "falsch falsch", "new_password": "kurz"})),
            [422, 422, 422, 422, 422, 403],
            401,
        ),
        (Method::GET, "/api/v1/me/totp/secret", None, [200, 200, 200, 200, 200, 403], 401),
        (
            Method::PUT,
            "/api/v1/me/totp",
            Some(json!({"secret": "nicht base32", "code": "000000"})),
            [422, 422, 422, 422, 422, 403],
            401,
        ),
        (Method::DELETE, "/api/v1/me/totp", Some(json!({"code": "000000"})), [422, 422, 422, 422, 422, 403], 401),
        (Method::GET, "/api/v1/tenants", None, [200, 200, 200, 200, 200, 200], 401),
        // The effective policy: everybody, a tenant viewer only its tenants'.
        (Method::GET, "/api/v1/policy", None, [200, 200, 200, 200, 200, 200], 401),
        (Method::GET, "/api/v1/policy?tenant=bank-a", None, [200, 200, 200, 200, 200, 200], 401),
        (Method::GET, "/api/v1/policy?tenant=bank-b", None, [200, 200, 200, 200, 200, 404], 401),
        (Method::GET, "/api/v1/tenants/bank-a", None, [200, 200, 200, 200, 200, 200], 401),
        (Method::GET, "/api/v1/tenants/bank-b", None, [200, 200, 200, 200, 200, 404], 401),
        (
            Method::POST,
            "/api/v1/tenants",
            Some(json!({"slug": "new-x", "name": "X"})),
            [201, 403, 403, 403, 403, 403],
            401,
        ),
        (Method::PATCH, "/api/v1/tenants/bank-b", Some(json!({"name": "B2"})), [200, 403, 403, 403, 403, 403], 401),
        (Method::PATCH, "/api/v1/tenants/bank-a", Some(json!({"active": true})), [200, 403, 403, 403, 403, 403], 401),
        (Method::GET, "/api/v1/users", None, [200, 403, 403, 200, 200, 403], 401),
        (
            Method::POST,
            "/api/v1/users",
            Some(json!({"username": "new-user", "role": "auditor", "password": "korrekt Pferd Batterie"})),
            [201, 403, 403, 403, 403, 403],
            401,
        ),
        (Method::PATCH, "/api/v1/users/victim", Some(json!({"active": false})), [200, 403, 403, 403, 403, 403], 401),
        (Method::GET, "/api/v1/tokens", None, [200, 200, 200, 200, 200, 200], 401),
        (
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"name": "t", "scopes": ["read"]})),
            [201, 201, 201, 201, 201, 403],
            401,
        ),
        (Method::GET, "/api/v1/audit/events", None, [200, 403, 200, 200, 200, 200], 401),
        (
            Method::POST,
            "/api/v1/audit/events",
            Some(json!([{"actor": "anna", "action": "order.create", "outcome": "success", "tenant": "bank-a"}])),
            [201, 201, 403, 201, 403, 403],
            401,
        ),
        (Method::GET, "/api/v1/probes", None, [200, 200, 200, 200, 200, 200], 401),
        (Method::GET, "/api/v1/probes/probe-a", None, [200, 200, 200, 200, 200, 200], 401),
        (Method::GET, "/api/v1/probes/probe-b", None, [200, 200, 200, 200, 200, 404], 401),
        (Method::GET, "/api/v1/probes/platform", None, [200, 200, 200, 200, 200, 404], 401),
        (Method::GET, "/api/v1/probes/probe-a/availability", None, [200, 200, 200, 200, 200, 200], 401),
        (Method::GET, "/api/v1/probes/probe-b/availability", None, [200, 200, 200, 200, 200, 404], 401),
        (Method::GET, "/api/v1/probes/probe-a/availability?from=gestern", None, [422, 422, 422, 422, 422, 422], 401),
        (Method::GET, "/api/v1/targets", None, [200, 200, 200, 200, 200, 200], 401),
        (Method::GET, "/api/v1/rules", None, [200, 200, 200, 200, 200, 200], 401),
        (Method::GET, "/api/v1/rules/changes", None, [200, 200, 200, 200, 200, 200], 401),
        // Alerting: reading for everyone (tenant-scoped), acting for admin and devops.
        (Method::POST, "/api/v2/alerts", Some(json!([])), [200, 200, 403, 403, 403, 403], 401),
        (Method::GET, "/api/v2/alerts", None, [200, 200, 200, 200, 200, 200], 401),
        (Method::GET, "/api/v2/status", None, [200, 200, 200, 200, 200, 200], 401),
        (Method::GET, "/api/v2/alerts/groups", None, [200, 200, 200, 200, 200, 200], 401),
        (Method::GET, "/api/v2/receivers", None, [200, 200, 200, 200, 200, 200], 401),
        (Method::GET, "/api/v2/silences", None, [200, 200, 200, 200, 200, 200], 401),
        (
            Method::POST,
            "/api/v2/silences",
            Some(json!({
                "matchers": [{"name": "alertname", "value": "X", "isRegex": false, "isEqual": true}],
                "startsAt": "2026-11-23T10:00:00Z", "endsAt": "2026-11-24T10:00:00Z", "createdBy": "x", "comment": "c"
            })),
            [200, 200, 403, 403, 403, 403],
            401,
        ),
        (Method::GET, "/api/v2/silence/0190f0c0-0000-7000-8000-000000000001", None, [404; 6], 401),
        (Method::DELETE, "/api/v2/silence/0190f0c0-0000-7000-8000-000000000001", None, ACT, 401),
        (
            Method::POST,
            "/api/v1/alerts/alertmanager",
            Some(json!({"version": "4", "alerts": []})),
            [200, 200, 403, 403, 403, 403],
            401,
        ),
        (Method::GET, "/api/v1/alerts", None, [200, 200, 200, 200, 200, 200], 401),
        (Method::GET, "/api/v1/alerts?status=open", None, [422, 422, 422, 422, 422, 422], 401),
        (Method::GET, "/api/v1/alerts/0190f0c0-0000-7000-8000-000000000001", None, [404; 6], 401),
        (Method::POST, "/api/v1/alerts/0190f0c0-0000-7000-8000-000000000001/ack", None, ACT, 401),
        (Method::POST, "/api/v1/alerts/0190f0c0-0000-7000-8000-000000000001/unack", None, ACT, 401),
        (Method::POST, "/api/v1/alerts/0190f0c0-0000-7000-8000-000000000001/resolve", None, ACT, 401),
        (
            Method::POST,
            "/api/v1/alerts/0190f0c0-0000-7000-8000-000000000001/notes",
            Some(json!({"text": "x"})),
            ACT,
            401,
        ),
        (Method::GET, "/api/v1/silences", None, [200, 200, 200, 200, 200, 200], 401),
        (
            Method::POST,
            "/api/v1/silences",
            Some(json!({"matchers": ["alertname=\"X\""], "ends_at": "2026-11-24T10:00:00Z", "comment": "c"})),
            [201, 201, 403, 403, 403, 403],
            401,
        ),
        (Method::DELETE, "/api/v1/silences/0190f0c0-0000-7000-8000-000000000001", None, ACT, 401),
        (Method::GET, "/api/v1/schedules", None, [200, 200, 200, 200, 200, 200], 401),
        (Method::GET, "/api/v1/schedules/none/oncall", None, [404; 6], 401),
        (Method::GET, "/api/v1/schedules/none/calendar.ics", None, [404; 6], 401),
        (
            Method::POST,
            "/api/v1/schedules/none/overrides",
            Some(json!({"person": "p", "starts_at": "2026-11-23T10:00:00Z", "ends_at": "2026-11-23T12:00:00Z"})),
            ACT,
            401,
        ),
        (Method::DELETE, "/api/v1/overrides/0190f0c0-0000-7000-8000-000000000001", None, ACT, 401),
        (Method::GET, "/api/v1/channels", None, [200, 200, 200, 200, 200, 200], 401),
        (Method::POST, "/api/v1/channels/none/test", None, ACT, 401),
        // Incidents: INC-1 affects bank-a, INC-2 bank-b (see `incidents`).
        (Method::GET, "/api/v1/incidents", None, [200, 200, 200, 200, 200, 200], 401),
        (
            Method::POST,
            "/api/v1/incidents",
            Some(json!({"title": "Ausfall", "severity": "SEV-3", "tenants": ["bank-a"]})),
            [201, 201, 403, 201, 403, 403],
            401,
        ),
        (Method::GET, "/api/v1/incidents/1", None, [200, 200, 200, 200, 200, 200], 401),
        (Method::GET, "/api/v1/incidents/2", None, [200, 200, 200, 200, 200, 404], 401),
        (Method::GET, "/api/v1/incidents/1/timeline", None, [200, 200, 200, 200, 200, 200], 401),
        (Method::GET, "/api/v1/incidents/2/timeline", None, [200, 200, 200, 200, 200, 404], 401),
        (
            Method::POST,
            "/api/v1/incidents/1/changes",
            Some(json!({"phase": "analysis"})),
            [200, 200, 403, 200, 403, 403],
            401,
        ),
        (Method::POST, "/api/v1/incidents/1/notes", Some(json!({"text": "x"})), [201, 201, 403, 201, 403, 403], 401),
        (
            Method::POST,
            "/api/v1/incidents/1/classification",
            Some(json!({"critical_services_affected": false})),
            [200, 403, 200, 403, 403, 403],
            401,
        ),
        (Method::GET, "/api/v1/incidents/1/reports", None, [200, 200, 200, 200, 200, 200], 401),
        (
            Method::POST,
            "/api/v1/alerts/0190f0c0-0000-7000-8000-000000000001/incident",
            Some(json!({})),
            [404, 404, 403, 404, 403, 403],
            401,
        ),
        (
            Method::POST,
            "/api/v1/incidents/1/reports",
            Some(json!({"kind": "dora_initial", "tenant": "bank-a", "content": {}})),
            [201, 403, 201, 403, 403, 403],
            401,
        ),
    ]
}

/// INC-1 of bank-a and INC-2 of bank-b, for the incident rows of `cases`.
async fn incidents(app: &crate::App, admin: &leitstand_app::Principal) {
    for tenant in ["bank-a", "bank-b"] {
        let open = leitstand_app::incidents::OpenIncident {
            title: format!("Ausfall {tenant}"),
            severity: leitstand_app::incidents::IncidentSeverity::Sev2,
            detected_at: None,
            aware_at: None,
            services: vec![],
            tenants: vec![tenant.into()],
            personal_data_breach: false,
        };
        app.state.app.open_incident(admin, open).await.unwrap();
    }
}

/// Three probes: one of bank-a, one of bank-b, one of the platform.
fn with_probes(app: &mut leitstand_app::App) {
    use leitstand_app::monitoring::{Monitoring, MonitoringSettings, ProbeDef};
    let probe = |id: &str, tenant: Option<&str>| ProbeDef {
        id: id.into(),
        name: None,
        tenant: tenant.map(|t| leitstand_core::tenant::TenantSlug::parse(t.to_string()).unwrap()),
        service: None,
        labels: vec![],
        check: leitstand_probes::check::Check::Tcp(leitstand_probes::tcp::TcpProbe::new("127.0.0.1:9")),
        interval: std::time::Duration::from_secs(30),
        timeout: std::time::Duration::from_secs(1),
        retries: 0,
    };
    let settings = MonitoringSettings {
        probes: vec![probe("probe-a", Some("bank-a")), probe("probe-b", Some("bank-b")), probe("platform", None)],
        ..Default::default()
    };
    app.monitoring = std::sync::Arc::new(Monitoring::new(settings));
}

store_test!(every_api_route_with_every_role, |store| {
    let app = crate::spawn_app_with(store.clone(), with_probes).await;
    app.user("admin", Role::Admin, &[]).await;
    let admin = app.state.app.login("admin", crate::PASSWORD, None, "127.0.0.1").await.unwrap().session.principal;
    app.state.app.create_tenant(&admin, "bank-a", "Bank A").await.unwrap();
    app.state.app.create_tenant(&admin, "bank-b", "Bank B").await.unwrap();
    incidents(&app, &admin).await;
    let mut tokens = Vec::new();
    for role in Role::ALL {
        let name = format!("u-{}", role.as_str().replace('_', "-"));
        let tenants: &[&str] = if role == Role::TenantViewer { &["bank-a"] } else { &[] };
        app.user(&name, role, tenants).await;
        let principal = app.state.app.cli_principal(&name.parse().unwrap()).await.unwrap();
        // Tenant viewers can only hold read tokens; every other role gets write.
        let scopes =
            if role == Role::TenantViewer { vec!["read".to_string()] } else { vec!["read".into(), "write".into()] };
        tokens.push(app.state.app.create_token(&principal, "matrix", &scopes, None).await.unwrap().secret);
    }
    for (method, path, body, expected, anonymous) in cases() {
        for (i, role) in Role::ALL.iter().enumerate() {
            let status = send(&app, &admin, &method, path, body.as_ref(), &tokens[i], i).await;
            assert_eq!(status, expected[i], "{method} {path} as {role}");
        }
        let mut req = app.client.request(method.clone(), app.url(path));
        if let Some(b) = &body {
            req = req.json(b);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), anonymous, "{method} {path} without credentials");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }
});

/// Sends one case with `token`; `variant` makes names unique per sender.
async fn send(
    app: &crate::App,
    admin: &leitstand_app::Principal,
    method: &Method,
    path: &str,
    body: Option<&serde_json::Value>,
    token: &str,
    variant: usize,
) -> u16 {
    // Fresh victims so that disabling works for each sender in turn.
    if path.ends_with("/victim") {
        let _ = app.state.app.set_user_active(admin, &"victim".parse().unwrap(), true).await;
        if app.state.app.users(admin).await.unwrap().iter().all(|u| u.username != "victim") {
            app.user("victim", Role::Auditor, &[]).await;
        }
    }
    let mut body = body.cloned();
    if let Some(serde_json::Value::Object(map)) = body.as_mut() {
        if let Some(serde_json::Value::String(slug)) = map.get_mut("slug") {
            *slug = format!("{slug}-{variant}");
        }
        if let Some(serde_json::Value::String(u)) = map.get_mut("username") {
            *u = format!("{u}-{variant}");
        }
    }
    let mut req = app.client.request(method.clone(), app.url(path)).bearer_auth(token);
    if let Some(b) = &body {
        req = req.json(b);
    }
    req.send().await.unwrap().status().as_u16()
}

/// What a route needs of a token, as the README states the scopes: `read`
/// reads, `write` also changes, `ingest` only sends alerts, `calendar` only
/// fetches on-call calendars; who-am-I and the Alertmanager status (what a
/// sender probes before it sends) answer any token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    Read,
    Write,
    Ingest,
    Calendar,
    Any,
}

fn needs(method: &Method, path: &str) -> Needs {
    match (method.as_str(), path) {
        ("GET", "/api/v1/me" | "/api/v2/status") => Needs::Any,
        ("POST", "/api/v2/alerts" | "/api/v1/alerts/alertmanager") => Needs::Ingest,
        ("GET", p) if p.ends_with("/calendar.ics") => Needs::Calendar,
        ("GET", "/api/v1/me/totp/secret") => Needs::Write,
        ("GET", _) => Needs::Read,
        _ => Needs::Write,
    }
}

fn scope_allows(scope: &str, needs: Needs) -> bool {
    match scope {
        "write" => true,
        "read" => matches!(needs, Needs::Read | Needs::Calendar | Needs::Any),
        "ingest" => matches!(needs, Needs::Ingest | Needs::Any),
        "calendar" => matches!(needs, Needs::Calendar | Needs::Any),
        _ => false,
    }
}

store_test!(every_api_route_with_every_token_scope, |store| {
    // The admin may do everything, so the scope alone decides: what the
    // admin's read-and-write token gets where the scope allows, 403 where
    // it does not.
    let app = crate::spawn_app_with(store.clone(), with_probes).await;
    app.user("admin", Role::Admin, &[]).await;
    let admin = app.state.app.login("admin", crate::PASSWORD, None, "127.0.0.1").await.unwrap().session.principal;
    app.state.app.create_tenant(&admin, "bank-a", "Bank A").await.unwrap();
    app.state.app.create_tenant(&admin, "bank-b", "Bank B").await.unwrap();
    incidents(&app, &admin).await;
    let scopes = ["read", "write", "ingest", "calendar"];
    let mut tokens = Vec::new();
    for scope in scopes {
        tokens.push(app.state.app.create_token(&admin, scope, &[scope.to_string()], None).await.unwrap().secret);
    }
    for (method, path, body, expected, _) in cases() {
        for (i, scope) in scopes.iter().enumerate() {
            let status = send(&app, &admin, &method, path, body.as_ref(), &tokens[i], 10 + i).await;
            // A malformed query string is answered as such to any caller
            // who signed in: it says nothing about the data behind it.
            let malformed_query = path.contains('?') && expected[0] == 422;
            let want = if malformed_query || scope_allows(scope, needs(&method, path)) { expected[0] } else { 403 };
            assert_eq!(status, want, "{method} {path} with a {scope} token");
        }
    }
});

store_test!(tenant_viewer_never_sees_another_tenant, |store| {
    let app = spawn_app(store.clone()).await;
    app.user("admin", Role::Admin, &[]).await;
    let admin = app.state.app.login("admin", crate::PASSWORD, None, "127.0.0.1").await.unwrap().session.principal;
    app.state.app.create_tenant(&admin, "bank-a", "Bank A").await.unwrap();
    app.state.app.create_tenant(&admin, "bank-b", "Bank B").await.unwrap();
    app.state.app.rename_tenant(&admin, "bank-b", "Bank B AG").await.unwrap();
    let cookie = app.user("viewer", Role::TenantViewer, &["bank-a"]).await;
    let (status, html) = app.page(&cookie, "/tenants").await;
    assert_eq!(status, 200);
    assert!(html.contains("bank-a") && !html.contains("bank-b"), "only its own tenant is listed");
    assert!(!html.contains("Mandant anlegen"), "no management form");
    let (status, _) = app.page(&cookie, "/users").await;
    assert_eq!(status, 403);
    let viewer = app.state.app.cli_principal(&"viewer".parse().unwrap()).await.unwrap();
    let token = app.state.app.create_token(&viewer, "t", &["read".into()], None).await.unwrap().secret;
    let events: serde_json::Value =
        app.client.get(app.url("/api/v1/audit/events")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let events = events["events"].as_array().unwrap();
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| e["tenant"] == "bank-a"), "{events:?}");
    // Writing with a session needs the CSRF header too.
    let res = app
        .client
        .patch(app.url("/api/v1/tenants/bank-a"))
        .header("cookie", &cookie)
        .json(&serde_json::json!({"name": "mine"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
});

store_test!(pages_by_role, |store| {
    let app = spawn_app(store.clone()).await;
    //                      admin devops compl secur audit viewer
    let expected: [(&str, [u16; 6]); 10] = [
        ("/", [200; 6]),
        ("/tenants", [200; 6]),
        ("/users", [200, 403, 403, 200, 200, 403]),
        ("/tokens", [200; 6]),
        ("/profile", [200; 6]),
        ("/alerts", [200; 6]),
        ("/alerts/0190f0c0-0000-7000-8000-000000000001", [404; 6]),
        ("/alerts/silences", [200; 6]),
        ("/alerts/schedules", [200; 6]),
        ("/alerts/channels", [200; 6]),
    ];
    app.user("admin", Role::Admin, &[]).await;
    let admin = app.state.app.login("admin", crate::PASSWORD, None, "127.0.0.1").await.unwrap().session.principal;
    app.state.app.create_tenant(&admin, "bank-a", "Bank A").await.unwrap();
    let mut cookies = Vec::new();
    for role in Role::ALL {
        let name = format!("p-{}", role.as_str().replace('_', "-"));
        let tenants: &[&str] = if role == Role::TenantViewer { &["bank-a"] } else { &[] };
        cookies.push(app.user(&name, role, tenants).await);
    }
    for (path, statuses) in expected {
        for (i, role) in Role::ALL.iter().enumerate() {
            let (status, _) = app.page(&cookies[i], path).await;
            assert_eq!(status, statuses[i], "GET {path} as {role}");
        }
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 303, "GET {path} without a session redirects to the login");
    }
});

store_test!(profile_and_password_reset_through_the_api, |store| {
    let app = spawn_app(store.clone()).await;
    app.user("admin", Role::Admin, &[]).await;
    app.user("erna", Role::Compliance, &[]).await;
    let token = |name: &'static str, scopes: Vec<String>| {
        let services = app.state.app.clone();
        async move {
            let p = services.cli_principal(&name.parse().unwrap()).await.unwrap();
            services.create_token(&p, "t", &scopes, None).await.unwrap().secret
        }
    };
    let admin = token("admin", vec!["write".into()]).await;
    let erna = token("erna", vec!["write".into()]).await;
    let res = app
        .client
        .post(app.url("/api/v1/users/erna/password"))
        .bearer_auth(&erna)
        .json(&serde_json::json!({"password": "ganz neues Passwort"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "only admins reset passwords");
    let res = app
        .client
        .post(app.url("/api/v1/users/erna/password"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"password": "ganz neues Passwort"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    for path in ["/api/v1/users/Erna%20X/password", "/api/v1/users/..%2Fadmin/password"] {
        let res = app
            .client
            .post(app.url(path))
            .bearer_auth(&admin)
            .json(&serde_json::json!({"password": "ganz neues Passwort"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}: a name no account can have is not found");
    }
    let res = app
        .client
        .put(app.url("/api/v1/me/password"))
        .bearer_auth(&erna)
        .json(&serde_json::json!({"current_password": "ganz neues Passwort", "new_password": "mein eigenes Passwort"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(app.login("erna", "mein eigenes Passwort").await.is_ok());
    let res = app
        .client
        .put(app.url("/api/v1/me/locale"))
        .bearer_auth(&erna)
        .json(&serde_json::json!({"locale": "fr"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["detail"], "locale: choose \"de\" or \"en\"");
});
