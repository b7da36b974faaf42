-- Refunds of a payment link (payments.Link.Refunds): each refund asked of
-- the provider, with its idempotency key and sequence number, kept on the
-- link so that the cap (never more than was paid) is checked in the same
-- row lock as the request; refunded_amount is what the provider reported
-- refunded so far.
--
-- Forward-only: there is no Down. Fix a mistake with a new migration.

-- +goose Up

ALTER TABLE payment_links
    ADD COLUMN refunded_amount bigint NOT NULL DEFAULT 0,
    ADD COLUMN refunds         jsonb  NOT NULL DEFAULT '[]';
