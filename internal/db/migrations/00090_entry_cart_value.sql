-- The guide console's queue overview (issue 12): the shopper's cart value
-- at join, in minor units of the entry's currency, from the merchant's
-- signed customer token (its cart_value claim) or else the widget's
-- setContext cart. NULL when neither said; 0 is an empty cart.
-- Conventions as in 00001.
--
-- Forward-only: there is no Down. Fix a mistake with a new migration.

-- +goose Up

ALTER TABLE queue_entries
    ADD COLUMN cart_value bigint
        CHECK (cart_value IS NULL OR cart_value BETWEEN 0 AND 1000000000000);
