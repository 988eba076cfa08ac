-- Sign-in through an external identity provider (OpenID Connect).

-- issuer + subject of accounts managed by the identity provider.
ALTER TABLE users ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX users_external_id ON users (external_id);

-- Authorisation requests in flight: state, nonce and PKCE verifier, taken
-- exactly once by the callback.
CREATE TABLE oidc_logins (
    state          TEXT    PRIMARY KEY,
    nonce          TEXT    NOT NULL,
    pkce_verifier  TEXT    NOT NULL,
    next_path      TEXT    NOT NULL,
    created_at     BIGINT  NOT NULL
);
