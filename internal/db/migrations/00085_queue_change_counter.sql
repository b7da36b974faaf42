-- The waiting room at scale (issue 10): the matcher's leader reads the line
-- of every queue on each pass. Two things keep that from costing a read of
-- the whole line when nothing moved. Conventions as in 00001.
--
-- queue_change_seq counts statements that wrote entries, guides or calls,
-- on any node. The leader reads it first on each pass and reuses the line
-- it read last when the count has not moved. A sequence, not a counter
-- row: nextval takes no row lock, so writers never queue behind each other
-- for it, and a rolled-back write that bumped it costs only one extra read.
--
-- queue_entries_line_idx serves the line in the order the store returns it
-- (queue names byte-wise, then rank) without a sort.
--
-- Forward-only: there is no Down. Fix a mistake with a new migration.

-- +goose Up

CREATE SEQUENCE queue_change_seq;

-- +goose StatementBegin
CREATE FUNCTION queue_change_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nextval('queue_change_seq');
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER queue_entries_change AFTER INSERT OR UPDATE OR DELETE ON queue_entries
    FOR EACH STATEMENT EXECUTE FUNCTION queue_change_bump();
CREATE TRIGGER guides_change AFTER INSERT OR UPDATE OR DELETE ON guides
    FOR EACH STATEMENT EXECUTE FUNCTION queue_change_bump();
CREATE TRIGGER calls_change AFTER INSERT OR UPDATE OR DELETE ON calls
    FOR EACH STATEMENT EXECUTE FUNCTION queue_change_bump();

CREATE INDEX queue_entries_line_idx ON queue_entries ((queue COLLATE "C"), rank)
    WHERE state IN ('waiting', 'offered');
