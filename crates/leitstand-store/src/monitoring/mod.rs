//! Probe history: each probe's changes of state (up, down, unknown) with
//! the exact time they began. Availability for any period is computed from
//! these rows; a period starts with the state in force at its beginning,
//! so the query also returns the last change before it.

use std::future::Future;

use jiff::Timestamp;

use crate::{Result, Store, execute, from_db, on_pool, to_db};

/// One change of a probe's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTransition {
    /// When the new state began.
    pub at: Timestamp,
    /// Up, down, or `None` for unknown (the probe was not running).
    pub up: Option<bool>,
    /// Why (the failed check's message for a change to down).
    pub message: String,
}

/// Probe history in the store.
pub trait ProbeHistoryRepository {
    /// Records a change of `probe`'s state (a second change at the same
    /// instant replaces the first).
    fn record_probe_transition(&self, probe: &str, t: &ProbeTransition) -> impl Future<Output = Result<()>> + Send;
    /// The changes in `[from, to)`, preceded by the last change before
    /// `from` (the state the period starts in), in time order.
    fn probe_history(
        &self,
        probe: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> impl Future<Output = Result<Vec<ProbeTransition>>> + Send;
    /// The newest change of every probe that has one.
    fn latest_probe_transitions(&self) -> impl Future<Output = Result<Vec<(String, ProbeTransition)>>> + Send;
}

#[derive(sqlx::FromRow)]
struct Row {
    probe: String,
    at: i64,
    state: Option<i16>,
    message: String,
}

impl From<Row> for ProbeTransition {
    fn from(r: Row) -> Self {
        ProbeTransition { at: from_db(r.at), up: r.state.map(|s| s != 0), message: r.message }
    }
}

impl ProbeHistoryRepository for Store {
    async fn record_probe_transition(&self, probe: &str, t: &ProbeTransition) -> Result<()> {
        let state: Option<i16> = t.up.map(i16::from);
        execute!(
            self,
            "probe.transition",
            "INSERT INTO probe_transitions (probe, at, state, message) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (probe, at) DO UPDATE SET state = excluded.state, message = excluded.message",
            probe,
            to_db(t.at),
            state,
            &t.message,
        )
        .map(|_| ())
    }

    async fn probe_history(&self, probe: &str, from: Timestamp, to: Timestamp) -> Result<Vec<ProbeTransition>> {
        self.timed("probe.history", async {
            let rows: Vec<Row> = on_pool!(self, |pool| sqlx::query_as(
                "SELECT probe, at, state, message FROM ( \
                   SELECT probe, at, state, message FROM probe_transitions WHERE probe = $1 AND at < $2 \
                   ORDER BY at DESC LIMIT 1) AS before_period \
                 UNION ALL \
                 SELECT probe, at, state, message FROM probe_transitions WHERE probe = $1 AND at >= $2 AND at < $3 \
                 ORDER BY at"
            )
            .bind(probe)
            .bind(to_db(from))
            .bind(to_db(to))
            .fetch_all(pool)
            .await?);
            Ok(rows.into_iter().map(ProbeTransition::from).collect())
        })
        .await
    }

    async fn latest_probe_transitions(&self) -> Result<Vec<(String, ProbeTransition)>> {
        self.timed("probe.latest", async {
            let rows: Vec<Row> = on_pool!(self, |pool| sqlx::query_as(
                "SELECT t.probe, t.at, t.state, t.message FROM probe_transitions t \
                 JOIN (SELECT probe, MAX(at) AS at FROM probe_transitions GROUP BY probe) m \
                   ON m.probe = t.probe AND m.at = t.at \
                 ORDER BY t.probe"
            )
            .fetch_all(pool)
            .await?);
            Ok(rows.into_iter().map(|r| (r.probe.clone(), ProbeTransition::from(r))).collect())
        })
        .await
    }
}
