//! The audit log's query index, cursors and outbox. The journal in the data
//! directory is the record of truth; these tables make it searchable by
//! time, actor pseudonym, action, tenant, object and outcome.

use std::future::Future;

use jiff::Timestamp;

use std::sync::LazyLock;

use crate::bulk::{POSTGRES_ROWS_PER_STATEMENT, column, sqlite_rows_per_statement, unnest_insert};
use crate::{Result, Store, execute, from_db, on_pool, to_db};

const INDEXED_COLUMNS: &str =
    "idx, logged_at, at, actor, action, tenant, object, outcome, retention, correlation_id, event, salt";
static PG_INDEXED_INSERT: LazyLock<String> = LazyLock::new(|| {
    let types = ["int8", "int8", "int8", "text", "text", "text", "text", "text", "text", "text", "text", "bytea"];
    unnest_insert("audit_log_events", INDEXED_COLUMNS, &types) + " ON CONFLICT (idx) DO NOTHING"
});

/// Index rows written many per statement (a round trip per row was most of
/// the indexer's time).
trait IndexWrite {
    async fn insert_indexed(&mut self, events: &[IndexedEvent]) -> Result<()>;
}

impl IndexWrite for sqlx::SqliteConnection {
    async fn insert_indexed(&mut self, events: &[IndexedEvent]) -> Result<()> {
        for chunk in events.chunks(sqlite_rows_per_statement(12)) {
            let mut query = sqlx::QueryBuilder::new(format!("INSERT INTO audit_log_events ({INDEXED_COLUMNS}) "));
            query.push_values(chunk, |mut b, e| {
                b.push_bind(e.index as i64)
                    .push_bind(to_db(e.logged_at))
                    .push_bind(to_db(e.time))
                    .push_bind(e.actor.as_str())
                    .push_bind(e.action.as_str())
                    .push_bind(e.tenant.as_deref())
                    .push_bind(e.object.as_deref())
                    .push_bind(e.outcome.as_str())
                    .push_bind(e.retention.as_str())
                    .push_bind(e.correlation_id.as_deref())
                    .push_bind(e.event.as_str())
                    .push_bind(e.salt.as_slice());
            });
            query.push(" ON CONFLICT (idx) DO NOTHING");
            query.build().persistent(false).execute(&mut *self).await?;
        }
        Ok(())
    }
}

impl IndexWrite for sqlx::PgConnection {
    async fn insert_indexed(&mut self, events: &[IndexedEvent]) -> Result<()> {
        for c in events.chunks(POSTGRES_ROWS_PER_STATEMENT) {
            sqlx::query(sqlx::AssertSqlSafe(PG_INDEXED_INSERT.as_str()))
                .bind(column(c, |e| e.index as i64))
                .bind(column(c, |e| to_db(e.logged_at)))
                .bind(column(c, |e| to_db(e.time)))
                .bind(column(c, |e| e.actor.as_str()))
                .bind(column(c, |e| e.action.as_str()))
                .bind(column(c, |e| e.tenant.as_deref()))
                .bind(column(c, |e| e.object.as_deref()))
                .bind(column(c, |e| e.outcome.as_str()))
                .bind(column(c, |e| e.retention.as_str()))
                .bind(column(c, |e| e.correlation_id.as_deref()))
                .bind(column(c, |e| e.event.as_str()))
                .bind(column(c, |e| e.salt.as_slice()))
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }
}

/// One indexed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedEvent {
    /// Log index.
    pub index: u64,
    /// When the log sequenced it.
    pub logged_at: Timestamp,
    /// When it happened.
    pub time: Timestamp,
    /// Actor (pseudonym or non-personal actor).
    pub actor: String,
    /// Action.
    pub action: String,
    /// Tenant slug.
    pub tenant: Option<String>,
    /// Object.
    pub object: Option<String>,
    /// Outcome.
    pub outcome: String,
    /// Retention class.
    pub retention: String,
    /// Correlation id.
    pub correlation_id: Option<String>,
    /// The stored event (canonical JSON, what the log entry commits to).
    pub event: String,
    /// The salt of the commitment.
    pub salt: Vec<u8>,
}

#[derive(sqlx::FromRow)]
struct Row {
    idx: i64,
    logged_at: i64,
    at: i64,
    actor: String,
    action: String,
    tenant: Option<String>,
    object: Option<String>,
    outcome: String,
    retention: String,
    correlation_id: Option<String>,
    event: String,
    salt: Vec<u8>,
}

