use jiff::SignedDuration;
use leitstand_app::AppError;
use leitstand_core::Clock;
use leitstand_core::access::{Action, Role};
use leitstand_store::store_test;

use crate::{PASSWORD, add, admin, app, audit};

store_test!(first_start_creates_one_admin_with_a_one_time_password, |store| {
    let (app, _) = app(store);
    let password = app.bootstrap_admin(None).await.unwrap().expect("generated password");
    assert_eq!(password.len(), 24);
    assert_eq!(app.bootstrap_admin(None).await.unwrap(), None, "only on an empty store");
    let login = app.login("admin", &password, None, "127.0.0.1").await.unwrap();
    assert!(login.session.must_change_password);
    assert_eq!(login.session.principal.role, Role::Admin);
});

store_test!(weak_bootstrap_password_is_refused, |store| {
    let (app, _) = app(store);
    let err = app.bootstrap_admin(Some("short".into())).await.unwrap_err();
    assert_eq!(err.to_string(), "LEITSTAND_ADMIN_PASSWORD: the password must have at least 12 characters");
});

store_test!(unknown_user_and_wrong_password_look_the_same, |store| {
    let (app, _) = app(store);
    admin(&app).await;
    let a = app.login("admin", "wrong password!", None, "10.0.0.1").await.unwrap_err();
    let b = app.login("nobody", "wrong password!", None, "10.0.0.1").await.unwrap_err();
    assert_eq!(a.to_string(), b.to_string());
    assert!(matches!(a, AppError::BadCredentials));
    let events = audit(&app).await;
    let failures = events.iter().filter(|e| e.action == "auth.login" && e.outcome == "failure").count();
    assert_eq!(failures, 2);
});

store_test!(brute_force_locks_the_account_but_not_others, |store| {
    let (app, clock) = app(store);
    let admin = admin(&app).await;
    add(&app, &admin, "anna", Role::Devops, &[]).await;
    add(&app, &admin, "bob", Role::Devops, &[]).await;
    for _ in 0..10 {
        assert!(matches!(app.login("anna", "wrong password!", None, "10.9.9.9").await, Err(AppError::BadCredentials)));
    }
    let err = app.login("anna", PASSWORD, None, "10.9.9.9").await.unwrap_err();
    assert!(matches!(err, AppError::Locked { .. }), "the right password is refused while locked: {err}");
    // Another account from the same address still works.
    app.login("bob", PASSWORD, None, "10.9.9.9").await.unwrap();
    let (per_ip, per_account, total) = app.failed_logins.snapshot(clock.now());
    assert_eq!((per_ip, per_account, total), (10, 10, 10));
    clock.advance(SignedDuration::from_mins(16));
    app.login("anna", PASSWORD, None, "10.9.9.9").await.unwrap();
});

store_test!(sessions_end_after_idle_and_absolute_timeouts, |store| {
    let (app, clock) = app(store);
    app.bootstrap_admin(Some(PASSWORD.into())).await.unwrap();
    let login = app.login("admin", PASSWORD, None, "127.0.0.1").await.unwrap();
    clock.advance(SignedDuration::from_mins(29));
    app.session(&login.cookie).await.unwrap();
    clock.advance(SignedDuration::from_mins(29));
    app.session(&login.cookie).await.unwrap();
    clock.advance(SignedDuration::from_mins(31));
    assert!(matches!(app.session(&login.cookie).await, Err(AppError::Unauthenticated)), "idle timeout");

    let login = app.login("admin", PASSWORD, None, "127.0.0.1").await.unwrap();
    for _ in 0..25 {
        clock.advance(SignedDuration::from_mins(29));
        if app.session(&login.cookie).await.is_err() {
            break;
        }
    }
    assert!(app.session(&login.cookie).await.is_err(), "absolute timeout after 12 h");
    assert!(matches!(app.session("forged").await, Err(AppError::Unauthenticated)));
});

store_test!(logout_ends_the_session_and_is_audited, |store| {
    let (app, _) = app(store);
    app.bootstrap_admin(Some(PASSWORD.into())).await.unwrap();
    let login = app.login("admin", PASSWORD, None, "127.0.0.1").await.unwrap();
    app.logout(&login.session).await.unwrap();
    assert!(app.session(&login.cookie).await.is_err());
    let actions: Vec<String> = audit(&app).await.into_iter().map(|e| e.action).collect();
    assert!(actions.contains(&"auth.logout".to_string()));
});

