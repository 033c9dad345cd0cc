-- Users, the refresh tokens that keep them signed in, the GitHub tokens they signed in with, and the Data
-- Protection key ring every Api instance shares (so a token one instance issues is accepted by all of them).
CREATE TABLE users (
    id          uuid        PRIMARY KEY,
    login       text        NOT NULL UNIQUE CHECK (length(login) BETWEEN 1 AND 64),
    github_id   bigint      NULL UNIQUE,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- GitHub logins are case-insensitive: "Alice" and "alice" are one person.
CREATE UNIQUE INDEX users_login_lower ON users (lower(login));

-- Opaque refresh tokens, stored only as SHA-256 hashes. Each use marks the token used and issues its successor in
-- the same family; presenting a used token again means it leaked, so the whole family is revoked.
CREATE TABLE refresh_tokens (
    id           uuid        PRIMARY KEY,
    token_hash   bytea       NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    family_id    uuid        NOT NULL,
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz NULL,
    replaced_by  uuid        NULL,
    revoked_at   timestamptz NULL
);

CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

-- The user's GitHub access token, encrypted with Data Protection (never stored in plaintext): the default git
-- credential for their workspaces.
CREATE TABLE github_tokens (
    user_id          uuid        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    protected_token  text        NOT NULL,
    scopes           text        NULL,
    updated_at       timestamptz NOT NULL
);

-- ASP.NET Core Data Protection's key ring (IXmlRepository): one XML element per key, never updated in place.
CREATE TABLE data_protection_keys (
    friendly_name  text        PRIMARY KEY,
    xml            text        NOT NULL,
    created_at     timestamptz NOT NULL
);
