package payments

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"guidecall/internal/db"
)

// PostgresStore is the Store a cluster shares: links in payment_links,
// webhook event ids in payment_events (internal/db/migrations). Safe for
// concurrent use by many nodes.
type PostgresStore struct {
	pool   *pgxpool.Pool
	onTxMu sync.RWMutex
	onTx   TxEventHook
}

// TxEventHook is called with the events of every change, inside the
// change's transaction, after they are recorded: whatever it writes in tx
// commits with the change or not at all. An error rolls the change back.
type TxEventHook func(ctx context.Context, tx pgx.Tx, events []Event) error

// SetEventHook installs h (nil removes it). The wiring uses it to record
// merchant webhooks with the payment change they report.
func (s *PostgresStore) SetEventHook(h TxEventHook) {
	s.onTxMu.Lock()
	s.onTx = h
	s.onTxMu.Unlock()
}

func (s *PostgresStore) hook() TxEventHook {
	s.onTxMu.RLock()
	defer s.onTxMu.RUnlock()
	return s.onTx
}

var _ Store = (*PostgresStore)(nil)

// NewPostgresStore returns a store over pool, whose schema must have been
// migrated (db.Migrate).
func NewPostgresStore(pool *pgxpool.Pool) *PostgresStore {
	return &PostgresStore{pool: pool}
}

// fnError carries a LinkUpdate fn's error through the transaction helper
// so that pgError hands it back untouched.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

