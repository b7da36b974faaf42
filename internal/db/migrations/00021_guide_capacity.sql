-- A guide holds up to its capacity of offers and calls (issue 8). The one
-- call a guide held becomes a list, and the unique index that allowed one
-- live call per guide becomes a count checked under the guide's row lock:
-- the matcher checks capacity before it offers, but a leader that lost its
-- lock may still run for up to a second beside the new one, and the
-- database settles such a race as the index did.

-- +goose Up

ALTER TABLE guides ADD COLUMN call_ids text[] NOT NULL DEFAULT '{}';
UPDATE guides SET call_ids = ARRAY[call_id] WHERE call_id <> '';
DROP INDEX guides_available_idx;
ALTER TABLE guides DROP COLUMN call_id;
CREATE INDEX guides_available_idx ON guides (idle_since, id) WHERE online AND status = 'available';

DROP INDEX calls_one_live_per_guide;

-- The guide's row lock orders every insert of a live call for that guide,
-- and each statement under READ COMMITTED sees the calls committed before
-- the lock was granted, so two transactions can never both pass the count.
-- A refusal is a unique violation, as the index's was, so the store maps
-- it to the same error.
-- +goose StatementBegin
CREATE FUNCTION calls_within_capacity() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    slots integer;
    held  integer;
BEGIN
    IF NEW.state IN ('ended', '') THEN
        RETURN NEW;
    END IF;
    SELECT greatest(capacity, 1) INTO slots FROM guides WHERE id = NEW.guide_id FOR UPDATE;
    IF NOT FOUND THEN
        slots := 1;
    END IF;
    SELECT count(*) INTO held FROM calls
        WHERE guide_id = NEW.guide_id AND state NOT IN ('ended', '') AND id <> NEW.id;
    IF held >= slots THEN
        RAISE EXCEPTION 'guide % already holds % live calls (capacity %)', NEW.guide_id, held, slots
            USING ERRCODE = 'unique_violation';
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER calls_within_capacity BEFORE INSERT ON calls
    FOR EACH ROW EXECUTE FUNCTION calls_within_capacity();
