-- The mode (test or live) of the provider key that made each link's
-- checkout (payments.Link.Mode): a webhook of the other mode is refused
-- for the link, so test and live money never mix even across a change of
-- keys. Links made before this migration are filled in where their
-- reference tells (the sandbox is always test; Stripe's session ids carry
-- the mode); the rest stay '' (unknown), which refuses nothing.
--
-- Forward-only: there is no Down. Fix a mistake with a new migration.

-- +goose Up

ALTER TABLE payment_links
    ADD COLUMN mode text NOT NULL DEFAULT '' CHECK (mode IN ('', 'test', 'live'));

UPDATE payment_links SET mode = 'test' WHERE provider = 'sandbox' AND provider_ref <> '';
UPDATE payment_links SET mode = 'test' WHERE provider = 'stripe' AND provider_ref LIKE 'cs\_test\_%';
UPDATE payment_links SET mode = 'live' WHERE provider = 'stripe' AND provider_ref LIKE 'cs\_live\_%';
