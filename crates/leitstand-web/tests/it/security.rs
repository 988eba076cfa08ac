//! Issue 16, the security regression suite: one test per defect a hand
//! probe of the running server found, named after the defect, over real
//! HTTP on loopback, on SQLite and PostgreSQL. Each failed before its fix.
//!
//! The rest of the suite: the `/me` routes in the role × scope matrix
//! (`access::every_api_route_with_every_token_scope`), the engine's part of
//! item 3 (the app's `alerting::alerts_for_a_tenant_created_after_start_keep_their_tenant`),
//! and what needs the whole binary — files at rest, sealed second factors,
//! the first admin's password — in the binary's `security` tests.

use std::net::IpAddr;

use leitstand_app::store_test;
use leitstand_app::testing::stored_texts;
use leitstand_core::access::Role;
use serde_json::{Value, json};

use crate::{App, ONE_TIME, PASSWORD, csrf_of, spawn_app, spawn_app_with, spawn_app_with_state};

/// `POST /login` from the local address `from` (any 127.0.0.0/8 address
/// is this machine); the status.
async fn login_from(base: String, from: IpAddr, user: String, password: String) -> u16 {
    let client =
        reqwest::Client::builder().local_address(from).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let form = [("username", user.as_str()), ("password", password.as_str())];
    client.post(format!("{base}/login")).form(&form).send().await.unwrap().status().as_u16()
}

