use jiff::{SignedDuration, Timestamp};
use leitstand_core::access::{Role, Throttle};
use leitstand_core::tenant::TenantSlug;
use leitstand_store::{
    ApiToken, AuditEvent, AuditRepository, NewTenant, NewUser, SessionRepository, SessionRow, StoreError,
    TenantRepository, ThrottleRepository, UserChange, UserRepository, store_test,
};
use uuid::Uuid;

fn t(secs: i64) -> Timestamp {
    "2026-11-23T10:00:00Z".parse::<Timestamp>().unwrap() + SignedDuration::from_secs(secs)
}

fn user(name: &str, role: Role, tenants: Vec<Uuid>) -> NewUser {
    NewUser {
        id: Uuid::now_v7(),
        username: name.into(),
        display_name: name.to_uppercase(),
        role,
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$x$y".into()),
        must_change_password: false,
        tenants,
        external_id: None,
    }
}

async fn tenant(store: &leitstand_store::Store, slug: &str) -> Uuid {
    let new = NewTenant { id: Uuid::now_v7(), slug: TenantSlug::parse(slug).unwrap(), name: slug.into() };
    store.create_tenant(new, t(0)).await.unwrap().id
}

store_test!(users_round_trip_with_memberships, |store| {
    let bank = tenant(store, "bank").await;
    let created = store.create_user(user("Anna", Role::TenantViewer, vec![bank]), t(0)).await.unwrap();
    assert_eq!(created.username, "anna", "names are stored lower-case");
    assert_eq!(created.tenants, vec![bank]);
    assert_eq!(store.user_by_name("ANNA").await.unwrap().unwrap(), created);
    assert_eq!(store.count_users().await.unwrap(), 1);
    let err = store.create_user(user("anna", Role::Admin, vec![]), t(0)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { entity: "user", .. }), "{err}");
});

store_test!(user_changes_apply, |store| {
    let u = store.create_user(user("bob", Role::Devops, vec![]), t(0)).await.unwrap();
    let u2 = store.change_user(u.id, UserChange::Role(Role::Security), t(5)).await.unwrap();
    assert_eq!(u2.role, Role::Security);
    assert_eq!(u2.updated_at, t(5));
    let u3 = store.change_user(u.id, UserChange::Active(false), t(6)).await.unwrap();
    assert!(!u3.active);
    let u4 =
        store.change_user(u.id, UserChange::Password { hash: "h2".into(), must_change: true }, t(7)).await.unwrap();
    assert_eq!(u4.password_hash.as_deref(), Some("h2"));
    assert!(u4.must_change_password);
    let err = store.change_user(Uuid::now_v7(), UserChange::Active(true), t(8)).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }));
});

store_test!(sessions_and_tokens, |store| {
    let u = store.create_user(user("carla", Role::Admin, vec![]), t(0)).await.unwrap();
    let session = SessionRow {
        id_hash: "abc".into(),
        user_id: u.id,
        csrf_token: "csrf".into(),
        created_at: 1,
        last_seen_at: 1,
        expires_at: 99,
    };
    store.create_session(session.clone()).await.unwrap();
    assert_eq!(store.session("abc").await.unwrap().unwrap(), session);
    store.delete_user_sessions(u.id).await.unwrap();
    assert!(store.session("abc").await.unwrap().is_none());

    let token = ApiToken {
        id: Uuid::now_v7(),
        user_id: u.id,
        name: "ci".into(),
        token_hash: "h".into(),
        scopes: vec!["read".into(), "write".into()],
        created_at: t(0),
        expires_at: Some(t(3600)),
        last_used_at: None,
        revoked_at: None,
    };
    store.create_token(token.clone()).await.unwrap();
    assert_eq!(store.token_by_hash("h").await.unwrap().unwrap(), token);
    let other = store.create_user(user("dora", Role::Admin, vec![]), t(0)).await.unwrap();
    assert!(store.revoke_token(token.id, other.id, t(1)).await.is_err(), "only the owner revokes");
    store.revoke_token(token.id, u.id, t(1)).await.unwrap();
    assert_eq!(store.tokens_of(u.id).await.unwrap()[0].revoked_at, Some(t(1)));
});

store_test!(throttle_locks_after_repeated_failures_and_forgets_old_ones, |store| {
    let rules = Throttle::default();
    for i in 1..=9 {
        let s = store.register_failure("account:anna", t(i), &rules).await.unwrap();
        assert_eq!(s.failures, u32::try_from(i).unwrap());
        assert_eq!(s.locked_until, None);
    }
    let s = store.register_failure("account:anna", t(10), &rules).await.unwrap();
    assert_eq!(s.locked_until, Some(t(10 + 15 * 60)));
    assert!(store.throttle_state("account:anna", t(11), &rules).await.unwrap().locked_until.is_some());
    assert_eq!(store.throttle_state("account:bob", t(11), &rules).await.unwrap().failures, 0);
    // After lock and window have passed, the count starts again.
    assert_eq!(store.throttle_state("account:anna", t(10 + 16 * 60), &rules).await.unwrap().failures, 0);
    store.register_failure("ip:10.0.0.1", t(0), &rules).await.unwrap();
    store.clear_throttle("ip:10.0.0.1").await.unwrap();
    assert_eq!(store.throttle_state("ip:10.0.0.1", t(1), &rules).await.unwrap().failures, 0);
});

store_test!(interim_audit_events_come_back_oldest_first_until_cleared, |store| {
    let a = tenant(store, "a").await;
    for (i, tenant) in [(2, Some(a)), (0, None), (1, None)] {
        let event = AuditEvent {
            id: Uuid::now_v7(),
            at: t(i),
            actor: "user:admin".into(),
            action: "tenant.rename".into(),
            tenant_id: tenant,
            object: format!("tenant:{i}"),
            outcome: "success".into(),
            details: "{}".into(),
        };
        store.record_audit(&event).await.unwrap();
    }
    let all = store.interim_audit_events().await.unwrap();
    let objects: Vec<&str> = all.iter().map(|e| e.object.as_str()).collect();
    assert_eq!(objects, ["tenant:0", "tenant:1", "tenant:2"]);
    assert_eq!(all[2].tenant_id, Some(a));
    store.clear_interim_audit().await.unwrap();
    assert!(store.interim_audit_events().await.unwrap().is_empty());
});

store_test!(oidc_requests_are_taken_once_and_expire, |store| {
    use leitstand_store::{OidcLogin, OidcLoginRepository};
    let login = OidcLogin {
        state: "s1".into(),
        nonce: "n".into(),
        pkce_verifier: "v".into(),
        next_path: "/".into(),
        created_at: t(0),
    };
    store.put_oidc_login(&login).await.unwrap();
    assert_eq!(store.take_oidc_login("s1", t(5)).await.unwrap(), Some(login.clone()));
    assert_eq!(store.take_oidc_login("s1", t(6)).await.unwrap(), None, "only once");
    store.put_oidc_login(&OidcLogin { state: "s2".into(), ..login }).await.unwrap();
    assert_eq!(store.take_oidc_login("s2", t(11 * 60)).await.unwrap(), None, "expired after 10 minutes");
});

store_test!(external_accounts_are_found_by_issuer_and_subject, |store| {
    let mut new = user("kc-user", Role::Auditor, vec![]);
    new.password_hash = None;
    new.external_id = Some("https://idp.example|abc-123".into());
    let created = store.create_user(new, t(0)).await.unwrap();
    assert_eq!(store.user_by_external_id("https://idp.example|abc-123").await.unwrap(), Some(created));
    assert_eq!(store.user_by_external_id("https://idp.example|other").await.unwrap(), None);
});
