-- Foundation schema. Timestamps are Unix microseconds (UTC) in BIGINT
-- columns named *_at, identical on SQLite and PostgreSQL.

CREATE TABLE tenants (
    id          BLOB    PRIMARY KEY NOT NULL,
    slug        TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    active      BOOLEAN NOT NULL DEFAULT 1,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

-- Scheduler leadership among replicas: one row per lease name. `token` is a
-- fencing token that grows with every change of holder.
CREATE TABLE leases (
    name        TEXT    PRIMARY KEY NOT NULL,
    holder      TEXT    NOT NULL,
    token       BIGINT  NOT NULL,
    acquired_at BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL
);
