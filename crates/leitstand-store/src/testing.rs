//! Test kit: a fresh, migrated store on each engine, and [`store_test!`],
//! which runs one test body against both.
//!
//! PostgreSQL tests need `LEITSTAND_TEST_POSTGRES_URL` (an account allowed to
//! create databases, e.g. `postgres://leitstand@127.0.0.1:55432/postgres`);
//! `scripts/test` starts such a server. Without it they fail loudly rather
//! than pass without having run.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::{Store, StoreOptions};

/// Environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_URL_VAR: &str = "LEITSTAND_TEST_POSTGRES_URL";

/// A store for one test, removed by [`TestDb::cleanup`].
pub struct TestDb {
    /// The migrated store.
    pub store: Store,
    /// The URL it was opened with.
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin: Box<PgConnectOptions>, database: String },
}

/// A fresh SQLite database file in a temporary directory.
pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("leitstand.db").display());
    let store = Store::connect(&url, &StoreOptions::default()).await.expect("open SQLite");
    store.migrate().await.expect("migrate SQLite");
    TestDb { store, url, cleanup: Cleanup::Dir(dir) }
}

/// The admin URL of the test PostgreSQL server.
pub fn postgres_admin_url() -> String {
    std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| {
        panic!("{POSTGRES_URL_VAR} is not set: PostgreSQL tests need a server; run scripts/test, which starts one")
    })
}

/// An empty PostgreSQL database, created for this test, not migrated.
pub async fn postgres_empty() -> (String, PgConnectOptions, String) {
    let admin_url = postgres_admin_url();
    let admin = PgConnectOptions::from_str(&admin_url).expect("valid PostgreSQL URL");
    let database = format!("leitstand_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = admin.connect().await.expect("connect to the test PostgreSQL server");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    conn.close().await.ok();
    let url = admin.clone().database(&database).to_url_lossy().to_string();
    (url, admin, database)
}

/// A fresh, migrated PostgreSQL database.
pub async fn postgres() -> TestDb {
    let (url, admin, database) = postgres_empty().await;
    let store = Store::connect(&url, &StoreOptions::default()).await.expect("open PostgreSQL");
    store.migrate().await.expect("migrate PostgreSQL");
    TestDb { store, url, cleanup: Cleanup::Postgres { admin: Box::new(admin), database } }
}

/// Drops a test database (`WITH (FORCE)` ends leftover sessions).
pub async fn drop_postgres(admin: &PgConnectOptions, database: &str) {
    if let Ok(mut conn) = admin.connect().await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)")))
            .execute(&mut conn)
            .await;
        conn.close().await.ok();
    }
}

impl TestDb {
    /// Closes the store and removes its database.
    pub async fn cleanup(self) {
        self.store.close().await;
        if let Cleanup::Postgres { admin, database } = &self.cleanup {
            drop_postgres(admin, database).await;
        }
    }
}

/// Every row of a one-column text query, run through the store's own pool:
/// for tests that must see what is stored exactly as it is stored.
pub async fn stored_texts(store: &Store, sql: &'static str) -> Vec<String> {
    crate::on_pool!(store, |pool| sqlx::query_scalar(sql).fetch_all(pool).await.expect("test query"))
}

/// Records migration `version` as applied, as a newer Leitstand would have,
/// through a connection of its own (the store under test stays untouched).
pub async fn mark_migrated_by_newer_release(url: &str, version: i64) {
    let insert = "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                  VALUES ($1, 'from a newer release', TRUE, $2, 0)";
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.expect("open SQLite");
        sqlx::query(insert).bind(version).bind(vec![0u8]).execute(&mut conn).await.expect("insert migration");
        conn.close().await.ok();
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.expect("open PostgreSQL");
        sqlx::query(insert).bind(version).bind(vec![0u8]).execute(&mut conn).await.expect("insert migration");
        conn.close().await.ok();
    }
}

/// Defines `mod $name { sqlite(); postgres(); }`, running `$body` with
/// `$store: &Store` on a fresh database of each engine.
#[macro_export]
macro_rules! store_test {
    ($name:ident, |$store:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let db = $crate::testing::sqlite().await;
                {
                    let $store: &$crate::Store = &db.store;
                    $body
                }
                db.cleanup().await;
            }

            #[tokio::test]
            async fn postgres() {
                let db = $crate::testing::postgres().await;
                {
                    let $store: &$crate::Store = &db.store;
                    $body
                }
                db.cleanup().await;
            }
        }
    };
}
