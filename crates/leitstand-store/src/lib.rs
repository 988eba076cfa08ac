//! Leitstand's persistence. One repository trait per aggregate
//! ([`TenantRepository`], [`LeaseRepository`], …), implemented by [`Store`]
//! for two engines: SQLite (embedded, WAL) and PostgreSQL (shared by
//! replicas). The SQL is written once where both engines agree (`$1`
//! placeholders, `ON CONFLICT`, `RETURNING`) and split only where they do not,
//! and one test suite (`tests/it`, the [`store_test!`] macro) runs against both.
//!
//! The store knows nothing of HTTP, sessions or the clock: callers pass `now`.
//! Schema changes are versioned migrations under `migrations/{sqlite,postgres}`;
//! a database written by a newer Leitstand is refused, never modified.

mod alerting;
mod audit;
mod bulk;
mod error;
mod identity;
mod incidents;
mod leases;
mod monitoring;
mod schema;
mod tenants;
#[cfg(feature = "testing")]
pub mod testing;

use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

pub use alerting::{
    AlertChanges, AlertFilter, AlertRepository, AlertRow, AttemptRow, Fence, Held, HistoryRow, InboxRow,
    IntakeProgress, NotificationOutcome, NotificationRow, OverrideRow, SilenceRow,
};
pub use audit::{AuditEvent, AuditLogRepository, AuditQuery, AuditRepository, IndexedEvent};
pub use error::StoreError;
pub use identity::{
    ApiToken, NewUser, OIDC_LOGIN_TTL, OidcLogin, OidcLoginRepository, SessionRepository, SessionRow,
    ThrottleRepository, ThrottleState, User, UserChange, UserRepository,
};
pub use incidents::{
    ClassificationRow, IncidentFilter, IncidentRepository, IncidentRow, NewIncident, NewTimelineEntry, ReportRow,
    TimelineRow,
};
pub use leases::{Lease, LeaseRepository};
pub use monitoring::{ProbeHistoryRepository, ProbeTransition};
pub use schema::SchemaStatus;
pub use tenants::{NewTenant, Tenant, TenantRepository};

/// Result of a store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which engine a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Backend {
    /// Lower-case name for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Receives the duration of every store operation (for `/metrics`).
pub trait StoreObserver: Send + Sync {
    /// Called once per operation with its name, e.g. `tenant.create`.
    fn observe(&self, backend: Backend, operation: &'static str, elapsed: Duration, ok: bool);
}

struct NoObserver;
impl StoreObserver for NoObserver {
    fn observe(&self, _: Backend, _: &'static str, _: Duration, _: bool) {}
}

/// Connection settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Maximum pooled connections.
    pub max_connections: u32,
    /// How long to wait for the database before giving up.
    pub connect_timeout: Duration,
    /// Create a missing SQLite file (the server); a command run against an
    /// installation must find it.
    pub create_if_missing: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self { max_connections: 8, connect_timeout: Duration::from_secs(5), create_if_missing: true }
    }
}

#[derive(Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The database, whichever engine it runs on. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: Pool,
    observer: Arc<dyn StoreObserver>,
    /// SQLite has one writer: this server's writes queue here, in order,
    /// instead of in SQLite's busy handler, which polls with sleeps of up
    /// to 100 ms and so turned every overlap into latency. (Other
    /// processes, the CLI, still meet the busy timeout.)
    writer: Arc<WriteGate>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend()).finish_non_exhaustive()
    }
}

/// Runs the same expression against whichever pool the store holds. Both
/// arms compile the body separately, so SQL and types are checked for both
/// engines.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite($pool) => $body,
            $crate::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Runs one statement with its arguments on either backend, timed as
/// `operation`; the number of rows it touched.
macro_rules! execute {
    ($store:expr, $operation:expr, $sql:expr $(, $arg:expr)* $(,)?) => {
        $store
            .timed_write($operation, async {
                Ok(on_pool!($store, |pool| sqlx::query($sql)$(.bind($arg))*.execute(pool).await?.rows_affected()))
            })
            .await
    };
}
pub(crate) use execute;

