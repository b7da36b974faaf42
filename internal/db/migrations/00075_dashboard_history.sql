-- The admin dashboard (issue 12) reads the entries that joined a queue in
-- a window, with their calls (calls_entry_idx) and those calls' quality
-- reports (the primary key). This keeps the first read off a scan of every
-- entry ever kept. Conventions as in 00001.
--
-- Forward-only: there is no Down. Fix a mistake with a new migration.

-- +goose Up

CREATE INDEX queue_entries_joined_idx ON queue_entries (joined_at, queue);
