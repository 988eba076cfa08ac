use leitstand_app::store_test;
use leitstand_core::access::Role;

use crate::{PASSWORD, csrf_of, spawn_app};

store_test!(login_sets_a_hardened_cookie_and_shows_the_dashboard, |store| {
    let app = spawn_app(store.clone()).await;
    let res = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 303, "signed-out visitors go to the login page");
    assert_eq!(res.headers()["location"], "/login");
    let (status, html) = app.page("", "/login").await;
    assert_eq!(status, 200);
    assert!(html.contains("<html lang=\"de\">") && html.contains("autocomplete=\"current-password\""));

    app.state.app.bootstrap_admin(Some(PASSWORD.into())).await.unwrap();
    let res = app.login("admin", "falsches Passwort").await.unwrap_err();
    assert_eq!(res.status(), 401);
    assert!(res.text().await.unwrap().contains("Benutzername oder Passwort ist falsch."));

    let res =
        app.client.post(app.url("/login")).form(&[("username", "admin"), ("password", PASSWORD)]).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"), "{cookie}");
    let session = cookie.split(';').next().unwrap();
    let (status, html) = app.page(session, "/").await;
    assert_eq!(status, 200);
    assert!(html.contains("Keine ausgelösten Alarme"), "the empty state says there is no alert");
    assert!(html.contains("href=\"#main\""), "skip link");
});