store_test!(tokens_carry_scopes_expire_and_revoke, |store| {
    let (app, clock) = app(store);
    let admin = admin(&app).await;
    let expires = clock.now() + SignedDuration::from_hours(1);
    let read = app.create_token(&admin, "monitoring", &["read".into()], Some(expires)).await.unwrap();
    assert!(read.secret.starts_with("lst_") && read.secret.len() == 68);
    let principal = app.authenticate_token(&read.secret).await.unwrap();
    assert!(app.tenants(&principal).await.is_ok(), "read scope reads");
    let err = app.create_tenant(&principal, "x", "X").await.unwrap_err();
    assert!(matches!(err, AppError::Forbidden { .. }), "read scope cannot write");
    let write = app.create_token(&admin, "automation", &["write".into()], None).await.unwrap();
    let writer = app.authenticate_token(&write.secret).await.unwrap();
    app.create_tenant(&writer, "bank", "Bank").await.unwrap();
    clock.advance(SignedDuration::from_hours(2));
    assert!(app.authenticate_token(&read.secret).await.is_err(), "expired");
    app.revoke_token(&admin, write.id).await.unwrap();
    assert!(app.authenticate_token(&write.secret).await.is_err(), "revoked");
    let err = app.create_token(&admin, "", &["read".into()], None).await.unwrap_err();
    assert_eq!(err.to_string(), "name: give the token a name of 1 to 100 characters");
    let err = app.create_token(&admin, "x", &["admin".into()], None).await.unwrap_err();
    assert!(err.to_string().starts_with("scopes:"));
});

store_test!(a_calendar_token_reads_on_call_calendars_and_nothing_else, |store| {
    let (app, _) = app(store);
    let admin = admin(&app).await;
    app.create_tenant(&admin, "bank-a", "Bank A").await.unwrap();
    add(&app, &admin, "tina", Role::TenantViewer, &["bank-a"]).await;
    let tina = app.login("tina", PASSWORD, None, "127.0.0.1").await.unwrap().session.principal;
    // Narrower than reading, so a tenant viewer may hand it out; writing not.
    let calendar = app.create_token(&tina, "Kalender", &["calendar".into()], None).await.unwrap();
    let err = app.create_token(&tina, "x", &["write".into()], None).await.unwrap_err();
    assert!(err.to_string().contains("can only read"), "{err}");
    let principal = app.authenticate_token(&calendar.secret).await.unwrap();
    principal.require(Action::ReadOnCallCalendar).unwrap();
    for other in [Action::ReadAlerts, Action::ReadTenants, Action::ReadAudit, Action::ReadOwnTokens] {
        assert!(matches!(principal.require(other), Err(AppError::Forbidden { .. })), "{other:?}");
    }
    assert!(matches!(app.tenants(&principal).await, Err(AppError::Forbidden { .. })));
    // A read token covers the calendar too.
    let read = app.create_token(&tina, "r", &["read".into()], None).await.unwrap();
    app.authenticate_token(&read.secret).await.unwrap().require(Action::ReadOnCallCalendar).unwrap();
});

store_test!(disabling_a_user_ends_sessions_and_tokens, |store| {
    let (app, _) = app(store);
    let admin = admin(&app).await;
    add(&app, &admin, "carl", Role::Security, &[]).await;
    let login = app.login("carl", PASSWORD, None, "127.0.0.1").await.unwrap();
    let carl = login.session.principal.clone();
    let token = app.create_token(&carl, "t", &["read".into()], None).await.unwrap();
    app.set_user_active(&admin, &"carl".parse().unwrap(), false).await.unwrap();
    assert!(app.session(&login.cookie).await.is_err());
    assert!(app.authenticate_token(&token.secret).await.is_err());
    assert!(matches!(app.login("carl", PASSWORD, None, "127.0.0.1").await, Err(AppError::BadCredentials)));
    let err = app.set_user_active(&admin, &"admin".parse().unwrap(), false).await.unwrap_err();
    assert!(err.to_string().contains("your own account"));
});

