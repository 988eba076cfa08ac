//! Incidents in the store: the record with the facts its clocks are
//! computed from, the affected tenants, the alerts it gathers, the
//! append-only timeline, the DORA classifications, the reports submitted
//! and the reminder steps sent.
//!
//! The rows are plain (enums as text, JSON as text): `leitstand-app` maps
//! them to the incident types. A change of the record and the timeline
//! entries that say why are written in one transaction, and only if nobody
//! changed the record in between (`updated_at` as the version), so two
//! people editing at once cannot lose each other's change silently.

use std::collections::HashMap;
use std::future::Future;

use jiff::Timestamp;
use uuid::Uuid;

use crate::{Result, Store, StoreError, from_db, on_pool, to_db};

/// An incident as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRow {
    /// Stable id (UUID v7).
    pub id: Uuid,
    /// Running number shown to people (`INC-42`).
    pub number: i64,
    /// Title.
    pub title: String,
    /// `SEV-1` … `SEV-4`.
    pub severity: String,
    /// Phase key (`detection`, …).
    pub phase: String,
    /// `open`, `resolved`, `closed`.
    pub status: String,
    /// Who opened it (the audit actor).
    pub opened_by: String,
    /// `hand`, `alert`, `escalation` or `rule`.
    pub opened_via: String,
    /// First signal.
    pub detected_at: Timestamp,
    /// Awareness that it is an incident.
    pub aware_at: Option<Timestamp>,
    /// Classified as major.
    pub classified_at: Option<Timestamp>,
    /// First response by a person.
    pub first_response_at: Option<Timestamp>,
    /// Resolved.
    pub resolved_at: Option<Timestamp>,
    /// Closed.
    pub closed_at: Option<Timestamp>,
    /// Incident commander (user name).
    pub commander: Option<String>,
    /// Communication lead (user name).
    pub communication: Option<String>,
    /// Scribe (user name).
    pub scribe: Option<String>,
    /// Affected services.
    pub services: Vec<String>,
    /// Root cause, as written.
    pub root_cause: Option<String>,
    /// Root-cause category (for recurring incidents).
    pub root_cause_category: Option<String>,
    /// Impact, as written.
    pub impact: Option<String>,
    /// Personal data affected (GDPR Art. 33).
    pub personal_data_breach: bool,
    /// Significant under NIS2 (§ 32 BSIG).
    pub nis2_significant: bool,
    /// The latest DORA classification's result, if classified.
    pub dora_major: Option<bool>,
    /// Affected tenants.
    pub tenants: Vec<Uuid>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed (the version for [`IncidentRepository::save_incident`]).
    pub updated_at: Timestamp,
}

/// What is needed to open an incident.
#[derive(Debug, Clone)]
pub struct NewIncident {
    /// Id to assign.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// Severity key.
    pub severity: String,
    /// Phase key.
    pub phase: String,
    /// Who opens it.
    pub opened_by: String,
    /// How.
    pub opened_via: String,
    /// First signal.
    pub detected_at: Timestamp,
    /// Awareness.
    pub aware_at: Option<Timestamp>,
    /// Affected services.
    pub services: Vec<String>,
    /// Affected tenants.
    pub tenants: Vec<Uuid>,
    /// Personal data affected.
    pub personal_data_breach: bool,
}

/// One timeline entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineRow {
    /// Order within the store (ties of `at` keep their order).
    pub id: i64,
    /// The incident.
    pub incident_id: Uuid,
    /// When it happened (to the second).
    pub at: Timestamp,
    /// Who (audit actor form).
    pub author: String,
    /// Kind key.
    pub kind: String,
    /// What, in words.
    pub text: String,
    /// Details as JSON.
    pub detail: String,
    /// Internal notes are not shown to tenant viewers.
    pub internal: bool,
    /// The entry this one corrects.
    pub corrects: Option<i64>,
}

/// A timeline entry to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTimelineEntry {
    /// When it happened.
    pub at: Timestamp,
    /// Who.
    pub author: String,
    /// Kind key.
    pub kind: String,
    /// What, in words.
    pub text: String,
    /// Details as JSON.
    pub detail: String,
    /// Internal only.
    pub internal: bool,
    /// The entry it corrects.
    pub corrects: Option<i64>,
}

