package main

import (
	"context"
	"log/slog"

	"guidecall/internal/config"
	"guidecall/internal/httpapi"
)

// openStores picks the stores once: no database URL means memory.
func openStores(ctx context.Context, cfg config.Store, migrate bool, log *slog.Logger) (httpapi.Stores, error) {
	if cfg.DatabaseURL == "" {
		log.Info("using the in-memory store; everything is lost on exit (set --database-url for PostgreSQL)")
		return httpapi.MemoryStores(), nil
	}
	return httpapi.PostgresStores(ctx, cfg.DatabaseURL, migrate, log)
}
