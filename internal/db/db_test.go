package db_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"guidecall/internal/db"
	"guidecall/internal/db/dbtest"
)

// emptySchema creates a schema without migrating it and returns a URL
// that uses it.
func emptySchema(t *testing.T) string {
	t.Helper()
	base := dbtest.URL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	schema := "test_empty_" + strings.ToLower(rand.Text())
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+ident+" CASCADE; CREATE SCHEMA "+ident); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), base)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), "DROP SCHEMA "+ident+" CASCADE"); err != nil {
			t.Error(err)
		}
	})
	u, err := dbtest.WithSearchPath(base, schema)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func countMigrations(t *testing.T) int {
	t.Helper()
	files, err := fs.Glob(db.Migrations(), "*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("embedded migrations: %q, %v", files, err)
	}
	m, err := rivermigrate.New(riverpgxv5.New(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	return len(files) + len(m.AllVersions())
}

func TestMigrateTwice(t *testing.T) {
	t.Parallel()
	u := emptySchema(t)
	ctx := context.Background()
	want := countMigrations(t)
	pool, err := db.Open(ctx, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if p, err := db.Pending(ctx, pool); err != nil || p != want {
		t.Errorf("Pending on an empty schema = %d, %v; want %d", p, err, want)
	}

	n, err := db.Migrate(ctx, u, nil)
	if err != nil {
		t.Fatalf("first Migrate: %v", err)
	}
	if n != want {
		t.Errorf("first Migrate applied %d, want %d", n, want)
	}
	n, err = db.Migrate(ctx, u, nil)
	if err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if n != 0 {
		t.Errorf("second Migrate applied %d, want 0", n)
	}
	if p, err := db.Pending(ctx, pool); err != nil || p != 0 {
		t.Errorf("Pending after Migrate = %d, %v; want 0", p, err)
	}

	// The tables and goose's version table landed in the test's schema.
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, table := range []string{"goose_db_version", "accounts", "queue_entries", "guides", "calls", "payment_links", "payment_events", "payment_outbox", "river_job", "river_migration"} {
		var ok bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1)", table).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		if !ok {
			t.Errorf("table %s not in the test schema", table)
		}
	}
}

// The URL a node is started with may carry the pool settings Open takes
// (pool_max_conns, ...); migrating over the same URL must not send them
// to the server, which refuses unknown parameters.
func TestMigrateURLWithPoolSettings(t *testing.T) {
	t.Parallel()
	u := emptySchema(t)
	ctx := context.Background()
	withPool := u + "&pool_max_conns=3&pool_max_conn_idle_time=1m"
	if !strings.Contains(u, "?") {
		withPool = u + "?pool_max_conns=3&pool_max_conn_idle_time=1m"
	}
	if n, err := db.Migrate(ctx, withPool, nil); err != nil || n != countMigrations(t) {
		t.Fatalf("Migrate with pool settings in the URL: applied %d, %v; want %d, nil", n, err, countMigrations(t))
	}
	pool, err := db.Open(ctx, withPool, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if got := pool.Config().MaxConns; got != 3 {
		t.Errorf("pool_max_conns=3 gave a pool of %d", got)
	}
}

func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	u := emptySchema(t)
	want := countMigrations(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var wg sync.WaitGroup
	applied := make([]int, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() { applied[i], errs[i] = db.Migrate(ctx, u, nil) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}
	if applied[0]+applied[1] != want || (applied[0] != 0 && applied[1] != 0) {
		t.Errorf("concurrent Migrate applied %v, want one of them %d and the other 0", applied, want)
	}
}

func TestOpenUnreachableGivesUp(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
	defer cancel()

	start := time.Now()
	pool, err := db.Open(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable", log)
	if err == nil {
		pool.Close()
		t.Fatal("Open on a closed port succeeded")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Open took %v to give up after a 1.2s context", took)
	}
	if ctx.Err() == nil {
		t.Errorf("Open returned before its context ended: %v", err)
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if n := strings.Count(out, "database unreachable; retrying"); n < 2 {
		t.Errorf("logged %d retries, want at least 2; log:\n%s", n, out)
	}
	if !strings.Contains(out, "attempt=2") {
		t.Errorf("retries do not carry the attempt number; log:\n%s", out)
	}
}

func TestOpenBadURLFailsFast(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := db.Open(ctx, "postgres://postgres@127.0.0.1:5432/test?sslmode=bogus", nil); err == nil {
		t.Fatal("Open with a bad URL succeeded")
	}
	if ctx.Err() != nil {
		t.Error("Open with a bad URL retried until its context ended")
	}
}

func TestOpenAndPing(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.NewSchema(t)
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM accounts").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("fresh schema has %d accounts", n)
	}
	if s := dbtest.SchemaName(t, pool); !strings.HasPrefix(s, "test_") {
		t.Errorf("pool uses schema %q, want test_*", s)
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestOpenStatementTimeout(t *testing.T) {
	t.Parallel()
	base := dbtest.URL(t)
	with := func(url, param string) string {
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		return url + sep + param
	}
	for _, tc := range []struct {
		name, url, want string
	}{
		{"default", base, "15s"},
		{"set in the URL", with(base, "statement_timeout=3000"), "3s"},
		{"set in options", with(base, "options=-c%20statement_timeout%3D4s"), "4s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			pool, err := db.Open(ctx, tc.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			var got string
			if err := pool.QueryRow(ctx, "SHOW statement_timeout").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("statement_timeout %q, want %q", got, tc.want)
			}
		})
	}
}

// TestMigrateAppliesALowerNumberLandedLater: a database that applied every
// file but one lower-numbered file (as when ranges reserved per line of
// work land out of order) gets that file on the next Migrate instead of a
// refusal to start.
func TestMigrateAppliesALowerNumberLandedLater(t *testing.T) {
	t.Parallel()
	u := emptySchema(t)
	ctx := context.Background()
	if _, err := db.Migrate(ctx, u, nil); err != nil {
		t.Fatalf("first Migrate: %v", err)
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// Undo 00011 (an early file with later ones after it) as if it had
	// never been applied.
	if _, err := conn.Exec(ctx, "DELETE FROM goose_db_version WHERE version_id = 11"); err != nil {
		t.Fatal(err)
	}
	// CASCADE: queue_entries' change trigger names every column but
	// seen_at (00120), erased_at among them. Only whether Migrate applies
	// the missing file is under test here.
	if _, err := conn.Exec(ctx, "DROP INDEX queue_entries_purge_idx; ALTER TABLE queue_entries DROP COLUMN erased_at CASCADE"); err != nil {
		t.Fatal(err)
	}
	n, err := db.Migrate(ctx, u, nil)
	if err != nil {
		t.Fatalf("Migrate with 00011 missing: %v", err)
	}
	if n != 1 {
		t.Errorf("Migrate applied %d, want 1 (the missing 00011)", n)
	}
	var back bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'queue_entries' AND column_name = 'erased_at')").Scan(&back); err != nil || !back {
		t.Errorf("queue_entries.erased_at after Migrate: %v, %v; want it back", back, err)
	}
}
