//! [`AlertRepository`] for [`Store`], on both engines.

use std::collections::HashSet;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use uuid::Uuid;

use super::bulk::*;
use super::db::*;
use super::query::{Bind, Conditions, fetch_all_bound};
use super::*;
use crate::{Pool, Result, Store, StoreError, execute, on_pool, to_db};

impl Store {
    /// Alerts matching `conditions`, newest first, at most `limit`.
    async fn fetch_alerts(
        &self,
        operation: &'static str,
        conditions: Conditions<'_>,
        limit: Option<u32>,
    ) -> Result<Vec<AlertRow>> {
        self.timed(operation, async {
            let limit = limit.map(|n| format!(" LIMIT {}", n.clamp(1, MAX_LIMIT))).unwrap_or_default();
            let sql = format!(
                "SELECT {ALERT_COLUMNS} FROM alerts {} ORDER BY starts_at DESC, id DESC{limit}",
                conditions.sql
            );
            let rows: Vec<AlertDb> = fetch_all_bound!(self, AlertDb, sql, &conditions.binds);
            Ok(rows.into_iter().map(AlertRow::from).collect())
        })
        .await
    }
}

/// The alerts to write, each id once (its last row), in their first order.
/// The columns an outcome sets: status, delivered_at, not_before, last_error.
fn outcome_columns(outcome: &NotificationOutcome) -> (&'static str, Option<i64>, Option<i64>, Option<&str>) {
    match outcome {
        NotificationOutcome::Delivered { at } => ("delivered", Some(to_db(*at)), None, None),
        NotificationOutcome::Retry { not_before, error } => {
            ("pending", None, Some(to_db(*not_before)), Some(error.as_str()))
        }
        NotificationOutcome::Failed { error } => ("failed", None, None, Some(error.as_str())),
    }
}

fn last_row_per_id(rows: &[AlertRow]) -> Vec<&AlertRow> {
    let mut seen = HashSet::with_capacity(rows.len());
    let mut unique: Vec<&AlertRow> = rows.iter().rev().filter(|row| seen.insert(row.id)).collect();
    unique.reverse();
    unique
}

fn add_duration(at: Timestamp, by: Duration) -> Timestamp {
    at.saturating_add(SignedDuration::try_from(by).unwrap_or(SignedDuration::MAX)).unwrap_or(Timestamp::MAX)
}

impl AlertRepository for Store {
    async fn apply_alert_changes(&self, fence: Option<&Fence>, now: Timestamp, changes: &AlertChanges) -> Result<()> {
        let alerts = last_row_per_id(&changes.alerts);
        self.timed_write("alert.apply", async {
            on_pool!(self, |pool| {
                let mut tx = pool.begin().await?;
                if let Some(fence) = fence {
                    // Writes (a no-op) so that it locks: see the module doc.
                    let held = sqlx::query(
                        "UPDATE leases SET token = token \
                         WHERE name = $1 AND holder = $2 AND token = $3 AND expires_at > $4",
                    )
                    .bind(&fence.lease)
                    .bind(&fence.holder)
                    .bind(fence.token)
                    .bind(to_db(now))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if held == 0 {
                        tx.rollback().await?;
                        return Err(StoreError::LeaseLost {
                            lease: fence.lease.clone(),
                            holder: fence.holder.clone(),
                            token: fence.token,
                        });
                    }
                }
                tx.upsert_alerts(&alerts).await?;
                tx.insert_history(&changes.history).await?;
                tx.insert_notifications(&changes.notifications).await?;
                if let Some(done) = changes.inbox_done {
                    sqlx::query("DELETE FROM alert_inbox WHERE id <= $1").bind(done).execute(&mut *tx).await?;
                }
                if let Some(intake) = &changes.intake {
                    sqlx::query(RECORD_INTAKE).bind(&intake.journal).bind(intake.applied).execute(&mut *tx).await?;
                }
                tx.commit().await?;
            });
            Ok(())
        })
        .await
    }

    async fn open_alerts(&self, resolved_since: Timestamp) -> Result<Vec<AlertRow>> {
        let mut conditions = Conditions::default();
        conditions.and(
            "(status = 'firing' OR (status = 'resolved' AND resolved_at >= ?))",
            [Bind::Int(to_db(resolved_since))],
        );
        self.fetch_alerts("alert.open", conditions, None).await
    }

