package app_test

import (
	"context"
	"crypto/rand"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"guidecall/app"
	"guidecall/internal/db/dbtest"
)

// TestPostgresStoresRefusesUnmigratedSchema: a node pointed at an empty
// schema says which command fixes it instead of failing later on a
// missing table; with migrate set it prepares the schema itself.
func TestPostgresStoresRefusesUnmigratedSchema(t *testing.T) {
	base := dbtest.URL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	schema := "empty_" + strings.ToLower(rand.Text()[:10])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	url, err := dbtest.WithSearchPath(base, schema)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)

	_, err = app.PostgresStores(ctx, url, false, log)
	if err == nil || !strings.Contains(err.Error(), "guidecall migrate") {
		t.Fatalf("unmigrated schema: %v, want a pointer to guidecall migrate", err)
	}
	stores, err := app.PostgresStores(ctx, url, true, log)
	if err != nil {
		t.Fatalf("with migrate: %v", err)
	}
	stores.Close()
}
