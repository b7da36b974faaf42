-- Reconciliation also asks the providers about expired and failed links
-- for a while after they closed (payments.DefaultReconcileClosedWindow):
-- a payment taken in time whose webhook was lost still makes them paid.
-- Their query gets a partial index of its own, as 00030's does.
--
-- Forward-only: there is no Down. Fix a mistake with a new migration.

-- +goose Up

CREATE INDEX payment_links_reopenable_idx ON payment_links (updated_at)
    WHERE status IN ('expired', 'failed');
