-- The Adyen provider's own memory (payments/adyen PostgresRefs): the
-- payment behind each link, which refunds are made against and which the
-- payment link does not tell, and each refund Adyen reported, whose total
-- is the link's refunded amount. Shared by the cluster, kept on restart.
--
-- Forward-only: there is no Down. Fix a mistake with a new migration.

-- +goose Up

CREATE TABLE adyen_payments (
    link_id       text        PRIMARY KEY,
    psp_reference text        NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE adyen_refunds (
    link_id       text   NOT NULL,
    psp_reference text   NOT NULL,
    amount        bigint NOT NULL CHECK (amount > 0),
    PRIMARY KEY (link_id, psp_reference)
);
