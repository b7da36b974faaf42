package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func (m *MemoryStore) QualityAdd(ctx context.Context, callID string, q QualityReport) error {
	tx, unlock := m.single()
	defer unlock()
	return tx.QualityAdd(ctx, callID, q)
}

func (m *MemoryStore) QualityCount(ctx context.Context, callID string) (int, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.QualityCount(ctx, callID)
}

func (m *MemoryStore) QualityReports(ctx context.Context, callID string) ([]QualityReport, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.QualityReports(ctx, callID)
}

// QualityAdd appends the report. It writes nothing else and fails before
// writing, so a transaction that fails later has nothing of it to undo
// but the appended report, which the undo below takes back.
func (t *memTx) QualityAdd(_ context.Context, callID string, q QualityReport) error {
	if t.m.calls[callID] == nil {
		return fmt.Errorf("call %s: %w", callID, ErrNotFound)
	}
	if t.m.quality == nil {
		t.m.quality = make(map[string][]QualityReport)
	}
	t.m.quality[callID] = append(t.m.quality[callID], q)
	if t.undo != nil {
		t.undo.quality = append(t.undo.quality, callID)
	}
	return nil
}

func (t *memTx) QualityCount(_ context.Context, callID string) (int, error) {
	return len(t.m.quality[callID]), nil
}

func (t *memTx) QualityReports(_ context.Context, callID string) ([]QualityReport, error) {
	return slices.Clone(t.m.quality[callID]), nil
}

// undoQuality drops the reports a failed transaction appended, newest
// first.
func (u *memUndo) undoQuality(m *MemoryStore) {
	for i := len(u.quality) - 1; i >= 0; i-- {
		id := u.quality[i]
		if rs := m.quality[id]; len(rs) > 0 {
			m.quality[id] = rs[:len(rs)-1]
		}
	}
}

func (s *PostgresStore) QualityAdd(ctx context.Context, callID string, q QualityReport) error {
	return s.plain().QualityAdd(ctx, callID, q)
}

func (s *PostgresStore) QualityCount(ctx context.Context, callID string) (int, error) {
	return s.plain().QualityCount(ctx, callID)
}

func (s *PostgresStore) QualityReports(ctx context.Context, callID string) ([]QualityReport, error) {
	return s.plain().QualityReports(ctx, callID)
}

const qualityColumns = `party, reported_at, rtt_ms, jitter_ms, packets_lost, frames_decoded, frames_dropped,
	freeze_count, frame_width, frame_height, local_candidate, remote_candidate`

func (x pgExec) QualityAdd(ctx context.Context, callID string, q QualityReport) error {
	_, err := x.q.Exec(ctx, `INSERT INTO call_quality_reports (call_id, `+qualityColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		callID, q.Party, q.At, q.RTTMS, q.JitterMS, q.PacketsLost, q.FramesDecoded, q.FramesDropped,
		q.FreezeCount, q.FrameWidth, q.FrameHeight, q.LocalCandidate, q.RemoteCandidate)
	if isForeignKey(err) {
		return fmt.Errorf("call %s: %w", callID, ErrNotFound)
	}
	return pgError(err, "call quality", callID)
}

func (x pgExec) QualityCount(ctx context.Context, callID string) (int, error) {
	var n int
	err := x.q.QueryRow(ctx, `SELECT count(*) FROM call_quality_reports WHERE call_id = $1`, callID).Scan(&n)
	return n, pgError(err, "call quality", callID)
}

func (x pgExec) QualityReports(ctx context.Context, callID string) ([]QualityReport, error) {
	rows, err := x.q.Query(ctx, `SELECT `+qualityColumns+` FROM call_quality_reports WHERE call_id = $1 ORDER BY seq`, callID)
	if err != nil {
		return nil, pgError(err, "call quality", callID)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (QualityReport, error) {
		var q QualityReport
		err := r.Scan(&q.Party, &q.At, &q.RTTMS, &q.JitterMS, &q.PacketsLost, &q.FramesDecoded, &q.FramesDropped,
			&q.FreezeCount, &q.FrameWidth, &q.FrameHeight, &q.LocalCandidate, &q.RemoteCandidate)
		q.At = utc(q.At)
		return q, err
	})
	if err != nil {
		return nil, pgError(err, "call quality", callID)
	}
	return out, nil
}

// isForeignKey reports a foreign key violation (23503): a report for a
// call that does not exist.
func isForeignKey(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}
