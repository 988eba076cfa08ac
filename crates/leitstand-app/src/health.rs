//! Whether this instance can serve: the database answers and its schema is
//! the one this binary was built for (`/readyz`).

use crate::App;

/// The database's readiness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// The schema is this release's.
    Ready {
        /// Highest migration applied.
        applied: i64,
        /// Highest migration this binary knows.
        known: i64,
    },
    /// The schema is older or newer than this binary's.
    SchemaMismatch {
        /// Highest migration applied.
        applied: i64,
        /// Highest migration this binary knows.
        known: i64,
    },
    /// The database does not answer.
    Unreachable(String),
}

impl App {
    /// `sqlite` or `postgres`.
    pub fn database(&self) -> &'static str {
        self.store.backend().as_str()
    }

    /// Asks the database.
    pub async fn readiness(&self) -> Readiness {
        match self.store.schema_status().await {
            Ok(s) if s.is_current() => Readiness::Ready { applied: s.applied, known: s.known },
            Ok(s) => Readiness::SchemaMismatch { applied: s.applied, known: s.known },
            Err(e) => Readiness::Unreachable(e.to_string()),
        }
    }

    /// Closes the database connections (a command at its end).
    pub async fn close(&self) {
        self.store.close().await;
    }
}