impl From<Row> for IndexedEvent {
    fn from(r: Row) -> Self {
        Self {
            index: r.idx as u64,
            logged_at: from_db(r.logged_at),
            time: from_db(r.at),
            actor: r.actor,
            action: r.action,
            tenant: r.tenant,
            object: r.object,
            outcome: r.outcome,
            retention: r.retention,
            correlation_id: r.correlation_id,
            event: r.event,
            salt: r.salt,
        }
    }
}

/// A search in the audit index; every filter optional. Newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Events at or after.
    pub from: Option<Timestamp>,
    /// Events before.
    pub to: Option<Timestamp>,
    /// Exact actor (pseudonym).
    pub actor: Option<String>,
    /// Exact action, or a prefix ending in `.` (`auth.`).
    pub action: Option<String>,
    /// Exact tenant slug.
    pub tenant: Option<String>,
    /// Exact object.
    pub object: Option<String>,
    /// Exact outcome.
    pub outcome: Option<leitstand_core::Outcome>,
    /// Only these tenants (a tenant-bound principal); `None` = all. The
    /// service sets it from the caller, whatever the request said.
    pub scope: Option<Vec<String>>,
    /// Only events with a smaller index (the cursor of the previous page).
    pub before: Option<u64>,
    /// Page size.
    pub limit: u32,
}

enum Bind {
    Int(i64),
    Text(String),
}

/// The audit index in the store.
pub trait AuditLogRepository {
    /// Adds events (idempotent per index) and moves cursor `index` to `position`, atomically.
    fn index_audit(&self, events: &[IndexedEvent], position: u64) -> impl Future<Output = Result<()>> + Send;
    /// A reader's position (0 if it never ran).
    fn audit_cursor(&self, name: &str) -> impl Future<Output = Result<u64>> + Send;
    /// Moves a reader's position.
    fn set_audit_cursor(&self, name: &str, position: u64) -> impl Future<Output = Result<()>> + Send;
    /// Searches the index.
    fn query_audit(&self, query: &AuditQuery) -> impl Future<Output = Result<Vec<IndexedEvent>>> + Send;
    /// One event by index.
    fn audit_event(&self, index: u64) -> impl Future<Output = Result<Option<IndexedEvent>>> + Send;
    /// Indexed events from log index `from` on, oldest first (for
    /// forwarders that keep a cursor).
    fn audit_events_from(&self, from: u64, limit: i64) -> impl Future<Output = Result<Vec<IndexedEvent>>> + Send;
    /// Deletes indexed events of a retention class logged before `before`.
    fn prune_audit_index(&self, retention: &str, before: Timestamp) -> impl Future<Output = Result<u64>> + Send;
    /// Parks a pseudonymised event for the server to append.
    fn push_audit_outbox(&self, retention: &str, event: &str) -> impl Future<Output = Result<()>> + Send;
    /// The oldest parked events (id, retention, event).
    fn audit_outbox(&self, limit: i64) -> impl Future<Output = Result<Vec<(i64, String, String)>>> + Send;
    /// Removes parked events up to and including `id`.
    fn clear_audit_outbox(&self, up_to: i64) -> impl Future<Output = Result<()>> + Send;
}

