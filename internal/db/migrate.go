package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var embedded embed.FS

// Migrations returns the embedded migration files, for tools that want to
// list or print them.
func Migrations() fs.FS {
	sub, err := fs.Sub(embedded, "migrations")
	if err != nil {
		panic("db: embedded migrations: " + err.Error())
	}
	return sub
}

// Migrate applies the migrations not yet applied to the database at url,
// guidecall's own and then River's (rivermigrate), and returns how many it
// applied; running it on an up-to-date database applies none. Tables, and goose's own version table, go into the first
// schema of the connection's search_path (public unless the URL sets
// search_path).
//
// Concurrent calls against the same database and schema are serialized by
// a session advisory lock: the second waits for the first and then finds
// nothing to do.
func Migrate(ctx context.Context, url string, log *slog.Logger) (applied int, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Parsed as a pool's URL, so that the pool settings Open accepts
	// (pool_max_conns, ...) are taken off rather than sent to the server
	// as run-time parameters, which it refuses.
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return 0, fmt.Errorf("db: migrate: %w", err)
	}
	cfg := pcfg.ConnConfig
	// One session lock over both steps, so that of two nodes migrating at
	// once one applies everything and the other finds nothing to do.
	lockConn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return 0, fmt.Errorf("db: migrate: %w", err)
	}
	defer lockConn.Close(context.WithoutCancel(ctx))
	sqlDB := stdlib.OpenDB(*cfg)
	defer sqlDB.Close()

	lockID, schema, err := migrationLockID(ctx, sqlDB)
	if err != nil {
		return 0, fmt.Errorf("db: migrate: %w", err)
	}
	if _, err := lockConn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockID^1); err != nil {
		return 0, fmt.Errorf("db: migrate: lock: %w", err)
	}
	defer func() { _, _ = lockConn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lockID^1) }()
	// Retry the lock every second for up to ten minutes; the default (every
	// 5s) would make a node that lost the race start 5s late.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID), lock.WithLockTimeout(1, 600))
	if err != nil {
		return 0, fmt.Errorf("db: migrate: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, Migrations(),
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
		// Migration numbers are reserved in ranges per line of work, so a
		// lower number can land after a higher one was applied; goose would
		// otherwise refuse to start such a database.
		goose.WithAllowOutofOrder(true),
	)
	if err != nil {
		return 0, fmt.Errorf("db: migrate: %w", err)
	}
	results, err := p.Up(ctx)
	var partial *goose.PartialError
	if errors.As(err, &partial) {
		results = partial.Applied
	}
	for _, r := range results {
		log.Info("applied migration", "version", r.Source.Version, "file", r.Source.Path, "schema", schema, "took", r.Duration)
	}
	if err != nil {
		return len(results), fmt.Errorf("db: migrate: %w", err)
	}
	// River's tables (jobs, leader, queues) live in the same schema, so a
	// per-test schema gets its own River, and one `guidecall migrate`
	// prepares everything a node runs.
	n, err := migrateRiver(ctx, url, log)
	if err != nil {
		return len(results), err
	}
	return len(results) + n, nil
}

// migrationLockID derives the advisory lock key from the database and the
// schema migrations go into, so that migrating one schema never waits for
// another (advisory locks are per database, not per schema).
func migrationLockID(ctx context.Context, sqlDB *sql.DB) (id int64, schema string, err error) {
	var dbName string
	var cur sql.NullString
	if err := sqlDB.QueryRowContext(ctx, "SELECT current_database(), current_schema()").Scan(&dbName, &cur); err != nil {
		return 0, "", err
	}
	if !cur.Valid {
		return 0, "", errors.New("no schema of the search_path exists; create it first")
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "guidecall-migrate\x00%s\x00%s", dbName, cur.String)
	return int64(h.Sum64()), cur.String, nil
}

// Pending returns how many embedded migrations the database behind pool
// has not applied yet, without changing anything (goose's own status
// calls would create its version table). Commands that need the schema
// use it to tell the operator to run `guidecall migrate` rather than fail
// on a missing table.
func Pending(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	files, err := fs.Glob(Migrations(), "*.sql")
	if err != nil {
		return 0, fmt.Errorf("db: pending: %w", err)
	}
	var current int64
	var table *string
	if err := pool.QueryRow(ctx, "SELECT to_regclass('goose_db_version')::text").Scan(&table); err != nil {
		return 0, fmt.Errorf("db: pending: %w", err)
	}
	if table != nil {
		if err := pool.QueryRow(ctx, "SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied").Scan(&current); err != nil {
			return 0, fmt.Errorf("db: pending: %w", err)
		}
	}
	n := 0
	for _, f := range files {
		v, err := goose.NumericComponent(f)
		if err != nil {
			return 0, fmt.Errorf("db: pending: %w", err)
		}
		if v > current {
			n++
		}
	}
	r, err := riverPending(ctx, pool)
	if err != nil {
		return 0, fmt.Errorf("db: pending: river: %w", err)
	}
	return n + r, nil
}
