-- Merchant webhooks (package merchant): the endpoints an admin manages,
-- the events sent to them, one delivery per (event, endpoint) and every
-- attempt of it with the receiver's answer. An event and its deliveries
-- are inserted in the transaction of the change they report (a payment's,
-- through payments' event hook), together with the River job of each
-- delivery, so a crash loses none and repeats none.
--
-- Forward-only: there is no Down. Fix a mistake with a new migration.

-- +goose Up

CREATE TABLE merchant_endpoints (
    id          text        PRIMARY KEY,
    url         text        NOT NULL,
    secret      text        NOT NULL,
    events      text[]      NOT NULL DEFAULT '{}', -- empty: every event
    description text        NOT NULL DEFAULT '',
    enabled     boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE merchant_events (
    id         text        PRIMARY KEY,
    type       text        NOT NULL,
    body       bytea       NOT NULL, -- exactly the bytes signed and sent
    created_at timestamptz NOT NULL
);
CREATE INDEX merchant_events_created_idx ON merchant_events (created_at);

CREATE TABLE merchant_deliveries (
    id               text        PRIMARY KEY,
    event_id         text        NOT NULL REFERENCES merchant_events (id),
    endpoint_id      text        NOT NULL,
    status           text        NOT NULL, -- pending, succeeded, failed, canceled
    attempts         integer     NOT NULL DEFAULT 0,
    last_status_code integer     NOT NULL DEFAULT 0,
    last_error       text        NOT NULL DEFAULT '',
    next_attempt_at  timestamptz,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX merchant_deliveries_endpoint_idx ON merchant_deliveries (endpoint_id, created_at DESC);
CREATE INDEX merchant_deliveries_status_idx ON merchant_deliveries (status, created_at DESC);

CREATE TABLE merchant_attempts (
    delivery_id text        NOT NULL REFERENCES merchant_deliveries (id),
    n           integer     NOT NULL,
    at          timestamptz NOT NULL,
    duration_ms integer     NOT NULL,
    status_code integer     NOT NULL, -- 0: no answer (refused, timed out)
    error       text        NOT NULL DEFAULT '',
    response    text        NOT NULL DEFAULT '', -- the answer's first KiB
    PRIMARY KEY (delivery_id, n)
);
