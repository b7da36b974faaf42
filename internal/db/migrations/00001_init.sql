-- The first schema: accounts (auth), queue entries, guides and calls
-- (queue), payment links and webhook events (payments).
--
-- Conventions: ids are text chosen by the application; enum-like states
-- are text checked by the application, so adding a state needs no
-- migration; a Go zero-value string is stored as '' (NOT NULL DEFAULT ''),
-- a nil *time.Time as NULL. Times are timestamptz (microseconds). No
-- foreign keys cross a domain: payments does not know queue's tables.
--
-- Forward-only: there is no Down. Fix a mistake with a new migration.

-- +goose Up

CREATE TABLE accounts (
    id            text        PRIMARY KEY,
    email         text        NOT NULL CHECK (email <> ''),
    name          text        NOT NULL,
    role          text        NOT NULL,
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL
);
-- Emails are stored lowercase already; the index makes sure of uniqueness
-- even if a row is written by hand.
CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email));
CREATE INDEX accounts_created_idx ON accounts (created_at, id);

-- Rank orders a queue, lower first. New entries take the next value of
-- queue_entry_rank (1, 2, 3, ...); a requeued entry takes the next value
-- of queue_entry_head_rank (-1, -2, ...), below every rank ever handed
-- out, so it goes to the head without reading the current head and
-- without two concurrent requeues ever sharing a rank.
CREATE SEQUENCE queue_entry_rank AS bigint START WITH 1;
CREATE SEQUENCE queue_entry_head_rank AS bigint INCREMENT BY -1 START WITH -1;

CREATE TABLE queue_entries (
    id              text        PRIMARY KEY,
    queue           text        NOT NULL,
    name            text        NOT NULL DEFAULT '',
    locale          text        NOT NULL DEFAULT '',
    currency        text        NOT NULL DEFAULT '',
    page_url        text        NOT NULL DEFAULT '',
    state           text        NOT NULL,
    rank            bigint      NOT NULL,
    joined_at       timestamptz NOT NULL,
    disconnected_at timestamptz,
    socket_id       text        NOT NULL DEFAULT '',
    seen_at         timestamptz NOT NULL,
    call_id         text        NOT NULL DEFAULT '',
    left_at         timestamptz,
    left_reason     text        NOT NULL DEFAULT ''
);
CREATE INDEX queue_entries_queued_idx ON queue_entries (queue, rank)
    WHERE state IN ('waiting', 'offered');

CREATE TABLE guides (
    id              text        PRIMARY KEY,
    name            text        NOT NULL DEFAULT '',
    status          text        NOT NULL DEFAULT '',
    online          boolean     NOT NULL DEFAULT false,
    disconnected_at timestamptz,
    socket_id       text        NOT NULL DEFAULT '',
    seen_at         timestamptz NOT NULL,
    idle_since      timestamptz NOT NULL,
    missed_offers   integer     NOT NULL DEFAULT 0,
    call_id         text        NOT NULL DEFAULT ''
);
CREATE INDEX guides_available_idx ON guides (idle_since, id)
    WHERE online AND status = 'available' AND call_id = '';

CREATE TABLE calls (
    id             text        PRIMARY KEY,
    entry_id       text        NOT NULL,
    guide_id       text        NOT NULL,
    queue          text        NOT NULL,
    state          text        NOT NULL,
    offer_deadline timestamptz NOT NULL,
    joined_at      timestamptz NOT NULL,
    offered_at     timestamptz NOT NULL,
    accepted_at    timestamptz,
    connected_at   timestamptz,
    ended_at       timestamptz,
    end_reason     text        NOT NULL DEFAULT '',
    ended_by       text        NOT NULL DEFAULT ''
);
CREATE INDEX calls_live_idx ON calls (offered_at) WHERE state NOT IN ('ended', '');
CREATE INDEX calls_entry_idx ON calls (entry_id);
CREATE INDEX calls_guide_idx ON calls (guide_id, offered_at);

CREATE TABLE payment_links (
    id              text        PRIMARY KEY,
    -- seq keeps creation order for LinksByCall when created_at ties.
    seq             bigint      GENERATED ALWAYS AS IDENTITY,
    call_id         text        NOT NULL,
    provider        text        NOT NULL,
    provider_ref    text        NOT NULL DEFAULT '',
    amount          bigint      NOT NULL,
    currency        text        NOT NULL,
    items           jsonb,
    description     text        NOT NULL DEFAULT '',
    status          text        NOT NULL,
    checkout_url    text        NOT NULL DEFAULT '',
    idempotency_key text        NOT NULL,
    created_by      text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    paid_at         timestamptz,
    CONSTRAINT payment_links_idempotency_key UNIQUE (call_id, idempotency_key)
);
-- A link gets its provider reference after the provider answers, so the
-- reference is unique only once it is set.
CREATE UNIQUE INDEX payment_links_provider_ref_key ON payment_links (provider, provider_ref)
    WHERE provider_ref <> '';
CREATE INDEX payment_links_call_idx ON payment_links (call_id, seq);

-- Webhook events already seen, for dedupe by (provider, event id).
CREATE TABLE payment_events (
    provider     text        NOT NULL,
    id           text        NOT NULL,
    provider_ref text        NOT NULL DEFAULT '',
    status       text        NOT NULL DEFAULT '',
    occurred_at  timestamptz,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, id)
);
