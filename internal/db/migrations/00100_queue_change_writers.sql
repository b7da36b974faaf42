-- The matcher's line cache (00085) keyed on queue_change_seq could miss a
-- write: the sequence moves when a statement writes, not when its
-- transaction commits, so a pass could read the count, then a line that
-- did not show that write yet, and keep that line while the count stood
-- still. Conventions as in 00001.
--
-- Every transaction that writes entries, guides or calls now also holds a
-- shared advisory lock, taken before the count moves and kept until it
-- ends. A reader that gets the exclusive lock (at once, without waiting)
-- knows no such transaction is open, so a line it reads afterwards shows
-- every write the count it read before counts (queue/postgres.go,
-- QueuedLine). The key is per schema: advisory locks are per database.
-- Shared locks do not conflict with each other, so writers still never
-- wait for one another here.
--
-- Forward-only: there is no Down. Fix a mistake with a new migration.

-- +goose Up

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION queue_change_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hashtext('queue_change'), hashtext(TG_TABLE_SCHEMA));
    PERFORM nextval('queue_change_seq');
    RETURN NULL;
END
$$;
-- +goose StatementEnd
