-- A shopper the merchant's site had signed in (issue 13): the merchant's
-- customer id from a verified customer token (window.guidecall.identify),
-- so the guide knows whom they serve. Empty for anonymous shoppers.
-- Conventions as in 00001.
--
-- Forward-only: there is no Down. Fix a mistake with a new migration.

-- +goose Up

ALTER TABLE queue_entries ADD COLUMN customer_id text NOT NULL DEFAULT '';
