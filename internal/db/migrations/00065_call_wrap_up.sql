-- The guide's wrap-up of a call (issue 12): an outcome code and notes
-- kept with the call, and the guide's history of past calls read by guide
-- and time. Conventions as in 00001.
--
-- Forward-only: there is no Down. Fix a mistake with a new migration.

-- +goose Up

ALTER TABLE calls
    ADD COLUMN outcome       text        NOT NULL DEFAULT '',
    ADD COLUMN wrap_up_notes text        NOT NULL DEFAULT '',
    ADD COLUMN wrapped_up_at timestamptz;

-- A guide's history, newest first.
CREATE INDEX calls_guide_history ON calls (guide_id, accepted_at DESC) WHERE accepted_at IS NOT NULL;
