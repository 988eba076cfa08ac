//! The alerting services people and sources call, each checking the role
//! × action matrix and the tenant scope before it reads or acts: alerts and
//! their history, acknowledging and resolving (also through a signed
//! link), silences, on-call schedules and overrides, channels.

use leitstand_core::Outcome;
use leitstand_core::input::Message;
use std::collections::{HashMap, HashSet};

use jiff::{SignedDuration, Timestamp};
use leitstand_alerting::LabelSet;
use leitstand_alerting::labels::{Fingerprint, fingerprint};
use leitstand_alerting::lifecycle::Status;
use leitstand_alerting::link::{LinkAction, LinkClaims};
use leitstand_alerting::matchers::format_matcher;
use leitstand_alerting::oncall::{OnCall, Override, Shift};
use leitstand_alerting::silence::{SilenceState, validate_new_silence};
use leitstand_alerting::wire::{self, IncomingAlert};
use leitstand_core::access::Action as Perm;
use leitstand_core::tenant::TenantSlug;
use leitstand_notify::channels::ChannelId;
use leitstand_store::{
    AlertFilter, AlertRepository, AlertRow, AttemptRow, HistoryRow, NotificationRow, OverrideRow, SilenceRow,
    TenantRepository,
};
use serde_json::json;
use uuid::Uuid;

use super::engine::Action;
use super::rows::silence_from_row;
use super::{Observation, Source, runtime};
use crate::{App, AppError, Principal, Result};

/// An alert as lists and pages show it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertView {
    /// Episode id.
    pub id: Uuid,
    /// Fingerprint (Alertmanager's, 16 hex digits).
    pub fingerprint: Fingerprint,
    /// Tenant slug.
    pub tenant: Option<String>,
    /// `alertname`.
    pub alertname: String,
    /// `severity`.
    pub severity: String,
    /// `service`.
    pub service: Option<String>,
    /// Firing or resolved.
    pub status: Status,
    /// Escalation level (0: not actionable).
    pub level: u8,
    /// The level's name.
    pub level_name: String,
    /// Since when it fires.
    pub starts_at: Timestamp,
    /// When it resolved.
    pub resolved_at: Option<Timestamp>,
    /// The end its sender announced (`endsAt`; for an API alert without
    /// one, `alerting.resolve_timeout` after it was last sent).
    pub ends_at: Option<Timestamp>,
    /// Who acknowledged it (pseudonymous in the audit log, plain here for
    /// the people working it).
    pub acked_by: Option<String>,
    /// When.
    pub acked_at: Option<Timestamp>,
    /// What holds it back (`silence:…`, `inhibited:…`, `maintenance:…`).
    pub suppressed: Option<String>,
    /// All labels.
    pub labels: LabelSet,
    /// All annotations.
    pub annotations: LabelSet,
    /// `rule`, `api`, `webhook`.
    pub source: String,
    /// When the next escalation step is due (the deadline, or the end of
    /// what holds it back); `None` once acknowledged or at the top level.
    pub next_step_at: Option<Timestamp>,
    /// Until when someone must act, by the level's `act_within` (counted
    /// from when it reached the level); `None` once acknowledged, resolved,
    /// or at a level without one.
    pub act_by: Option<Timestamp>,
    /// Where it came from.
    pub generator_url: Option<String>,
}

impl AlertView {
    /// The one-line summary in language `lang` (`de`, `en`): annotation
    /// `summary_<lang>`, else `summary`, else the alert name.
    pub fn summary(&self, lang: &str) -> &str {
        leitstand_core::annotations::localized(&self.annotations, "summary", lang).unwrap_or(&self.alertname)
    }
}

/// A notification with its attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationView {
    /// The row.
    pub row: NotificationRow,
    /// Every attempt.
    pub attempts: Vec<AttemptRow>,
}

/// An alert with everything that happened to it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertDetail {
    /// The alert.
    pub alert: AlertView,
    /// Its history, oldest first.
    pub history: Vec<HistoryRow>,
    /// Its notifications, with the delivery log.
    pub notifications: Vec<NotificationView>,
}

