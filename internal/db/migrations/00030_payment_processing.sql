-- Links paid with an asynchronous method (konbini, bank debits) wait in
-- 'processing' until the provider settles them; reconciliation must look
-- at them too, so the partial index of 00005 gains the status.
--
-- Forward-only: there is no Down. Fix a mistake with a new migration.

-- +goose Up

DROP INDEX IF EXISTS payment_links_unsettled_idx;
CREATE INDEX payment_links_unsettled_idx ON payment_links (updated_at)
    WHERE status IN ('open', 'processing', 'paid', 'partially_refunded');
