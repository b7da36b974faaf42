package queue

import (
	"context"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

func (m *MemoryStore) CallsOfCustomer(ctx context.Context, customerID string, limit int) ([]Call, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.CallsOfCustomer(ctx, customerID, limit)
}

func (t *memTx) CallsOfCustomer(_ context.Context, customerID string, limit int) ([]Call, error) {
	var out []Call
	if customerID == "" {
		return out, nil
	}
	for _, c := range t.m.calls {
		e, ok := t.m.entries[c.EntryID]
		if ok && e.CustomerID == customerID && c.AcceptedAt != nil {
			out = append(out, cloneCall(*c))
		}
	}
	slices.SortFunc(out, func(a, b Call) int {
		if c := b.OfferedAt.Compare(a.OfferedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	if len(out) > limit {
		out = out[:max(limit, 0)]
	}
	return out, nil
}

func (s *PostgresStore) CallsOfCustomer(ctx context.Context, customerID string, limit int) ([]Call, error) {
	return s.plain().CallsOfCustomer(ctx, customerID, limit)
}

// CallsOfCustomer reads through queue_entries_customer_idx (00029): a
// customer has few entries, each with few calls.
func (x pgExec) CallsOfCustomer(ctx context.Context, customerID string, limit int) ([]Call, error) {
	if customerID == "" {
		return nil, nil
	}
	rows, err := x.q.Query(ctx, `SELECT `+callColumns+` FROM calls
		WHERE entry_id IN (SELECT id FROM queue_entries WHERE customer_id = $1 AND customer_id <> '')
		  AND accepted_at IS NOT NULL
		ORDER BY offered_at DESC, id COLLATE "C" DESC LIMIT $2`, customerID, limit)
	if err != nil {
		return nil, pgError(err, "calls", "of customer")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Call, error) { return scanCall(r) })
	if err != nil {
		return nil, pgError(err, "calls", "of customer")
	}
	return out, nil
}