/// Filters of the alert list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertListQuery {
    /// Tenant slug.
    pub tenant: Option<String>,
    /// Firing or resolved.
    pub status: Option<Status>,
    /// `severity` label.
    pub severity: Option<String>,
    /// `service` label.
    pub service: Option<String>,
    /// Most rows (default 100, at most 1 000).
    pub limit: Option<u32>,
}

/// A silence as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct SilenceView {
    /// Id.
    pub id: Uuid,
    /// Tenant slug.
    pub tenant: Option<String>,
    /// Matchers as text.
    pub matchers: Vec<String>,
    /// Start.
    pub starts_at: Timestamp,
    /// End.
    pub ends_at: Timestamp,
    /// `pending`, `active`, `expired`.
    pub state: &'static str,
    /// Who created it.
    pub created_by: String,
    /// Why.
    pub comment: String,
    /// When it last changed: created, or expired early.
    pub updated_at: Timestamp,
}

/// A new silence.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewSilence {
    /// Matchers (`alertname="ProbeDown"`, `service=~"portal|shop"`).
    pub matchers: Vec<String>,
    /// Start (default now).
    pub starts_at: Option<Timestamp>,
    /// End.
    pub ends_at: Timestamp,
    /// Why (required).
    pub comment: String,
    /// Limit it to a tenant (slug).
    pub tenant: Option<String>,
}

/// A schedule with who is on call.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Time zone.
    pub time_zone: String,
    /// Who is on call now.
    pub now: Option<OnCall>,
    /// Their display name.
    pub now_name: Option<String>,
    /// The next shifts (14 days).
    pub shifts: Vec<Shift>,
    /// Active and future overrides.
    pub overrides: Vec<OverrideRow>,
}

/// A channel as shown (no secrets).
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelView {
    /// Id.
    pub id: ChannelId,
    /// Name.
    pub name: String,
    /// `email`, `webhook`, `slack`, `teams`, `matrix`.
    pub kind: String,
    /// Language.
    pub locale: &'static str,
    /// Fallback channel.
    pub fallback: Option<String>,
    /// The audiences it serves.
    pub audiences: Vec<String>,
}

/// The person behind an actor string: `user:anna token:…` → `anna`; a
/// signed link → `signed link`.
fn actor_name(actor: &str) -> String {
    let who = actor.split(' ').next().unwrap_or(actor);
    match who.strip_prefix("user:") {
        Some(name) => name.to_string(),
        None if who == "service:signed-link" => "signed link".into(),
        None => who.to_string(),
    }
}

/// The view of a stored silence; `None` if its matchers no longer parse.
fn silence_view(row: &SilenceRow, slugs: &HashMap<Uuid, String>, now: Timestamp) -> Option<SilenceView> {
    let s = silence_from_row(row)?;
    Some(SilenceView {
        id: row.id,
        tenant: row.tenant_id.and_then(|t| slugs.get(&t).cloned()),
        matchers: s.matchers.iter().map(format_matcher).collect(),
        starts_at: row.starts_at,
        ends_at: s.effective_end(),
        state: match s.state(now) {
            SilenceState::Pending => "pending",
            SilenceState::Active => "active",
            SilenceState::Expired => "expired",
        },
        created_by: actor_name(&row.created_by),
        comment: row.comment.clone(),
        updated_at: row.expired_at.unwrap_or(row.created_at),
    })
}

impl App {
    pub(crate) async fn tenant_slugs(&self) -> Result<HashMap<Uuid, String>> {
        Ok(self.store.tenants(None).await?.into_iter().map(|t| (t.id, t.slug.as_str().to_string())).collect())
    }

