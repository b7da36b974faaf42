-- The admin guide read lists a guide's latest declined offers with the
-- guide's reasons (issue 8); this keeps that read off a scan of calls.

-- +goose Up

CREATE INDEX calls_declined_idx ON calls (guide_id, ended_at DESC) WHERE end_reason = 'declined';
