package db

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// CurrentSchema is the schema the pool's connections work in: the first
// of their search_path that exists. River is told it explicitly, so that
// its tables, and its LISTEN/NOTIFY topics (which are per database), stay
// with the app's.
func CurrentSchema(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	var schema *string
	if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return "", fmt.Errorf("db: current schema: %w", err)
	}
	if schema == nil {
		return "", errors.New("db: no schema of the search_path exists; create it first")
	}
	return *schema, nil
}

// migrateRiver applies River's own migrations to the schema of url. The
// caller holds the migration lock. River applies each version in a
// transaction of its own (one of them adds an enum value that a later
// statement uses, which one transaction cannot do).
func migrateRiver(ctx context.Context, url string, log *slog.Logger) (int, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return 0, fmt.Errorf("db: river migrations: %w", err)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return 0, fmt.Errorf("db: river migrations: %w", err)
	}
	defer pool.Close()
	schema, err := CurrentSchema(ctx, pool)
	if err != nil {
		return 0, err
	}
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: schema, Logger: log})
	if err != nil {
		return 0, fmt.Errorf("db: river migrations: %w", err)
	}
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return 0, fmt.Errorf("db: river migrations: %w", err)
	}
	for _, v := range res.Versions {
		log.Info("applied river migration", "version", v.Version, "name", v.Name, "schema", schema, "took", v.Duration)
	}
	return len(res.Versions), nil
}

// riverPending is how many River migrations the pool's schema lacks.
func riverPending(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	schema, err := CurrentSchema(ctx, pool)
	if err != nil {
		return 0, err
	}
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: schema, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return 0, err
	}
	var table *string
	if err := pool.QueryRow(ctx, "SELECT to_regclass('river_migration')::text").Scan(&table); err != nil {
		return 0, err
	}
	all := len(m.AllVersions())
	if table == nil {
		return all, nil
	}
	have, err := m.ExistingVersions(ctx)
	if err != nil {
		return 0, err
	}
	return max(all-len(have), 0), nil
}

// JobsConfig configures Jobs.
type JobsConfig struct {
	// Workers holds every job kind the node works; each part adds its own.
	Workers      *river.Workers
	PeriodicJobs []*river.PeriodicJob
	Logger       *slog.Logger
	// MaxWorkers is how many jobs run at once on this node (default 20).
	MaxWorkers int
	// FetchPollInterval is how often River looks for due jobs besides its
	// insert notifications (River's default, 1s, if zero); tests shorten it.
	FetchPollInterval time.Duration
	// ID names this client to River, and must stay the same when the
	// node restarts but differ between nodes running at once (hostname
	// and listen address). A killed leader's post stays taken for 15s;
	// with a stable id, Start gives up the post its previous run held, so
	// a restarted leader takes it back at once instead of leaving
	// scheduled jobs and periodic ones (reconciliation) waiting. Empty is
	// River's default, a new id per start.
	ID string
}

// Jobs is the node's one River client: it works the jobs of every part
// (webhook deliveries, reconciliation) and, while this node is River's
// leader, enqueues the periodic ones. One client per node matters: River
// elects one leader per schema among its clients, and only the leader's
// periodic jobs run.
type Jobs struct {
	client *river.Client[pgx.Tx]
	log    *slog.Logger
	pool   *pgxpool.Pool
	schema string
	id     string

	mu      sync.Mutex
	started bool
	stopped bool
}

// NewJobs builds the client over pool, in the pool's schema. Nothing runs
// until Start.
func NewJobs(ctx context.Context, pool *pgxpool.Pool, cfg JobsConfig) (*Jobs, error) {
	schema, err := CurrentSchema(ctx, pool)
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxWorkers <= 0 {
		cfg.MaxWorkers = 20
	}
	if len(cfg.ID) > 100 {
		cfg.ID = cfg.ID[:100]
	}
	c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		ID:     cfg.ID,
		Schema: schema,
		// A job a killed node was running is run again after this; the
		// longest job (a webhook attempt) is cut off after 30s.
		RescueStuckJobsAfter: 2 * time.Minute,
		Logger:               cfg.Logger,
		Workers:              cfg.Workers,
		PeriodicJobs:         cfg.PeriodicJobs,
		FetchPollInterval:    cfg.FetchPollInterval,
		FetchCooldown:        min(cfg.FetchPollInterval, river.FetchCooldownDefault),
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.MaxWorkers}},
	})
	if err != nil {
		return nil, fmt.Errorf("db: river client: %w", err)
	}
	return &Jobs{client: c, log: cfg.Logger, pool: pool, schema: schema, id: cfg.ID}, nil
}

// Start runs the client until Stop. River keeps running across database
// outages and picks the jobs up again when the database is back.
func (j *Jobs) Start(ctx context.Context) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.stopped {
		return errors.New("db: jobs stopped")
	}
	if j.started {
		return errors.New("db: jobs already started")
	}
	if j.id != "" {
		// A leader that was killed keeps its post in river_leader until
		// its term runs out (15s). Under a stable id that post can only be
		// this node's own, from before its restart: give it up, so the
		// election right after Start can take it again.
		if _, err := j.pool.Exec(ctx, `DELETE FROM `+pgx.Identifier{j.schema, "river_leader"}.Sanitize()+
			` WHERE leader_id = $1`, j.id); err != nil {
			j.log.Warn("could not clear this node's stale river leadership", "err", err)
		}
	}
	// River's own context must outlive a request-scoped ctx; Stop ends it.
	if err := j.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("db: start river: %w", err)
	}
	j.started = true
	return nil
}

// Stop waits (up to 10s) for running jobs, then cancels them; a canceled
// job is run again by River later, on this node or another. Idempotent.
func (j *Jobs) Stop() {
	j.mu.Lock()
	started := j.started && !j.stopped
	j.stopped = true
	j.mu.Unlock()
	if !started {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := j.client.Stop(ctx); err != nil {
		j.log.Warn("river did not stop in time; canceling its jobs", "err", err)
		_ = j.client.StopAndCancel(context.Background())
	}
}

// Client is the River client, for tests that wait on its events.
func (j *Jobs) Client() *river.Client[pgx.Tx] { return j.client }
