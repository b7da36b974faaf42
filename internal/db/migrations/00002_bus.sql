-- +goose Up
-- bus_messages carries signaling frames between nodes (signaling.PostgresBus).
-- Rows live about two minutes: long enough for a listener that lost its
-- connection to catch up, then each node's janitor deletes them. The table
-- is logged on purpose: an unlogged table's sequence restarts after a crash,
-- and listeners that remember a higher id would skip every new message.
CREATE TABLE bus_messages (
    id         bigserial   PRIMARY KEY,
    to_role    text        NOT NULL,
    to_id      text        NOT NULL,
    frame      bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX bus_messages_created_at_idx ON bus_messages (created_at);
