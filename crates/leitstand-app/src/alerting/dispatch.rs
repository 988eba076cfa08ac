//! Delivery of notification rows: claim what is due, send each group of
//! rows (same group, channel, kind and level: one message listing all
//! their alerts) through its channel, and record every attempt. A
//! retryable failure is tried again with the channel's backoff; when the
//! attempts are used up, or the failure is permanent, the row fails and
//! its fallback channel gets a copy. Channels are sent to concurrently and
//! each with its own time limit, so a channel that hangs never holds up
//! the others.
//!
//! Claims are atomic in the store: with several replicas (or a replica
//! that lost its lease mid-delivery) a row is sent by one claimer only; a
//! claimer that crashed leaves its rows to be claimed again when the claim
//! lapses — at least once, never lost. The message id is the idempotency
//! key receivers can use to drop the rare repeat.

use leitstand_core::Outcome;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use leitstand_alerting::lifecycle::HistoryKind;
use leitstand_notify::{Message, MessageKind};
use leitstand_store::{AlertChanges, AlertRepository, AttemptRow, HistoryRow, NotificationOutcome, NotificationRow};
use serde_json::json;
use uuid::Uuid;

use crate::App;

/// How long a claim protects rows from other claimers.
pub const CLAIM_FOR: Duration = Duration::from_secs(120);
/// Rows claimed per round.
const CLAIM_LIMIT: u32 = 2_000;

/// What one delivery of a group did.
struct Sent {
    rows: Vec<NotificationRow>,
    /// Per row, the tenant its alert belongs to (for the audit events).
    tenants: Vec<Option<String>>,
    result: Result<Option<u16>, leitstand_notify::channels::SendError>,
    took: Duration,
    at: Timestamp,
}

/// Delivers every due notification once; the number of rows handled.
pub async fn dispatch_once(app: &App, holder: &str) -> crate::Result<usize> {
    let now = app.clock.now();
    let rows = app.store.claim_notifications(holder, now, CLAIM_FOR, CLAIM_LIMIT).await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let count = rows.len();
    let mut groups: BTreeMap<(String, String, String, i16), Vec<NotificationRow>> = BTreeMap::new();
    for row in rows {
        groups.entry((row.group_key.clone(), row.channel.clone(), row.kind.clone(), row.level)).or_default().push(row);
    }
    let limit = app.alerting.settings.max_in_flight.max(1);
    let mut tasks = tokio::task::JoinSet::new();
    let mut results = Vec::with_capacity(groups.len());
    for (_, rows) in groups {
        while tasks.len() >= limit {
            if let Some(Ok(sent)) = tasks.join_next().await {
                results.push(sent);
            }
        }
        let app = app.clone();
        tasks.spawn(async move { send_group(&app, rows).await });
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(sent) => results.push(sent),
            Err(e) => tracing::error!(error = %e, "a delivery task failed; its rows are claimed again later"),
        }
    }
    record(app, holder, results).await?;
    Ok(count)
}

/// One message for a group of rows' stored messages: the first one with
/// every row's alerts and recipients.
fn merge(messages: Vec<Option<Message>>) -> Option<Message> {
    let grouped = messages.len() > 1;
    let mut messages = messages.into_iter();
    let mut message = messages.next()??;
    for other in messages.flatten() {
        message.alerts.extend(other.alerts);
        for r in other.recipients {
            if !message.recipients.contains(&r) {
                message.recipients.push(r);
            }
        }
    }
    if grouped {
        // Links act on one alert; a group's message links to its list.
        message.links.ack = None;
        message.links.resolve = None;
    }
    Some(message)
}

async fn send_group(app: &App, rows: Vec<NotificationRow>) -> Sent {
    let start = Instant::now();
    let channel = app.alerting.channel(&rows[0].channel);
    let messages: Vec<Option<Message>> = rows.iter().map(|r| serde_json::from_str(&r.payload).ok()).collect();
    let tenants = messages.iter().map(|m| m.as_ref().and_then(tenant_of)).collect();
    let result = match (channel, merge(messages)) {
        (None, _) => Err(leitstand_notify::channels::SendError::permanent(format!(
            "channel {:?} is no longer configured",
            rows[0].channel
        ))),
        (_, None) => Err(leitstand_notify::channels::SendError::permanent("the stored message cannot be read")),
        (Some(channel), Some(message)) => channel.channel.send(&message).await.map(|d| d.status),
    };
    Sent { rows, tenants, result, took: start.elapsed(), at: app.clock.now() }
}

/// What is recorded after a row's attempt, once it is known to be ours.
struct Followup {
    row: NotificationRow,
    tenant: Option<String>,
    kind: Option<HistoryKind>,
    attempts: u32,
    error: Option<String>,
    at: Timestamp,
}

