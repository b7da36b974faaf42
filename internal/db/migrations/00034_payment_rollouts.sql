-- Gradual provider rollouts (payments.Rollout) by currency, one row that
-- every node reads when it routes a new link; and the index the success
-- rates over a window read links by.
--
-- Forward-only: there is no Down. Fix a mistake with a new migration.

-- +goose Up

CREATE TABLE payment_rollouts (
    id         boolean     PRIMARY KEY DEFAULT true CHECK (id),
    rollouts   jsonb       NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX payment_links_created_idx ON payment_links (created_at);
