-- Issue 7: accounts can be disabled and locked after failed logins, and
-- refresh tokens rotate within families that can be revoked.
--
-- A family is one login: every refresh of it consumes its current token
-- and issues the next, so at most one of a family's tokens is unused. A
-- consumed token presented again means it was copied; the whole family
-- is revoked (RFC 9700 section 4.14.2).

-- +goose Up

ALTER TABLE accounts
    ADD COLUMN disabled       boolean     NOT NULL DEFAULT false,
    ADD COLUMN failed_logins  integer     NOT NULL DEFAULT 0,
    ADD COLUMN last_failed_at timestamptz,
    ADD COLUMN locked_until   timestamptz;

CREATE TABLE auth_families (
    id         text        PRIMARY KEY,
    account_id text        NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX auth_families_account_idx ON auth_families (account_id) WHERE revoked_at IS NULL;

CREATE TABLE auth_refresh_tokens (
    id         text        PRIMARY KEY,
    family_id  text        NOT NULL REFERENCES auth_families (id) ON DELETE CASCADE,
    issued_at  timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX auth_refresh_tokens_family_idx ON auth_refresh_tokens (family_id);
CREATE INDEX auth_refresh_tokens_expires_idx ON auth_refresh_tokens (expires_at);
