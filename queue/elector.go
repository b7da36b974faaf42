package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultMatcherLockKey is the advisory lock the matcher's leader holds. It
// reads "gcallmat" in ASCII, far from the small integers other software
// tends to use. Advisory locks belong to the database, so two deployments
// sharing one database must use different keys.
const DefaultMatcherLockKey int64 = 0x6763616c6c6d6174

// AdvisoryElector makes one node of a cluster the leader by a PostgreSQL
// session advisory lock. The leader keeps one pooled connection for as long
// as it leads; when its process dies, Postgres ends that session and frees
// the lock, and a standby polling every second takes it. A leader that
// loses its connection (or whose parent context ends) gives up leadership
// within about a second.
//
// The lock is not a fence: after its session is lost, the old leader may
// go on for up to a check interval (plus the check's timeout) before its
// context ends, overlapping the new leader. Work done under leadership must
// stay correct if two nodes briefly do it at once, as the matcher's
// store transactions are meant to.
type AdvisoryElector struct {
	pool *pgxpool.Pool
	key  int64
	log  *slog.Logger

	// retry is how often a standby tries the lock; check is how often the
	// leader checks its connection, within checkTimeout.
	retry, check, checkTimeout time.Duration

	watchers sync.WaitGroup
}

// Wait returns once the goroutine watching the last leadership has given
// the lock and its connection back, so the pool can close after it.
func (e *AdvisoryElector) Wait() { e.watchers.Wait() }

// NewAdvisoryElector returns an elector competing for the advisory lock key
// on pool's database.
func NewAdvisoryElector(pool *pgxpool.Pool, key int64, log *slog.Logger) *AdvisoryElector {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &AdvisoryElector{
		pool:         pool,
		key:          key,
		log:          log.With("component", "elector", "lock_key", key),
		retry:        time.Second,
		check:        time.Second,
		checkTimeout: 2 * time.Second,
	}
}

// Lead tries the lock now and then every second until it holds it or ctx
// ends. Errors reaching the database are logged and retried, not returned:
// a standby must survive the database restarting. The returned context
// ends when ctx does or the lock's connection fails; the lock is then
// released and the connection returned (or destroyed, if broken) before
// the watching goroutine exits.
func (e *AdvisoryElector) Lead(ctx context.Context) (context.Context, error) {
	t := time.NewTicker(e.retry)
	defer t.Stop()
	for {
		leadCtx, err := e.try(ctx)
		switch {
		case leadCtx != nil:
			return leadCtx, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			e.log.Warn("leader election attempt failed", "err", err)
		default:
			e.log.Debug(msgLockHeldElsewhere)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// try makes one attempt. It returns a leadership context when it got the
// lock, and neither that nor an error when another session holds it.
func (e *AdvisoryElector) try(ctx context.Context) (context.Context, error) {
	actx, cancel := context.WithTimeout(ctx, e.checkTimeout)
	defer cancel()
	conn, err := e.pool.Acquire(actx)
	if err != nil {
		return nil, fmt.Errorf("acquire: %w", err)
	}
	var got bool
	if err := conn.QueryRow(actx, `SELECT pg_try_advisory_lock($1)`, e.key).Scan(&got); err != nil {
		// We cannot tell whether the lock was taken: never hand back to the
		// pool a session that might hold it.
		destroy(conn)
		return nil, fmt.Errorf("try lock: %w", err)
	}
	if !got {
		conn.Release()
		return nil, nil
	}
	leadCtx, lose := context.WithCancelCause(ctx)
	e.watchers.Go(func() { e.watch(ctx, leadCtx, lose, conn) })
	return leadCtx, nil
}

// msgLockHeldElsewhere is logged at debug level on each attempt that finds
// another session leading; tests count it to know a standby was refused.
const msgLockHeldElsewhere = "matcher lock held by another node; standing by"

var errConnLost = errors.New("queue: leader lock connection lost")

// watch checks the lock's connection every e.check. It ends leadership when
// a check fails or ctx ends, then gives the lock and connection back.
func (e *AdvisoryElector) watch(ctx, leadCtx context.Context, lose context.CancelCauseFunc, conn *pgxpool.Conn) {
	t := time.NewTicker(e.check)
	defer t.Stop()
	for {
		select {
		case <-leadCtx.Done(): // ctx ended (lose is ours alone)
			e.resign(conn)
			return
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, e.checkTimeout)
		_, err := conn.Exec(cctx, `SELECT 1`)
		cancel()
		if err != nil && ctx.Err() == nil {
			// The lock went with the session, or will when Postgres notices:
			// stop leading first, then clean up.
			lose(fmt.Errorf("%w: %w", errConnLost, err))
			e.log.Warn("leadership lost: lock connection failed", "err", err)
			destroy(conn)
			return
		}
	}
}

// resign releases the lock of a healthy connection and returns the
// connection to the pool; anything unexpected destroys it instead, which
// frees the lock just as well.
func (e *AdvisoryElector) resign(conn *pgxpool.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), e.checkTimeout)
	defer cancel()
	var released bool
	if err := conn.QueryRow(ctx, `SELECT pg_advisory_unlock($1)`, e.key).Scan(&released); err != nil || !released {
		destroy(conn)
		return
	}
	conn.Release()
}

func destroy(conn *pgxpool.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Hijack().Close(ctx)
}

// Elector decides which node runs the matcher loop.
type Elector interface {
	// Lead blocks until this node leads or ctx ends. The returned context
	// is canceled when leadership is lost.
	Lead(ctx context.Context) (context.Context, error)
}

// SoleLeader is the Elector of a single node: it always leads.
type SoleLeader struct{}

// Lead returns ctx itself: nobody else can take the lead away.
func (SoleLeader) Lead(ctx context.Context) (context.Context, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return ctx, nil
}