    async fn alerts(&self, filter: &AlertFilter<'_>) -> Result<Vec<AlertRow>> {
        let mut c = Conditions::scoped("tenant_id", filter.tenants);
        if let Some(tenant) = filter.tenant_id {
            c.and("tenant_id = ?", [Bind::Uuid(tenant)]);
        }
        for (column, value) in [
            ("status", filter.status),
            ("severity", filter.severity),
            ("service", filter.service),
            ("alertname", filter.alertname),
        ] {
            if let Some(value) = value {
                c.and(&format!("{column} = ?"), [Bind::Text(value)]);
            }
        }
        if let Some(held) = filter.held {
            c.and(&held.condition(), []);
        }
        if let Some((at, id)) = filter.before {
            let at = to_db(at);
            c.and("(starts_at < ? OR (starts_at = ? AND id < ?))", [Bind::Int(at), Bind::Int(at), Bind::Uuid(id)]);
        }
        self.fetch_alerts("alert.list", c, Some(filter.limit)).await
    }

    async fn alert(&self, id: Uuid) -> Result<Option<AlertRow>> {
        let mut conditions = Conditions::default();
        conditions.and("id = ?", [Bind::Uuid(id)]);
        Ok(self.fetch_alerts("alert.get", conditions, Some(1)).await?.into_iter().next())
    }

