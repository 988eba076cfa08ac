//! The engine batch's writes on PostgreSQL: one array per column,
//! `UNNEST`ed, in constant statements prepared once per connection.

use uuid::Uuid;

use super::bulk::*;
use super::{AlertRow, AttemptRow, HistoryRow, NotificationRow};
use crate::bulk::{POSTGRES_ROWS_PER_STATEMENT, column};
use crate::{Result, to_db};

impl BulkWrite for sqlx::PgConnection {
    async fn upsert_alerts(&mut self, rows: &[&AlertRow]) -> Result<()> {
        for c in rows.chunks(POSTGRES_ROWS_PER_STATEMENT) {
            sqlx::query(sqlx::AssertSqlSafe(PG_ALERT_UPSERT.as_str()))
                .bind(column(c, |a| a.id))
                .bind(column(c, |a| a.fingerprint.as_str()))
                .bind(column(c, |a| a.tenant_id))
                .bind(column(c, |a| a.source.as_str()))
                .bind(column(c, |a| a.labels.as_str()))
                .bind(column(c, |a| a.annotations.as_str()))
                .bind(column(c, |a| a.generator_url.as_deref()))
                .bind(column(c, |a| a.alertname.as_str()))
                .bind(column(c, |a| a.severity.as_str()))
                .bind(column(c, |a| a.service.as_deref()))
                .bind(column(c, |a| a.group_key.as_str()))
                .bind(column(c, |a| a.status.as_str()))
                .bind(column(c, |a| to_db(a.starts_at)))
                .bind(column(c, |a| a.ends_at.map(to_db)))
                .bind(column(c, |a| a.resolved_at.map(to_db)))
                .bind(column(c, |a| to_db(a.last_seen_at)))
                .bind(column(c, |a| a.level))
                .bind(column(c, |a| to_db(a.level_since)))
                .bind(column(c, |a| a.acked_by.as_deref()))
                .bind(column(c, |a| a.acked_at.map(to_db)))
                .bind(column(c, |a| a.suppressed.as_deref()))
                .bind(column(c, |a| a.notified_level))
                .bind(column(c, |a| a.next_step_at.map(to_db)))
                .bind(column(c, |a| to_db(a.updated_at)))
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }

    async fn insert_history(&mut self, rows: &[HistoryRow]) -> Result<()> {
        for c in rows.chunks(POSTGRES_ROWS_PER_STATEMENT) {
            // UNNEST yields the rows in array order, so the ids follow the order written.
            sqlx::query(sqlx::AssertSqlSafe(PG_HISTORY_INSERT.as_str()))
                .bind(column(c, |h| h.alert_id))
                .bind(column(c, |h| to_db(h.at)))
                .bind(column(c, |h| h.kind.as_str()))
                .bind(column(c, |h| h.actor.as_str()))
                .bind(column(c, |h| h.detail.as_str()))
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }

    async fn insert_notifications(&mut self, rows: &[NotificationRow]) -> Result<()> {
        for c in rows.chunks(POSTGRES_ROWS_PER_STATEMENT) {
            sqlx::query(sqlx::AssertSqlSafe(PG_NOTIFICATION_INSERT.as_str()))
                .bind(column(c, |n| n.id))
                .bind(column(c, |n| n.alert_id))
                .bind(column(c, |n| n.group_key.as_str()))
                .bind(column(c, |n| n.channel.as_str()))
                .bind(column(c, |n| n.kind.as_str()))
                .bind(column(c, |n| n.level))
                .bind(column(c, |n| n.recipients.as_str()))
                .bind(column(c, |n| n.payload.as_str()))
                .bind(column(c, |n| n.status.as_str()))
                .bind(column(c, |n| n.attempts))
                .bind(column(c, |n| to_db(n.not_before)))
                .bind(column(c, |n| to_db(n.created_at)))
                .bind(column(c, |n| n.delivered_at.map(to_db)))
                .bind(column(c, |n| n.last_error.as_deref()))
                .bind(column(c, |n| n.fallback_of))
                .bind(column(c, |n| n.claimed_by.as_deref()))
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }

    async fn finish_claimed(&mut self, holder: &str, items: &[Finished<'_>]) -> Result<Vec<Uuid>> {
        let mut ours = Vec::with_capacity(items.len());
        for c in items.chunks(POSTGRES_ROWS_PER_STATEMENT) {
            let ids: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(PG_FINISH.as_str()))
                .bind(holder)
                .bind(column(c, |f| f.0))
                .bind(column(c, |f| f.1))
                .bind(column(c, |f| f.2))
                .bind(column(c, |f| f.3))
                .bind(column(c, |f| f.4))
                .fetch_all(&mut *self)
                .await?;
            ours.extend(ids);
        }
        Ok(ours)
    }

    async fn insert_attempts(&mut self, rows: &[&AttemptRow]) -> Result<()> {
        for c in rows.chunks(POSTGRES_ROWS_PER_STATEMENT) {
            sqlx::query(sqlx::AssertSqlSafe(PG_ATTEMPT_INSERT.as_str()))
                .bind(column(c, |a| a.notification_id))
                .bind(column(c, |a| to_db(a.at)))
                .bind(column(c, |a| a.ok))
                .bind(column(c, |a| a.status_code))
                .bind(column(c, |a| a.error.as_deref()))
                .bind(column(c, |a| a.duration_ms))
                .execute(&mut *self)
                .await?;
        }
        Ok(())
    }
}