// pgError is the one place where driver errors become this package's
// errors: no row is ErrNotFound; a unique violation (id, call and
// idempotency key, provider and ref) is ErrDuplicate; a database that
// cannot be reached is ErrUnavailable. what names the record.
func pgError(err error, what string) error {
	var fe fnError
	if err == nil {
		return nil
	}
	if errors.As(err, &fe) {
		return fe.err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	if constraint, ok := db.UniqueViolation(err); ok {
		switch constraint {
		case "payment_links_pkey":
			what = "link id: " + what
		case "payment_links_idempotency_key":
			what = "idempotency key: " + what
		case "payment_links_provider_ref_key":
			what = "provider ref: " + what
		}
		return fmt.Errorf("%w: %s", ErrDuplicate, what)
	}
	if db.IsUnavailable(err) {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
	}
	return fmt.Errorf("payments: postgres: %s: %w", what, err)
}

const linkColumns = `id, call_id, provider, provider_ref, amount, currency, items, description, status,
	checkout_url, idempotency_key, created_by, created_at, updated_at, expires_at, paid_at, refunded_amount, refunds, mode`

type rowScanner interface {
	Scan(dest ...any) error
}

func scanLink(r rowScanner) (Link, error) {
	var l Link
	var items, refunds []byte
	if err := r.Scan(&l.ID, &l.CallID, &l.Provider, &l.ProviderRef, &l.Amount, &l.Currency, &items,
		&l.Description, &l.Status, &l.CheckoutURL, &l.IdempotencyKey, &l.CreatedBy,
		&l.CreatedAt, &l.UpdatedAt, &l.ExpiresAt, &l.PaidAt, &l.RefundedAmount, &refunds, &l.Mode); err != nil {
		return Link{}, err
	}
	if err := json.Unmarshal(refunds, &l.Refunds); err != nil {
		return Link{}, fmt.Errorf("link %s refunds: %w", l.ID, err)
	}
	if len(l.Refunds) == 0 {
		l.Refunds = nil
	}
	if items != nil {
		if err := json.Unmarshal(items, &l.Items); err != nil {
			return Link{}, fmt.Errorf("link %s items: %w", l.ID, err)
		}
	}
	l.CreatedAt, l.UpdatedAt, l.ExpiresAt = l.CreatedAt.UTC(), l.UpdatedAt.UTC(), l.ExpiresAt.UTC()
	if l.PaidAt != nil {
		t := l.PaidAt.UTC()
		l.PaidAt = &t
	}
	return l, nil
}

// itemsJSON encodes items for the jsonb column: nil stays SQL NULL, so a
// link without items reads back with nil Items, as it was written.
func itemsJSON(items []Item) ([]byte, error) {
	if items == nil {
		return nil, nil
	}
	return json.Marshal(items)
}

// linkArgs are the values of linkColumns, in order.
func linkArgs(l Link) ([]any, error) {
	items, err := itemsJSON(l.Items)
	if err != nil {
		return nil, err
	}
	refunds := l.Refunds
	if refunds == nil {
		refunds = []Refund{}
	}
	refundsJSON, err := json.Marshal(refunds)
	if err != nil {
		return nil, err
	}
	return []any{l.ID, l.CallID, l.Provider, l.ProviderRef, l.Amount, l.Currency, items,
		l.Description, l.Status, l.CheckoutURL, l.IdempotencyKey, l.CreatedBy,
		l.CreatedAt, l.UpdatedAt, l.ExpiresAt, l.PaidAt, l.RefundedAmount, refundsJSON, string(l.Mode)}, nil
}

// LinkCreate implements Store.
func (s *PostgresStore) LinkCreate(ctx context.Context, l Link) (Link, error) {
	return s.LinkCreateWithin(ctx, l, 0)
}

// LinkCreateWithin implements Store. The count runs under a transaction
// lock on the call (an advisory lock: there is no row of the call to lock
// in this package's tables), so creates for one call take turns between
// counting and inserting, on every node.
func (s *PostgresStore) LinkCreateWithin(ctx context.Context, l Link, maxPerCall int) (Link, error) {
	args, err := linkArgs(l)
	if err != nil {
		return Link{}, fmt.Errorf("payments: link %q: %w", l.ID, err)
	}
	var got Link
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if maxPerCall > 0 {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('payment_links/call/' || $1, 0))`, l.CallID); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM payment_links WHERE call_id = $1 AND status <> $2`,
				l.CallID, string(StatusFailed)).Scan(&n); err != nil {
				return err
			}
			if n >= maxPerCall {
				return fmt.Errorf("%w: this call has %d payment links, the most allowed", ErrRiskLimit, n)
			}
		}
		var err error
		got, err = scanLink(tx.QueryRow(ctx, `INSERT INTO payment_links (`+linkColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
			RETURNING `+linkColumns, args...))
		return err
	})
	if errors.Is(err, ErrRiskLimit) {
		return Link{}, err
	}
	if err != nil {
		return Link{}, pgError(err, fmt.Sprintf("link %q", l.ID))
	}
	return got, nil
}

func (s *PostgresStore) linkWhere(ctx context.Context, what, where string, args ...any) (Link, error) {
	l, err := scanLink(s.pool.QueryRow(ctx, `SELECT `+linkColumns+` FROM payment_links WHERE `+where, args...))
	if err != nil {
		return Link{}, pgError(err, what)
	}
	return l, nil
}

// LinkGet implements Store.
func (s *PostgresStore) LinkGet(ctx context.Context, id string) (Link, error) {
	return s.linkWhere(ctx, fmt.Sprintf("link %q", id), `id = $1`, id)
}

// LinkByIdempotencyKey implements Store.
func (s *PostgresStore) LinkByIdempotencyKey(ctx context.Context, callID, key string) (Link, error) {
	return s.linkWhere(ctx, fmt.Sprintf("idempotency key for call %q", callID),
		`call_id = $1 AND idempotency_key = $2`, callID, key)
}

// LinkByProviderRef implements Store.
func (s *PostgresStore) LinkByProviderRef(ctx context.Context, provider, ref string) (Link, error) {
	if ref == "" {
		return Link{}, fmt.Errorf("%w: %s ref %q", ErrNotFound, provider, ref)
	}
	return s.linkWhere(ctx, fmt.Sprintf("%s ref %q", provider, ref),
		`provider = $1 AND provider_ref = $2`, provider, ref)
}

// LinksByCall implements Store.
func (s *PostgresStore) LinksByCall(ctx context.Context, callID string) ([]Link, error) {
	return s.links(ctx, fmt.Sprintf("links of call %q", callID),
		`SELECT `+linkColumns+` FROM payment_links WHERE call_id = $1 ORDER BY seq`, callID)
}

// LinksByCalls implements Store: one query for all the calls.
func (s *PostgresStore) LinksByCalls(ctx context.Context, callIDs []string) (map[string][]Link, error) {
	out := map[string][]Link{}
	if len(callIDs) == 0 {
		return out, nil
	}
	links, err := s.links(ctx, fmt.Sprintf("links of %d calls", len(callIDs)),
		`SELECT `+linkColumns+` FROM payment_links WHERE call_id = ANY($1) ORDER BY call_id, seq`, callIDs)
	if err != nil {
		return nil, err
	}
	for _, l := range links {
		out[l.CallID] = append(out[l.CallID], l)
	}
	return out, nil
}

// LinksUnsettled implements Store.
func (s *PostgresStore) LinksUnsettled(ctx context.Context, updatedBefore, createdAfter, closedAfter time.Time, limit int) ([]Link, error) {
	return s.links(ctx, "unsettled links", `SELECT `+linkColumns+` FROM payment_links
		WHERE updated_at < $1 AND (
			(status IN ('open', 'processing', 'paid', 'partially_refunded') AND created_at > $2)
			OR (status IN ('expired', 'failed') AND updated_at > $3))
		ORDER BY updated_at, seq LIMIT $4`, updatedBefore, createdAfter, closedAfter, limit)
}

// links runs a query of linkColumns; what names the rows in errors. No
// rows is an empty list, not nil.
func (s *PostgresStore) links(ctx context.Context, what, query string, args ...any) ([]Link, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, pgError(err, what)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Link, error) { return scanLink(r) })
	if err != nil {
		return nil, pgError(err, what)
	}
	if out == nil {
		out = []Link{}
	}
	return out, nil
}

// OutboxPublished implements Store. Rows published more than a day ago
// are deleted on the way.
func (s *PostgresStore) OutboxPublished(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE payment_outbox SET published_at = now(), claimed_until = NULL
			WHERE id = ANY($1) AND published_at IS NULL`, ids); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM payment_outbox WHERE published_at < now() - interval '1 day'`)
		return err
	})
	return pgError(err, "payment outbox")
}

// OutboxClaim implements Store. SKIP LOCKED lets relays of several nodes
// claim at once without waiting for each other or claiming one row twice.
func (s *PostgresStore) OutboxClaim(ctx context.Context, before time.Time, lease time.Duration, limit int) ([]Event, error) {
	rows, err := s.pool.Query(ctx, `UPDATE payment_outbox SET claimed_until = now() + $3::interval
		WHERE id IN (
			SELECT id FROM payment_outbox
			WHERE published_at IS NULL AND created_at < $1 AND (claimed_until IS NULL OR claimed_until < now())
			ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED)
		RETURNING seq, kind, payload`, before, limit, lease)
	if err != nil {
		return nil, pgError(err, "payment outbox")
	}
	type row struct {
		seq     int64
		kind    string
		payload []byte
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
		var x row
		err := r.Scan(&x.seq, &x.kind, &x.payload)
		return x, err
	})
	if err != nil {
		return nil, pgError(err, "payment outbox")
	}
	slices.SortFunc(got, func(a, b row) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]Event, 0, len(got))
	for _, x := range got {
		e, err := decodeEvent(x.kind, x.payload)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// recordEvents writes events into the outbox inside tx.
func recordEvents(ctx context.Context, tx pgx.Tx, events []Event) error {
	for _, e := range events {
		kind, payload, err := encodeEvent(e)
		if err != nil {
			return fnError{fmt.Errorf("payments: encode event: %w", err)}
		}
		l := e.EventLink()
		if _, err := tx.Exec(ctx, `INSERT INTO payment_outbox (id, kind, link_id, call_id, payload, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, e.EventID(), kind, l.ID, l.CallID, payload, e.EventTime()); err != nil {
			return err
		}
	}
	return nil
}

