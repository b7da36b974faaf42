package httpapi

import (
	"context"
	"fmt"
	"log/slog"

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
	return Stores{
		Accounts: auth.NewPostgresAccountStore(pool),
		Queue:    queue.NewPostgresStore(pool),
		Payments: payments.NewPostgresStore(pool),
		Bus:      signaling.NewPostgresBus(pool, log.With("component", "bus")),
		Elector:  queue.NewAdvisoryElector(pool, queue.DefaultMatcherLockKey, log.With("component", "elector")),
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
