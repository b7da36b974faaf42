-- Call-quality reports (queue.PostgresStore): each party's getStats()
-- summary, sent every 10 s during a call, kept with the call's history.
-- The per-call summary (min, median, max per side) is computed from them
-- when it is read, so nothing has to be rewritten as reports arrive.
-- Conventions as in 00001.
--
-- Forward-only: there is no Down. Fix a mistake with a new migration.

-- +goose Up

CREATE TABLE call_quality_reports (
    call_id          text             NOT NULL REFERENCES calls (id),
    seq              bigint           GENERATED ALWAYS AS IDENTITY,
    party            text             NOT NULL,
    reported_at      timestamptz      NOT NULL,
    rtt_ms           double precision NOT NULL,
    jitter_ms        double precision NOT NULL,
    packets_lost     bigint           NOT NULL,
    frames_decoded   bigint           NOT NULL,
    frames_dropped   bigint           NOT NULL,
    freeze_count     bigint           NOT NULL,
    frame_width      integer          NOT NULL,
    frame_height     integer          NOT NULL,
    local_candidate  text             NOT NULL,
    remote_candidate text             NOT NULL,
    PRIMARY KEY (call_id, seq)
);
