package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresSessionStore is the SessionStore a cluster shares: the
// auth_families and auth_refresh_tokens tables.
type PostgresSessionStore struct {
	pool *pgxpool.Pool
}

var _ SessionStore = (*PostgresSessionStore)(nil)

// NewPostgresSessionStore returns a store over a migrated pool.
func NewPostgresSessionStore(pool *pgxpool.Pool) *PostgresSessionStore {
	return &PostgresSessionStore{pool: pool}
}

// SessionStart implements SessionStore.
func (s *PostgresSessionStore) SessionStart(ctx context.Context, first RefreshToken) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO auth_families (id, account_id, created_at) VALUES ($1, $2, $3)`,
			first.FamilyID, first.AccountID, first.IssuedAt); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO auth_refresh_tokens (id, family_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)`,
			first.ID, first.FamilyID, first.IssuedAt, first.ExpiresAt)
		return err
	})
	return pgError(err, "session start")
}

// SessionRotate implements SessionStore.
func (s *PostgresSessionStore) SessionRotate(ctx context.Context, currentID string, next RefreshToken, now time.Time) error {
	var family string
	var reused bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var used, revoked *time.Time
		err := tx.QueryRow(ctx, `SELECT t.family_id, t.used_at, f.revoked_at
			FROM auth_refresh_tokens t JOIN auth_families f ON f.id = t.family_id
			WHERE t.id = $1 FOR UPDATE OF t, f`, currentID).Scan(&family, &used, &revoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: refresh token not on record", ErrInvalidToken)
		}
		if err != nil {
			return pgError(err, "session rotate")
		}
		if used != nil || revoked != nil {
			reused = true
			_, err := tx.Exec(ctx, `UPDATE auth_families SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1`, family, now)
			return pgError(err, "revoke reused family")
		}
		if next.FamilyID != family {
			return fmt.Errorf("auth: session rotate: next token of family %s, want %s", next.FamilyID, family)
		}
		if _, err := tx.Exec(ctx, `UPDATE auth_refresh_tokens SET used_at = $2 WHERE id = $1`, currentID, now); err != nil {
			return pgError(err, "consume token")
		}
		_, err = tx.Exec(ctx, `INSERT INTO auth_refresh_tokens (id, family_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)`,
			next.ID, family, next.IssuedAt, next.ExpiresAt)
		return pgError(err, "next token")
	})
	if err != nil {
		return err
	}
	if reused {
		return fmt.Errorf("%w: family %s", ErrTokenReused, family)
	}
	return nil
}

// SessionRevokeFamily implements SessionStore.
func (s *PostgresSessionStore) SessionRevokeFamily(ctx context.Context, familyID string, now time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE auth_families SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`, familyID, now)
	return pgError(err, "revoke family")
}

// SessionRevokeAccount implements SessionStore.
func (s *PostgresSessionStore) SessionRevokeAccount(ctx context.Context, accountID string, now time.Time) ([]string, error) {
	rows, err := s.pool.Query(ctx, `UPDATE auth_families SET revoked_at = $2
		WHERE account_id = $1 AND revoked_at IS NULL RETURNING id`, accountID, now)
	if err != nil {
		return nil, pgError(err, "revoke account")
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, pgError(err, "revoke account")
}

// SessionFamilyLive implements SessionStore.
func (s *PostgresSessionStore) SessionFamilyLive(ctx context.Context, familyID string) (bool, error) {
	var live bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM auth_families WHERE id = $1 AND revoked_at IS NULL)`, familyID).Scan(&live)
	return live, pgError(err, "family live")
}

// SessionPurge implements SessionStore.
func (s *PostgresSessionStore) SessionPurge(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM auth_families f WHERE NOT EXISTS (
		SELECT 1 FROM auth_refresh_tokens t WHERE t.family_id = f.id AND t.expires_at >= $1)`, before)
	if err != nil {
		return 0, pgError(err, "purge sessions")
	}
	return int(tag.RowsAffected()), nil
}