impl AuditLogRepository for Store {
    async fn index_audit(&self, events: &[IndexedEvent], position: u64) -> Result<()> {
        self.timed_background_write("audit_log.index", async {
            on_pool!(self, |pool| {
                let mut tx = pool.begin().await?;
                tx.insert_indexed(events).await?;
                sqlx::query(
                    "INSERT INTO audit_cursors (name, position) VALUES ('index', $1) \
                     ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                )
                .bind(position as i64)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
            });
            Ok(())
        })
        .await
    }

    async fn audit_cursor(&self, name: &str) -> Result<u64> {
        let position: Option<i64> =
            on_pool!(self, |pool| sqlx::query_scalar("SELECT position FROM audit_cursors WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?);
        Ok(position.unwrap_or(0) as u64)
    }

    async fn set_audit_cursor(&self, name: &str, position: u64) -> Result<()> {
        execute!(
            self,
            "audit_log.cursor",
            "INSERT INTO audit_cursors (name, position) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET position = excluded.position",
            name,
            position as i64
        )
        .map(|_| ())
    }

    async fn query_audit(&self, q: &AuditQuery) -> Result<Vec<IndexedEvent>> {
        self.timed("audit_log.query", async {
            let mut clauses: Vec<String> = Vec::new();
            let mut binds: Vec<Bind> = Vec::new();
            let mut add = |clause: &str, bind: Bind, binds: &mut Vec<Bind>| {
                binds.push(bind);
                clauses.push(clause.replace('?', &format!("${}", binds.len())));
            };
            if let Some(t) = q.from {
                add("at >= ?", Bind::Int(to_db(t)), &mut binds);
            }
            if let Some(t) = q.to {
                add("at < ?", Bind::Int(to_db(t)), &mut binds);
            }
            if let Some(v) = &q.actor {
                add("actor = ?", Bind::Text(v.clone()), &mut binds);
            }
            match &q.action {
                Some(prefix) if prefix.ends_with('.') => {
                    add("action >= ?", Bind::Text(prefix.clone()), &mut binds);
                    // '/' sorts right after '.', so this bounds the prefix.
                    add("action < ?", Bind::Text(format!("{}/", &prefix[..prefix.len() - 1])), &mut binds);
                }
                Some(v) => add("action = ?", Bind::Text(v.clone()), &mut binds),
                None => {}
            }
            if let Some(v) = &q.tenant {
                add("tenant = ?", Bind::Text(v.clone()), &mut binds);
            }
            if let Some(v) = &q.object {
                add("object = ?", Bind::Text(v.clone()), &mut binds);
            }
            if let Some(v) = q.outcome {
                add("outcome = ?", Bind::Text(v.as_str().to_string()), &mut binds);
            }
            if let Some(before) = q.before {
                add("idx < ?", Bind::Int(before as i64), &mut binds);
            }
            if let Some(scope) = &q.scope {
                if scope.is_empty() {
                    clauses.push("1 = 0".into());
                } else {
                    let marks: Vec<String> = scope
                        .iter()
                        .map(|t| {
                            binds.push(Bind::Text(t.clone()));
                            format!("${}", binds.len())
                        })
                        .collect();
                    clauses.push(format!("tenant IN ({})", marks.join(", ")));
                }
            }
            let filter = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
            let sql = format!(
                "SELECT idx, logged_at, at, actor, action, tenant, object, outcome, retention, correlation_id, event, salt \
                 FROM audit_log_events {filter} ORDER BY idx DESC LIMIT {}",
                q.limit.clamp(1, 10_000)
            );
            let rows: Vec<Row> = on_pool!(self, |pool| {
                let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                for b in &binds {
                    query = match b {
                        Bind::Int(v) => query.bind(*v),
                        Bind::Text(v) => query.bind(v.clone()),
                    };
                }
                query.fetch_all(pool).await?
            });
            Ok(rows.into_iter().map(Into::into).collect())
        })
        .await
    }

    async fn audit_event(&self, index: u64) -> Result<Option<IndexedEvent>> {
        let row: Option<Row> = on_pool!(self, |pool| {
            sqlx::query_as(
            "SELECT idx, logged_at, at, actor, action, tenant, object, outcome, retention, correlation_id, event, salt \
             FROM audit_log_events WHERE idx = $1"
        )
        .bind(index as i64)
        .fetch_optional(pool)
        .await?
        });
        Ok(row.map(Into::into))
    }

    async fn audit_events_from(&self, from: u64, limit: i64) -> Result<Vec<IndexedEvent>> {
        self.timed("audit_log.from", async {
            let rows: Vec<Row> = on_pool!(self, |pool| {
                sqlx::query_as(
                    "SELECT idx, logged_at, at, actor, action, tenant, object, outcome, retention, correlation_id, \
                     event, salt FROM audit_log_events WHERE idx >= $1 ORDER BY idx LIMIT $2",
                )
                .bind(from as i64)
                .bind(limit)
                .fetch_all(pool)
                .await?
            });
            Ok(rows.into_iter().map(Into::into).collect())
        })
        .await
    }

    async fn prune_audit_index(&self, retention: &str, before: Timestamp) -> Result<u64> {
        let sql = "DELETE FROM audit_log_events WHERE retention = $1 AND logged_at < $2";
        execute!(self, "audit_log.prune", sql, retention, to_db(before))
    }

    async fn push_audit_outbox(&self, retention: &str, event: &str) -> Result<()> {
        let sql = "INSERT INTO audit_outbox (retention, event) VALUES ($1, $2)";
        execute!(self, "audit_log.outbox_push", sql, retention, event).map(|_| ())
    }

    async fn audit_outbox(&self, limit: i64) -> Result<Vec<(i64, String, String)>> {
        Ok(on_pool!(self, |pool| sqlx::query_as("SELECT id, retention, event FROM audit_outbox ORDER BY id LIMIT $1")
            .bind(limit)
            .fetch_all(pool)
            .await?))
    }

    async fn clear_audit_outbox(&self, up_to: i64) -> Result<()> {
        execute!(self, "audit_log.outbox_clear", "DELETE FROM audit_outbox WHERE id <= $1", up_to).map(|_| ())
    }
}
