-- The shopper side after and during a call (issue 13): the shopper's rating
-- kept with the call's history, and the call's items (chat messages,
-- product cards, the shopper's cart) so a reloaded page gets them back and
-- the summary after the call can list them. Conventions as in 00001.
--
-- Forward-only: there is no Down. Fix a mistake with a new migration.

-- +goose Up

ALTER TABLE calls
    ADD COLUMN rating         smallint    NOT NULL DEFAULT 0 CHECK (rating BETWEEN 0 AND 5),
    ADD COLUMN rating_comment text        NOT NULL DEFAULT '',
    ADD COLUMN rated_at       timestamptz;

CREATE TABLE call_items (
    id         text        PRIMARY KEY,
    call_id    text        NOT NULL REFERENCES calls (id),
    seq        integer     NOT NULL,
    kind       text        NOT NULL,
    from_party text        NOT NULL,
    body       jsonb       NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (call_id, seq)
);
