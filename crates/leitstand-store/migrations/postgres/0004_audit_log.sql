-- The audit log's query index: a projection of the journal (which stays the
-- record of truth, checked against the public log). Events are stored
-- pseudonymised; the salt lets an auditor check an event against its entry.
CREATE TABLE audit_log_events (
    idx             BIGINT  PRIMARY KEY NOT NULL,
    logged_at       BIGINT  NOT NULL,
    at              BIGINT  NOT NULL,
    actor           TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    tenant          TEXT,
    object          TEXT,
    outcome         TEXT    NOT NULL,
    retention       TEXT    NOT NULL,
    correlation_id  TEXT,
    event           TEXT    NOT NULL,
    salt            BYTEA   NOT NULL
);
CREATE INDEX audit_log_events_at ON audit_log_events (at);
CREATE INDEX audit_log_events_actor ON audit_log_events (actor, idx);
CREATE INDEX audit_log_events_action ON audit_log_events (action, idx);
CREATE INDEX audit_log_events_tenant ON audit_log_events (tenant, idx);
CREATE INDEX audit_log_events_object ON audit_log_events (object, idx);
CREATE INDEX audit_log_events_retention ON audit_log_events (retention, logged_at);

-- Positions of readers of the journal (the index, the SIEM forwarder).
CREATE TABLE audit_cursors (
    name      TEXT    PRIMARY KEY NOT NULL,
    position  BIGINT  NOT NULL
);

-- Events recorded while another process holds the log (a CLI command while
-- the server runs), already pseudonymised; the server appends and removes them.
CREATE TABLE audit_outbox (
    id          BIGSERIAL PRIMARY KEY,
    retention   TEXT    NOT NULL,
    event       TEXT    NOT NULL
);
