-- The sandbox payment provider's own checkouts (payments.PostgresSandboxStore).
-- The sandbox stands in for an external hosted provider, whose account
-- every node sees alike: a checkout made on one node must be served, paid
-- and refunded on any other. Conventions as in 00001: the ref is chosen by
-- the application, the status is text checked by the application, a zero
-- expiry (none) is NULL.
--
-- Forward-only: there is no Down. Fix a mistake with a new migration.

-- +goose Up

CREATE TABLE sandbox_checkouts (
    ref         text        PRIMARY KEY,
    link_id     text        NOT NULL DEFAULT '',
    call_id     text        NOT NULL DEFAULT '',
    amount      bigint      NOT NULL,
    currency    text        NOT NULL,
    items       jsonb,
    description text        NOT NULL DEFAULT '',
    expires_at  timestamptz,
    status      text        NOT NULL,
    refunded    bigint      NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL
);
