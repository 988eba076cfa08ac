-- Identity: users, their tenants, sessions, API tokens, login throttling and
-- the interim audit trail (moved into the ledger later).

CREATE TABLE users (
    id                    UUID    PRIMARY KEY,
    username              TEXT    NOT NULL UNIQUE,
    display_name          TEXT    NOT NULL,
    role                  TEXT    NOT NULL,
    password_hash         TEXT,
    totp_secret           TEXT,
    locale                TEXT    NOT NULL DEFAULT 'de',
    active                BOOLEAN NOT NULL DEFAULT TRUE,
    must_change_password  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at            BIGINT  NOT NULL,
    updated_at            BIGINT  NOT NULL
);

CREATE TABLE user_tenants (
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tenant_id  UUID NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, tenant_id)
);

CREATE TABLE sessions (
    id_hash       TEXT    PRIMARY KEY,
    user_id       UUID    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token    TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    last_seen_at  BIGINT  NOT NULL,
    expires_at    BIGINT  NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id            UUID    PRIMARY KEY,
    user_id       UUID    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
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
    throttle_key      TEXT    PRIMARY KEY,
    failures          BIGINT  NOT NULL,
    first_failure_at  BIGINT  NOT NULL,
    locked_until      BIGINT  NOT NULL
);

CREATE TABLE audit_events (
    id          UUID    PRIMARY KEY,
    at          BIGINT  NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    tenant_id   UUID,
    object      TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    details     TEXT    NOT NULL
);
CREATE INDEX audit_events_at ON audit_events (at);