    pub(crate) fn alert_view(&self, row: AlertRow, slugs: &HashMap<Uuid, String>) -> AlertView {
        let labels: LabelSet = serde_json::from_str(&row.labels).unwrap_or_default();
        let annotations: LabelSet = serde_json::from_str(&row.annotations).unwrap_or_default();
        let tenant = row.tenant_id.and_then(|id| slugs.get(&id).cloned());
        let policy = match tenant.as_deref().and_then(|t| TenantSlug::parse(t.to_string()).ok()) {
            Some(slug) => self.alerting.settings.policy.for_tenant(&slug),
            None => &self.alerting.settings.policy.base,
        };
        let level = u8::try_from(row.level).unwrap_or(0);
        let level_name = policy.escalation.level(level).map(|l| l.name.clone()).unwrap_or_else(|| "–".into());
        // A next step for people is an escalation still to come: none once
        // acknowledged, at a level without a deadline, or at the top (the
        // engine's own timer may still wait for a silence to end).
        let open = row.status == "firing" && row.acked_at.is_none();
        let deadline = policy.escalation.level(level).and_then(|l| l.ack_deadline);
        let escalates = open && deadline.is_some() && policy.escalation.level(level + 1).is_some();
        // The engine's own next timer may be something else (the end an
        // API alert's sender announced); people see the escalation: its
        // deadline, or while held back, when the hold ends.
        let next_step_at = match (&row.suppressed, deadline) {
            _ if !escalates => None,
            (Some(_), _) => row.next_step_at,
            (None, Some(d)) => row.level_since.checked_add(d.signed()).ok(),
            (None, None) => None,
        };
        // The level's time to act runs from when the alert reached it.
        let act_by = policy
            .escalation
            .level(level)
            .and_then(|l| l.act_within)
            .filter(|_| open)
            .and_then(|d| row.level_since.checked_add(d.signed()).ok());
        AlertView {
            id: row.id,
            fingerprint: row.fingerprint.parse().unwrap_or_else(|_| fingerprint(&labels)),
            tenant,
            alertname: row.alertname,
            severity: row.severity,
            service: row.service,
            status: Status::parse(&row.status).unwrap_or(if row.resolved_at.is_some() {
                Status::Resolved
            } else {
                Status::Firing
            }),
            level,
            level_name,
            starts_at: row.starts_at,
            resolved_at: row.resolved_at,
            ends_at: row.ends_at,
            acked_by: row.acked_by.as_deref().map(actor_name),
            acked_at: row.acked_at,
            suppressed: row.suppressed,
            labels,
            annotations,
            source: row.source,
            next_step_at,
            act_by,
            generator_url: row.generator_url,
        }
    }

    /// Alerts visible to `principal`, newest first.
    pub async fn alerts(&self, principal: &Principal, q: &AlertListQuery) -> Result<Vec<AlertView>> {
        principal.require(Perm::ReadAlerts)?;
        let tenant_id = match &q.tenant {
            Some(slug) => Some(self.tenant_id(slug).await?.ok_or_else(|| {
                AppError::invalid("tenant", format!("unknown tenant {slug:?}"), format!("Unbekannter Mandant {slug:?}"))
            })?),
            None => None,
        };
        let filter = AlertFilter {
            tenants: principal.tenant_filter(),
            tenant_id,
            status: q.status.map(Status::as_str),
            severity: q.severity.as_deref(),
            service: q.service.as_deref(),
            limit: q.limit.unwrap_or(100).clamp(1, 1_000),
            ..AlertFilter::default()
        };
        let slugs = self.tenant_slugs().await?;
        Ok(self.store.alerts(&filter).await?.into_iter().map(|r| self.alert_view(r, &slugs)).collect())
    }

    async fn tenant_id(&self, slug: &str) -> Result<Option<Uuid>> {
        let Ok(slug) = TenantSlug::parse(slug.to_string()) else { return Ok(None) };
        Ok(self.store.tenant(&slug).await?.map(|t| t.id))
    }

    pub(crate) async fn visible_alert(&self, principal: &Principal, id: Uuid) -> Result<AlertRow> {
        let not_found = || AppError::NotFound { entity: "alert", key: id.to_string() };
        let row = self.store.alert(id).await?.ok_or_else(not_found)?;
        match (principal.tenant_filter(), row.tenant_id) {
            (None, _) => Ok(row),
            (Some(list), Some(t)) if list.contains(&t) => Ok(row),
            _ => Err(not_found()),
        }
    }

