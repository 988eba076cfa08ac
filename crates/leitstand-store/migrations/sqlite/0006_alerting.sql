-- Alerting: alert episodes with their history, the notification outbox with
-- its delivery log, silences, on-call overrides, and the inbox of alerts
-- received by a replica that does not run the engine. Labels, annotations,
-- matchers, recipients and payloads are JSON text: the store does not know
-- the alerting types.

-- One row per alert episode (id = UUID v7); the engine's state, written
-- only by the holder of the engine lease.
CREATE TABLE alerts (
    id              BLOB     PRIMARY KEY NOT NULL,
    fingerprint     TEXT     NOT NULL,
    tenant_id       BLOB     REFERENCES tenants (id) ON DELETE CASCADE,
    source          TEXT     NOT NULL,
    labels          TEXT     NOT NULL,
    annotations     TEXT     NOT NULL,
    generator_url   TEXT,
    alertname       TEXT     NOT NULL,
    severity        TEXT     NOT NULL,
    service         TEXT,
    group_key       TEXT     NOT NULL,
    status          TEXT     NOT NULL,
    starts_at       BIGINT   NOT NULL,
    ends_at         BIGINT,
    resolved_at     BIGINT,
    last_seen_at    BIGINT   NOT NULL,
    level           SMALLINT NOT NULL,
    level_since     BIGINT   NOT NULL,
    acked_by        TEXT,
    acked_at        BIGINT,
    suppressed      TEXT,
    notified_level  SMALLINT NOT NULL,
    next_step_at    BIGINT,
    updated_at      BIGINT   NOT NULL
);
CREATE INDEX alerts_fingerprint ON alerts (fingerprint, starts_at);
CREATE INDEX alerts_status ON alerts (status);
CREATE INDEX alerts_tenant ON alerts (tenant_id, starts_at);

-- What happened to an episode, in order (`id` breaks ties of `at`).
CREATE TABLE alert_history (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id  BLOB    NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    at        BIGINT  NOT NULL,
    kind      TEXT    NOT NULL,
    actor     TEXT    NOT NULL,
    detail    TEXT    NOT NULL
);
CREATE INDEX alert_history_alert ON alert_history (alert_id, id);

-- The outbox: one row per message to send. A dispatcher claims due rows
-- (status 'sending', claimed_by, claimed_until) and records the outcome;
-- a claim whose claimed_until passed belongs to a crashed sender.
CREATE TABLE notifications (
    id             BLOB     PRIMARY KEY NOT NULL,
    alert_id       BLOB     NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    group_key      TEXT     NOT NULL,
    channel        TEXT     NOT NULL,
    kind           TEXT     NOT NULL,
    level          SMALLINT NOT NULL,
    recipients     TEXT     NOT NULL,
    payload        TEXT     NOT NULL,
    status         TEXT     NOT NULL,
    attempts       INTEGER  NOT NULL,
    not_before     BIGINT   NOT NULL,
    created_at     BIGINT   NOT NULL,
    delivered_at   BIGINT,
    last_error     TEXT,
    fallback_of    BLOB,
    claimed_by     TEXT,
    claimed_until  BIGINT
);
CREATE INDEX notifications_due ON notifications (status, not_before);
CREATE INDEX notifications_alert ON notifications (alert_id);

-- The delivery log: every attempt to send a notification.
CREATE TABLE notification_attempts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id  BLOB    NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    at               BIGINT  NOT NULL,
    ok               BOOLEAN NOT NULL,
    status_code      INTEGER,
    error            TEXT,
    duration_ms      BIGINT  NOT NULL
);
CREATE INDEX notification_attempts_notification ON notification_attempts (notification_id);

CREATE TABLE silences (
    id          BLOB    PRIMARY KEY NOT NULL,
    tenant_id   BLOB    REFERENCES tenants (id) ON DELETE CASCADE,
    matchers    TEXT    NOT NULL,
    starts_at   BIGINT  NOT NULL,
    ends_at     BIGINT  NOT NULL,
    created_by  TEXT    NOT NULL,
    comment     TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    expired_at  BIGINT
);

-- Who is on call instead of the schedule's person, for a period.
CREATE TABLE oncall_overrides (
    id          BLOB    PRIMARY KEY NOT NULL,
    schedule    TEXT    NOT NULL,
    person      TEXT    NOT NULL,
    starts_at   BIGINT  NOT NULL,
    ends_at     BIGINT  NOT NULL,
    reason      TEXT    NOT NULL,
    created_by  TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    deleted_at  BIGINT
);
CREATE INDEX oncall_overrides_schedule ON oncall_overrides (schedule, starts_at);

-- Alerts received by a replica that does not run the engine, as received;
-- the engine takes them in order and deletes them with its batch.
CREATE TABLE alert_inbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at  BIGINT  NOT NULL,
    source       TEXT    NOT NULL,
    body         TEXT    NOT NULL
);