/// A DORA classification as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassificationRow {
    /// Id.
    pub id: Uuid,
    /// The incident.
    pub incident_id: Uuid,
    /// When.
    pub at: Timestamp,
    /// Who classified.
    pub author: String,
    /// The answers as JSON.
    pub answers: String,
    /// The result with every criterion as JSON.
    pub result: String,
    /// Major or not.
    pub major: bool,
}

/// A report submitted to an authority, frozen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    /// Id.
    pub id: Uuid,
    /// The incident.
    pub incident_id: Uuid,
    /// The tenant that reports (`None`: the platform operator itself).
    pub tenant_id: Option<Uuid>,
    /// Report kind key (`dora_initial`, …).
    pub kind: String,
    /// To whom.
    pub authority: String,
    /// When it was submitted.
    pub submitted_at: Timestamp,
    /// Who submitted it.
    pub submitted_by: String,
    /// The authority's reference number.
    pub reference: Option<String>,
    /// What was sent, as JSON.
    pub content: String,
    /// SHA-256 of `content`, hex.
    pub sha256: String,
}

/// Which incidents to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    /// Only this status.
    pub status: Option<String>,
    /// Only this severity.
    pub severity: Option<String>,
    /// Only incidents affecting this tenant.
    pub tenant: Option<Uuid>,
    /// The caller's scope: only incidents affecting one of these tenants.
    pub only: Option<Vec<Uuid>>,
    /// Only numbers below this (paging).
    pub before: Option<i64>,
    /// At most this many (capped at 1,000).
    pub limit: usize,
}