// LinkUpdate implements Store: SELECT ... FOR UPDATE, fn, UPDATE and the
// events' INSERT, in one transaction, so concurrent updates of one link
// take turns and a change never commits without its events. fn runs with
// the row locked and must not call the store.
func (s *PostgresStore) LinkUpdate(ctx context.Context, id string, fn func(*Link) ([]Event, error)) (Link, error) {
	var out Link
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		out, err = s.updateLinkTx(ctx, tx, id, fn)
		return err
	})
	if err != nil {
		return Link{}, pgError(err, fmt.Sprintf("link %q", id))
	}
	return out, nil
}

// updateLinkTx is LinkUpdate inside tx.
func (s *PostgresStore) updateLinkTx(ctx context.Context, tx pgx.Tx, id string, fn func(*Link) ([]Event, error)) (Link, error) {
	cur, err := scanLink(tx.QueryRow(ctx, `SELECT `+linkColumns+` FROM payment_links WHERE id = $1 FOR UPDATE`, id))
	if err != nil {
		return Link{}, err
	}
	next := cur.Clone()
	events, err := fn(&next)
	if err != nil {
		return Link{}, fnError{err}
	}
	if next.ID != cur.ID || next.CallID != cur.CallID || next.IdempotencyKey != cur.IdempotencyKey {
		return Link{}, fnError{errors.New("payments: LinkUpdate must not change id, call id or idempotency key")}
	}
	args, err := linkArgs(next)
	if err != nil {
		return Link{}, fnError{fmt.Errorf("payments: link %q: %w", id, err)}
	}
	if _, err := tx.Exec(ctx, `UPDATE payment_links SET provider = $3, provider_ref = $4, amount = $5,
		currency = $6, items = $7, description = $8, status = $9, checkout_url = $10, created_by = $12,
		created_at = $13, updated_at = $14, expires_at = $15, paid_at = $16, refunded_amount = $17, refunds = $18, mode = $19
		WHERE id = $1 AND call_id = $2 AND idempotency_key = $11`, args...); err != nil {
		return Link{}, err
	}
	if err := recordEvents(ctx, tx, events); err != nil {
		return Link{}, err
	}
	if h := s.hook(); h != nil && len(events) > 0 {
		if err := h(ctx, tx, events); err != nil {
			return Link{}, fmt.Errorf("payments: event hook: %w", err)
		}
	}
	return next.Clone(), nil
}

