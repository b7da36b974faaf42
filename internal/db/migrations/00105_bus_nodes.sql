-- +goose Up
-- Targeted bus delivery (signaling.PostgresBus, signaling.NATSBus): each
-- process has a node id, and bus_parties says which node last took each
-- party's socket. A message for a party found here is addressed to that
-- node alone (bus_messages.node, and that node's NOTIFY channel or NATS
-- subject); a party not found here gets a broadcast, as before. A row
-- goes stale only when its party left: a party that reconnects anywhere
-- rewrites its row in the same transaction that announces the new socket.
ALTER TABLE bus_messages ADD COLUMN node text;

CREATE TABLE bus_parties (
    role       text        NOT NULL,
    id         text        NOT NULL,
    node       text        NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (role, id)
);

CREATE INDEX bus_parties_claimed_at_idx ON bus_parties (claimed_at);

-- Forward-only: there is no Down. Fix a mistake with a new migration.
