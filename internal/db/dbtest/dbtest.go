// Package dbtest gives each test its own PostgreSQL schema, migrated and
// dropped again when the test ends, so Postgres tests run in parallel
// without seeing each other's rows.
//
// Tests that need PostgreSQL read DATABASE_URL. Without it they skip,
// unless GUIDECALL_REQUIRE_PG=1, which turns the skip into a failure so CI
// cannot pass by silently skipping.
//
// A schema (rather than River's rolled-back transaction per test) is what
// the stores need: they open their own transactions, the bus uses
// LISTEN/NOTIFY, and concurrency tests need several connections to see the
// same committed rows. Note that LISTEN/NOTIFY channels and advisory locks
// are per database, not per schema: tests that use them must pick names
// or keys unique to the test (the schema name, from SchemaName, will do).
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"guidecall/internal/db"
)

// URL returns DATABASE_URL, or skips the test when it is not set (fails it
// when GUIDECALL_REQUIRE_PG=1).
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("DATABASE_URL")
	if u == "" {
		if os.Getenv("GUIDECALL_REQUIRE_PG") == "1" {
			t.Fatal("DATABASE_URL not set but GUIDECALL_REQUIRE_PG=1")
		}
		t.Skip("DATABASE_URL not set; skipping PostgreSQL test")
	}
	return u
}

// NewSchema creates a fresh schema named test_<random>, applies the
// migrations to it and returns a pool and a URL whose connections use that
// schema only (search_path). In t.Cleanup it closes the pool and drops the
// schema with everything in it. Connections made from the URL by the test
// itself must be closed by the test before it ends.
func NewSchema(t testing.TB) (pool *pgxpool.Pool, schemaURL string) {
	t.Helper()
	base := URL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "test_" + hex.EncodeToString(b[:])
	ident := pgx.Identifier{schema}.Sanitize()

	if err := exec(ctx, base, "CREATE SCHEMA "+ident); err != nil {
		t.Fatalf("dbtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := exec(ctx, base, "DROP SCHEMA IF EXISTS "+ident+" CASCADE"); err != nil {
			t.Errorf("dbtest: drop schema %s: %v", schema, err)
		}
	})

	schemaURL, err := WithSearchPath(base, schema)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	if _, err := db.Migrate(ctx, schemaURL, log); err != nil {
		t.Fatalf("dbtest: migrate %s: %v", schema, err)
	}
	pool, err = db.Open(ctx, schemaURL, log)
	if err != nil {
		t.Fatalf("dbtest: open %s: %v", schema, err)
	}
	// Registered after the drop, so it runs before it.
	t.Cleanup(pool.Close)
	return pool, schemaURL
}

// SchemaName returns the schema a URL from NewSchema points at.
func SchemaName(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	var s string
	if err := pool.QueryRow(context.Background(), "SELECT current_schema()").Scan(&s); err != nil {
		t.Fatalf("dbtest: current_schema: %v", err)
	}
	return s
}

// WithSearchPath returns connString with its search_path set to schema,
// sent as a run-time parameter when each connection starts. Both URL
// (postgres://...) and keyword/value (host=... dbname=...) forms work.
func WithSearchPath(connString, schema string) (string, error) {
	if strings.Contains(connString, "://") {
		u, err := url.Parse(connString)
		if err != nil {
			return "", err
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	return connString + " search_path=" + schema, nil
}

func exec(ctx context.Context, connString, sql string) error {
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}