impl Store {
    /// Connects to `url` (`sqlite://PATH` or `postgres://…`) without touching
    /// the schema; call [`Store::migrate`] next. A SQLite file is created if
    /// missing and opened in WAL mode with full fsync.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Self> {
        let pool = if url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::InvalidUrl { reason: e.to_string() })?
                .create_if_missing(options.create_if_missing)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5));
            let pool = SqlitePoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.connect_timeout)
                .connect_with(connect)
                .await
                .map_err(StoreError::unreachable)?;
            Pool::Sqlite(pool)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let connect = PgConnectOptions::from_str(url)
                .map_err(|e| StoreError::InvalidUrl { reason: e.to_string() })?
                .application_name("leitstand");
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.connect_timeout)
                .connect_with(connect)
                .await
                .map_err(StoreError::unreachable)?;
            Pool::Postgres(pool)
        } else {
            return Err(StoreError::InvalidUrl { reason: "the URL must start with sqlite:// or postgres://".into() });
        };
        Ok(Self { pool, observer: Arc::new(NoObserver), writer: Arc::new(WriteGate::default()) })
    }

    /// Reports every operation's duration to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn StoreObserver>) -> Self {
        self.observer = observer;
        self
    }

    /// The engine in use.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Closes all connections (graceful shutdown).
    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await)
    }

    /// Runs `op`, reporting its duration under `operation`.
    pub(crate) async fn timed<T>(&self, operation: &'static str, op: impl Future<Output = Result<T>>) -> Result<T> {
        let start = Instant::now();
        let result = op.await;
        self.observer.observe(self.backend(), operation, start.elapsed(), result.is_ok());
        result
    }

    /// [`Store::timed`] for an operation that writes: on SQLite it waits
    /// for this server's other writes first.
    pub(crate) async fn timed_write<T>(
        &self,
        operation: &'static str,
        op: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        self.timed_in_turn(operation, false, op).await
    }

    /// [`Store::timed_write`] for derived data that may lag (the audit
    /// query index): on SQLite it lets every other write waiting go first.
    pub(crate) async fn timed_background_write<T>(
        &self,
        operation: &'static str,
        op: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        self.timed_in_turn(operation, true, op).await
    }

    async fn timed_in_turn<T>(
        &self,
        operation: &'static str,
        background: bool,
        op: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let start = Instant::now();
        let _turn = match self.pool {
            Pool::Sqlite(_) if background => Some(self.writer.background().await),
            Pool::Sqlite(_) => Some(self.writer.urgent().await),
            Pool::Postgres(_) => None,
        };
        let result = op.await;
        self.observer.observe(self.backend(), operation, start.elapsed(), result.is_ok());
        result
    }
}

/// The queue for SQLite's single writer, with two classes: writes on a
/// request's path (an alert stored before its `200`) and background writes
/// of derived data, which wait while any of the first kind does. Without
/// it the audit index's transactions — half the write work under a burst
/// of alerts — stood in line before the alerts themselves.
#[derive(Default)]
struct WriteGate {
    lock: tokio::sync::Mutex<()>,
    urgent_waiting: std::sync::atomic::AtomicUsize,
    urgent_done: tokio::sync::Notify,
}

/// A turn at the writer; background writers are woken when it ends.
struct WriteTurn<'a> {
    gate: &'a WriteGate,
    _guard: tokio::sync::MutexGuard<'a, ()>,
}

impl Drop for WriteTurn<'_> {
    fn drop(&mut self) {
        self.gate.urgent_done.notify_waiters();
    }
}

