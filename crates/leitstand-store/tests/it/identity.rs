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
        username: name.parse().unwrap(),
        display_name: name.to_uppercase(),
        role,
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$x$y".into()),
        must_change_password: false,
        password_expires_at: None,
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
    assert_eq!(store.user_by_name(&"ANNA".parse().unwrap()).await.unwrap().unwrap(), created);
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
    let one_time = UserChange::Password { hash: "h2".into(), must_change: true, expires_at: Some(t(3600)) };
    let u4 = store.change_user(u.id, one_time, t(7)).await.unwrap();
    assert_eq!(u4.password_hash.as_deref(), Some("h2"));
    assert!(u4.must_change_password);
    assert_eq!(u4.password_expires_at, Some(t(3600)));
    let own = UserChange::Password { hash: "h3".into(), must_change: false, expires_at: None };
    assert_eq!(store.change_user(u.id, own, t(8)).await.unwrap().password_expires_at, None);
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
    store.create_session(SessionRow { id_hash: "def".into(), ..session.clone() }).await.unwrap();
    assert_eq!(store.delete_user_sessions(u.id, Some("def")).await.unwrap(), 1, "all but the one kept");
    assert!(store.session("abc").await.unwrap().is_none());
    assert!(store.session("def").await.unwrap().is_some());
    store.delete_user_sessions(u.id, None).await.unwrap();
    assert!(store.session("def").await.unwrap().is_none());

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
    let second = ApiToken { id: Uuid::now_v7(), token_hash: "h2".into(), ..token.clone() };
    store.create_token(second.clone()).await.unwrap();
    store
        .create_token(ApiToken { id: Uuid::now_v7(), user_id: other.id, token_hash: "h3".into(), ..token })
        .await
        .unwrap();
    assert_eq!(store.revoke_user_tokens(u.id, t(2)).await.unwrap(), 1, "the one not yet revoked, of this user only");
    let tokens = store.tokens_of(u.id).await.unwrap();
    assert!(tokens.iter().any(|t2| t2.id == second.id && t2.revoked_at == Some(t(2))));
    assert!(tokens.iter().any(|t2| t2.revoked_at == Some(t(1))), "an earlier revocation keeps its time");
    assert_eq!(store.tokens_of(other.id).await.unwrap()[0].revoked_at, None);
});

store_test!(throttle_locks_after_repeated_failures_and_forgets_old_ones, |store| {
    let rules = Throttle::default();
    for i in 1..=9 {
        let s = store.count_attempt("account:anna", t(i), &rules).await.unwrap();
        assert_eq!(s.failures, u32::try_from(i).unwrap());
        assert_eq!(s.locked_until, None);
    }
    let s = store.count_attempt("account:anna", t(10), &rules).await.unwrap();
    assert_eq!((s.failures, s.locked_until), (10, Some(t(10 + 15 * 60))), "the tenth attempt locks");
    let s = store.count_attempt("account:anna", t(11), &rules).await.unwrap();
    assert_eq!((s.failures, s.locked_until), (11, Some(t(10 + 15 * 60))), "a lock is not extended");
    assert_eq!(store.count_attempt("account:bob", t(11), &rules).await.unwrap().failures, 1);
    // After the lock has lapsed, the count starts again.
    let s = store.count_attempt("account:anna", t(10 + 15 * 60), &rules).await.unwrap();
    assert_eq!((s.failures, s.locked_until), (1, None));
    // Without a lock, attempts older than the window no longer count.
    let s = store.count_attempt("account:anna", t(10 + 30 * 60), &rules).await.unwrap();
    assert_eq!(s.failures, 1);
    store.count_attempt("ip:ps:1", t(0), &rules).await.unwrap();
    store.clear_throttle("ip:ps:1").await.unwrap();
    assert_eq!(store.count_attempt("ip:ps:1", t(1), &rules).await.unwrap().failures, 1);
});

store_test!(a_refunded_attempt_gives_back_its_count_and_its_lock, |store| {
    let rules = Throttle { lock_after: 3, ..Throttle::default() };
    for i in 1..=2 {
        store.count_attempt("account:carl", t(i), &rules).await.unwrap();
    }
    assert!(store.count_attempt("account:carl", t(3), &rules).await.unwrap().locked_until.is_some());
    store.refund_attempt("account:carl", &rules).await.unwrap();
    let s = store.count_attempt("account:carl", t(4), &rules).await.unwrap();
    assert_eq!(s.failures, 3, "the refunded attempt no longer counts");
});

store_test!(concurrent_attempts_are_all_counted, |store| {
    // 60 attempts at once: every one is counted, and exactly the limit of
    // them is admitted — a read-modify-write lost most of them.
    let rules = Throttle::default();
    let attempts = (0..60).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.count_attempt("account:dora", t(5), &rules).await.unwrap() })
    });
    let mut counts: Vec<u32> = Vec::new();
    for a in attempts {
        counts.push(a.await.unwrap().failures);
    }
    counts.sort_unstable();
    assert_eq!(counts, (1..=60).collect::<Vec<_>>(), "each attempt got its own count");
    assert_eq!(counts.iter().filter(|c| rules.admits("account:dora", **c)).count(), 10);
});

store_test!(throttle_rows_are_purged_after_lock_and_window, |store| {
    let rules = Throttle { lock_after: 1, ..Throttle::default() };
    store.count_attempt("account:erik", t(0), &rules).await.unwrap(); // locked until 15 min
    store.count_attempt("ip:ps:2", t(0), &rules).await.unwrap();
    assert_eq!(store.purge_throttle(t(10 * 60), &rules).await.unwrap(), 0, "still locked and in the window");
    assert_eq!(store.purge_throttle(t(15 * 60), &rules).await.unwrap(), 2);
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
