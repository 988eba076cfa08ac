//! The store's errors, grouped by what the caller can do about them.

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL cannot be used.
    #[error("invalid database URL: {reason}")]
    InvalidUrl {
        /// What is wrong with it.
        reason: String,
    },
    /// The database cannot be reached or opened.
    #[error("database unreachable: {source}")]
    Unreachable {
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The database was written by a newer Leitstand.
    #[error(
        "the database schema is at version {database}, but this Leitstand knows only up to version {known}; \
         it was written by a newer release. Upgrade Leitstand — the database was left unchanged"
    )]
    SchemaTooNew {
        /// Highest version applied in the database.
        database: i64,
        /// Highest version this binary knows.
        known: i64,
    },
    /// Applying migrations failed.
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The record does not exist.
    #[error("{entity} {key:?} not found")]
    NotFound {
        /// Kind of record.
        entity: &'static str,
        /// Its key.
        key: String,
    },
    /// The change conflicts with existing data (e.g. a duplicate key).
    #[error("{entity} {key:?} already exists")]
    Conflict {
        /// Kind of record.
        entity: &'static str,
        /// Its key.
        key: String,
    },
    /// Stored data cannot be read back (edited by hand or corrupted).
    #[error("stored {entity} is invalid: {reason}")]
    Corrupt {
        /// Kind of record.
        entity: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A fenced write was refused: the writer no longer holds the lease
    /// (it expired, or another replica took over). Nothing was written; the
    /// caller must stop acting as the holder.
    #[error(
        "lease {lease:?} is no longer held by {holder:?} with fencing token {token}; \
         another replica may have taken over, so the change was not written"
    )]
    LeaseLost {
        /// Lease name.
        lease: String,
        /// The holder the write was fenced with.
        holder: String,
        /// The fencing token the write was fenced with.
        token: i64,
    },
    /// Any other database error.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
}

impl StoreError {
    pub(crate) fn unreachable(source: sqlx::Error) -> Self {
        StoreError::Unreachable { source }
    }

    /// Maps a unique-key violation to [`StoreError::Conflict`].
    pub(crate) fn on_unique(entity: &'static str, key: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Self {
        move |e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict { entity, key: key.into() },
            _ => StoreError::from(e),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolClosed => {
                StoreError::Unreachable { source: e }
            }
            other => StoreError::Database(other),
        }
    }
}