/// Incidents in the store.
pub trait IncidentRepository {
    /// Opens an incident with its first timeline entries; the number is the
    /// next free one.
    fn create_incident(
        &self,
        new: NewIncident,
        entries: Vec<NewTimelineEntry>,
        now: Timestamp,
    ) -> impl Future<Output = Result<IncidentRow>> + Send;
    /// The incident with `id`.
    fn incident(&self, id: Uuid) -> impl Future<Output = Result<Option<IncidentRow>>> + Send;
    /// The incident with running number `number`.
    fn incident_by_number(&self, number: i64) -> impl Future<Output = Result<Option<IncidentRow>>> + Send;
    /// Incidents by the filter, newest first.
    fn incidents(&self, filter: &IncidentFilter) -> impl Future<Output = Result<Vec<IncidentRow>>> + Send;
    /// Every incident not closed (for the clocks).
    fn unclosed_incidents(&self) -> impl Future<Output = Result<Vec<IncidentRow>>> + Send;
    /// Writes the changed record and the entries that say why, if the
    /// stored record still has `row.updated_at`; otherwise
    /// [`StoreError::Conflict`] and nothing is written.
    fn save_incident(
        &self,
        row: &IncidentRow,
        entries: Vec<NewTimelineEntry>,
        now: Timestamp,
    ) -> impl Future<Output = Result<IncidentRow>> + Send;
    /// Appends entries without changing the record.
    fn append_timeline(
        &self,
        incident: Uuid,
        entries: Vec<NewTimelineEntry>,
    ) -> impl Future<Output = Result<Vec<TimelineRow>>> + Send;
    /// Timeline entries after `after` (an entry id), oldest first, at most
    /// `limit`; internal ones only with `internal`.
    fn timeline(
        &self,
        incident: Uuid,
        after: Option<i64>,
        limit: usize,
        internal: bool,
    ) -> impl Future<Output = Result<Vec<TimelineRow>>> + Send;
    /// Links an alert episode to an incident; false when it belongs to one
    /// already.
    fn link_alert(
        &self,
        incident: Uuid,
        alert: Uuid,
        fingerprint: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// The alert episodes of an incident with their fingerprints.
    fn incident_alerts(&self, incident: Uuid) -> impl Future<Output = Result<Vec<(Uuid, String)>>> + Send;
    /// The incident not yet closed that gathers alerts of `fingerprint`.
    fn unclosed_incident_for(&self, fingerprint: &str) -> impl Future<Output = Result<Option<Uuid>>> + Send;
    /// The fingerprints of alerts gathered by incidents not yet closed.
    fn unclosed_incident_fingerprints(&self) -> impl Future<Output = Result<std::collections::HashSet<String>>> + Send;
    /// Records a classification.
    fn add_classification(&self, row: ClassificationRow) -> impl Future<Output = Result<()>> + Send;
    /// The classifications of an incident, oldest first.
    fn classifications(&self, incident: Uuid) -> impl Future<Output = Result<Vec<ClassificationRow>>> + Send;
    /// Records a submitted report.
    fn add_report(&self, row: ReportRow) -> impl Future<Output = Result<()>> + Send;
    /// The reports of an incident, oldest first.
    fn reports(&self, incident: Uuid) -> impl Future<Output = Result<Vec<ReportRow>>> + Send;
    /// Marks a reminder step sent; false when it was sent before (by this
    /// or another process).
    fn mark_reminder(
        &self,
        incident: Uuid,
        clock: &str,
        step: i16,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// The reminder steps sent for an incident.
    fn reminders(&self, incident: Uuid) -> impl Future<Output = Result<Vec<(String, i16)>>> + Send;
}

const COLUMNS: &str = "id, number, title, severity, phase, status, opened_by, opened_via, detected_at, aware_at, \
    classified_at, first_response_at, resolved_at, closed_at, commander, communication, scribe, services, \
    root_cause, root_cause_category, impact, personal_data_breach, nis2_significant, dora_major, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    number: i64,
    title: String,
    severity: String,
    phase: String,
    status: String,
    opened_by: String,
    opened_via: String,
    detected_at: i64,
    aware_at: Option<i64>,
    classified_at: Option<i64>,
    first_response_at: Option<i64>,
    resolved_at: Option<i64>,
    closed_at: Option<i64>,
    commander: Option<String>,
    communication: Option<String>,
    scribe: Option<String>,
    services: String,
    root_cause: Option<String>,
    root_cause_category: Option<String>,
    impact: Option<String>,
    personal_data_breach: bool,
    nis2_significant: bool,
    dora_major: Option<bool>,
    created_at: i64,
    updated_at: i64,
}

impl Row {
    fn into_row(self, tenants: Vec<Uuid>) -> Result<IncidentRow> {
        let services: Vec<String> = serde_json::from_str(&self.services)
            .map_err(|e| StoreError::Corrupt { entity: "incident", reason: format!("services: {e}") })?;
        Ok(IncidentRow {
            id: self.id,
            number: self.number,
            title: self.title,
            severity: self.severity,
            phase: self.phase,
            status: self.status,
            opened_by: self.opened_by,
            opened_via: self.opened_via,
            detected_at: from_db(self.detected_at),
            aware_at: self.aware_at.map(from_db),
            classified_at: self.classified_at.map(from_db),
            first_response_at: self.first_response_at.map(from_db),
            resolved_at: self.resolved_at.map(from_db),
            closed_at: self.closed_at.map(from_db),
            commander: self.commander,
            communication: self.communication,
            scribe: self.scribe,
            services,
            root_cause: self.root_cause,
            root_cause_category: self.root_cause_category,
            impact: self.impact,
            personal_data_breach: self.personal_data_breach,
            nis2_significant: self.nis2_significant,
            dora_major: self.dora_major,
            tenants,
            created_at: from_db(self.created_at),
            updated_at: from_db(self.updated_at),
        })
    }
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    id: i64,
    incident_id: Uuid,
    at: i64,
    author: String,
    kind: String,
    text: String,
    detail: String,
    internal: bool,
    corrects: Option<i64>,
}

impl From<EntryRow> for TimelineRow {
    fn from(r: EntryRow) -> Self {
        TimelineRow {
            id: r.id,
            incident_id: r.incident_id,
            at: from_db(r.at),
            author: r.author,
            kind: r.kind,
            text: r.text,
            detail: r.detail,
            internal: r.internal,
            corrects: r.corrects,
        }
    }
}

#[derive(sqlx::FromRow)]
struct ClassRow {
    id: Uuid,
    incident_id: Uuid,
    at: i64,
    author: String,
    answers: String,
    result: String,
    major: bool,
}

#[derive(sqlx::FromRow)]
struct RepRow {
    id: Uuid,
    incident_id: Uuid,
    tenant_id: Option<Uuid>,
    kind: String,
    authority: String,
    submitted_at: i64,
    submitted_by: String,
    reference: Option<String>,
    content: String,
    sha256: String,
}

/// Inserts `entries` for `incident` inside an open transaction.
macro_rules! insert_entries {
    ($tx:expr, $incident:expr, $entries:expr) => {{
        let mut written = Vec::with_capacity($entries.len());
        for e in $entries {
            let row: EntryRow = sqlx::query_as(
                "INSERT INTO incident_timeline (incident_id, at, author, kind, text, detail, internal, corrects) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 RETURNING id, incident_id, at, author, kind, text, detail, internal, corrects",
            )
            .bind($incident)
            .bind(to_db(e.at))
            .bind(&e.author)
            .bind(&e.kind)
            .bind(&e.text)
            .bind(&e.detail)
            .bind(e.internal)
            .bind(e.corrects)
            .fetch_one(&mut *$tx)
            .await?;
            written.push(TimelineRow::from(row));
        }
        written
    }};
}

impl Store {
    async fn with_tenants(&self, rows: Vec<Row>) -> Result<Vec<IncidentRow>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (1..=rows.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT incident_id, tenant_id FROM incident_tenants WHERE incident_id IN ({}) ORDER BY tenant_id",
            marks.join(", ")
        );
        let pairs: Vec<(Uuid, Uuid)> = on_pool!(self, |pool| {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for row in &rows {
                query = query.bind(row.id);
            }
            query.fetch_all(pool).await?
        });
        let mut by_incident: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for (incident, tenant) in pairs {
            by_incident.entry(incident).or_default().push(tenant);
        }
        rows.into_iter()
            .map(|r| {
                let tenants = by_incident.remove(&r.id).unwrap_or_default();
                r.into_row(tenants)
            })
            .collect()
    }

