package main

import (
	"context"
	"log/slog"

	"guidecall/app"
	"guidecall/internal/config"
)

// openStores picks the stores once: no database URL means memory.
func openStores(ctx context.Context, cfg config.Store, migrate bool, log *slog.Logger) (app.Stores, error) {
	if cfg.DatabaseURL == "" {
		log.Info("using the in-memory store; everything is lost on exit (set --database-url for PostgreSQL)")
		return app.MemoryStores(), nil
	}
	return app.PostgresStores(ctx, cfg.DatabaseURL, migrate, log)
}