    /// One alert with its history and delivery log.
    pub async fn alert_detail(&self, principal: &Principal, id: Uuid) -> Result<AlertDetail> {
        principal.require(Perm::ReadAlerts)?;
        let row = self.visible_alert(principal, id).await?;
        let history = self.store.alert_history(id).await?;
        let mut notifications = Vec::new();
        for n in self.store.notifications_of_alert(id).await? {
            let attempts = self.store.notification_attempts(n.id).await?;
            notifications.push(NotificationView { row: n, attempts });
        }
        let slugs = self.tenant_slugs().await?;
        Ok(AlertDetail { alert: self.alert_view(row, &slugs), history, notifications })
    }

    /// Acknowledges, unacknowledges, resolves or annotates alert `id`.
    /// `Ok(false)`: queued for the replica running the engine.
    pub async fn respond_to_alert(&self, principal: &Principal, id: Uuid, action: Action) -> Result<bool> {
        principal.require(Perm::RespondToAlerts)?;
        if let Action::Note(text) = &action {
            let len = text.trim().chars().count();
            if len == 0 || len > 4_000 {
                return Err(AppError::invalid(
                    "text",
                    "a note has 1 to 4000 characters",
                    "Eine Notiz hat 1 bis 4000 Zeichen",
                ));
            }
        }
        let row = self.visible_alert(principal, id).await?;
        runtime::act(self, row.id, &principal.actor(), action).await
    }

    /// Verifies a signed link (for the confirmation page).
    pub fn verify_alert_link(&self, token: &str) -> Result<LinkClaims> {
        self.alerting
            .link_key
            .verify(token, self.clock.now())
            .map_err(|e| AppError::invalid("link", e.to_string(), format!("Der Link ist nicht gültig: {e}")))
    }

    /// The alert a signed link is for, with what it does (the confirmation
    /// page): the signature is the authority to see that one alert.
    pub async fn alert_of_link(&self, token: &str) -> Result<(LinkClaims, AlertView)> {
        let claims = self.verify_alert_link(token)?;
        let row = self
            .store
            .alert(claims.alert)
            .await?
            .ok_or_else(|| AppError::invalid("link", "no such alert", "Diesen Alarm gibt es nicht"))?;
        let slugs = self.tenant_slugs().await?;
        Ok((claims, self.alert_view(row, &slugs)))
    }

    /// Acts on a signed link from a notification: no session needed — the
    /// signature is the authority, limited to that alert and action.
    pub async fn act_by_link(&self, token: &str) -> Result<(LinkClaims, bool)> {
        let claims = self.verify_alert_link(token)?;
        let action = match claims.action {
            LinkAction::Ack => Action::Ack,
            LinkAction::Unack => Action::Unack,
            LinkAction::Resolve => Action::Resolve,
        };
        let done = runtime::act(self, claims.alert, "service:signed-link", action).await?;
        Ok((claims, done))
    }

    /// Takes alerts from Prometheus / an Alertmanager: every `tenant`
    /// label must name a known tenant (else nothing is taken and the first
    /// wrong one is named). Durable when it returns.
    pub async fn ingest_alerts(
        &self,
        principal: &Principal,
        source: Source,
        alerts: Vec<(IncomingAlert, bool)>,
    ) -> Result<usize> {
        principal.require(Perm::IngestAlerts)?;
        fn tenant_of(alert: &IncomingAlert) -> Option<&String> {
            alert.labels.get("tenant").filter(|t| !t.is_empty())
        }
        // The tenants are read only when an alert names one (the platform's
        // own alerts name none), and then afresh: a tenant created a moment
        // ago is known at once.
        if alerts.iter().any(|(alert, _)| tenant_of(alert).is_some()) {
            let known: HashSet<String> =
                self.store.tenants(None).await?.into_iter().map(|t| t.slug.as_str().to_string()).collect();
            for (i, (alert, _)) in alerts.iter().enumerate() {
                if let Some(t) = tenant_of(alert)
                    && !known.contains(t)
                {
                    return Err(AppError::invalid(
                        "labels.tenant",
                        format!("[{i}].labels.tenant: unknown tenant {t:?}"),
                        format!("[{i}].labels.tenant: unbekannter Mandant {t:?}"),
                    ));
                }
            }
        }
        let n = alerts.len();
        let observations =
            alerts.into_iter().map(|(alert, resolved)| Observation { source, alert, resolved }).collect();
        runtime::submit(self, observations).await?;
        Ok(n)
    }

