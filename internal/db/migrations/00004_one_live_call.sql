-- +goose Up
-- A guide or an entry is in at most one live call. The matcher checks this
-- before it offers, but a leader that lost its lock may still run for up to
-- a second beside the new one; the database settles such a race.
CREATE UNIQUE INDEX calls_one_live_per_guide ON calls (guide_id) WHERE state NOT IN ('ended', '');
CREATE UNIQUE INDEX calls_one_live_per_entry ON calls (entry_id) WHERE state NOT IN ('ended', '');