    async fn alert_history(&self, id: Uuid) -> Result<Vec<HistoryRow>> {
        self.timed("alert.history", async {
            let rows: Vec<HistoryDb> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {HISTORY_COLUMNS} FROM alert_history WHERE alert_id = $1 ORDER BY at, id"
            )))
            .bind(id)
            .fetch_all(pool)
            .await?);
            Ok(rows.into_iter().map(HistoryRow::from).collect())
        })
        .await
    }

    async fn alert_by_fingerprint(&self, fingerprint: &str) -> Result<Option<AlertRow>> {
        self.timed("alert.by_fingerprint", async {
            let row: Option<AlertDb> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {ALERT_COLUMNS} FROM alerts WHERE fingerprint = $1 ORDER BY starts_at DESC, id DESC LIMIT 1"
            )))
            .bind(fingerprint)
            .fetch_optional(pool)
            .await?);
            Ok(row.map(AlertRow::from))
        })
        .await
    }

    async fn alert_counts(&self, tenants: Option<&[Uuid]>) -> Result<Vec<(String, String, i64)>> {
        self.timed("alert.counts", async {
            let c = Conditions::scoped("tenant_id", tenants);
            let sql = format!(
                "SELECT status, severity, COUNT(*) FROM alerts {} GROUP BY status, severity ORDER BY status, severity",
                c.sql
            );
            let rows: Vec<(String, String, i64)> = fetch_all_bound!(self, (String, String, i64), sql, &c.binds);
            Ok(rows)
        })
        .await
    }

    async fn notifications_of_alert(&self, alert: Uuid) -> Result<Vec<NotificationRow>> {
        self.timed("alert.notifications", async {
            let rows: Vec<NotificationDb> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE alert_id = $1 ORDER BY created_at, id"
            )))
            .bind(alert)
            .fetch_all(pool)
            .await?);
            Ok(rows.into_iter().map(NotificationRow::from).collect())
        })
        .await
    }

    async fn notification(&self, id: Uuid) -> Result<Option<NotificationRow>> {
        self.timed("alert.notification", async {
            let row: Option<NotificationDb> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?);
            Ok(row.map(NotificationRow::from))
        })
        .await
    }

    async fn notification_attempts(&self, id: Uuid) -> Result<Vec<AttemptRow>> {
        self.timed("alert.notification_attempts", async {
            let rows: Vec<AttemptDb> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {ATTEMPT_COLUMNS} FROM notification_attempts WHERE notification_id = $1 ORDER BY at, id"
            )))
            .bind(id)
            .fetch_all(pool)
            .await?);
            Ok(rows.into_iter().map(AttemptRow::from).collect())
        })
        .await
    }

    async fn insert_notifications(&self, rows: &[NotificationRow]) -> Result<()> {
        self.timed_write("alert.insert_notifications", async {
            on_pool!(self, |pool| {
                let mut tx = pool.begin().await?;
                tx.insert_notifications(rows).await?;
                tx.commit().await?;
            });
            Ok(())
        })
        .await
    }

    async fn claim_notifications(
        &self,
        holder: &str,
        now: Timestamp,
        claim_for: Duration,
        limit: u32,
    ) -> Result<Vec<NotificationRow>> {
        const DUE: &str = "SELECT id FROM notifications \
             WHERE (status = 'pending' AND not_before <= $3) OR (status = 'sending' AND claimed_until < $3) \
             ORDER BY not_before, id LIMIT $4";
        const SET: &str = "UPDATE notifications SET status = 'sending', claimed_by = $1, claimed_until = $2";
        let until = add_duration(now, claim_for);
        let limit = i64::from(limit.clamp(1, MAX_LIMIT));
        self.timed_write("alert.claim_notifications", async {
            // SQLite runs one writer at a time, so a single UPDATE is atomic;
            // PostgreSQL locks the chosen rows and skips those another
            // claimer has locked, so concurrent claims stay disjoint.
            let sql = match self.pool {
                Pool::Sqlite(_) => format!("{SET} WHERE id IN ({DUE}) RETURNING {NOTIFICATION_COLUMNS}"),
                Pool::Postgres(_) => format!(
                    "WITH due AS MATERIALIZED ({DUE} FOR UPDATE SKIP LOCKED) \
                     {SET} WHERE id IN (SELECT id FROM due) RETURNING {NOTIFICATION_COLUMNS}"
                ),
            };
            let rows: Vec<NotificationDb> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(holder)
                .bind(to_db(until))
                .bind(to_db(now))
                .bind(limit)
                .fetch_all(pool)
                .await?);
            let mut rows: Vec<NotificationRow> = rows.into_iter().map(NotificationRow::from).collect();
            // RETURNING promises no order.
            rows.sort_by_key(|row| (row.not_before, row.id));
            Ok(rows)
        })
        .await
    }

    async fn finish_notifications(
        &self,
        holder: &str,
        items: &[(Uuid, NotificationOutcome, AttemptRow)],
    ) -> Result<Vec<bool>> {
        // A row is recorded only while its claim is still ours (another
        // claimer took over a lapsed claim otherwise); a row named twice is
        // recorded once, as its first outcome.
        let mut seen = std::collections::HashSet::with_capacity(items.len());
        let first: Vec<&(Uuid, NotificationOutcome, AttemptRow)> =
            items.iter().filter(|(id, _, _)| seen.insert(*id)).collect();
        let finished: Vec<Finished<'_>> = first
            .iter()
            .map(|(id, outcome, _)| {
                let (status, delivered_at, not_before, error) = outcome_columns(outcome);
                (*id, status, delivered_at, not_before, error)
            })
            .collect();
        self.timed_write("alert.finish_notifications", async {
            let ours: std::collections::HashSet<Uuid> = on_pool!(self, |pool| {
                let mut tx = pool.begin().await?;
                let ours: std::collections::HashSet<Uuid> =
                    tx.finish_claimed(holder, &finished).await?.into_iter().collect();
                let attempts: Vec<&AttemptRow> =
                    first.iter().filter(|(id, _, _)| ours.contains(id)).map(|(_, _, attempt)| attempt).collect();
                tx.insert_attempts(&attempts).await?;
                tx.commit().await?;
                ours
            });
            // Each row's verdict, its repeats false: the first outcome counted.
            let mut answered = std::collections::HashSet::with_capacity(ours.len());
            Ok(items.iter().map(|(id, _, _)| ours.contains(id) && answered.insert(*id)).collect())
        })
        .await
    }

    async fn notification_backlog(&self) -> Result<i64> {
        self.timed("alert.notification_backlog", async {
            Ok(on_pool!(self, |pool| sqlx::query_scalar(
                "SELECT COUNT(*) FROM notifications WHERE status IN ('pending', 'sending')"
            )
            .fetch_one(pool)
            .await?))
        })
        .await
    }

    async fn insert_silence(&self, row: &SilenceRow) -> Result<()> {
        let sql = "INSERT INTO silences (id, tenant_id, matchers, starts_at, ends_at, created_by, comment, \
                   created_at, expired_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        execute!(
            self,
            "alert.insert_silence",
            sql,
            row.id,
            row.tenant_id,
            &row.matchers,
            to_db(row.starts_at),
            to_db(row.ends_at),
            &row.created_by,
            &row.comment,
            to_db(row.created_at),
            row.expired_at.map(to_db),
        )
        .map(|_| ())
    }

    async fn expire_silence(&self, id: Uuid, at: Timestamp) -> Result<bool> {
        let sql = "UPDATE silences SET expired_at = $2 WHERE id = $1 AND expired_at IS NULL AND ends_at > $2";
        execute!(self, "alert.expire_silence", sql, id, to_db(at)).map(|done| done == 1)
    }

    async fn silence(&self, id: Uuid) -> Result<Option<SilenceRow>> {
        self.timed("alert.silence", async {
            let row: Option<SilenceDb> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {SILENCE_COLUMNS} FROM silences WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?);
            Ok(row.map(SilenceRow::from))
        })
        .await
    }

    async fn silences(
        &self,
        tenants: Option<&[Uuid]>,
        include_expired_after: Option<Timestamp>,
    ) -> Result<Vec<SilenceRow>> {
        self.timed("alert.silences", async {
            let mut c = Conditions::scoped("tenant_id", tenants);
            match include_expired_after {
                None => c.and("expired_at IS NULL", []),
                Some(after) => c.and("(expired_at IS NULL OR expired_at > ?)", [Bind::Int(to_db(after))]),
            }
            let sql = format!("SELECT {SILENCE_COLUMNS} FROM silences {} ORDER BY created_at, id", c.sql);
            let rows: Vec<SilenceDb> = fetch_all_bound!(self, SilenceDb, sql, &c.binds);
            Ok(rows.into_iter().map(SilenceRow::from).collect())
        })
        .await
    }

    async fn insert_override(&self, row: &OverrideRow) -> Result<()> {
        let sql = "INSERT INTO oncall_overrides (id, schedule, person, starts_at, ends_at, reason, created_by, \
                   created_at, deleted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        execute!(
            self,
            "alert.insert_override",
            sql,
            row.id,
            &row.schedule,
            &row.person,
            to_db(row.starts_at),
            to_db(row.ends_at),
            &row.reason,
            &row.created_by,
            to_db(row.created_at),
            row.deleted_at.map(to_db),
        )
        .map(|_| ())
    }

    async fn delete_override(&self, id: Uuid, at: Timestamp) -> Result<bool> {
        let sql = "UPDATE oncall_overrides SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL";
        execute!(self, "alert.delete_override", sql, id, to_db(at)).map(|done| done == 1)
    }

    async fn overrides(&self, schedule: Option<&str>, from: Timestamp, to: Timestamp) -> Result<Vec<OverrideRow>> {
        self.timed("alert.overrides", async {
            let mut c = Conditions::default();
            c.and(
                "deleted_at IS NULL AND starts_at < ? AND ends_at > ?",
                [Bind::Int(to_db(to)), Bind::Int(to_db(from))],
            );
            if let Some(schedule) = schedule {
                c.and("schedule = ?", [Bind::Text(schedule)]);
            }
            let sql = format!("SELECT {OVERRIDE_COLUMNS} FROM oncall_overrides {} ORDER BY created_at, id", c.sql);
            let rows: Vec<OverrideDb> = fetch_all_bound!(self, OverrideDb, sql, &c.binds);
            Ok(rows.into_iter().map(OverrideRow::from).collect())
        })
        .await
    }

    async fn push_alert_inbox(
        &self,
        received_at: Timestamp,
        source: &str,
        body: &str,
        intake: Option<&IntakeProgress>,
    ) -> Result<i64> {
        self.timed_write("alert.inbox_push", async {
            Ok(on_pool!(self, |pool| {
                let mut tx = pool.begin().await?;
                let id = sqlx::query_scalar(
                    "INSERT INTO alert_inbox (received_at, source, body) VALUES ($1, $2, $3) RETURNING id",
                )
                .bind(to_db(received_at))
                .bind(source)
                .bind(body)
                .fetch_one(&mut *tx)
                .await?;
                if let Some(intake) = intake {
                    sqlx::query(RECORD_INTAKE).bind(&intake.journal).bind(intake.applied).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                id
            }))
        })
        .await
    }

    async fn alert_intake_progress(&self, journal: &str) -> Result<Option<i64>> {
        self.timed("alert.intake_progress", async {
            Ok(on_pool!(self, |pool| sqlx::query_scalar(
                "SELECT applied FROM alert_intake_progress WHERE journal = $1"
            )
            .bind(journal)
            .fetch_optional(pool)
            .await?))
        })
        .await
    }

    async fn alert_inbox(&self, after: i64, limit: u32) -> Result<Vec<InboxRow>> {
        self.timed("alert.inbox", async {
            let rows: Vec<InboxDb> = on_pool!(self, |pool| sqlx::query_as(
                "SELECT id, received_at, source, body FROM alert_inbox WHERE id > $1 ORDER BY id LIMIT $2"
            )
            .bind(after)
            .bind(i64::from(limit.clamp(1, MAX_LIMIT)))
            .fetch_all(pool)
            .await?);
            Ok(rows.into_iter().map(InboxRow::from).collect())
        })
        .await
    }
}