impl WriteGate {
    async fn urgent(&self) -> WriteTurn<'_> {
        use std::sync::atomic::Ordering;
        self.urgent_waiting.fetch_add(1, Ordering::SeqCst);
        let guard = self.lock.lock().await;
        self.urgent_waiting.fetch_sub(1, Ordering::SeqCst);
        WriteTurn { gate: self, _guard: guard }
    }

    async fn background(&self) -> WriteTurn<'_> {
        use std::sync::atomic::Ordering;
        // Never starved for long: after this, it queues like any writer.
        let deadline = tokio::time::Instant::now() + BACKGROUND_PATIENCE;
        loop {
            // Enabled before the check, so a turn ending in between still
            // wakes this writer.
            let mut done = std::pin::pin!(self.urgent_done.notified());
            done.as_mut().enable();
            if self.urgent_waiting.load(Ordering::SeqCst) == 0 || tokio::time::Instant::now() >= deadline {
                let guard = self.lock.lock().await;
                if self.urgent_waiting.load(Ordering::SeqCst) == 0 || tokio::time::Instant::now() >= deadline {
                    return WriteTurn { gate: self, _guard: guard };
                }
                drop(guard);
                continue;
            }
            let _ = tokio::time::timeout_at(deadline, done).await;
        }
    }
}

/// Longest a background write lets other writes go first.
const BACKGROUND_PATIENCE: Duration = Duration::from_secs(2);

/// Unix microseconds, the store's timestamp representation.
pub(crate) fn to_db(at: Timestamp) -> i64 {
    at.as_microsecond()
}

/// Back from Unix microseconds. Values outside jiff's range (only possible if
/// someone edited the database by hand) clamp to the nearest bound.
pub(crate) fn from_db(micros: i64) -> Timestamp {
    Timestamp::from_microsecond(micros).unwrap_or(if micros < 0 { Timestamp::MIN } else { Timestamp::MAX })
}

/// A `WHERE` clause limiting `column` to a tenant list bound from
/// placeholder `$first` on: empty for `None` (all tenants), never true for an
/// empty list. Tenant scoping happens in SQL, never after the fact.
pub(crate) fn tenant_filter(column: &str, tenants: Option<&[uuid::Uuid]>, first: usize) -> String {
    match tenants {
        None => String::new(),
        Some([]) => "WHERE 1 = 0".to_string(),
        Some(list) => {
            let marks: Vec<String> = (0..list.len()).map(|i| format!("${}", i + first)).collect();
            format!("WHERE {column} IN ({})", marks.join(", "))
        }
    }
}

#[cfg(test)]
mod gate_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn waiting_urgent_writes_go_before_a_background_write() {
        let gate = Arc::new(WriteGate::default());
        let (order, mut got) = tokio::sync::mpsc::unbounded_channel();
        // A writer of the class that reports its turn, queued behind `first`.
        let queue = |background: bool| {
            let (gate, order) = (gate.clone(), order.clone());
            tokio::spawn(async move {
                let _turn = if background { gate.background().await } else { gate.urgent().await };
                order.send(if background { "background" } else { "urgent" }).unwrap();
            })
        };
        let first = gate.urgent().await;
        let background = queue(true);
        tokio::task::yield_now().await;
        let urgent = queue(false);
        tokio::task::yield_now().await;
        drop(first);
        urgent.await.unwrap();
        background.await.unwrap();
        assert_eq!(got.recv().await, Some("urgent"));
        assert_eq!(got.recv().await, Some("background"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_background_write_is_not_starved_past_its_patience() {
        let gate = Arc::new(WriteGate::default());
        // Two urgent writers taking turns, so one is always waiting.
        for _ in 0..2 {
            let gate = gate.clone();
            tokio::spawn(async move {
                loop {
                    let _turn = gate.urgent().await;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            });
        }
        tokio::task::yield_now().await;
        let gate2 = gate.clone();
        let background = tokio::spawn(async move {
            let _turn = gate2.background().await;
        });
        let waited = tokio::time::timeout(BACKGROUND_PATIENCE + Duration::from_millis(500), background).await;
        assert!(waited.is_ok(), "the background write got its turn after its patience");
    }
}