    /// Alerts as Alertmanager's API v2 takes them (`POST /api/v2/alerts`,
    /// the body as sent): an alert whose `endsAt` has passed resolves. The
    /// sender's permission is checked before the body is read; a body that
    /// does not parse is refused as `payload` naming the field.
    pub async fn ingest_alertmanager_alerts(&self, principal: &Principal, body: &[u8]) -> Result<usize> {
        principal.require(Perm::IngestAlerts)?;
        let alerts = wire::parse_postable_alerts(body)
            .map_err(|e| AppError::invalid("payload", e.to_string(), format!("Die Nachricht ist nicht lesbar: {e}")))?;
        let now = self.clock.now();
        let batch = alerts
            .into_iter()
            .map(|a| {
                let resolved = a.ends_at.is_some_and(|end| end <= now);
                (a, resolved)
            })
            .collect();
        self.ingest_alerts(principal, Source::Api, batch).await
    }

    /// An Alertmanager's webhook notification (the body as sent): resolved
    /// alerts resolve. Checked and refused like
    /// [`App::ingest_alertmanager_alerts`].
    pub async fn ingest_alertmanager_webhook(&self, principal: &Principal, body: &[u8]) -> Result<usize> {
        principal.require(Perm::IngestAlerts)?;
        let payload = wire::parse_webhook(body)
            .map_err(|e| AppError::invalid("payload", e.to_string(), format!("Die Nachricht ist nicht lesbar: {e}")))?;
        if payload.truncated_alerts > 0 {
            tracing::warn!(
                receiver = %payload.receiver,
                truncated = payload.truncated_alerts,
                "the Alertmanager left alerts out of its webhook (max_alerts); Leitstand sees only those sent"
            );
        }
        let batch = payload.alerts.into_iter().map(|a| (a.alert, a.resolved)).collect();
        self.ingest_alerts(principal, Source::Webhook, batch).await
    }

    /// Silences visible to `principal` (active and pending, and those that
    /// ended within the last 7 days).
    pub async fn silences(&self, principal: &Principal) -> Result<Vec<SilenceView>> {
        principal.require(Perm::ReadAlerts)?;
        let now = self.clock.now();
        let since = now.checked_sub(SignedDuration::from_hours(24 * 7)).unwrap_or(now);
        let slugs = self.tenant_slugs().await?;
        let rows = self.store.silences(principal.tenant_filter(), Some(since)).await?;
        Ok(rows.iter().filter_map(|row| silence_view(row, &slugs, now)).collect())
    }

    /// One silence the caller may see, whenever it ended.
    pub async fn silence(&self, principal: &Principal, id: Uuid) -> Result<SilenceView> {
        principal.require(Perm::ReadAlerts)?;
        let not_found = || AppError::NotFound { entity: "silence", key: id.to_string() };
        let row = self.store.silence(id).await?.ok_or_else(not_found)?;
        if let Some(list) = principal.tenant_filter()
            && !row.tenant_id.is_some_and(|t| list.contains(&t))
        {
            return Err(not_found());
        }
        let slugs = self.tenant_slugs().await?;
        silence_view(&row, &slugs, self.clock.now()).ok_or_else(not_found)
    }

