package adyen

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresRefs is Refs a cluster shares (adyen_payments, adyen_refunds in
// internal/db/migrations): a link paid through a notification taken by one
// node is refunded from any other, after any restart.
type PostgresRefs struct {
	pool *pgxpool.Pool
}

var _ Refs = (*PostgresRefs)(nil)

// NewPostgresRefs returns Refs over pool, whose schema must have been
// migrated.
func NewPostgresRefs(pool *pgxpool.Pool) *PostgresRefs { return &PostgresRefs{pool: pool} }

// RememberPayment implements Refs. A later AUTHORISATION of the same link
// (a second payment on it) replaces the first: refunds go to the last.
func (r *PostgresRefs) RememberPayment(ctx context.Context, linkID, psp string) error {
	_, err := r.pool.Exec(ctx, `INSERT INTO adyen_payments (link_id, psp_reference) VALUES ($1, $2)
		ON CONFLICT (link_id) DO UPDATE SET psp_reference = EXCLUDED.psp_reference, updated_at = now()`, linkID, psp)
	if err != nil {
		return fmt.Errorf("adyen: remember payment: %w", err)
	}
	return nil
}

// Payment implements Refs; "" when none is known.
func (r *PostgresRefs) Payment(ctx context.Context, linkID string) (string, error) {
	var psp string
	err := r.pool.QueryRow(ctx, `SELECT psp_reference FROM adyen_payments WHERE link_id = $1`, linkID).Scan(&psp)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("adyen: payment of link: %w", err)
	}
	return psp, nil
}

// RememberRefund implements Refs. The link's transaction lock makes two
// nodes taking two of its refunds at once count in turn, so the later
// total includes both.
func (r *PostgresRefs) RememberRefund(ctx context.Context, linkID, psp string, amount int64) (int64, error) {
	if amount <= 0 {
		return 0, fmt.Errorf("adyen: refund %s of %d", psp, amount)
	}
	var total int64
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('adyen_refunds:' || $1, 0))`, linkID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO adyen_refunds (link_id, psp_reference, amount) VALUES ($1, $2, $3)
			ON CONFLICT (link_id, psp_reference) DO NOTHING`, linkID, psp, amount); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT coalesce(sum(amount), 0) FROM adyen_refunds WHERE link_id = $1`, linkID).Scan(&total)
	})
	if err != nil {
		return 0, fmt.Errorf("adyen: remember refund: %w", err)
	}
	return total, nil
}
