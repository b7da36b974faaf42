-- The payment risk limits an admin sets (payments.RiskLimits): one row,
-- read by every node before each new link and refund.
--
-- Forward-only: there is no Down. Fix a mistake with a new migration.

-- +goose Up

CREATE TABLE payment_risk_limits (
    id         boolean     PRIMARY KEY DEFAULT true CHECK (id),
    limits     jsonb       NOT NULL,
    updated_at timestamptz NOT NULL
);
