package db

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultStatementTimeout is the statement_timeout of pool connections
// whose URL does not set one. Nothing guidecall runs on the pool takes
// near this long; migrations use their own connection and are not bound.
const DefaultStatementTimeout = 15 * time.Second

// Backoff bounds for Open while the database is unreachable.
const (
	minRetryDelay = 250 * time.Millisecond
	maxRetryDelay = 5 * time.Second
)

// retryDelay is the wait after failed attempt n (1-based): 250ms, 500ms,
// 1s, ... capped at 5s.
func retryDelay(attempt int) time.Duration {
	d := minRetryDelay << min(attempt-1, 10)
	return min(d, maxRetryDelay)
}

// Open parses url, builds a pool and pings the database. While the
// database is unreachable (refused, down, starting up, shutting down) it
// keeps trying with a capped exponential backoff, logging each failure at
// Warn, until ctx ends; a node started next to its database in a compose
// file or a systemd unit should wait for it rather than crash. Any other
// failure (bad URL, wrong password, no such database) is returned at once.
//
// Pool sizes and lifetimes may be set in the URL (pool_max_conns,
// pool_health_check_period, ...); those not given get the defaults below.
// So may statement_timeout (?statement_timeout=30s, or in options); without
// it every statement is cut off after DefaultStatementTimeout, so a stuck
// query fails a request instead of holding a connection forever.
func Open(ctx context.Context, url string, log *slog.Logger) (*pgxpool.Pool, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("db: %w", err)
	}
	applyPoolDefaults(cfg, url)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("db: %w", err)
	}
	for attempt := 1; ; attempt++ {
		err := pool.Ping(ctx)
		if err == nil {
			if attempt > 1 {
				log.Info("database reachable", "attempts", attempt)
			}
			return pool, nil
		}
		if ctx.Err() != nil || !IsUnavailable(err) {
			pool.Close()
			return nil, fmt.Errorf("db: connect (attempt %d): %w", attempt, err)
		}
		delay := retryDelay(attempt)
		log.Warn("database unreachable; retrying", "attempt", attempt, "retry_in", delay, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			pool.Close()
			return nil, fmt.Errorf("db: gave up after %d attempts: %w", attempt, errors.Join(ctx.Err(), err))
		case <-t.C:
		}
	}
}

// applyPoolDefaults sets what the URL did not. The pool holds a few
// long-lived connections (the bus's LISTEN, the matcher's advisory lock),
// so it starts larger than pgx's default of max(4, NumCPU).
func applyPoolDefaults(cfg *pgxpool.Config, url string) {
	given := func(key string) bool { return strings.Contains(url, key+"=") }
	if !given("pool_max_conns") {
		cfg.MaxConns = int32(max(10, 2*runtime.NumCPU()))
	}
	if !given("pool_health_check_period") {
		cfg.HealthCheckPeriod = 30 * time.Second
	}
	if !given("pool_max_conn_idle_time") {
		cfg.MaxConnIdleTime = 5 * time.Minute
	}
	if !given("pool_max_conn_lifetime") {
		cfg.MaxConnLifetime = 30 * time.Minute
	}
	rp := cfg.ConnConfig.RuntimeParams
	if _, ok := rp["statement_timeout"]; !ok && !strings.Contains(rp["options"], "statement_timeout") {
		rp["statement_timeout"] = strconv.FormatInt(DefaultStatementTimeout.Milliseconds(), 10)
	}
	if !given("connect_timeout") {
		// Bounds one attempt, so a black-holed host is retried and logged
		// instead of hanging on the kernel's SYN timeout.
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
}
