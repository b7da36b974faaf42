-- Issue 7: shopper data is kept only for the retention period. A purged or
-- erased entry keeps its id, queue, state and timestamps (and its calls
-- keep theirs), so statistics still count it, but loses what could name
-- the shopper: name and page_url. erased_at records when.

-- +goose Up

ALTER TABLE queue_entries ADD COLUMN erased_at timestamptz;
CREATE INDEX queue_entries_purge_idx ON queue_entries (left_at)
    WHERE erased_at IS NULL AND left_at IS NOT NULL;
