//! `leitstand-bench store-writes`: the alert engine's batch write — new
//! alerts, each with one history entry and one notification, in one
//! transaction fenced by the lease — on SQLite and PostgreSQL, as the
//! engine writes a storm. A throwaway database each (PostgreSQL at
//! `LEITSTAND_TEST_POSTGRES_URL`, as the test suite's).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use leitstand_core::tenant::TenantSlug;
use leitstand_store::testing::{self, TestDb};
use leitstand_store::{
    AlertChanges, AlertRepository, AlertRow, Fence, HistoryRow, LeaseRepository, NewTenant, NotificationRow,
    TenantRepository,
};
use uuid::Uuid;

/// Which engine.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Backend {
    /// An SQLite file in a temporary directory.
    Sqlite,
    /// A new database on the server at `LEITSTAND_TEST_POSTGRES_URL`.
    Postgres,
}

fn t(start: Timestamp, secs: i64) -> Timestamp {
    start + SignedDuration::from_secs(secs)
}

/// `n` new alerts as a storm brings them: a quarter the platform's, the
/// rest spread over `tenants`.
fn storm(start: Timestamp, n: usize, tenants: &[Uuid]) -> Vec<AlertRow> {
    (0..n)
        .map(|i| {
            let name = format!("A{i}");
            let starts = t(start, (i % 600) as i64);
            AlertRow {
                id: Uuid::now_v7(),
                fingerprint: format!("{i:016x}"),
                tenant_id: if i % 4 == 0 { None } else { Some(tenants[i % tenants.len()]) },
                source: "rule".into(),
                labels: format!(r#"{{"alertname":"{name}","severity":"critical"}}"#),
                annotations: r#"{"summary":"Portal antwortet nicht"}"#.into(),
                generator_url: Some("https://leitstand.example/probes/portal".into()),
                group_key: format!("{{alertname=\"{name}\"}}"),
                alertname: name,
                severity: if i % 3 == 0 { "warning" } else { "critical" }.into(),
                service: Some("portal".into()),
                status: "firing".into(),
                starts_at: starts,
                ends_at: None,
                resolved_at: None,
                last_seen_at: starts,
                level: 2,
                level_since: starts,
                acked_by: None,
                acked_at: None,
                suppressed: None,
                notified_level: 0,
                next_step_at: Some(t(starts, 300)),
                updated_at: starts,
            }
        })
        .collect()
}

fn changes(alerts: Vec<AlertRow>, at: Timestamp) -> AlertChanges {
    let history = alerts
        .iter()
        .map(|a| HistoryRow { alert_id: a.id, at, kind: "fired".into(), actor: "engine".into(), detail: "{}".into() })
        .collect();
    let notifications = alerts
        .iter()
        .map(|a| NotificationRow {
            id: Uuid::now_v7(),
            alert_id: a.id,
            group_key: a.group_key.clone(),
            channel: "ops-mail".into(),
            kind: "firing".into(),
            level: a.level,
            recipients: r#"["ops@example.org"]"#.into(),
            payload: r#"{"subject":"[FIRING] PortalDown"}"#.into(),
            status: "pending".into(),
            attempts: 0,
            not_before: at,
            created_at: at,
            delivered_at: None,
            last_error: None,
            fallback_of: None,
            claimed_by: None,
        })
        .collect();
    AlertChanges { alerts, history, notifications, inbox_done: None, intake: None }
}

/// Writes `batches` batches of `size` new alerts and prints each batch's
/// time and the rate over all.
pub async fn store_writes(backend: Backend, batches: usize, size: usize) -> anyhow::Result<ExitCode> {
    let db: TestDb = match backend {
        Backend::Sqlite => testing::sqlite().await,
        Backend::Postgres => testing::postgres().await,
    };
    let store = &db.store;
    let start: Timestamp = "2026-11-23T10:00:00Z".parse()?;
    let mut tenants = Vec::new();
    for slug in ["vergabe", "makler"] {
        let new = NewTenant { id: Uuid::now_v7(), slug: TenantSlug::parse(slug)?, name: slug.to_uppercase() };
        tenants.push(store.create_tenant(new, start).await?.id);
    }
    let lease = store
        .try_acquire_lease("alerting", "bench", start, Duration::from_secs(3600))
        .await?
        .ok_or_else(|| anyhow::anyhow!("the alerting lease is taken"))?;
    let fence = Fence { lease: lease.name.clone(), holder: lease.holder.clone(), token: lease.token };
    let mut total = Duration::ZERO;
    for round in 0..batches {
        let batch = changes(storm(start, size, &tenants), t(start, 1));
        let began = Instant::now();
        store.apply_alert_changes(Some(&fence), t(start, 1), &batch).await?;
        let elapsed = began.elapsed();
        total += elapsed;
        println!("{} batch {round}: {size} new alerts in {elapsed:?}", store.backend());
    }
    let rate = (batches * size) as f64 / total.as_secs_f64();
    println!("{}: {rate:.0} alerts/s (each = 1 alert + 1 history + 1 notification row)", store.backend());
    db.cleanup().await;
    Ok(ExitCode::SUCCESS)
}
