package app

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"guidecall/catalog"
	"guidecall/internal/auth"
	"guidecall/internal/db"
	"guidecall/payments"
	"guidecall/queue"
	"guidecall/signaling"
)

// PostgresStores keeps everything in PostgreSQL and reaches the other
// nodes through it: LISTEN/NOTIFY for messages, an advisory lock for the
// matcher. It waits (with backoff, logging each try) for an unreachable
// database until ctx ends, and applies migrations first when migrate is set.
func PostgresStores(ctx context.Context, url string, migrate bool, log *slog.Logger) (Stores, error) {
	if migrate {
		n, err := migrateWithRetry(ctx, url, log)
		if err != nil {
			return Stores{}, err
		}
		log.Info("migrations applied", "count", n)
	}
	pool, err := db.Open(ctx, url, log.With("component", "db"))
	if err != nil {
		return Stores{}, fmt.Errorf("open database: %w", err)
	}
	if !migrate {
		n, err := db.Pending(ctx, pool)
		if err != nil {
			pool.Close()
			return Stores{}, fmt.Errorf("check migrations: %w", err)
		}
		if n > 0 {
			pool.Close()
			return Stores{}, fmt.Errorf("the database has %d migration(s) not applied yet: run `guidecall migrate` first, or start with --migrate", n)
		}
	}
	key, err := matcherLockKey(ctx, pool)
	if err != nil {
		pool.Close()
		return Stores{}, err
	}
	return Stores{
		Accounts: auth.NewPostgresAccountStore(pool),
		Sessions: auth.NewPostgresSessionStore(pool),
		Queue:    queue.NewPostgresStore(pool),
		Payments: payments.NewPostgresStore(pool),
		Catalog:  catalog.NewPostgresStore(pool),
		Pool:     pool,
		Bus:      signaling.NewPostgresBus(pool, log.With("component", "bus")),
		Elector:  queue.NewAdvisoryElector(pool, key, log.With("component", "elector")),
		Ready:    pool.Ping,
		Close:    pool.Close,
	}, nil
}

// migrateWithRetry applies migrations, waiting for the database like Open
// does: a node started together with its database should not give up.
func migrateWithRetry(ctx context.Context, url string, log *slog.Logger) (int, error) {
	pool, err := db.Open(ctx, url, log.With("component", "db"))
	if err != nil {
		return 0, fmt.Errorf("open database for migrations: %w", err)
	}
	pool.Close()
	n, err := db.Migrate(ctx, url, log.With("component", "migrate"))
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	return n, nil
}

// matcherLockKey derives the matcher's advisory lock from the schema the
// node works in. Advisory locks are per database, so two deployments (or
// two test clusters) in different schemas of one database must not share
// a key, or one would never run its matcher.
func matcherLockKey(ctx context.Context, pool *pgxpool.Pool) (int64, error) {
	var schema string
	if err := pool.QueryRow(ctx, "SELECT current_database() || '.' || current_schema()").Scan(&schema); err != nil {
		return 0, fmt.Errorf("read current schema: %w", err)
	}
	h := fnv.New64a()
	_, _ = fmt.Fprintf(h, "%d:%s", queue.DefaultMatcherLockKey, schema)
	return int64(h.Sum64()), nil
}