    /// Creates a silence; the engine re-examines the open alerts at once.
    pub async fn create_silence(&self, principal: &Principal, new: NewSilence) -> Result<Uuid> {
        principal.require(Perm::ManageSilences)?;
        let now = self.clock.now();
        let starts_at = new.starts_at.unwrap_or(now);
        let mut matchers = new.matchers.clone();
        let tenant = match (&new.tenant, principal.tenant_filter()) {
            (Some(slug), _) => Some(slug.clone()),
            (None, None) => None,
            // Somebody bound to one tenant silences that tenant's alerts.
            (None, Some([only])) => Some(self.tenant_slugs().await?.remove(only).unwrap_or_default()),
            (None, Some(_)) => {
                return Err(AppError::invalid(
                    "tenant",
                    "name the tenant whose alerts it silences: your access is limited to tenants",
                    "Bitte den Mandanten nennen, dessen Alarme stummgeschaltet werden: der Zugang ist auf Mandanten beschränkt",
                ));
            }
        };
        let tenant_id = match &tenant {
            Some(slug) => {
                let unknown = || {
                    AppError::invalid(
                        "tenant",
                        format!("unknown tenant {slug:?}"),
                        format!("Unbekannter Mandant {slug:?}"),
                    )
                };
                let id = self.tenant_id(slug).await?.ok_or_else(unknown)?;
                if principal.tenant_filter().is_some_and(|list| !list.contains(&id)) {
                    return Err(unknown());
                }
                // A tenant's silence only ever matches that tenant's alerts.
                matchers.push(format!("tenant={}", json!(slug)));
                Some(id)
            }
            None => None,
        };
        let parsed = validate_new_silence(&matchers, starts_at, new.ends_at, &new.comment, now).map_err(|errors| {
            let said: Vec<Message> = errors
                .iter()
                .map(|e| {
                    Message::new(
                        format!("{}: {}", e.field, e.reason),
                        format!("{}: {}", e.field, silence_reason_de(&e.reason)),
                    )
                })
                .collect();
            AppError::Invalid { field: "silence", message: Message::join(&said) }
        })?;
        let id = Uuid::now_v7();
        // The tenant's matcher once, also when the caller wrote it too.
        let mut seen = HashSet::new();
        let texts: Vec<String> = parsed.iter().map(format_matcher).filter(|t| seen.insert(t.clone())).collect();
        let row = SilenceRow {
            id,
            tenant_id,
            matchers: serde_json::to_string(&texts).unwrap_or_else(|_| "[]".into()),
            starts_at,
            ends_at: new.ends_at,
            created_by: principal.actor(),
            comment: new.comment.trim().to_string(),
            created_at: now,
            expired_at: None,
        };
        self.store.insert_silence(&row).await?;
        self.audit()
            .record(
                &principal.actor(),
                "silence.create",
                tenant_id,
                &format!("silence:{id}"),
                Outcome::Success,
                json!({ "matchers": texts, "starts_at": starts_at.to_string(), "ends_at": new.ends_at.to_string(), "comment": row.comment }),
            )
            .await?;
        self.alerting.wake_engine.notify_one();
        Ok(id)
    }

    /// Ends a silence now.
    pub async fn expire_silence(&self, principal: &Principal, id: Uuid) -> Result<()> {
        principal.require(Perm::ManageSilences)?;
        let not_found = || AppError::NotFound { entity: "silence", key: id.to_string() };
        let row = self.store.silence(id).await?.ok_or_else(not_found)?;
        if let Some(list) = principal.tenant_filter()
            && !row.tenant_id.is_some_and(|t| list.contains(&t))
        {
            return Err(not_found());
        }
        if !self.store.expire_silence(id, self.clock.now()).await? {
            return Err(AppError::invalid(
                "silence",
                "the silence has already ended",
                "Die Stummschaltung ist bereits beendet",
            ));
        }
        self.audit()
            .record(
                &principal.actor(),
                "silence.expire",
                row.tenant_id,
                &format!("silence:{id}"),
                Outcome::Success,
                json!({}),
            )
            .await?;
        self.alerting.wake_engine.notify_one();
        Ok(())
    }

