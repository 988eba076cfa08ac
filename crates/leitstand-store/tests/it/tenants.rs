use jiff::Timestamp;
use leitstand_core::tenant::TenantSlug;
use leitstand_store::{NewTenant, StoreError, TenantRepository, store_test};
use uuid::Uuid;

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn new(slug: &str, name: &str) -> NewTenant {
    NewTenant { id: Uuid::now_v7(), slug: TenantSlug::parse(slug).unwrap(), name: name.into() }
}

store_test!(created_tenant_reads_back_exactly, |store| {
    let t0 = at("2026-11-23T10:00:00.123456Z");
    let created = store.create_tenant(new("vergabe", "Vergabeportal Bund"), t0).await.unwrap();
    assert!(created.active);
    assert_eq!(created.created_at, t0, "microsecond precision survives");
    let read = store.tenant(&created.slug).await.unwrap().unwrap();
    assert_eq!(read, created);
});

store_test!(duplicate_slug_is_a_conflict_and_keeps_the_original, |store| {
    let t0 = at("2026-11-23T10:00:00Z");
    store.create_tenant(new("makler-01", "Maklerhaus Eins"), t0).await.unwrap();
    let err = store.create_tenant(new("makler-01", "Impostor"), t0).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { entity: "tenant", .. }), "{err}");
    let kept = store.tenant(&TenantSlug::parse("makler-01").unwrap()).await.unwrap().unwrap();
    assert_eq!(kept.name, "Maklerhaus Eins");
});

store_test!(tenants_list_in_slug_order_and_filter_by_id, |store| {
    let t0 = at("2026-11-23T10:00:00Z");
    for slug in ["zeta", "alpha", "mitte"] {
        store.create_tenant(new(slug, slug), t0).await.unwrap();
    }
    let mut ids = Vec::new();
    for slug in ["zeta", "alpha", "mitte"] {
        ids.push(store.tenant(&TenantSlug::parse(slug).unwrap()).await.unwrap().unwrap().id);
    }
    let slugs = |list: Vec<leitstand_store::Tenant>| list.into_iter().map(|t| t.slug.to_string()).collect::<Vec<_>>();
    assert_eq!(slugs(store.tenants(None).await.unwrap()), ["alpha", "mitte", "zeta"]);
    assert_eq!(slugs(store.tenants(Some(&[ids[0], ids[2]])).await.unwrap()), ["mitte", "zeta"], "filtered in SQL");
    assert!(store.tenants(Some(&[])).await.unwrap().is_empty());
});

store_test!(rename_and_deactivate_update_the_timestamp, |store| {
    let slug = TenantSlug::parse("bank-a").unwrap();
    store.create_tenant(new("bank-a", "Bank A"), at("2026-11-23T10:00:00Z")).await.unwrap();
    let renamed = store.rename_tenant(&slug, "Bank A AG", at("2026-11-23T11:00:00Z")).await.unwrap();
    assert_eq!(renamed.name, "Bank A AG");
    assert_eq!(renamed.updated_at, at("2026-11-23T11:00:00Z"));
    let off = store.set_tenant_active(&slug, false, at("2026-11-23T12:00:00Z")).await.unwrap();
    assert!(!off.active);
    assert_eq!(off.created_at, at("2026-11-23T10:00:00Z"));
    assert!(!store.tenant(&slug).await.unwrap().unwrap().active);
});

store_test!(changing_a_missing_tenant_is_not_found, |store| {
    let slug = TenantSlug::parse("nobody").unwrap();
    let err = store.rename_tenant(&slug, "x", at("2026-11-23T10:00:00Z")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { entity: "tenant", .. }), "{err}");
    assert!(store.tenant(&slug).await.unwrap().is_none());
});
