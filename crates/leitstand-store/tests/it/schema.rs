use leitstand_store::testing::{self, drop_postgres, mark_migrated_by_newer_release, postgres_empty};
use leitstand_store::{Store, StoreError, StoreOptions, store_test};

store_test!(fresh_store_is_current_and_migrate_is_idempotent, |store| {
    let status = store.schema_status().await.unwrap();
    assert!(status.is_current(), "{status:?}");
    assert!(status.known >= 1);
    assert_eq!(store.migrate().await.unwrap(), status);
});

#[tokio::test]
async fn sqlite_database_from_a_newer_version_is_refused_untouched() {
    let db = testing::sqlite().await;
    let path = db.url.trim_start_matches("sqlite://").to_string();
    db.store.close().await;
    mark_migrated_by_newer_release(&db.url, 9999).await;
    let before = std::fs::read(&path).unwrap();
    let store = Store::connect(&db.url, &StoreOptions::default()).await.unwrap();
    let err = store.migrate().await.unwrap_err();
    assert!(matches!(err, StoreError::SchemaTooNew { database: 9999, .. }), "{err}");
    assert!(err.to_string().contains("Upgrade Leitstand"), "{err}");
    store.close().await;
    assert_eq!(std::fs::read(&path).unwrap(), before, "the file is left as it was");
}

#[tokio::test]
async fn postgres_database_from_a_newer_version_is_refused_untouched() {
    let db = testing::postgres().await;
    mark_migrated_by_newer_release(&db.url, 9999).await;
    let store = Store::connect(&db.url, &StoreOptions::default()).await.unwrap();
    let err = store.migrate().await.unwrap_err();
    assert!(matches!(err, StoreError::SchemaTooNew { database: 9999, .. }), "{err}");
    let status = store.schema_status().await.unwrap();
    assert_eq!(status.applied, 9999, "nothing was applied or removed");
    store.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn empty_postgres_database_reports_version_zero_then_migrates() {
    let (url, admin, database) = postgres_empty().await;
    let store = Store::connect(&url, &StoreOptions::default()).await.unwrap();
    let before = store.schema_status().await.unwrap();
    assert_eq!(before.applied, 0);
    assert!(!before.is_current());
    assert!(store.migrate().await.unwrap().is_current());
    store.close().await;
    drop_postgres(&admin, &database).await;
}

#[tokio::test]
async fn unreachable_postgres_is_reported_as_unreachable() {
    let options = StoreOptions { connect_timeout: std::time::Duration::from_secs(1), ..Default::default() };
    // Port 9 (discard) on loopback: nothing listens there.
    let err = Store::connect("postgres://leitstand@127.0.0.1:9/leitstand", &options).await.unwrap_err();
    assert!(matches!(err, StoreError::Unreachable { .. }), "{err}");
}

#[tokio::test]
async fn unknown_url_scheme_is_explained() {
    let err = Store::connect("mysql://x", &StoreOptions::default()).await.unwrap_err();
    assert_eq!(err.to_string(), "invalid database URL: the URL must start with sqlite:// or postgres://");
}
