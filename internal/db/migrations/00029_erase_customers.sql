-- Issue 7: erasure of one shopper by the merchant's customer id (the sub
-- of a signed customer token), and retention of callbacks. A callback
-- carries the customer id when its shopper had one; a purged or erased
-- callback keeps its queue, state, outcome and timestamps (statistics) and
-- loses name, phone, email, message and note. erased_at records when.
--
-- Numbered in issue 8's range, not issue 7's (00010-00019), because it
-- changes what 00020_routing creates (callbacks, queue_entries.customer_id):
-- a lower number would run first on a fresh database. The last number of
-- the range, so that routing's own next migrations stay free.

-- +goose Up

ALTER TABLE callbacks
    ADD COLUMN customer_id text NOT NULL DEFAULT '',
    ADD COLUMN erased_at   timestamptz;
CREATE INDEX queue_entries_customer_idx ON queue_entries (customer_id) WHERE customer_id <> '';
CREATE INDEX callbacks_customer_idx ON callbacks (customer_id) WHERE customer_id <> '';
CREATE INDEX callbacks_entry_idx ON callbacks (entry_id) WHERE entry_id <> '';
CREATE INDEX callbacks_purge_idx ON callbacks (done_at)
    WHERE erased_at IS NULL AND done_at IS NOT NULL;
