package auth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"guidecall/internal/auth"
	"guidecall/internal/auth/authtest"
	"guidecall/internal/db/dbtest"
	"guidecall/protocol"
)

func TestPostgresAccountStore(t *testing.T) {
	t.Parallel()
	dbtest.URL(t)
	authtest.RunAccountStoreSuite(t, func(t *testing.T) auth.AccountStore {
		pool, _ := dbtest.NewSchema(t)
		return auth.NewPostgresAccountStore(pool)
	})
}

func TestPostgresAccountStoreDuplicateID(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.NewSchema(t)
	s := auth.NewPostgresAccountStore(pool)
	ctx := context.Background()
	a := auth.Account{ID: "acc_1", Email: "one@example.com", Name: "One", Role: protocol.RoleGuide, PasswordHash: "h"}
	if _, err := s.AccountCreate(ctx, a); err != nil {
		t.Fatal(err)
	}
	a.Email = "two@example.com"
	if _, err := s.AccountCreate(ctx, a); !errors.Is(err, auth.ErrDuplicateID) {
		t.Errorf("second account with one id: err = %v, want ErrDuplicateID", err)
	}
}

func TestPostgresAccountStoreUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := auth.NewPostgresAccountStore(pool).AccountByEmail(ctx, "a@example.com"); !errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("AccountByEmail with nothing listening: err = %v, want ErrUnavailable", err)
	}
}

func TestPostgresSessionStore(t *testing.T) {
	t.Parallel()
	dbtest.URL(t)
	authtest.RunSessionStoreSuite(t, func(t *testing.T) auth.SessionStore {
		pool, _ := dbtest.NewSchema(t)
		return auth.NewPostgresSessionStore(pool)
	})
}