    async fn overrides_of(
        &self,
        schedule: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<(Vec<OverrideRow>, Vec<Override>)> {
        let rows = self.store.overrides(Some(schedule), from, to).await?;
        let list = rows
            .iter()
            .map(|o| Override {
                id: o.id,
                person: o.person.clone(),
                starts_at: o.starts_at,
                ends_at: o.ends_at,
                reason: o.reason.clone(),
            })
            .collect();
        Ok((rows, list))
    }

    /// The schedules with who is on call now and the next 14 days.
    pub async fn schedules(&self, principal: &Principal) -> Result<Vec<ScheduleView>> {
        principal.require(Perm::ReadAlerts)?;
        let mut out = Vec::new();
        for s in &self.alerting.settings.schedules {
            out.push(self.schedule_view(s.id()).await?);
        }
        Ok(out)
    }

    /// One schedule (callers check the permission).
    pub(crate) async fn schedule_view(&self, id: &str) -> Result<ScheduleView> {
        let schedule =
            self.alerting.schedule(id).ok_or_else(|| AppError::NotFound { entity: "schedule", key: id.into() })?;
        let now = self.clock.now();
        let to = now.checked_add(SignedDuration::from_hours(24 * 14)).unwrap_or(now);
        let (rows, overrides) = self.overrides_of(id, now, to).await?;
        let current = schedule.on_call(now, &overrides);
        let now_name = current.as_ref().map(|o| self.person_name(&o.person));
        Ok(ScheduleView {
            id: id.to_string(),
            name: schedule.def().name.clone(),
            time_zone: schedule.def().time_zone.clone(),
            now: current,
            now_name,
            shifts: schedule.shifts(now, to, &overrides),
            overrides: rows,
        })
    }

    /// Who is on call in schedule `id` now.
    pub async fn on_call_now(&self, principal: &Principal, id: &str) -> Result<ScheduleView> {
        principal.require(Perm::ReadAlerts)?;
        self.schedule_view(id).await
    }

    /// A person's display name (the id if unknown).
    pub fn person_name(&self, id: &str) -> String {
        self.alerting.settings.people.get(id).map_or_else(|| id.to_string(), |p| p.name.clone())
    }

    /// The iCalendar of schedule `id`: 7 days back, 90 days ahead.
    pub async fn schedule_ical(&self, principal: &Principal, id: &str, host: &str) -> Result<String> {
        principal.require(Perm::ReadOnCallCalendar)?;
        let schedule =
            self.alerting.schedule(id).ok_or_else(|| AppError::NotFound { entity: "schedule", key: id.into() })?;
        let now = self.clock.now();
        let from = now.checked_sub(SignedDuration::from_hours(24 * 7)).unwrap_or(now);
        let to = now.checked_add(SignedDuration::from_hours(24 * 90)).unwrap_or(now);
        // Overrides beyond the window too: the first and last shift are
        // shown whole.
        let margin = SignedDuration::from_hours(24 * 31);
        let wider = (from.checked_sub(margin).unwrap_or(from), to.checked_add(margin).unwrap_or(to));
        let (_, overrides) = self.overrides_of(id, wider.0, wider.1).await?;
        let shifts = schedule.whole_shifts(from, to, &overrides);
        Ok(schedule.ical(&shifts, now, host, &|p| self.person_name(p)))
    }

    /// Adds an override: `person` is on call in `schedule` for the time given.
    pub async fn create_override(
        &self,
        principal: &Principal,
        schedule: &str,
        person: &str,
        starts_at: Timestamp,
        ends_at: Timestamp,
        reason: &str,
    ) -> Result<Uuid> {
        principal.require(Perm::ManageOnCall)?;
        if self.alerting.schedule(schedule).is_none() {
            return Err(AppError::NotFound { entity: "schedule", key: schedule.into() });
        }
        if !self.alerting.settings.people.contains_key(person) {
            return Err(AppError::invalid(
                "person",
                format!("unknown person {person:?}"),
                format!("Unbekannte Person {person:?}"),
            ));
        }
        let now = self.clock.now();
        if ends_at <= starts_at {
            return Err(AppError::invalid("ends_at", "must be after starts_at", "muss nach dem Beginn liegen"));
        }
        if ends_at <= now {
            return Err(AppError::invalid("ends_at", "in the past", "liegt in der Vergangenheit"));
        }
        if ends_at.duration_since(starts_at) > SignedDuration::from_hours(24 * 90) {
            return Err(AppError::invalid(
                "ends_at",
                "an override lasts at most 90 days",
                "Eine Vertretung dauert höchstens 90 Tage",
            ));
        }
        let id = Uuid::now_v7();
        let row = OverrideRow {
            id,
            schedule: schedule.into(),
            person: person.into(),
            starts_at,
            ends_at,
            reason: reason.trim().into(),
            created_by: principal.actor(),
            created_at: now,
            deleted_at: None,
        };
        self.store.insert_override(&row).await?;
        self.audit()
            .record(
                &principal.actor(),
                "oncall.override",
                None,
                &format!("schedule:{schedule}"),
                Outcome::Success,
                json!({ "override": id.to_string(), "person": person, "starts_at": starts_at.to_string(), "ends_at": ends_at.to_string(), "reason": row.reason }),
            )
            .await?;
        self.alerting.wake_engine.notify_one();
        Ok(id)
    }

    /// Removes an override.
    pub async fn delete_override(&self, principal: &Principal, id: Uuid) -> Result<()> {
        principal.require(Perm::ManageOnCall)?;
        if !self.store.delete_override(id, self.clock.now()).await? {
            return Err(AppError::NotFound { entity: "override", key: id.to_string() });
        }
        self.audit()
            .record(
                &principal.actor(),
                "oncall.override_delete",
                None,
                &format!("override:{id}"),
                Outcome::Success,
                json!({}),
            )
            .await?;
        self.alerting.wake_engine.notify_one();
        Ok(())
    }

    /// The channels (without secrets).
    pub fn channels(&self, principal: &Principal) -> Result<Vec<ChannelView>> {
        principal.require(Perm::ReadAlerts)?;
        Ok(self
            .alerting
            .settings
            .channels
            .iter()
            .map(|c| ChannelView {
                id: c.id.clone(),
                name: c.name.clone(),
                kind: c.channel.kind().to_string(),
                locale: match c.locale {
                    leitstand_notify::Locale::De => "de",
                    leitstand_notify::Locale::En => "en",
                },
                fallback: c.fallback.clone(),
                audiences: self
                    .alerting
                    .settings
                    .audiences
                    .iter()
                    .filter(|(_, r)| r.channels.iter().any(|id| c.id == **id))
                    .map(|(a, _)| {
                        serde_json::to_value(a).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
                    })
                    .collect(),
            })
            .collect())
    }

    /// Sends a test message through channel `id` now.
    pub async fn test_channel(
        &self,
        principal: &Principal,
        id: &ChannelId,
    ) -> Result<std::result::Result<Option<u16>, String>> {
        principal.require(Perm::TestChannels)?;
        if self.alerting.channel(id.as_str()).is_none() {
            return Err(AppError::NotFound { entity: "channel", key: id.to_string() });
        }
        let outcome = super::dispatch::send_test(self, id.as_str(), self.clock.now()).await;
        let (result, details) = match &outcome {
            Ok(status) => (Outcome::Success, json!({ "status": status })),
            Err(e) => (Outcome::Failure, json!({ "error": e })),
        };
        self.audit()
            .record(&principal.actor(), "channel.test", None, &format!("channel:{id}"), result, details)
            .await?;
        Ok(outcome)
    }
}

/// A silence's problem in German (the rules of `leitstand_alerting::silence`;
/// a matcher's syntax error keeps its technical detail).
fn silence_reason_de(reason: &str) -> String {
    match reason {
        "at least one matcher is required" => "mindestens ein Matcher ist nötig".into(),
        "must be after starts_at" => "muss nach dem Beginn liegen".into(),
        "a silence lasts at most one year" => "eine Stummschaltung dauert höchstens ein Jahr".into(),
        "in the past" => "liegt in der Vergangenheit".into(),
        "would silence every alert: at least one matcher must require a non-empty value" => {
            "würde jeden Alarm stummschalten: mindestens ein Matcher muss einen nicht leeren Wert verlangen".into()
        }
        "required" => "muss angegeben werden".into(),
        other => format!("ungültig ({other})"),
    }
}