store_test!(english_follows_accept_language_and_the_user_setting, |store| {
    let app = spawn_app(store.clone()).await;
    let res = app.client.get(app.url("/login")).header("accept-language", "en-GB,en;q=0.9").send().await.unwrap();
    let html = res.text().await.unwrap();
    assert!(html.contains("<html lang=\"en\">") && html.contains("Sign in"));
    let cookie = app.user("admin", Role::Admin, &[]).await;
    let (_, html) = app.page(&cookie, "/").await;
    let csrf = csrf_of(&html);
    let res = app
        .client
        .post(app.url("/language"))
        .header("cookie", &cookie)
        .form(&[("lang", "en"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let (_, html) = app.page(&cookie, "/tenants").await;
    assert!(html.contains("No tenants yet"), "the user's setting wins");
});

store_test!(forms_need_the_csrf_token_and_same_origin, |store| {
    let app = spawn_app(store.clone()).await;
    let cookie = app.user("admin", Role::Admin, &[]).await;
    let (_, html) = app.page(&cookie, "/tenants").await;
    let csrf = csrf_of(&html);
    let post = |token: &str, site: &str| {
        app.client
            .post(app.url("/tenants"))
            .header("cookie", &cookie)
            .header("sec-fetch-site", site)
            .form(&[("csrf", token), ("slug", "bank-a"), ("name", "Bank A")])
            .send()
    };
    assert_eq!(post(&"0".repeat(64), "same-origin").await.unwrap().status(), 403, "wrong token");
    assert_eq!(post(&csrf, "cross-site").await.unwrap().status(), 403, "cross-site request");
    let res = post(&csrf, "same-origin").await.unwrap();
    assert_eq!(res.status(), 303);
    let (_, html) = app.page(&cookie, "/tenants?done=bank-a").await;
    assert!(html.contains("<code>bank-a</code>") && html.contains("Mandant bank-a geändert."));
    // Invalid input re-renders the form with the reason, nothing stored.
    let res = app
        .client
        .post(app.url("/tenants"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("slug", "Bad Slug"), ("name", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    // Issue 17: in the reader's language, field and reason alike.
    let text = res.text().await.unwrap();
    assert!(text.contains("Kürzel: darf nur a–z, 0–9 und &#39;-&#39; enthalten"), "{text}");
    let weak = app
        .client
        .post(app.url("/users"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("username", "Erika Muster"), ("role", "devops"), ("password", "x")])
        .send()
        .await
        .unwrap();
    let text = weak.text().await.unwrap();
    assert!(text.contains("Benutzername: 2 bis 64 Zeichen"), "{text}");
    assert!(!text.contains("characters"), "no English in the German page: {text}");
    let res = app
        .client
        .post(app.url("/language"))
        .header("cookie", &cookie)
        .form(&[("lang", "en"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let res = app
        .client
        .post(app.url("/tenants"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("slug", "Bad Slug"), ("name", "x")])
        .send()
        .await
        .unwrap();
    let text = res.text().await.unwrap();
    assert!(text.contains("Short name: may contain only a-z, 0-9 and &#39;-&#39;"), "{text}");
});

store_test!(logout_ends_the_session, |store| {
    let app = spawn_app(store.clone()).await;
    let cookie = app.user("admin", Role::Admin, &[]).await;
    let (_, html) = app.page(&cookie, "/").await;
    let res = app
        .client
        .post(app.url("/logout"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf_of(&html))])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(res.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    let res = app.client.get(app.url("/")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(res.status(), 303, "the old cookie no longer works");
});

store_test!(tokens_are_shown_once_and_work_as_bearer, |store| {
    let app = spawn_app(store.clone()).await;
    let cookie = app.user("admin", Role::Admin, &[]).await;
    let (_, html) = app.page(&cookie, "/tokens").await;
    let res = app
        .client
        .post(app.url("/tokens"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf_of(&html).as_str()), ("name", "ci"), ("scopes", "read write"), ("days", "30")])
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    let start = html.find("lst_").unwrap();
    let token = &html[start..start + 68];
    let res = app.client.get(app.url("/api/v1/me")).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<serde_json::Value>().await.unwrap()["username"], "admin");
    let (_, html) = app.page(&cookie, "/tokens").await;
    assert!(!html.contains(token), "the secret is never shown again");
});

store_test!(brute_force_locks_and_shows_in_metrics, |store| {
    let app = spawn_app(store.clone()).await;
    app.user("anna", Role::Devops, &[]).await;
    app.user("bob", Role::Devops, &[]).await;
    for _ in 0..10 {
        assert_eq!(app.login("anna", "wrong password!").await.unwrap_err().status(), 401);
    }
    let res = app.login("anna", PASSWORD).await.unwrap_err();
    assert_eq!(res.status(), 429, "locked even with the right password");
    assert!(app.login("bob", PASSWORD).await.is_ok(), "other accounts still work");
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("leitstand_auth_failed_logins_per_ip_max_1m 10"), "{metrics}");
    assert!(metrics.contains("leitstand_auth_failed_logins_per_account_max_1m 10"));
});

store_test!(admin_changes_roles_and_resets_passwords_in_the_ui, |store| {
    let app = spawn_app(store.clone()).await;
    let admin = app.user("admin", Role::Admin, &[]).await;
    app.user("dora", Role::Devops, &[]).await;
    let (_, html) = app.page(&admin, "/users").await;
    let csrf = csrf_of(&html);
    let post = |fields: Vec<(&'static str, String)>| {
        let mut form = vec![("csrf", csrf.clone())];
        form.extend(fields);
        app.client.post(app.url("/users/dora")).header("cookie", &admin).form(&form).send()
    };
    let res = post(vec![("op", "role".into()), ("role", "auditor".into()), ("tenants", String::new())]).await.unwrap();
    assert_eq!(res.status(), 303);
    let (_, html) = app.page(&admin, "/users?done=dora").await;
    assert!(html.contains("Benutzer dora geändert."));
    let user = app.state.app.cli_principal(&"dora".parse().unwrap()).await.unwrap();
    assert_eq!(user.role, Role::Auditor);

    let res = post(vec![("op", "reset".into()), ("password", "kurz".into())]).await.unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("Passwort: Das Passwort muss mindestens 12 Zeichen haben"), "in German");
    let res = post(vec![("op", "reset".into()), ("password", "neues Anfangspasswort".into())]).await.unwrap();
    assert_eq!(res.status(), 303);
    assert!(app.login("dora", "neues Anfangspasswort").await.is_ok());
    assert!(app.login("dora", PASSWORD).await.is_err(), "the old password no longer works");
});

store_test!(a_wrong_setup_code_keeps_the_key_already_added_to_the_app, |store| {
    let app = spawn_app(store.clone()).await;
    let cookie = app.user("admin", Role::Admin, &[]).await;
    let (_, html) = app.page(&cookie, "/profile").await;
    let start = html.find("id=\"totp-secret\">").unwrap() + "id=\"totp-secret\">".len();
    let secret = html[start..start + 32].to_string();
    let res = app
        .client
        .post(app.url("/profile/totp"))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf_of(&html)),
            ("op", "enable".into()),
            ("secret", secret.clone()),
            ("code", "000000".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("Code: Der Code stimmt nicht"), "in German: {html}");
    assert!(html.contains(&format!("id=\"totp-secret\">{secret}<")), "the same key is offered again");
});
