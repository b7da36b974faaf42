-- Saved chat replies (issue 12): the merchant's (owner '', kept by admins)
-- and each guide's own (owner the account id), inserted into the chat by
-- the console. Conventions as in 00001.
--
-- Forward-only: there is no Down. Fix a mistake with a new migration.

-- +goose Up

CREATE TABLE saved_replies (
    id         text        PRIMARY KEY,
    owner      text        NOT NULL,
    title      text        NOT NULL,
    text       text        NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE INDEX saved_replies_owner_idx ON saved_replies (owner, created_at);
