package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"guidecall/internal/db"
	"guidecall/payments"
	"guidecall/webhook"
)

// TxOutbox enqueues a delivery inside the caller's transaction
// (webhook.RiverOutbox).
type TxOutbox interface {
	EnqueueTx(ctx context.Context, tx pgx.Tx, d webhook.Delivery) error
}

// PostgresStore is the Store a cluster shares: checkouts in
// sandbox_checkouts (internal/db/migrations), so a checkout made on one
// node is served, paid and refunded on any other, as with a real hosted
// provider; the webhook of an outcome is a River job inserted in the same
// transaction. Safe for concurrent use by many nodes.
type PostgresStore struct {
	pool   *pgxpool.Pool
	outbox TxOutbox
}

var _ Store = (*PostgresStore)(nil)

// NewPostgresStore returns a store over pool, whose schema must have been
// migrated (db.Migrate), enqueuing on outbox.
func NewPostgresStore(pool *pgxpool.Pool, outbox TxOutbox) *PostgresStore {
	return &PostgresStore{pool: pool, outbox: outbox}
}

// fnError carries fn's error through the transaction untouched.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

// pgError is the one place where driver errors become payments errors.
func pgError(err error, what string) error {
	var fe fnError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe):
		return fe.err
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%w: %s", payments.ErrNotFound, what)
	}
	if _, ok := db.UniqueViolation(err); ok {
		return fmt.Errorf("%w: %s", payments.ErrDuplicate, what)
	}
	if db.IsUnavailable(err) {
		return fmt.Errorf("%w: %s: %w", payments.ErrUnavailable, what, err)
	}
	return fmt.Errorf("sandbox: postgres: %s: %w", what, err)
}

const checkoutColumns = `ref, link_id, call_id, amount, currency, items, description, expires_at,
	status, refunded, created_at, return_url, refund_seqs, paid_at`

type rowScanner interface {
	Scan(dest ...any) error
}

func scanCheckout(r rowScanner) (Checkout, error) {
	var c Checkout
	var items []byte
	var expires *time.Time
	var seqs []int32
	var paid *time.Time
	if err := r.Scan(&c.Ref, &c.Params.LinkID, &c.Params.CallID, &c.Params.Amount, &c.Params.Currency,
		&items, &c.Params.Description, &expires, &c.Status, &c.Refunded, &c.CreatedAt, &c.Params.ReturnURL, &seqs, &paid); err != nil {
		return Checkout{}, err
	}
	if paid != nil {
		c.PaidAt = paid.UTC()
	}
	if items != nil {
		if err := json.Unmarshal(items, &c.Params.Items); err != nil {
			return Checkout{}, fmt.Errorf("sandbox checkout %s items: %w", c.Ref, err)
		}
	}
	if expires != nil {
		c.Params.ExpiresAt = expires.UTC()
	}
	c.CreatedAt = c.CreatedAt.UTC()
	for _, n := range seqs {
		c.RefundSeqs = append(c.RefundSeqs, int(n))
	}
	return c, nil
}

// checkoutArgs are the values of checkoutColumns, in order. A zero
// ExpiresAt (no expiry) is NULL; nil items stay SQL NULL.
func checkoutArgs(c Checkout) ([]any, error) {
	var items []byte
	if c.Params.Items != nil {
		var err error
		if items, err = json.Marshal(c.Params.Items); err != nil {
			return nil, err
		}
	}
	seqs := make([]int32, 0, len(c.RefundSeqs))
	for _, n := range c.RefundSeqs {
		seqs = append(seqs, int32(n))
	}
	var expires, paid *time.Time
	if !c.Params.ExpiresAt.IsZero() {
		expires = &c.Params.ExpiresAt
	}
	if !c.PaidAt.IsZero() {
		paid = &c.PaidAt
	}
	return []any{c.Ref, c.Params.LinkID, c.Params.CallID, c.Params.Amount, c.Params.Currency,
		items, c.Params.Description, expires, c.Status, c.Refunded, c.CreatedAt, c.Params.ReturnURL, seqs, paid}, nil
}

// CheckoutCreate implements Store.
func (s *PostgresStore) CheckoutCreate(ctx context.Context, c Checkout) (Checkout, error) {
	what := fmt.Sprintf("sandbox ref %q", c.Ref)
	args, err := checkoutArgs(c)
	if err != nil {
		return Checkout{}, fmt.Errorf("sandbox: %s: %w", what, err)
	}
	got, err := scanCheckout(s.pool.QueryRow(ctx, `INSERT INTO sandbox_checkouts (`+checkoutColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		RETURNING `+checkoutColumns, args...))
	if err != nil {
		return Checkout{}, pgError(err, what)
	}
	return got, nil
}

// CheckoutGet implements Store.
func (s *PostgresStore) CheckoutGet(ctx context.Context, ref string) (Checkout, error) {
	c, err := scanCheckout(s.pool.QueryRow(ctx, `SELECT `+checkoutColumns+` FROM sandbox_checkouts WHERE ref = $1`, ref))
	if err != nil {
		return Checkout{}, pgError(err, fmt.Sprintf("sandbox ref %q", ref))
	}
	return c, nil
}

// CheckoutUpdate implements Store: SELECT ... FOR UPDATE, fn, UPDATE and
// the deliveries' River jobs, in one transaction, so concurrent updates of
// one checkout (from any node) take turns and an outcome never commits
// without its webhook. fn runs with the row locked and must not call the
// store.
func (s *PostgresStore) CheckoutUpdate(ctx context.Context, ref string, fn func(*Checkout) ([]webhook.Delivery, error)) (Checkout, error) {
	what := fmt.Sprintf("sandbox ref %q", ref)
	var out Checkout
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := scanCheckout(tx.QueryRow(ctx, `SELECT `+checkoutColumns+` FROM sandbox_checkouts WHERE ref = $1 FOR UPDATE`, ref))
		if err != nil {
			return err
		}
		next := cur.Clone()
		ds, err := fn(&next)
		if err != nil {
			return fnError{err}
		}
		if next.Ref != cur.Ref {
			return fnError{errRefChanged}
		}
		args, err := checkoutArgs(next)
		if err != nil {
			return fnError{fmt.Errorf("sandbox: %s: %w", what, err)}
		}
		if _, err := tx.Exec(ctx, `UPDATE sandbox_checkouts SET link_id = $2, call_id = $3, amount = $4,
			currency = $5, items = $6, description = $7, expires_at = $8, status = $9, refunded = $10,
			created_at = $11, return_url = $12, refund_seqs = $13, paid_at = $14
			WHERE ref = $1`, args...); err != nil {
			return err
		}
		for _, d := range ds {
			if err := s.outbox.EnqueueTx(ctx, tx, d); err != nil {
				return err
			}
		}
		out = next.Clone()
		return nil
	})
	if err != nil {
		return Checkout{}, pgError(err, what)
	}
	return out, nil
}