store_test!(second_factor_is_required_once_enabled_and_codes_cannot_be_replayed, |store| {
    let (app, clock) = app(store);
    let admin = admin(&app).await;
    let secret = leitstand_app::new_totp_secret();
    let at = |c: &leitstand_core::clock::ManualClock| u64::try_from(c.now().as_second()).unwrap();
    let err = app.enable_totp(&admin, &secret, "000000", None, "127.0.0.1").await.unwrap_err();
    assert!(err.to_string().starts_with("code:"), "{err}");
    let code = leitstand_app::totp_code(&secret, at(&clock)).unwrap();
    app.enable_totp(&admin, &secret, &code, None, "127.0.0.1").await.unwrap();
    let stored =
        leitstand_store::UserRepository::user_by_name(app.store(), &"admin".parse().unwrap()).await.unwrap().unwrap();
    let stored = stored.totp_secret.unwrap();
    assert!(leitstand_app::Sealer::is_sealed(&stored) && !stored.contains(&secret), "sealed at rest: {stored}");

    clock.advance(SignedDuration::from_secs(30));
    let err = app.login("admin", PASSWORD, None, "127.0.0.1").await.unwrap_err();
    assert!(matches!(err, AppError::BadSecondFactor), "password alone is not enough: {err}");
    let err = app.login("admin", "wrong password!", None, "127.0.0.1").await.unwrap_err();
    assert!(matches!(err, AppError::BadCredentials), "without the password nobody learns a code is needed");
    let code = leitstand_app::totp_code(&secret, at(&clock)).unwrap();
    app.login("admin", PASSWORD, Some(&code), "127.0.0.1").await.unwrap();
    let err = app.login("admin", PASSWORD, Some(&code), "127.0.0.1").await.unwrap_err();
    assert!(matches!(err, AppError::BadSecondFactor), "the same code twice is a replay");

    clock.advance(SignedDuration::from_secs(30));
    let code = leitstand_app::totp_code(&secret, at(&clock)).unwrap();
    app.disable_totp(&admin, &code, "127.0.0.1").await.unwrap();
    app.login("admin", PASSWORD, None, "127.0.0.1").await.unwrap();
    let actions: Vec<String> = audit(&app).await.into_iter().map(|e| e.action).collect();
    assert!(actions.contains(&"auth.totp_enable".into()) && actions.contains(&"auth.totp_disable".into()));
});

store_test!(second_factors_stored_in_clear_are_sealed_at_start_and_keep_working, |store| {
    // Issue 16, item 8: TOTP secrets were stored in clear. What an earlier
    // version stored is sealed by the next start, and still signs in.
    use leitstand_store::{UserChange, UserRepository};
    let (app, clock) = app(store);
    let admin = admin(&app).await;
    let secret = leitstand_app::new_totp_secret();
    store.change_user(admin.user_id, UserChange::Totp(Some(secret.clone())), clock.now()).await.unwrap();
    assert_eq!(app.seal_stored_secrets().await.unwrap(), 1);
    assert_eq!(app.seal_stored_secrets().await.unwrap(), 0, "once");
    let stored = store.user(admin.user_id).await.unwrap().unwrap().totp_secret.unwrap();
    assert!(leitstand_app::Sealer::is_sealed(&stored) && !stored.contains(&secret), "{stored}");
    let code = leitstand_app::totp_code(&secret, u64::try_from(clock.now().as_second()).unwrap()).unwrap();
    app.login("admin", PASSWORD, Some(&code), "127.0.0.1").await.unwrap();
});

store_test!(the_audit_trail_names_the_shell_operator_and_keeps_tenant_and_token_names, |store| {
    // Issue 17, item 7: shell actions were recorded under the token owner's
    // pseudonym, and tenant and token names were pseudonymised.
    let (app, _) = app(store);
    let admin = admin(&app).await;
    app.create_tenant(&admin, "bank-a", "Bank A").await.unwrap();
    add(&app, &admin, "anna", Role::Devops, &[]).await;
    let on_the_shell = app.cli_principal(&"anna".parse().unwrap()).await.unwrap();
    app.create_token(&on_the_shell, "Prometheus", &["ingest".into()], None).await.unwrap();
    let events = audit(&app).await;
    let token = events.iter().find(|e| e.action == "token.create").unwrap();
    assert_eq!(token.actor, "system", "the operator at the shell");
    let stored: serde_json::Value = serde_json::from_str(&token.event).unwrap();
    assert_eq!(stored["details"]["via"], "cli");
    assert_eq!(stored["details"]["token_name"], "Prometheus", "a token's name is no personal data");
    let user = stored["details"]["user"].as_str().unwrap();
    assert!(user.starts_with("ps:"), "the user it is for is pseudonymised: {user}");
    let tenant = events.iter().find(|e| e.action == "tenant.create").unwrap();
    let stored: serde_json::Value = serde_json::from_str(&tenant.event).unwrap();
    assert_eq!(stored["details"]["tenant_name"], "Bank A");
});