/// Runs the attempts at once; their statuses.
async fn all_at_once(attempts: Vec<(IpAddr, String, String)>, base: &str) -> Vec<u16> {
    let mut set = tokio::task::JoinSet::new();
    for (from, user, password) in attempts {
        set.spawn(login_from(base.to_string(), from, user, password));
    }
    set.join_all().await
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

fn local(a: u8, b: u8) -> IpAddr {
    IpAddr::from([127, 0, a, b])
}

/// A token of `user` with `scopes`.
async fn token(app: &App, user: &str, scopes: &[&str]) -> String {
    let services = &app.state.app;
    let principal = services.cli_principal(&user.parse().unwrap()).await.unwrap();
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    services.create_token(&principal, "t", &scopes, None).await.unwrap().secret
}

/// `method path` with a bearer token and a JSON body; status and body.
async fn call(app: &App, method: reqwest::Method, path: &str, token: &str, body: Value) -> (u16, Value) {
    let res = app.client.request(method, app.url(path)).bearer_auth(token).json(&body).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// `GET /api/v1/me` with a session cookie.
async fn me_with(app: &App, cookie: &str) -> u16 {
    app.client.get(app.url("/api/v1/me")).header("cookie", cookie).send().await.unwrap().status().as_u16()
}

store_test!(parallel_guessing_no_longer_defeats_the_lockout, |store| {
    let app = spawn_app(store.clone()).await;
    for name in ["admin", "anna", "bob", "carl"] {
        app.user(name, Role::Devops, &[]).await;
    }
    let base = app.url("");
    // 149 wrong passwords for one account at once, each from its own address.
    let attempts = (1..=149).map(|i| (local(2, i), "anna".into(), format!("falsch {i} falsch"))).collect();
    let statuses = all_at_once(attempts, &base).await;
    assert_eq!(count(&statuses, 401), 10, "the policy's ten guesses are checked and no more: {statuses:?}");
    assert_eq!(count(&statuses, 429), 139, "every other one is refused unchecked");
    let right = login_from(base.clone(), local(2, 200), "anna".into(), PASSWORD.into()).await;
    assert_eq!(right, 429, "the right password afterwards finds the account locked");

    // 79 at once from one address: the account locks after ten, the
    // address after fifty, and stays locked for other accounts too.
    let attempts = (1..=79).map(|i| (local(3, 1), "bob".into(), format!("falsch {i} falsch"))).collect();
    let statuses = all_at_once(attempts, &base).await;
    assert_eq!((count(&statuses, 401), count(&statuses, 429)), (10, 69), "{statuses:?}");
    assert_eq!(login_from(base.clone(), local(3, 1), "bob".into(), PASSWORD.into()).await, 429);
    assert_eq!(login_from(base.clone(), local(3, 1), "carl".into(), PASSWORD.into()).await, 429, "address locked");
    assert_eq!(login_from(base.clone(), local(3, 2), "carl".into(), PASSWORD.into()).await, 303, "others sign in");
});

store_test!(me_routes_no_longer_ignore_the_token_scope, |store| {
    let app = spawn_app(store.clone()).await;
    app.user("admin", Role::Admin, &[]).await;
    app.user("dora", Role::Devops, &[]).await;
    let services = &app.state.app;
    let secret = leitstand_app::new_totp_secret();
    let code = |secret: &str| {
        let now = leitstand_core::Clock::now(&*app.clock).as_second();
        leitstand_app::totp_code(secret, u64::try_from(now).unwrap()).unwrap()
    };
    use reqwest::Method;
    for scope in ["ingest", "calendar", "read"] {
        let t = token(&app, "dora", &[scope]).await;
        let enable = json!({ "secret": secret, "code": code(&secret) });
        assert_eq!(call(&app, Method::PUT, "/api/v1/me/totp", &t, enable).await.0, 403, "{scope}: second factor");
        let change = json!({ "current_password": PASSWORD, "new_password": "ganz anderes Passwort" });
        assert_eq!(call(&app, Method::PUT, "/api/v1/me/password", &t, change).await.0, 403, "{scope}: password");
        let locale = json!({ "locale": "en" });
        assert_eq!(call(&app, Method::PUT, "/api/v1/me/locale", &t, locale).await.0, 403, "{scope}: locale");
        assert_eq!(call(&app, Method::GET, "/api/v1/me/totp/secret", &t, Value::Null).await.0, 403, "{scope}");
        assert_eq!(call(&app, Method::GET, "/api/v1/me", &t, Value::Null).await.0, 200, "{scope}: who am I");
    }
    // A write token sets a second factor up; replacing it needs a code of it.
    let write = token(&app, "dora", &["write"]).await;
    let enable = json!({ "secret": secret, "code": code(&secret) });
    assert_eq!(call(&app, Method::PUT, "/api/v1/me/totp", &write, enable).await.0, 204);
    app.clock.advance(jiff::SignedDuration::from_secs(30));
    let other = leitstand_app::new_totp_secret();
    let (status, body) =
        call(&app, Method::PUT, "/api/v1/me/totp", &write, json!({ "secret": other, "code": code(&other) })).await;
    assert_eq!(status, 422, "replacing without the current code: {body}");
    assert!(body["detail"].as_str().unwrap().starts_with("current_code:"), "{body}");
    let wrong = json!({ "secret": other, "code": code(&other), "current_code": "000000" });
    assert_eq!(call(&app, Method::PUT, "/api/v1/me/totp", &write, wrong).await.0, 422);
    app.clock.advance(jiff::SignedDuration::from_secs(30));
    let right = json!({ "secret": other, "code": code(&other), "current_code": code(&secret) });
    assert_eq!(call(&app, Method::PUT, "/api/v1/me/totp", &write, right).await.0, 204);
    assert!(services.has_totp(&services.cli_principal(&"dora".parse().unwrap()).await.unwrap()).await.unwrap());

    // The current password is no longer an unthrottled oracle.
    for i in 0..10 {
        let guess = json!({ "current_password": format!("Rate {i} Rate"), "new_password": "ganz anderes Passwort" });
        assert_eq!(call(&app, Method::PUT, "/api/v1/me/password", &write, guess).await.0, 422);
    }
    let right = json!({ "current_password": PASSWORD, "new_password": "ganz anderes Passwort" });
    let (status, body) = call(&app, Method::PUT, "/api/v1/me/password", &write, right).await;
    assert_eq!(status, 429, "ten wrong current passwords lock the account like failed sign-ins: {body}");
});

store_test!(alerts_of_a_tenant_created_after_start_no_longer_lose_their_tenant, |store| {
    let rig = crate::alerting::Rig::start(store).await;
    let res = rig.post(&rig.admin, "/api/v1/tenants", &json!({ "slug": "bank-c", "name": "Bank C" })).await;
    assert_eq!(res.status(), 201);
    rig.fire(json!({ "alertname": "ProbeDown", "severity": "critical", "tenant": "bank-c" })).await;
    let listed = rig.json(&rig.admin, "/api/v1/alerts?tenant=bank-c").await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["tenant"], "bank-c");
    let unknown = json!([{ "labels": { "alertname": "X", "tenant": "bank-zz" } }]);
    assert_eq!(rig.post(&rig.ingest, "/api/v2/alerts", &unknown).await.status(), 400, "unknown tenants are refused");
    rig.stop().await;
});

store_test!(a_password_change_no_longer_leaves_other_sessions_and_tokens_alive, |store| {
    let app = spawn_app(store.clone()).await;
    app.user("admin", Role::Admin, &[]).await;
    let this = app.user("erik", Role::Devops, &[]).await;
    let other = app.login("erik", PASSWORD).await.unwrap();
    let write = token(&app, "erik", &["write"]).await;
    let (_, html) = app.page(&this, "/profile").await;
    assert!(html.contains("alle anderen Sitzungen"), "the form says what ends");
    let form = [
        ("csrf", csrf_of(&html)),
        ("current_password", PASSWORD.into()),
        ("new_password", "ein neues Passwort".into()),
        ("revoke_tokens", "on".into()),
    ];
    let res = app.client.post(app.url("/profile/password")).header("cookie", &this).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(me_with(&app, &other).await, 401, "the other session ended");
    assert_eq!(me_with(&app, &this).await, 200, "the one that changed it stays");
    let (status, _) = call(&app, reqwest::Method::GET, "/api/v1/me", &write, Value::Null).await;
    assert_eq!(status, 401, "tokens revoked as asked");

    // Through the API, without revoking: the token stays, every session ends.
    let write = token(&app, "erik", &["write"]).await;
    let change = json!({ "current_password": "ein neues Passwort", "new_password": "noch ein Passwort" });
    assert_eq!(call(&app, reqwest::Method::PUT, "/api/v1/me/password", &write, change).await.0, 204);
    assert_eq!(me_with(&app, &this).await, 401);
    assert_eq!(call(&app, reqwest::Method::GET, "/api/v1/me", &write, Value::Null).await.0, 200);
    // An administrator's reset can revoke them.
    let admin = token(&app, "admin", &["write"]).await;
    let reset = json!({ "password": "Neuanfang 2026 !", "revoke_tokens": true });
    assert_eq!(call(&app, reqwest::Method::POST, "/api/v1/users/erik/password", &admin, reset).await.0, 204);
    assert_eq!(call(&app, reqwest::Method::GET, "/api/v1/me", &write, Value::Null).await.0, 401);
});

store_test!(must_change_password_is_enforced_and_one_time_passwords_expire, |store| {
    let app = spawn_app(store.clone()).await;
    app.user("admin", Role::Admin, &[]).await;
    let admin = token(&app, "admin", &["write"]).await;
    for name in ["fritz", "greta"] {
        let new = json!({ "username": name, "role": "devops", "password": ONE_TIME });
        assert_eq!(call(&app, reqwest::Method::POST, "/api/v1/users", &admin, new).await.0, 201);
    }
    let res = app
        .client
        .post(app.url("/login"))
        .form(&[("username", "fritz"), ("password", ONE_TIME), ("next", "/alerts")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/profile");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    for page in ["/", "/alerts", "/audit", "/tokens", "/users"] {
        let res = app.client.get(app.url(page)).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(res.status(), 303, "{page}");
        assert_eq!(res.headers()["location"], "/profile", "{page}");
    }
    let api = app.client.get(app.url("/api/v1/alerts")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(api.status(), 403);
    assert!(api.text().await.unwrap().contains("one-time password"));
    let (status, html) = app.page(&cookie, "/profile").await;
    assert_eq!(status, 200);
    assert!(!html.contains("otpauth://"), "no second-factor set-up before the change");
    let csrf = csrf_of(&html);
    let form = [("csrf", csrf.as_str()), ("name", "ci"), ("scopes", "write"), ("days", "365")];
    let res = app.client.post(app.url("/tokens")).header("cookie", &cookie).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 303, "no token before the change");
    let fritz = app.state.app.cli_principal(&"fritz".parse().unwrap()).await.unwrap();
    assert!(app.state.app.tokens(&fritz).await.unwrap().is_empty());
    let change = [("csrf", csrf.as_str()), ("current_password", ONE_TIME), ("new_password", "selbst gewählt 123")];
    let res =
        app.client.post(app.url("/profile/password")).header("cookie", &cookie).form(&change).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(app.page(&cookie, "/alerts").await.0, 200, "after the change everything is open");

    // A one-time password expires after 72 hours.
    app.clock.advance(jiff::SignedDuration::from_hours(71));
    assert!(app.login("greta", ONE_TIME).await.is_ok(), "valid for 72 hours");
    app.clock.advance(jiff::SignedDuration::from_hours(2));
    let res = app.login("greta", ONE_TIME).await.unwrap_err();
    assert_eq!(res.status(), 401);
    assert!(res.text().await.unwrap().contains("Einmalpasswort ist abgelaufen"));
});

store_test!(open_redirect_and_500_after_sign_in_are_gone, |store| {
    let app = spawn_app(store.clone()).await;
    app.user("admin", Role::Admin, &[]).await;
    let (_, html) = app.page("", "/login?next=/%09/evil.example/phish").await;
    assert!(html.contains(r#"name="next" value="/""#), "the form does not carry it on");
    for (next, expected) in [
        ("/\t/evil.example/phish", "/"),
        ("/%09/evil.example/phish", "/%09/evil.example/phish"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/ok\nSet-Cookie: x=1", "/"),
        ("/ok\r\nx", "/"),
        ("/alerts?status=firing", "/alerts?status=firing"),
    ] {
        let form = [("username", "admin"), ("password", PASSWORD), ("next", next)];
        let res = app.client.post(app.url("/login")).form(&form).send().await.unwrap();
        assert_eq!(res.status(), 303, "{next:?}");
        assert_eq!(res.headers()["location"], expected, "{next:?}");
    }
});

store_test!(forged_leitstand_events_are_refused_and_submissions_name_their_submitter, |store| {
    let app = spawn_app(store.clone()).await;
    app.user("admin", Role::Admin, &[]).await;
    app.user("hans", Role::Devops, &[]).await;
    let hans = token(&app, "hans", &["write"]).await;
    let post = |body: Value| call(&app, reqwest::Method::POST, "/api/v1/audit/events", &hans, body);
    for (event, field) in [
        (json!({ "actor": "system", "action": "user.create", "object": "user:admin", "outcome": "success" }), "action"),
        (json!({ "actor": "system", "action": "order.create", "outcome": "success" }), "actor"),
        (json!({ "actor": "anna", "action": "auth.login", "outcome": "success" }), "action"),
        (json!({ "actor": "anna", "action": "audit.verify", "outcome": "success" }), "action"),
        (
            json!({ "actor": "anna", "action": "order.create", "outcome": "success", "submitted_by": "x" }),
            "submitted_by",
        ),
    ] {
        let (status, body) = post(json!([event])).await;
        assert_eq!(status, 422, "{event}: {body}");
        assert!(body["detail"].as_str().unwrap().starts_with(&format!("event 0: {field}:")), "{body}");
    }
    let (status, _) =
        post(json!([{ "actor": "service:portal", "action": "order.create", "outcome": "success" }])).await;
    assert_eq!(status, 201);
    let auditor = token(&app, "admin", &["read"]).await;
    let (_, page) =
        call(&app, reqwest::Method::GET, "/api/v1/audit/events?action=order.create", &auditor, Value::Null).await;
    let event = &page["events"][0];
    let by = event["submitted_by"].as_str().unwrap();
    let hans_id = app.state.app.authenticate_token(&hans).await.unwrap().via;
    let leitstand_app::Via::Token { id, .. } = hans_id else { unreachable!() };
    assert!(by.starts_with("ps:") && by.ends_with(&format!(" token:{id}")), "{by}");
    assert!(!by.contains("hans") && event["event"].as_str().unwrap().contains(by), "pseudonymous, committed");
});

store_test!(forwarding_headers_are_believed_from_trusted_proxies_only, |store| {
    let strict = |s: &mut leitstand_app::App| s.throttle.ip_lock_after = 3;
    // No proxy configured: the headers change nothing.
    let app = spawn_app_with(store.clone(), strict).await;
    app.user("admin", Role::Admin, &[]).await;
    for i in 0..3 {
        let res = app
            .client
            .post(app.url("/login"))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .form(&[("username", format!("u{i}")), ("password", "falsch falsch".into())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    let res = app
        .client
        .post(app.url("/login"))
        .header("x-forwarded-for", "198.51.100.77")
        .header("x-forwarded-proto", "https")
        .form(&[("username", "admin"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429, "a forged X-Forwarded-For does not escape the address lock");
    let res = app.client.get(app.url("/login")).header("x-forwarded-proto", "https").send().await.unwrap();
    assert!(!res.headers().contains_key("strict-transport-security"), "nor does a forged proto claim TLS");

    // Behind a trusted proxy: the client it names is counted, and its TLS holds.
    let trusted = |s: &mut leitstand_web::AppState| {
        s.trusted_proxies = std::sync::Arc::new(leitstand_web::TrustedProxies::parse(&["127.0.0.1"]).unwrap())
    };
    // (The same database: each server pseudonymises with keys of its own.)
    let app = spawn_app_with_state(store.clone(), strict, trusted).await;
    app.user("admin", Role::Admin, &[]).await;
    let login = |client_ip: &'static str, user: &'static str, password: &'static str| {
        app.client
            .post(app.url("/login"))
            .header("x-forwarded-for", format!("6.6.6.6, {client_ip}"))
            .header("x-forwarded-proto", "https")
            .form(&[("username", user), ("password", password)])
            .send()
    };
    for user in ["u1", "u2", "u3"] {
        assert_eq!(login("198.51.100.1", user, "falsch falsch").await.unwrap().status(), 401);
    }
    assert_eq!(login("198.51.100.1", "admin", PASSWORD).await.unwrap().status(), 429, "that client is locked");
    let res = login("198.51.100.2", "admin", PASSWORD).await.unwrap();
    assert_eq!(res.status(), 303, "another client behind the same proxy is not");
    assert!(res.headers()["set-cookie"].to_str().unwrap().contains("; Secure"));
    assert!(res.headers().contains_key("strict-transport-security"));
});

store_test!(sign_in_counters_no_longer_keep_names_and_addresses, |store| {
    let app = spawn_app(store.clone()).await;
    app.user("admin", Role::Admin, &[]).await;
    assert!(app.login("Mein.Geheimes.Passwort", "falsch falsch").await.is_err());
    let keys = stored_texts(store, "SELECT throttle_key FROM login_throttle").await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    for key in &keys {
        assert!(key.starts_with("account:ps:") || key.starts_with("ip:ps:"), "pseudonyms only: {key}");
        assert!(!key.to_lowercase().contains("geheim") && !key.contains("127.0.0.1"), "{key}");
    }
    // After the window the rows go (at the next attempt, at most a minute later).
    app.clock.advance(jiff::SignedDuration::from_mins(16));
    assert!(app.login("someone-else", "falsch falsch").await.is_err());
    let now = stored_texts(store, "SELECT throttle_key FROM login_throttle").await;
    assert_eq!(now.len(), 2, "the expired account row is gone: {now:?}");
    assert!(!now.iter().any(|k| keys.contains(k) && k.starts_with("account:")), "{now:?}");
});

store_test!(signed_in_pages_are_no_longer_cached, |store| {
    let app = spawn_app(store.clone()).await;
    let cookie = app.user("admin", Role::Admin, &[]).await;
    let no_store = |res: &reqwest::Response| res.headers()["cache-control"].to_str().unwrap().to_string();
    for path in ["/", "/profile", "/tokens", "/api/v1/me/totp/secret", "/api/v1/me"] {
        let res = app.client.get(app.url(path)).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(no_store(&res), "no-store", "{path}");
    }
    let (_, html) = app.page(&cookie, "/tokens").await;
    let form = [("csrf", csrf_of(&html)), ("name", "ci".into()), ("scopes", "read".into())];
    let res = app.client.post(app.url("/tokens")).header("cookie", &cookie).form(&form).send().await.unwrap();
    assert_eq!(no_store(&res), "no-store", "the page that shows a new token");
    let css = app.client.get(app.url("/static/app.css")).send().await.unwrap();
    assert_eq!(no_store(&css), "public, max-age=3600", "the stylesheet still may be cached");
});

store_test!(tokens_no_longer_work_again_when_a_disabled_user_is_enabled, |store| {
    let app = spawn_app(store.clone()).await;
    app.user("admin", Role::Admin, &[]).await;
    app.user("ida", Role::Devops, &[]).await;
    let ida = token(&app, "ida", &["read"]).await;
    let admin = token(&app, "admin", &["write"]).await;
    let patch =
        |active: bool| call(&app, reqwest::Method::PATCH, "/api/v1/users/ida", &admin, json!({ "active": active }));
    assert_eq!(patch(false).await.0, 200);
    assert_eq!(call(&app, reqwest::Method::GET, "/api/v1/me", &ida, Value::Null).await.0, 401);
    assert_eq!(patch(true).await.0, 200);
    assert_eq!(call(&app, reqwest::Method::GET, "/api/v1/me", &ida, Value::Null).await.0, 401, "revoked, not paused");
});
