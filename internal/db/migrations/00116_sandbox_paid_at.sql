-- When a sandbox checkout took the money, so that its status answer
-- (FetchState) says it, as Stripe's charge does: reconciliation moves an
-- expired link to paid only for a payment made before its expiry. NULL for
-- a checkout not paid (or paid before this column). Conventions as in 00001.
--
-- Forward-only: there is no Down. Fix a mistake with a new migration.

-- +goose Up

ALTER TABLE sandbox_checkouts ADD COLUMN paid_at timestamptz;