/// Records attempts and outcomes, the alert history and audit events, and
/// queues fallback copies.
async fn record(app: &App, holder: &str, results: Vec<Sent>) -> crate::Result<()> {
    let settings = &app.alerting.settings;
    let mut history = Vec::new();
    let mut audit = Vec::new();
    let mut fallbacks = Vec::new();
    let mut finished: Vec<(Uuid, NotificationOutcome, AttemptRow)> = Vec::new();
    let mut followups: Vec<Followup> = Vec::new();
    for sent in results {
        let duration_ms = i64::try_from(sent.took.as_millis()).unwrap_or(i64::MAX);
        for (row, tenant) in sent.rows.into_iter().zip(sent.tenants) {
            let attempts = u32::try_from(row.attempts).unwrap_or(0) + 1;
            let (outcome, attempt, kind) = match &sent.result {
                Ok(status) => (
                    NotificationOutcome::Delivered { at: sent.at },
                    AttemptRow {
                        notification_id: row.id,
                        at: sent.at,
                        ok: true,
                        status_code: status.map(i32::from),
                        error: None,
                        duration_ms,
                    },
                    Some(HistoryKind::Notified),
                ),
                Err(e) => {
                    let delay = if e.retryable { settings.backoff.next_delay(attempts, row.id) } else { None };
                    let delay = delay.map(|d| e.retry_after.map_or(d, |r| r.max(d)));
                    let attempt = AttemptRow {
                        notification_id: row.id,
                        at: sent.at,
                        ok: false,
                        status_code: e.status.map(i32::from),
                        error: Some(e.reason.clone()),
                        duration_ms,
                    };
                    match delay {
                        Some(d) => (
                            NotificationOutcome::Retry {
                                not_before: sent.at.checked_add(d).unwrap_or(sent.at),
                                error: e.reason.clone(),
                            },
                            attempt,
                            None,
                        ),
                        None => (
                            NotificationOutcome::Failed { error: e.reason.clone() },
                            attempt,
                            Some(HistoryKind::NotificationFailed),
                        ),
                    }
                }
            };
            if !attempt.ok {
                app.alerting.counts.failed_attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            let error = attempt.error.clone();
            finished.push((row.id, outcome, attempt));
            followups.push(Followup { row, tenant, kind, attempts, error, at: sent.at });
        }
    }
    // One transaction for the whole round.
    let still_ours = app.store.finish_notifications(holder, &finished).await?;
    for (Followup { row, tenant, kind, attempts, error, at }, ours) in followups.into_iter().zip(still_ours) {
        if !ours {
            continue; // another claimer took over; it records its own result
        }
        let Some(kind) = kind else { continue };
        if kind == HistoryKind::Notified {
            app.alerting.counts.delivered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        } else if let Some(copy) = fallback(app, &row, at) {
            fallbacks.push(copy);
        }
        let detail = json!({
            "notification": row.id.to_string(),
            "channel": row.channel,
            "kind": row.kind,
            "level": row.level,
            "attempts": attempts,
            "error": error,
        });
        history.push(HistoryRow {
            alert_id: row.alert_id,
            at,
            kind: kind.as_str().into(),
            actor: "system".into(),
            detail: detail.to_string(),
        });
        let mut event = crate::audit::own_event(
            "system",
            &kind.audit_action(),
            tenant,
            &format!("alert:{}", row.alert_id),
            if kind == HistoryKind::Notified { Outcome::Success } else { Outcome::Failure },
            detail,
        );
        event.time = Some(at.to_string());
        audit.push(event);
    }
    if !history.is_empty() || !fallbacks.is_empty() {
        let notify = !fallbacks.is_empty();
        let changes = AlertChanges { history, notifications: fallbacks, ..AlertChanges::default() };
        app.store.apply_alert_changes(None, app.clock.now(), &changes).await?;
        if notify {
            app.alerting.wake_dispatch.notify_one();
        }
    }
    if !audit.is_empty()
        && let Err(e) = app.audit().submit(audit).await
    {
        tracing::error!(error = %e, "delivery audit events not recorded");
    }
    Ok(())
}

/// The tenant slug of a stored message's alert.
fn tenant_of(message: &Message) -> Option<String> {
    message.alerts.first().and_then(|a| a.labels.get("tenant").cloned())
}

/// A copy of `row` for its channel's fallback, unless it is one already
/// (fallbacks do not chain, so a loop of fallbacks cannot form).
fn fallback(app: &App, row: &NotificationRow, now: Timestamp) -> Option<NotificationRow> {
    if row.fallback_of.is_some() || row.kind == "test" {
        return None;
    }
    let target = app.alerting.channel(&row.channel)?.fallback.as_deref()?;
    let channel = app.alerting.channel(target)?;
    let mut message: Message = serde_json::from_str(&row.payload).ok()?;
    message.id = Uuid::now_v7();
    message.locale = channel.locale;
    Some(NotificationRow {
        id: message.id,
        channel: channel.id.to_string(),
        payload: serde_json::to_string(&message).ok()?,
        status: "pending".into(),
        attempts: 0,
        not_before: now,
        created_at: now,
        delivered_at: None,
        last_error: None,
        fallback_of: Some(row.id),
        claimed_by: None,
        ..row.clone()
    })
}

/// Sends a test message through channel `id` at once (the channels
/// page's button); the receiver's answer or the failure.
pub(crate) async fn send_test(app: &App, id: &str, now: Timestamp) -> Result<Option<u16>, String> {
    let Some(channel) = app.alerting.channel(id) else { return Err(format!("no channel {id:?}")) };
    let message = Message {
        id: Uuid::now_v7(),
        kind: MessageKind::Test,
        locale: channel.locale,
        level: 0,
        level_name: "Test".into(),
        group_key: "{}".into(),
        alerts: Vec::new(),
        links: leitstand_notify::Links {
            ack: None,
            resolve: None,
            view: Some(format!("{}/alerts/channels", app.alerting.public_url)),
        },
        recipients: Vec::new(),
        created_at: now,
    };
    channel.channel.send(&message).await.map(|d| d.status).map_err(|e| e.reason)
}
