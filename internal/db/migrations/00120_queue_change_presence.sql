-- A node refreshes seen_at of every party whose socket it holds every 5 s
-- (queue Touch, one UPDATE per table). Until now that moved
-- queue_change_seq like any write (00085), so with 20 000 waiting the
-- matcher's leader read the whole line again after every node's refresh
-- although nobody's place or eligibility had changed. seen_at is read
-- only by the leader's check for parties whose node stopped reporting
-- them, which asks the store for those directly (queue EntriesUnseen)
-- rather than through the line. Conventions as in 00001.
--
-- The triggers on queue_entries and guides now fire on an UPDATE only
-- when it sets a column other than seen_at: UPDATE OF lists every column
-- of the table as it stands, less seen_at. A statement-level trigger with
-- a column list fires when the statement names one of the columns, even if
-- it changes no row, so Touch sets seen_at alone in its common statement
-- and reclaims a party in a statement of its own, only when there is one.
-- A column added to either table later must be added to its trigger (a new
-- migration that runs this block again): TestChangeTriggerColumns fails
-- until it is.
--
-- Forward-only: there is no Down. Fix a mistake with a new migration.

-- +goose Up

-- +goose StatementBegin
DO $$
DECLARE
    t text;
    cols text;
BEGIN
    FOREACH t IN ARRAY ARRAY['queue_entries', 'guides'] LOOP
        SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
            FROM pg_attribute
            WHERE attrelid = t::regclass AND attnum > 0 AND NOT attisdropped AND attname <> 'seen_at';
        EXECUTE format('DROP TRIGGER %I ON %I', t || '_change', t);
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR DELETE OR UPDATE OF %s ON %I
            FOR EACH STATEMENT EXECUTE FUNCTION queue_change_bump()', t || '_change', cols, t);
    END LOOP;
END
$$;
-- +goose StatementEnd
