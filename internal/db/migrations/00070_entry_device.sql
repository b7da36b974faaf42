-- The guide console's shopper context (issue 12): the kind of device the
-- widget ran on (phone, tablet, desktop; '' when it did not say), kept with
-- the entry so a reloaded console reads it again. Conventions as in 00001.
--
-- Forward-only: there is no Down. Fix a mistake with a new migration.

-- +goose Up

ALTER TABLE queue_entries
    ADD COLUMN device text NOT NULL DEFAULT ''
        CHECK (device IN ('', 'phone', 'tablet', 'desktop'));
