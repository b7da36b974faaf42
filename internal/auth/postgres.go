package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"guidecall/internal/db"
)

// PostgresAccountStore is the AccountStore a cluster shares: the accounts
// table of internal/db/migrations. Safe for concurrent use by many nodes.
type PostgresAccountStore struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

var _ AccountStore = (*PostgresAccountStore)(nil)

// NewPostgresAccountStore returns a store over pool, whose schema must have
// been migrated (db.Migrate).
func NewPostgresAccountStore(pool *pgxpool.Pool) *PostgresAccountStore {
	return &PostgresAccountStore{pool: pool, now: time.Now}
}

// pgError is the one place where driver errors become this package's
// errors: no row is ErrNotFound, the email index is ErrDuplicateEmail, the
// primary key ErrDuplicateID, and a database that cannot be reached
// ErrUnavailable.
func pgError(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	if constraint, ok := db.UniqueViolation(err); ok {
		switch constraint {
		case "accounts_email_key":
			return fmt.Errorf("%w: %s", ErrDuplicateEmail, what)
		case "accounts_pkey":
			return fmt.Errorf("%w: %s", ErrDuplicateID, what)
		}
	}
	if db.IsUnavailable(err) {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
	}
	return fmt.Errorf("auth: postgres: %s: %w", what, err)
}

const accountColumns = `id, email, name, role, password_hash, created_at, disabled, failed_logins, last_failed_at, locked_until`

func scanAccount(r pgx.Row) (Account, error) {
	var a Account
	err := r.Scan(&a.ID, &a.Email, &a.Name, &a.Role, &a.PasswordHash, &a.CreatedAt,
		&a.Disabled, &a.FailedLogins, &a.LastFailedAt, &a.LockedUntil)
	a.CreatedAt = a.CreatedAt.UTC()
	a.LastFailedAt, a.LockedUntil = microUTC(a.LastFailedAt), microUTC(a.LockedUntil)
	return a, err
}

// AccountCreate implements AccountStore. When both the id and the email
// are taken, the error is ErrDuplicateID: Postgres checks the primary key
// first, where the memory store checks the email first.
func (s *PostgresAccountStore) AccountCreate(ctx context.Context, a Account) (Account, error) {
	a.Email = NormalizeEmail(a.Email)
	if a.Email == "" {
		return Account{}, fmt.Errorf("%w: empty email", ErrInvalidAccount)
	}
	if a.ID == "" {
		a.ID = uuid.NewString()
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = s.now()
	}
	a.CreatedAt = a.CreatedAt.UTC().Truncate(time.Microsecond)
	got, err := scanAccount(s.pool.QueryRow(ctx, `INSERT INTO accounts (id, email, name, role, password_hash, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+accountColumns,
		a.ID, a.Email, a.Name, a.Role, a.PasswordHash, a.CreatedAt))
	if err != nil {
		return Account{}, pgError(err, a.Email)
	}
	return got, nil
}

// AccountByEmail implements AccountStore.
func (s *PostgresAccountStore) AccountByEmail(ctx context.Context, email string) (Account, error) {
	email = NormalizeEmail(email)
	a, err := scanAccount(s.pool.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE lower(email) = $1`, email))
	if err != nil {
		return Account{}, pgError(err, "email "+email)
	}
	return a, nil
}

// AccountByID implements AccountStore.
func (s *PostgresAccountStore) AccountByID(ctx context.Context, id string) (Account, error) {
	a, err := scanAccount(s.pool.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id))
	if err != nil {
		return Account{}, pgError(err, "id "+id)
	}
	return a, nil
}

// AccountList implements AccountStore. Ties in created_at are broken by
// id byte-wise (COLLATE "C"), as the memory store's cmp.Compare does.
func (s *PostgresAccountStore) AccountList(ctx context.Context) ([]Account, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+accountColumns+` FROM accounts ORDER BY created_at, id COLLATE "C"`)
	if err != nil {
		return nil, pgError(err, "list")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Account, error) { return scanAccount(r) })
	if err != nil {
		return nil, pgError(err, "list")
	}
	if out == nil {
		out = []Account{}
	}
	return out, nil
}

// AccountUpdate implements AccountStore: the row is locked while change
// runs, so two nodes counting failures of one account never lose one.
func (s *PostgresAccountStore) AccountUpdate(ctx context.Context, id string, change func(*Account) error) (Account, error) {
	var out Account
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		a, err := scanAccount(tx.QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return pgError(err, "id "+id)
		}
		if err := change(&a); err != nil {
			return err
		}
		out, err = scanAccount(tx.QueryRow(ctx, `UPDATE accounts SET disabled = $2, failed_logins = $3,
			last_failed_at = $4, locked_until = $5 WHERE id = $1 RETURNING `+accountColumns,
			id, a.Disabled, a.FailedLogins, a.LastFailedAt, a.LockedUntil))
		return pgError(err, "update "+id)
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnavailable) {
			return Account{}, err
		}
		var pe interface{ SQLState() string }
		if errors.As(err, &pe) || db.IsUnavailable(err) {
			return Account{}, pgError(err, "update "+id)
		}
		return Account{}, err
	}
	return out, nil
}

// AccountDelete implements AccountStore.
func (s *PostgresAccountStore) AccountDelete(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM accounts WHERE id = $1`, id)
	if err != nil {
		return pgError(err, "delete "+id)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: id %s", ErrNotFound, id)
	}
	return nil
}