// EventApply implements Store: the event insert and the link update share
// one transaction. ON CONFLICT DO NOTHING waits for a concurrent insert of
// the same event to commit or roll back, so of concurrent deliveries of one
// event exactly one applies it, and one whose update fails leaves no row.
func (s *PostgresStore) EventApply(ctx context.Context, e ProviderEvent, id string, fn func(*Link) ([]Event, error)) (Link, bool, error) {
	var occurred *time.Time
	if !e.OccurredAt.IsZero() {
		occurred = &e.OccurredAt
	}
	var out Link
	applied := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO payment_events (provider, id, provider_ref, status, occurred_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (provider, id) DO NOTHING`,
			e.Provider, e.ID, e.ProviderRef, e.Status, occurred)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		if out, err = s.updateLinkTx(ctx, tx, id, fn); err != nil {
			return err
		}
		applied = true
		return nil
	})
	if err != nil {
		return Link{}, false, pgError(err, fmt.Sprintf("event %s/%s for link %q", e.Provider, e.ID, id))
	}
	return out, applied, nil
}

// RiskLimits implements Store.
func (s *PostgresStore) RiskLimits(ctx context.Context) (RiskLimits, error) {
	var b []byte
	err := s.pool.QueryRow(ctx, `SELECT limits FROM payment_risk_limits WHERE id`).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return RiskLimits{}, nil
	}
	if err != nil {
		return RiskLimits{}, pgError(err, "risk limits")
	}
	var l RiskLimits
	if err := json.Unmarshal(b, &l); err != nil {
		return RiskLimits{}, fmt.Errorf("payments: risk limits: %w", err)
	}
	return l, nil
}

// SetRiskLimits implements Store.
func (s *PostgresStore) SetRiskLimits(ctx context.Context, l RiskLimits) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO payment_risk_limits (id, limits, updated_at) VALUES (true, $1, now())
		ON CONFLICT (id) DO UPDATE SET limits = EXCLUDED.limits, updated_at = EXCLUDED.updated_at`, b)
	return pgError(err, "risk limits")
}

// LinksCreatedSince implements Store.
func (s *PostgresStore) LinksCreatedSince(ctx context.Context, since time.Time, currency string) ([]Link, error) {
	return s.links(ctx, "links created since", `SELECT `+linkColumns+` FROM payment_links
		WHERE created_at > $1 AND ($2 = '' OR currency = $2)`, since, currency)
}

// Rollouts implements Store.
func (s *PostgresStore) Rollouts(ctx context.Context) (map[string]Rollout, error) {
	var b []byte
	err := s.pool.QueryRow(ctx, `SELECT rollouts FROM payment_rollouts WHERE id`).Scan(&b)
	out := map[string]Rollout{}
	if errors.Is(err, pgx.ErrNoRows) {
		return out, nil
	}
	if err != nil {
		return nil, pgError(err, "rollouts")
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("payments: rollouts: %w", err)
	}
	return out, nil
}

// SetRollouts implements Store.
func (s *PostgresStore) SetRollouts(ctx context.Context, r map[string]Rollout) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO payment_rollouts (id, rollouts, updated_at) VALUES (true, $1, now())
		ON CONFLICT (id) DO UPDATE SET rollouts = EXCLUDED.rollouts, updated_at = EXCLUDED.updated_at`, b)
	return pgError(err, "rollouts")
}
