-- The sequence numbers of the refunds each sandbox checkout has taken
-- (sandbox.Checkout.RefundSeqs): the n-th refund of a link is taken once
-- however often it is asked, as a real provider's idempotency key makes
-- it, so a retry after a lost answer never refunds twice.
--
-- Forward-only: there is no Down. Fix a mistake with a new migration.

-- +goose Up

ALTER TABLE sandbox_checkouts
    ADD COLUMN refund_seqs integer[] NOT NULL DEFAULT '{}';
