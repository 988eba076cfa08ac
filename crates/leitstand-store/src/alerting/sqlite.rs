//! The engine batch's writes on SQLite: multi-row `VALUES` lists below the
//! bind limit, prepared for the one use.

use uuid::Uuid;

use super::bulk::*;
use super::{AlertRow, AttemptRow, HistoryRow, NotificationRow};
use crate::bulk::{column_count, sqlite_rows_per_statement};
use crate::{Result, to_db};

impl BulkWrite for sqlx::SqliteConnection {
    async fn upsert_alerts(&mut self, rows: &[&AlertRow]) -> Result<()> {
        for chunk in rows.chunks(sqlite_rows_per_statement(column_count(ALERT_COLUMNS))) {
            let mut query = sqlx::QueryBuilder::new(format!("INSERT INTO alerts ({ALERT_COLUMNS}) "));
            query.push_values(chunk, |mut b, a| {
                b.push_bind(a.id)
                    .push_bind(a.fingerprint.as_str())
                    .push_bind(a.tenant_id)
                    .push_bind(a.source.as_str())
                    .push_bind(a.labels.as_str())
                    .push_bind(a.annotations.as_str())
                    .push_bind(a.generator_url.as_deref())
                    .push_bind(a.alertname.as_str())
                    .push_bind(a.severity.as_str())
                    .push_bind(a.service.as_deref())
                    .push_bind(a.group_key.as_str())
                    .push_bind(a.status.as_str())
                    .push_bind(to_db(a.starts_at))
                    .push_bind(a.ends_at.map(to_db))
                    .push_bind(a.resolved_at.map(to_db))
                    .push_bind(to_db(a.last_seen_at))
                    .push_bind(a.level)
                    .push_bind(to_db(a.level_since))
                    .push_bind(a.acked_by.as_deref())
                    .push_bind(a.acked_at.map(to_db))
                    .push_bind(a.suppressed.as_deref())
                    .push_bind(a.notified_level)
                    .push_bind(a.next_step_at.map(to_db))
                    .push_bind(to_db(a.updated_at));
            });
            query.push(ALERT_UPSERT.as_str());
            query.build().persistent(false).execute(&mut *self).await?;
        }
        Ok(())
    }

    async fn insert_history(&mut self, rows: &[HistoryRow]) -> Result<()> {
        for chunk in rows.chunks(sqlite_rows_per_statement(column_count(HISTORY_COLUMNS))) {
            let mut query = sqlx::QueryBuilder::new(format!("INSERT INTO alert_history ({HISTORY_COLUMNS}) "));
            query.push_values(chunk, |mut b, h| {
                b.push_bind(h.alert_id)
                    .push_bind(to_db(h.at))
                    .push_bind(h.kind.as_str())
                    .push_bind(h.actor.as_str())
                    .push_bind(h.detail.as_str());
            });
            query.build().persistent(false).execute(&mut *self).await?;
        }
        Ok(())
    }

    async fn insert_notifications(&mut self, rows: &[NotificationRow]) -> Result<()> {
        for chunk in rows.chunks(sqlite_rows_per_statement(column_count(NOTIFICATION_COLUMNS))) {
            let mut query = sqlx::QueryBuilder::new(format!("INSERT INTO notifications ({NOTIFICATION_COLUMNS}) "));
            query.push_values(chunk, |mut b, n| {
                b.push_bind(n.id)
                    .push_bind(n.alert_id)
                    .push_bind(n.group_key.as_str())
                    .push_bind(n.channel.as_str())
                    .push_bind(n.kind.as_str())
                    .push_bind(n.level)
                    .push_bind(n.recipients.as_str())
                    .push_bind(n.payload.as_str())
                    .push_bind(n.status.as_str())
                    .push_bind(n.attempts)
                    .push_bind(to_db(n.not_before))
                    .push_bind(to_db(n.created_at))
                    .push_bind(n.delivered_at.map(to_db))
                    .push_bind(n.last_error.as_deref())
                    .push_bind(n.fallback_of)
                    .push_bind(n.claimed_by.as_deref());
            });
            query.build().persistent(false).execute(&mut *self).await?;
        }
        Ok(())
    }

    async fn finish_claimed(&mut self, holder: &str, items: &[Finished<'_>]) -> Result<Vec<Uuid>> {
        let mut ours = Vec::with_capacity(items.len());
        for chunk in items.chunks(sqlite_rows_per_statement(6)) {
            let mut query = sqlx::QueryBuilder::new("WITH v (id, status, delivered_at, not_before, error) AS (");
            query.push_values(chunk, |mut b, (id, status, delivered_at, not_before, error)| {
                b.push_bind(*id).push_bind(*status).push_bind(*delivered_at).push_bind(*not_before).push_bind(*error);
            });
            query.push(format!(") UPDATE notifications SET {FINISH_SET} FROM v WHERE notifications.id = v.id "));
            query.push("AND notifications.status = 'sending' AND notifications.claimed_by = ");
            query.push_bind(holder);
            query.push(" RETURNING notifications.id");
            let ids: Vec<Uuid> = query.build_query_scalar().persistent(false).fetch_all(&mut *self).await?;
            ours.extend(ids);
        }
        Ok(ours)
    }

    async fn insert_attempts(&mut self, rows: &[&AttemptRow]) -> Result<()> {
        for chunk in rows.chunks(sqlite_rows_per_statement(column_count(ATTEMPT_COLUMNS))) {
            let mut query = sqlx::QueryBuilder::new(format!("INSERT INTO notification_attempts ({ATTEMPT_COLUMNS}) "));
            query.push_values(chunk, |mut b, a| {
                b.push_bind(a.notification_id)
                    .push_bind(to_db(a.at))
                    .push_bind(a.ok)
                    .push_bind(a.status_code)
                    .push_bind(a.error.as_deref())
                    .push_bind(a.duration_ms);
            });
            query.build().persistent(false).execute(&mut *self).await?;
        }
        Ok(())
    }
}
