-- Incidents: the record with its clocks' facts, the tenants it affects and
-- the alerts it gathers, the append-only timeline, every DORA
-- classification with its answers, the reports submitted to authorities
-- (frozen, with their hash; per reporting tenant) and the reminder steps already sent. Enums
-- are text; the store does not know the incident types.

CREATE TABLE incidents (
    id                   UUID     PRIMARY KEY,
    number               BIGINT   NOT NULL UNIQUE,
    title                TEXT     NOT NULL,
    severity             TEXT     NOT NULL,
    phase                TEXT     NOT NULL,
    status               TEXT     NOT NULL,
    opened_by            TEXT     NOT NULL,
    opened_via           TEXT     NOT NULL,
    detected_at          BIGINT   NOT NULL,
    aware_at             BIGINT,
    classified_at        BIGINT,
    first_response_at    BIGINT,
    resolved_at          BIGINT,
    closed_at            BIGINT,
    commander            TEXT,
    communication        TEXT,
    scribe               TEXT,
    services             TEXT     NOT NULL,
    root_cause           TEXT,
    root_cause_category  TEXT,
    impact               TEXT,
    personal_data_breach BOOLEAN  NOT NULL,
    nis2_significant     BOOLEAN  NOT NULL DEFAULT FALSE,
    dora_major           BOOLEAN,
    created_at           BIGINT   NOT NULL,
    updated_at           BIGINT   NOT NULL
);
CREATE INDEX incidents_status ON incidents (status, detected_at);
CREATE INDEX incidents_detected ON incidents (detected_at);

CREATE TABLE incident_tenants (
    incident_id UUID NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    tenant_id   UUID NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    PRIMARY KEY (incident_id, tenant_id)
);
CREATE INDEX incident_tenants_tenant ON incident_tenants (tenant_id, incident_id);

-- An alert episode belongs to at most one incident.
CREATE TABLE incident_alerts (
    alert_id    UUID   PRIMARY KEY REFERENCES alerts (id) ON DELETE CASCADE,
    incident_id UUID   NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    fingerprint TEXT   NOT NULL,
    linked_at   BIGINT NOT NULL
);
CREATE INDEX incident_alerts_incident ON incident_alerts (incident_id);
CREATE INDEX incident_alerts_fingerprint ON incident_alerts (fingerprint);

-- Never updated: a correction is a new entry naming the one it corrects.
CREATE TABLE incident_timeline (
    id          BIGSERIAL PRIMARY KEY,
    incident_id UUID    NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    at          BIGINT  NOT NULL,
    author      TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    text        TEXT    NOT NULL,
    detail      TEXT    NOT NULL,
    internal    BOOLEAN NOT NULL,
    corrects    BIGINT  REFERENCES incident_timeline (id)
);
CREATE INDEX incident_timeline_incident ON incident_timeline (incident_id, id);

CREATE TABLE incident_classifications (
    id          UUID    PRIMARY KEY,
    incident_id UUID    NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    at          BIGINT  NOT NULL,
    author      TEXT    NOT NULL,
    answers     TEXT    NOT NULL,
    result      TEXT    NOT NULL,
    major       BOOLEAN NOT NULL
);
CREATE INDEX incident_classifications_incident ON incident_classifications (incident_id, at);

CREATE TABLE incident_reports (
    id           UUID   PRIMARY KEY,
    incident_id  UUID   NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    tenant_id    UUID   REFERENCES tenants (id) ON DELETE CASCADE,
    kind         TEXT   NOT NULL,
    authority    TEXT   NOT NULL,
    submitted_at BIGINT NOT NULL,
    submitted_by TEXT   NOT NULL,
    reference    TEXT,
    content      TEXT   NOT NULL,
    sha256       TEXT   NOT NULL
);
CREATE INDEX incident_reports_incident ON incident_reports (incident_id, submitted_at);

-- One row per reminder step sent: the primary key makes "sent once" hold
-- across restarts and replicas. `clock` names the reporting party too
-- (`bank-a/dora_initial`): each affected tenant reports for itself.
CREATE TABLE incident_reminders (
    incident_id UUID     NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    clock       TEXT     NOT NULL,
    step        SMALLINT NOT NULL,
    sent_at     BIGINT   NOT NULL,
    PRIMARY KEY (incident_id, clock, step)
);
