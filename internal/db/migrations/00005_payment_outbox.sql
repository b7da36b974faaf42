-- Payment events (payments.PostgresStore), recorded in the transaction of
-- the change they report, so a crash between the change and its delivery
-- loses nothing. A node hands each event to its in-process subscribers
-- right after the commit and marks it published; events a crash left
-- unpublished are claimed (claimed_until leases them to one node at a
-- time) and published by any node's relay. Published rows are deleted
-- after a day. Conventions as in 00001.
--
-- Forward-only: there is no Down. Fix a mistake with a new migration.

-- +goose Up

CREATE TABLE payment_outbox (
    id            text        PRIMARY KEY,
    seq           bigint      GENERATED ALWAYS AS IDENTITY,
    kind          text        NOT NULL,
    link_id       text        NOT NULL,
    call_id       text        NOT NULL,
    payload       jsonb       NOT NULL,
    created_at    timestamptz NOT NULL,
    published_at  timestamptz,
    claimed_until timestamptz
);
-- The relay reads the unpublished ones, oldest first.
CREATE INDEX payment_outbox_unpublished_idx ON payment_outbox (seq) WHERE published_at IS NULL;
CREATE INDEX payment_outbox_published_idx ON payment_outbox (published_at) WHERE published_at IS NOT NULL;
-- Reconciliation looks for links that are not final yet.
CREATE INDEX payment_links_unsettled_idx ON payment_links (updated_at)
    WHERE status IN ('open', 'paid', 'partially_refunded');