    async fn one(&self, sql: &str, key: i64, id: Option<Uuid>) -> Result<Option<IncidentRow>> {
        let row: Option<Row> = on_pool!(self, |pool| {
            let query = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()));
            let query = match id {
                Some(id) => query.bind(id),
                None => query.bind(key),
            };
            query.fetch_optional(pool).await?
        });
        Ok(self.with_tenants(row.into_iter().collect()).await?.pop())
    }
}

fn services_json(services: &[String]) -> String {
    serde_json::to_string(services).unwrap_or_else(|_| "[]".into())
}

impl IncidentRepository for Store {
    async fn create_incident(
        &self,
        new: NewIncident,
        entries: Vec<NewTimelineEntry>,
        now: Timestamp,
    ) -> Result<IncidentRow> {
        self.timed_write("incident.create", async {
            // Two replicas opening at once may pick the same number: the
            // loser tries the next one.
            for _ in 0..5 {
                let inserted: Result<()> = on_pool!(self, |pool| {
                    let mut tx = pool.begin().await?;
                    let number: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(number), 0) + 1 FROM incidents")
                        .fetch_one(&mut *tx)
                        .await?;
                    let done = sqlx::query(
                        "INSERT INTO incidents (id, number, title, severity, phase, status, opened_by, opened_via, \
                         detected_at, aware_at, services, personal_data_breach, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8, $9, $10, $11, $12, $12)",
                    )
                    .bind(new.id)
                    .bind(number)
                    .bind(&new.title)
                    .bind(&new.severity)
                    .bind(&new.phase)
                    .bind(&new.opened_by)
                    .bind(&new.opened_via)
                    .bind(to_db(new.detected_at))
                    .bind(new.aware_at.map(to_db))
                    .bind(services_json(&new.services))
                    .bind(new.personal_data_breach)
                    .bind(to_db(now))
                    .execute(&mut *tx)
                    .await;
                    match done {
                        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                            Err(StoreError::Conflict { entity: "incident number", key: number.to_string() })
                        }
                        Err(e) => Err(e.into()),
                        Ok(_) => {
                            for tenant in &new.tenants {
                                sqlx::query("INSERT INTO incident_tenants (incident_id, tenant_id) VALUES ($1, $2)")
                                    .bind(new.id)
                                    .bind(tenant)
                                    .execute(&mut *tx)
                                    .await?;
                            }
                            let _ = insert_entries!(tx, new.id, &entries);
                            tx.commit().await?;
                            Ok(())
                        }
                    }
                });
                match inserted {
                    Err(StoreError::Conflict { entity: "incident number", .. }) => continue,
                    other => other?,
                }
                return self
                    .incident(new.id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound { entity: "incident", key: new.id.to_string() });
            }
            Err(StoreError::Conflict { entity: "incident number", key: "next".into() })
        })
        .await
    }

    async fn incident(&self, id: Uuid) -> Result<Option<IncidentRow>> {
        self.timed("incident.get", self.one(&format!("SELECT {COLUMNS} FROM incidents WHERE id = $1"), 0, Some(id)))
            .await
    }

    async fn incident_by_number(&self, number: i64) -> Result<Option<IncidentRow>> {
        self.timed(
            "incident.get",
            self.one(&format!("SELECT {COLUMNS} FROM incidents WHERE number = $1"), number, None),
        )
        .await
    }

    async fn incidents(&self, filter: &IncidentFilter) -> Result<Vec<IncidentRow>> {
        self.timed("incident.list", async {
            let mut clauses = Vec::new();
            let mut n = 0;
            let mut mark = || {
                n += 1;
                format!("${n}")
            };
            if filter.status.is_some() {
                clauses.push(format!("status = {}", mark()));
            }
            if filter.severity.is_some() {
                clauses.push(format!("severity = {}", mark()));
            }
            if filter.before.is_some() {
                clauses.push(format!("number < {}", mark()));
            }
            if filter.tenant.is_some() {
                clauses.push(format!(
                    "EXISTS (SELECT 1 FROM incident_tenants t WHERE t.incident_id = incidents.id AND t.tenant_id = {})",
                    mark()
                ));
            }
            if let Some(only) = &filter.only {
                if only.is_empty() {
                    clauses.push("1 = 0".into());
                } else {
                    let marks: Vec<String> = only.iter().map(|_| mark()).collect();
                    clauses.push(format!(
                        "EXISTS (SELECT 1 FROM incident_tenants t WHERE t.incident_id = incidents.id \
                         AND t.tenant_id IN ({}))",
                        marks.join(", ")
                    ));
                }
            }
            let limit = filter.limit.clamp(1, 1000);
            let sql = format!(
                "SELECT {COLUMNS} FROM incidents {} ORDER BY number DESC LIMIT {limit}",
                if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) }
            );
            let rows: Vec<Row> = on_pool!(self, |pool| {
                let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                if let Some(s) = &filter.status {
                    query = query.bind(s);
                }
                if let Some(s) = &filter.severity {
                    query = query.bind(s);
                }
                if let Some(b) = filter.before {
                    query = query.bind(b);
                }
                if let Some(t) = filter.tenant {
                    query = query.bind(t);
                }
                for t in filter.only.iter().flatten() {
                    query = query.bind(*t);
                }
                query.fetch_all(pool).await?
            });
            self.with_tenants(rows).await
        })
        .await
    }

    async fn unclosed_incidents(&self) -> Result<Vec<IncidentRow>> {
        self.timed("incident.unclosed", async {
            let sql = format!("SELECT {COLUMNS} FROM incidents WHERE status <> 'closed' ORDER BY number");
            let rows: Vec<Row> =
                on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).fetch_all(pool).await?);
            self.with_tenants(rows).await
        })
        .await
    }

    async fn save_incident(
        &self,
        row: &IncidentRow,
        entries: Vec<NewTimelineEntry>,
        now: Timestamp,
    ) -> Result<IncidentRow> {
        self.timed_write("incident.save", async {
            // The version moves even when two saves fall in one microsecond.
            let version = to_db(now).max(to_db(row.updated_at) + 1);
            let saved: bool = on_pool!(self, |pool| {
                let mut tx = pool.begin().await?;
                let changed = sqlx::query(
                    "UPDATE incidents SET title = $3, severity = $4, phase = $5, status = $6, aware_at = $7, \
                     classified_at = $8, first_response_at = $9, resolved_at = $10, closed_at = $11, \
                     commander = $12, communication = $13, scribe = $14, services = $15, root_cause = $16, \
                     root_cause_category = $17, impact = $18, personal_data_breach = $19, dora_major = $20, \
                     detected_at = $21, updated_at = $22, nis2_significant = $23 \
                     WHERE id = $1 AND updated_at = $2",
                )
                .bind(row.id)
                .bind(to_db(row.updated_at))
                .bind(&row.title)
                .bind(&row.severity)
                .bind(&row.phase)
                .bind(&row.status)
                .bind(row.aware_at.map(to_db))
                .bind(row.classified_at.map(to_db))
                .bind(row.first_response_at.map(to_db))
                .bind(row.resolved_at.map(to_db))
                .bind(row.closed_at.map(to_db))
                .bind(&row.commander)
                .bind(&row.communication)
                .bind(&row.scribe)
                .bind(services_json(&row.services))
                .bind(&row.root_cause)
                .bind(&row.root_cause_category)
                .bind(&row.impact)
                .bind(row.personal_data_breach)
                .bind(row.dora_major)
                .bind(to_db(row.detected_at))
                .bind(version)
                .bind(row.nis2_significant)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if changed == 1 {
                    sqlx::query("DELETE FROM incident_tenants WHERE incident_id = $1")
                        .bind(row.id)
                        .execute(&mut *tx)
                        .await?;
                    for tenant in &row.tenants {
                        sqlx::query("INSERT INTO incident_tenants (incident_id, tenant_id) VALUES ($1, $2)")
                            .bind(row.id)
                            .bind(tenant)
                            .execute(&mut *tx)
                            .await?;
                    }
                    let _ = insert_entries!(tx, row.id, &entries);
                    tx.commit().await?;
                    true
                } else {
                    tx.rollback().await?;
                    false
                }
            });
            if !saved {
                return Err(StoreError::Conflict { entity: "incident version", key: row.number.to_string() });
            }
            self.incident(row.id)
                .await?
                .ok_or_else(|| StoreError::NotFound { entity: "incident", key: row.id.to_string() })
        })
        .await
    }

    async fn append_timeline(&self, incident: Uuid, entries: Vec<NewTimelineEntry>) -> Result<Vec<TimelineRow>> {
        self.timed_write("incident.timeline.append", async {
            Ok(on_pool!(self, |pool| {
                let mut tx = pool.begin().await?;
                let written = insert_entries!(tx, incident, &entries);
                tx.commit().await?;
                written
            }))
        })
        .await
    }

    async fn timeline(
        &self,
        incident: Uuid,
        after: Option<i64>,
        limit: usize,
        internal: bool,
    ) -> Result<Vec<TimelineRow>> {
        self.timed("incident.timeline", async {
            let sql = format!(
                "SELECT id, incident_id, at, author, kind, text, detail, internal, corrects FROM incident_timeline \
                 WHERE incident_id = $1 AND id > $2 {} ORDER BY id LIMIT {}",
                if internal { "" } else { "AND NOT internal" },
                limit.clamp(1, 10_000)
            );
            let rows: Vec<EntryRow> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(incident)
                .bind(after.unwrap_or(0))
                .fetch_all(pool)
                .await?);
            Ok(rows.into_iter().map(TimelineRow::from).collect())
        })
        .await
    }

    async fn link_alert(&self, incident: Uuid, alert: Uuid, fingerprint: &str, now: Timestamp) -> Result<bool> {
        self.timed_write("incident.link_alert", async {
            let n = on_pool!(self, |pool| {
                sqlx::query(
                "INSERT INTO incident_alerts (alert_id, incident_id, fingerprint, linked_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (alert_id) DO NOTHING"
            )
            .bind(alert)
            .bind(incident)
            .bind(fingerprint)
            .bind(to_db(now))
            .execute(pool)
            .await?
            .rows_affected()
            });
            Ok(n == 1)
        })
        .await
    }

    async fn incident_alerts(&self, incident: Uuid) -> Result<Vec<(Uuid, String)>> {
        self.timed("incident.alerts", async {
            Ok(on_pool!(self, |pool| sqlx::query_as(
                "SELECT alert_id, fingerprint FROM incident_alerts WHERE incident_id = $1 ORDER BY linked_at, alert_id"
            )
            .bind(incident)
            .fetch_all(pool)
            .await?))
        })
        .await
    }

    async fn unclosed_incident_for(&self, fingerprint: &str) -> Result<Option<Uuid>> {
        self.timed("incident.for_fingerprint", async {
            Ok(on_pool!(self, |pool| sqlx::query_scalar(
                "SELECT i.id FROM incident_alerts a JOIN incidents i ON i.id = a.incident_id \
                 WHERE a.fingerprint = $1 AND i.status <> 'closed' ORDER BY i.number DESC LIMIT 1"
            )
            .bind(fingerprint)
            .fetch_optional(pool)
            .await?))
        })
        .await
    }

    async fn unclosed_incident_fingerprints(&self) -> Result<std::collections::HashSet<String>> {
        self.timed("incident.fingerprints", async {
            let rows: Vec<String> = on_pool!(self, |pool| sqlx::query_scalar(
                "SELECT DISTINCT a.fingerprint FROM incident_alerts a JOIN incidents i ON i.id = a.incident_id \
                 WHERE i.status <> 'closed'"
            )
            .fetch_all(pool)
            .await?);
            Ok(rows.into_iter().collect())
        })
        .await
    }

    async fn add_classification(&self, row: ClassificationRow) -> Result<()> {
        self.timed_write("incident.classify", async {
            on_pool!(self, |pool| sqlx::query(
                "INSERT INTO incident_classifications (id, incident_id, at, author, answers, result, major) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)"
            )
            .bind(row.id)
            .bind(row.incident_id)
            .bind(to_db(row.at))
            .bind(&row.author)
            .bind(&row.answers)
            .bind(&row.result)
            .bind(row.major)
            .execute(pool)
            .await
            .map(|_| ())?);
            Ok(())
        })
        .await
    }

    async fn classifications(&self, incident: Uuid) -> Result<Vec<ClassificationRow>> {
        self.timed("incident.classifications", async {
            let rows: Vec<ClassRow> = on_pool!(self, |pool| sqlx::query_as(
                "SELECT id, incident_id, at, author, answers, result, major FROM incident_classifications \
                 WHERE incident_id = $1 ORDER BY at, id"
            )
            .bind(incident)
            .fetch_all(pool)
            .await?);
            Ok(rows
                .into_iter()
                .map(|r| ClassificationRow {
                    id: r.id,
                    incident_id: r.incident_id,
                    at: from_db(r.at),
                    author: r.author,
                    answers: r.answers,
                    result: r.result,
                    major: r.major,
                })
                .collect())
        })
        .await
    }

    async fn add_report(&self, row: ReportRow) -> Result<()> {
        self.timed_write("incident.report", async {
            on_pool!(self, |pool| sqlx::query(
                "INSERT INTO incident_reports (id, incident_id, kind, authority, submitted_at, submitted_by, \
                 reference, content, sha256, tenant_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            )
            .bind(row.id)
            .bind(row.incident_id)
            .bind(&row.kind)
            .bind(&row.authority)
            .bind(to_db(row.submitted_at))
            .bind(&row.submitted_by)
            .bind(&row.reference)
            .bind(&row.content)
            .bind(&row.sha256)
            .bind(row.tenant_id)
            .execute(pool)
            .await
            .map(|_| ())?);
            Ok(())
        })
        .await
    }

    async fn reports(&self, incident: Uuid) -> Result<Vec<ReportRow>> {
        self.timed("incident.reports", async {
            let rows: Vec<RepRow> = on_pool!(self, |pool| sqlx::query_as(
                "SELECT id, incident_id, tenant_id, kind, authority, submitted_at, submitted_by, reference, content, sha256 \
                 FROM incident_reports WHERE incident_id = $1 ORDER BY submitted_at, id"
            )
            .bind(incident)
            .fetch_all(pool)
            .await?);
            Ok(rows
                .into_iter()
                .map(|r| ReportRow {
                    id: r.id,
                    incident_id: r.incident_id,
                    tenant_id: r.tenant_id,
                    kind: r.kind,
                    authority: r.authority,
                    submitted_at: from_db(r.submitted_at),
                    submitted_by: r.submitted_by,
                    reference: r.reference,
                    content: r.content,
                    sha256: r.sha256,
                })
                .collect())
        })
        .await
    }

    async fn mark_reminder(&self, incident: Uuid, clock: &str, step: i16, now: Timestamp) -> Result<bool> {
        self.timed_write("incident.reminder", async {
            let n = on_pool!(self, |pool| sqlx::query(
                "INSERT INTO incident_reminders (incident_id, clock, step, sent_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (incident_id, clock, step) DO NOTHING"
            )
            .bind(incident)
            .bind(clock)
            .bind(step)
            .bind(to_db(now))
            .execute(pool)
            .await?
            .rows_affected());
            Ok(n == 1)
        })
        .await
    }

    async fn reminders(&self, incident: Uuid) -> Result<Vec<(String, i16)>> {
        self.timed("incident.reminders", async {
            Ok(on_pool!(self, |pool| sqlx::query_as(
                "SELECT clock, step FROM incident_reminders WHERE incident_id = $1 ORDER BY clock, step"
            )
            .bind(incident)
            .fetch_all(pool)
            .await?))
        })
        .await
    }
}
