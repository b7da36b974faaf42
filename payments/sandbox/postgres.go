package payments

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresSandboxStore is the SandboxStore a cluster shares: checkouts in
// sandbox_checkouts (internal/db/migrations), so a checkout made on one
// node is served, paid and refunded on any other, as with a real hosted
// provider. Safe for concurrent use by many nodes.
type PostgresSandboxStore struct {
	pool *pgxpool.Pool
}

var _ SandboxStore = (*PostgresSandboxStore)(nil)

// NewPostgresSandboxStore returns a store over pool, whose schema must have
// been migrated (db.Migrate).
func NewPostgresSandboxStore(pool *pgxpool.Pool) *PostgresSandboxStore {
	return &PostgresSandboxStore{pool: pool}
}

const checkoutColumns = `ref, link_id, call_id, amount, currency, items, description, expires_at,
	status, refunded, created_at`

func scanCheckout(r rowScanner) (SandboxCheckout, error) {
	var c SandboxCheckout
	var items []byte
	var expires *time.Time
	if err := r.Scan(&c.Ref, &c.Params.LinkID, &c.Params.CallID, &c.Params.Amount, &c.Params.Currency,
		&items, &c.Params.Description, &expires, &c.Status, &c.Refunded, &c.CreatedAt); err != nil {
		return SandboxCheckout{}, err
	}
	if items != nil {
		if err := json.Unmarshal(items, &c.Params.Items); err != nil {
			return SandboxCheckout{}, fmt.Errorf("sandbox checkout %s items: %w", c.Ref, err)
		}
	}
	if expires != nil {
		c.Params.ExpiresAt = expires.UTC()
	}
	c.CreatedAt = c.CreatedAt.UTC()
	return c, nil
}

// checkoutArgs are the values of checkoutColumns, in order. A zero
// ExpiresAt (no expiry) is NULL.
func checkoutArgs(c SandboxCheckout) ([]any, error) {
	items, err := itemsJSON(c.Params.Items)
	if err != nil {
		return nil, err
	}
	var expires *time.Time
	if !c.Params.ExpiresAt.IsZero() {
		expires = &c.Params.ExpiresAt
	}
	return []any{c.Ref, c.Params.LinkID, c.Params.CallID, c.Params.Amount, c.Params.Currency,
		items, c.Params.Description, expires, c.Status, c.Refunded, c.CreatedAt}, nil
}

// CheckoutCreate implements SandboxStore.
func (s *PostgresSandboxStore) CheckoutCreate(ctx context.Context, c SandboxCheckout) (SandboxCheckout, error) {
	what := fmt.Sprintf("sandbox ref %q", c.Ref)
	args, err := checkoutArgs(c)
	if err != nil {
		return SandboxCheckout{}, fmt.Errorf("payments: %s: %w", what, err)
	}
	got, err := scanCheckout(s.pool.QueryRow(ctx, `INSERT INTO sandbox_checkouts (`+checkoutColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		RETURNING `+checkoutColumns, args...))
	if err != nil {
		return SandboxCheckout{}, pgError(err, what)
	}
	return got, nil
}

// CheckoutGet implements SandboxStore.
func (s *PostgresSandboxStore) CheckoutGet(ctx context.Context, ref string) (SandboxCheckout, error) {
	c, err := scanCheckout(s.pool.QueryRow(ctx, `SELECT `+checkoutColumns+` FROM sandbox_checkouts WHERE ref = $1`, ref))
	if err != nil {
		return SandboxCheckout{}, pgError(err, fmt.Sprintf("sandbox ref %q", ref))
	}
	return c, nil
}

// CheckoutUpdate implements SandboxStore: SELECT ... FOR UPDATE, fn,
// UPDATE, in one transaction, so concurrent updates of one checkout (from
// any node) take turns. fn runs with the row locked and must not call the
// store.
func (s *PostgresSandboxStore) CheckoutUpdate(ctx context.Context, ref string, fn func(*SandboxCheckout) error) (SandboxCheckout, error) {
	what := fmt.Sprintf("sandbox ref %q", ref)
	var out SandboxCheckout
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := scanCheckout(tx.QueryRow(ctx, `SELECT `+checkoutColumns+` FROM sandbox_checkouts WHERE ref = $1 FOR UPDATE`, ref))
		if err != nil {
			return err
		}
		next := cur.Clone()
		if err := fn(&next); err != nil {
			return fnError{err}
		}
		if next.Ref != cur.Ref {
			return fnError{errCheckoutRefChanged}
		}
		args, err := checkoutArgs(next)
		if err != nil {
			return fnError{fmt.Errorf("payments: %s: %w", what, err)}
		}
		if _, err := tx.Exec(ctx, `UPDATE sandbox_checkouts SET link_id = $2, call_id = $3, amount = $4,
			currency = $5, items = $6, description = $7, expires_at = $8, status = $9, refunded = $10,
			created_at = $11
			WHERE ref = $1`, args...); err != nil {
			return err
		}
		out = next.Clone()
		return nil
	})
	if err != nil {
		return SandboxCheckout{}, pgError(err, what)
	}
	return out, nil
}
