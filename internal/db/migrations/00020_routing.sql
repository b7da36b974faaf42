-- Routing (issue 8): queues as records, guides' routing profiles and
-- presence history, the routing fields of an entry, decline notes, and
-- callback requests. Lists (queues, languages, skills, steps, closed
-- dates) are text[]; a queue's hours and relaxation rules are jsonb, read
-- whole by the application.

-- +goose Up

CREATE TABLE queues (
    name                  text        PRIMARY KEY,
    display_name          text        NOT NULL,
    time_zone             text        NOT NULL,
    hours                 jsonb,
    closed_dates          text[]      NOT NULL DEFAULT '{}',
    max_wait_seconds      integer     NOT NULL DEFAULT 0,
    wrap_up_seconds       integer     NOT NULL DEFAULT 0,
    offer_timeout_seconds integer     NOT NULL DEFAULT 0,
    relax                 jsonb       NOT NULL DEFAULT '[]',
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL
);

-- queues NULL means a guide nobody configured, who serves every queue.
ALTER TABLE guides
    ADD COLUMN queues        text[],
    ADD COLUMN languages     text[]      NOT NULL DEFAULT '{}',
    ADD COLUMN skills        text[]      NOT NULL DEFAULT '{}',
    ADD COLUMN capacity      integer     NOT NULL DEFAULT 1,
    ADD COLUMN status_reason text        NOT NULL DEFAULT '',
    ADD COLUMN status_since  timestamptz NOT NULL DEFAULT '0001-01-01 00:00:00+00',
    ADD COLUMN wrap_up_until timestamptz;

ALTER TABLE queue_entries
    ADD COLUMN language       text    NOT NULL DEFAULT '',
    ADD COLUMN language2      text    NOT NULL DEFAULT '',
    ADD COLUMN skill          text    NOT NULL DEFAULT '',
    ADD COLUMN priority       integer NOT NULL DEFAULT 0,
    ADD COLUMN customer_id    text    NOT NULL DEFAULT '',
    ADD COLUMN steps          text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN transfer_guide text    NOT NULL DEFAULT '',
    ADD COLUMN transfer_note  text    NOT NULL DEFAULT '';

ALTER TABLE calls ADD COLUMN decline_note text NOT NULL DEFAULT '';
CREATE INDEX calls_handled_idx ON calls (queue, ended_at) WHERE connected_at IS NOT NULL;

CREATE TABLE guide_presence (
    seq      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    guide_id text        NOT NULL,
    state    text        NOT NULL,
    reason   text        NOT NULL,
    at       timestamptz NOT NULL
);
CREATE INDEX guide_presence_guide_idx ON guide_presence (guide_id, seq);

CREATE TABLE callbacks (
    id          text        PRIMARY KEY,
    queue       text        NOT NULL,
    name        text        NOT NULL,
    phone       text        NOT NULL DEFAULT '',
    email       text        NOT NULL DEFAULT '',
    locale      text        NOT NULL DEFAULT '',
    message     text        NOT NULL DEFAULT '',
    window_from timestamptz,
    window_to   timestamptz,
    entry_id    text        NOT NULL DEFAULT '',
    state       text        NOT NULL,
    created_at  timestamptz NOT NULL,
    claimed_by  text        NOT NULL DEFAULT '',
    claimed_at  timestamptz,
    outcome     text        NOT NULL DEFAULT '',
    note        text        NOT NULL DEFAULT '',
    done_at     timestamptz
);
CREATE INDEX callbacks_queue_idx ON callbacks (queue, created_at) WHERE state <> 'done';
