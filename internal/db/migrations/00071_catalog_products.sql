-- The merchant's product feed (issue 12): what guides search and show in a
-- call. An import replaces the whole table in one transaction. Prices in
-- the currency's minor unit. Conventions as in 00001.
--
-- Forward-only: there is no Down. Fix a mistake with a new migration.

-- +goose Up

CREATE TABLE catalog_products (
    product_id text   NOT NULL,
    name       text   NOT NULL,
    variant    text   NOT NULL DEFAULT '',
    image_url  text   NOT NULL DEFAULT '',
    url        text   NOT NULL DEFAULT '',
    price      bigint NOT NULL CHECK (price >= 0),
    currency   text   NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    PRIMARY KEY (product_id, variant)
);
