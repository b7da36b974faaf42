package queue

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// HistoryQuery picks the stored history the dashboard reads: the entries
// that joined in [From, To), of Queue (every queue when empty).
type HistoryQuery struct {
	From, To time.Time
	Queue    string
}

// History is a window of the stored past: the entries that joined in it,
// every call (offer) of those entries whenever it happened, and the
// quality reports of those calls by call id, in the order they were added.
// Everything the dashboard's queue figures count is in it, so the figures
// are computed once, in [ComputeStats], whichever store answered.
type History struct {
	Entries []Entry
	Calls   []Call
	Quality map[string][]QualityReport
}

// HistoryReader reads the stored past for the dashboard. It is one read
// of its own: a snapshot, never a claim on what it returns.
type HistoryReader interface {
	History(ctx context.Context, q HistoryQuery) (History, error)
}

func (q HistoryQuery) holds(e *Entry) bool {
	return !e.JoinedAt.Before(q.From) && e.JoinedAt.Before(q.To) && (q.Queue == "" || e.Queue == q.Queue)
}

// History implements HistoryReader. The memory store keeps finished
// records for MemoryRetention only, so older windows come back empty.
func (m *MemoryStore) History(ctx context.Context, q HistoryQuery) (History, error) {
	if err := ctx.Err(); err != nil {
		return History{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	h := History{Quality: map[string][]QualityReport{}}
	joined := map[string]bool{}
	for _, e := range m.entries {
		if q.holds(e) {
			h.Entries = append(h.Entries, cloneEntry(*e))
			joined[e.ID] = true
		}
	}
	for _, c := range m.calls {
		if joined[c.EntryID] {
			h.Calls = append(h.Calls, cloneCall(*c))
			if rs := m.quality[c.ID]; len(rs) > 0 {
				h.Quality[c.ID] = slices.Clone(rs)
			}
		}
	}
	sortHistory(&h)
	return h, nil
}

// sortHistory orders what a store returned the same way on every store:
// entries by join time, calls by offer time (ids break ties).
func sortHistory(h *History) {
	slices.SortFunc(h.Entries, func(a, b Entry) int {
		if c := a.JoinedAt.Compare(b.JoinedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	slices.SortFunc(h.Calls, func(a, b Call) int {
		if c := a.OfferedAt.Compare(b.OfferedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// History implements HistoryReader in one read-only transaction, so the
// three reads see the same committed state.
func (s *PostgresStore) History(ctx context.Context, q HistoryQuery) (History, error) {
	h := History{Quality: map[string][]QualityReport{}}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		const window = `joined_at >= $1 AND joined_at < $2 AND ($3 = '' OR queue = $3)`
		rows, err := tx.Query(ctx, `SELECT `+entryColumns+` FROM queue_entries WHERE `+window, q.From, q.To, q.Queue)
		if err != nil {
			return pgError(err, "history", "entries")
		}
		if h.Entries, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Entry, error) { return scanEntry(r) }); err != nil {
			return pgError(err, "history", "entries")
		}
		rows, err = tx.Query(ctx, `SELECT `+callColumns+` FROM calls
			WHERE entry_id IN (SELECT id FROM queue_entries WHERE `+window+`)`, q.From, q.To, q.Queue)
		if err != nil {
			return pgError(err, "history", "calls")
		}
		if h.Calls, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Call, error) { return scanCall(r) }); err != nil {
			return pgError(err, "history", "calls")
		}
		rows, err = tx.Query(ctx, `SELECT call_id, `+qualityColumns+` FROM call_quality_reports
			WHERE call_id IN (SELECT c.id FROM calls c JOIN queue_entries e ON e.id = c.entry_id
				WHERE e.joined_at >= $1 AND e.joined_at < $2 AND ($3 = '' OR e.queue = $3))
			ORDER BY call_id, seq`, q.From, q.To, q.Queue)
		if err != nil {
			return pgError(err, "history", "quality")
		}
		var callID string
		var r QualityReport
		_, err = pgx.ForEachRow(rows, []any{&callID, &r.Party, &r.At, &r.RTTMS, &r.JitterMS, &r.PacketsLost, &r.FramesDecoded,
			&r.FramesDropped, &r.FreezeCount, &r.FrameWidth, &r.FrameHeight, &r.LocalCandidate, &r.RemoteCandidate}, func() error {
			r.At = utc(r.At)
			h.Quality[callID] = append(h.Quality[callID], r)
			return nil
		})
		return pgError(err, "history", "quality")
	})
	if err != nil {
		return History{}, err
	}
	sortHistory(&h)
	return h, nil
}
