-- Identity: users, their tenants, sessions, API tokens, login throttling and
-- the interim audit trail (moved into the ledger later).

CREATE TABLE users (
    id                    BLOB    PRIMARY KEY NOT NULL,
    username              TEXT    NOT NULL UNIQUE,
    display_name          TEXT    NOT NULL,
    role                  TEXT    NOT NULL,
    password_hash         TEXT,
    totp_secret           TEXT,
    locale                TEXT    NOT NULL DEFAULT 'de',
    active                BOOLEAN NOT NULL DEFAULT 1,
    must_change_password  BOOLEAN NOT NULL DEFAULT 0,
    created_at            BIGINT  NOT NULL,
    updated_at            BIGINT  NOT NULL
);

CREATE TABLE user_tenants (
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id  BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, tenant_id)
);

CREATE TABLE sessions (
    id_hash       TEXT    PRIMARY KEY NOT NULL,
    user_id       BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token    TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    last_seen_at  BIGINT  NOT NULL,
    expires_at    BIGINT  NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id            BLOB    PRIMARY KEY NOT NULL,
    user_id       BLOB    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    token_hash    TEXT    NOT NULL UNIQUE,
    scopes        TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    expires_at    BIGINT,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE login_throttle (
    throttle_key      TEXT    PRIMARY KEY NOT NULL,
    failures          BIGINT  NOT NULL,
    first_failure_at  BIGINT  NOT NULL,
    locked_until      BIGINT  NOT NULL
);

CREATE TABLE audit_events (
    id          BLOB    PRIMARY KEY NOT NULL,
    at          BIGINT  NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    tenant_id   BLOB,
    object      TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    details     TEXT    NOT NULL
);
CREATE INDEX audit_events_at ON audit_events (at);
