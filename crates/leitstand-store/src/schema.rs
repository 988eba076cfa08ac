//! Versioned migrations and the guard against databases from the future.
//!
//! Migrations are embedded in the binary. Before applying any, the store
//! compares the highest version recorded in the database with the highest it
//! knows: a newer database is refused untouched, because an older binary
//! cannot know what a newer schema means. On PostgreSQL, sqlx takes an
//! advisory lock while migrating, so replicas starting together migrate once.

use sqlx::migrate::Migrator;

use crate::{Pool, Result, Store, StoreError, on_pool};

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// Where the database's schema stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaStatus {
    /// Highest migration applied in the database (0 = none).
    pub applied: i64,
    /// Highest migration this binary knows.
    pub known: i64,
}

impl SchemaStatus {
    /// The database is exactly at this binary's version.
    pub fn is_current(&self) -> bool {
        self.applied == self.known
    }
}

impl Store {
    fn migrator(&self) -> &'static Migrator {
        match self.pool {
            Pool::Sqlite(_) => &SQLITE,
            Pool::Postgres(_) => &POSTGRES,
        }
    }

    /// Checks that the database answers and reports its schema version.
    pub async fn schema_status(&self) -> Result<SchemaStatus> {
        self.timed("schema.status", async {
            let known = self.migrator().iter().map(|m| m.version).max().unwrap_or(0);
            let exists: bool = match &self.pool {
                Pool::Sqlite(pool) => sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
                )
                .fetch_one(pool)
                .await?,
                Pool::Postgres(pool) => {
                    sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL").fetch_one(pool).await?
                }
            };
            let applied: Option<i64> = if exists {
                on_pool!(self, |pool| sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                    .fetch_one(pool)
                    .await?)
            } else {
                None
            };
            Ok(SchemaStatus { applied: applied.unwrap_or(0), known })
        })
        .await
    }

    /// Brings the schema up to this binary's version; refuses a newer one.
    pub async fn migrate(&self) -> Result<SchemaStatus> {
        let status = self.schema_status().await?;
        if status.applied > status.known {
            return Err(StoreError::SchemaTooNew { database: status.applied, known: status.known });
        }
        self.timed("schema.migrate", async {
            on_pool!(self, |pool| self.migrator().run(pool).await)?;
            Ok(())
        })
        .await?;
        self.schema_status().await
    }
}
