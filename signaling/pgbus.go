package signaling

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"guidecall/protocol"
)

// PostgresBus is the Bus of a cluster: every node publishes into the
// bus_messages table and a NOTIFY, and delivers the frames whose party it
// holds (the hub drops the rest).
//
// # Addressed to one node
//
// Each bus has a node id, random per process. When a hub registers a
// party's socket it publishes a replaced control frame for that party; the
// same transaction records in bus_parties that the party is now on this
// node. A frame for a client is then addressed, in the statement that
// stores it, to the node bus_parties names: the row carries the node and
// the NOTIFY goes to that node's own channel, so no other node hears it or
// reads it. A party bus_parties does not know, and every control frame
// (replaced, revoked, notices, batches), go to the shared channel that
// every node listens on. A row points at the wrong node only after its
// party left, since a party that reconnects anywhere rewrites it before
// its welcome; rows older than [partyRetention] are deleted, and their
// parties fall back to the shared channel.
//
// # Why a table as well as NOTIFY
//
// A notification is lost if its listener's connection is down when it is
// sent, and its payload must stay under 8000 bytes, which an SDP offer often
// does not. So every message is a row first: the notification carries its id
// and, when it fits, the frame itself, and a listener that comes back reads
// the rows it missed. A janitor deletes rows after [busRetention]; a node
// away for longer than that misses the frames in between and its clients
// resume from state, as they do after any drop.
//
// # Why publishers take a lock
//
// The listener delivers in id order and never delivers an id at or below
// the last one it delivered, so it must never see id n before every smaller
// id is committed or abandoned. Sequence values are handed out before
// commit, so two concurrent publishers could commit out of order and the
// slower one's frame would be skipped. Publishing therefore holds a
// transaction-level advisory lock from taking the id to committing it; the
// cost is that publishes are serialized cluster-wide, for about the time of
// one insert and commit each, which is far beyond signaling's rate.
//
// # Channels and schemas
//
// Notification channels belong to the database, not to a schema. The
// channel is "guidecall_bus" in the public schema, and otherwise is named
// after the current schema, so that deployments (and parallel tests) that
// share a database through separate schemas do not hear each other.
type PostgresBus struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	node string

	mu      sync.Mutex
	deliver func(Address, []byte)
	started bool
	stopped bool
	cancel  context.CancelFunc
	done    chan struct{}

	stopOnce sync.Once
	pid      atomic.Uint32 // the listener's backend, for tests; 0 while down
	// delivered is the listener's last id, for Backlog; -1 until it has
	// started.
	delivered atomic.Int64
	// frames counts the frames this node's listener delivered, inline or
	// read from the table.
	frames atomic.Int64

	// testHookReconnect, when set, runs before each reconnect attempt, so
	// tests can hold the listener down while they publish.
	testHookReconnect func()
}

const (
	// maxInline bounds the notification payload that carries a frame; over
	// it the notification carries only the id. NOTIFY refuses 8000 bytes.
	maxInline = 7000
	// busRetention is how long a message stays in the table: longer than
	// any reconnect we expect to survive without losing frames.
	busRetention = 2 * time.Minute
	// janitorEvery is how often each node deletes expired rows.
	janitorEvery = 30 * time.Second
	// janitorBatch bounds one DELETE; a janitor run does a few at most.
	janitorBatch = 5000
	// partyRetention is how long a bus_parties row stays without its party
	// registering again. A party connected for longer is reached by
	// broadcast until it reconnects.
	partyRetention = 24 * time.Hour
	// fetchBatch bounds one catch-up read.
	fetchBatch = 500
	// queryTimeout bounds every statement of the listener.
	queryTimeout = 10 * time.Second
	// busPublishLockKey is the advisory lock that orders publishes (see the
	// type's documentation). It reads "gcallbus" in ASCII.
	busPublishLockKey int64 = 0x6763616c6c627573

	backoffMin = 100 * time.Millisecond
	backoffMax = 5 * time.Second
)

// busChannelSQL names the channel for the connection's current schema. The
// publisher and the listener both use it, so they cannot disagree.
const busChannelSQL = `CASE WHEN coalesce(current_schema(), 'public') = 'public'
	THEN 'guidecall_bus'
	ELSE 'guidecall_bus_' || left(md5(current_schema()), 24) END`

var (
	errBusStarted = errors.New("signaling: postgres bus already started")
	errBusStopped = errors.New("signaling: postgres bus stopped")
)

// NewPostgresBus returns a bus over pool's database. The bus_messages table
// comes from the migrations in internal/db.
func NewPostgresBus(pool *pgxpool.Pool, log *slog.Logger) *PostgresBus {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	node := newNodeID()
	b := &PostgresBus{pool: pool, log: log.With("component", "pgbus", "node", node), node: node}
	b.delivered.Store(-1)
	return b
}

// Node is this bus's node id.
func (b *PostgresBus) Node() string { return b.node }

// Frames counts the frames this node's listener has delivered.
func (b *PostgresBus) Frames() int64 { return b.frames.Load() }

// Backlog is what a bus holds that is not yet delivered, for metrics.
type Backlog struct {
	// NotifyQueueUsage is pg_notification_queue_usage(), 0-1: the share of
	// the database's NOTIFY queue that listeners have not consumed. When
	// it is full, every publish fails.
	NotifyQueueUsage float64
	// Undelivered counts the stored messages for this node (its own and
	// the shared ones) after the last one its listener delivered (-1 before it started): a node whose
	// listener is down or behind shows it here.
	Undelivered int64
}

// Backlog reads the NOTIFY queue usage and this node's undelivered rows.
func (b *PostgresBus) Backlog(ctx context.Context) (Backlog, error) {
	out := Backlog{Undelivered: -1}
	last := b.delivered.Load()
	var err error
	if last < 0 {
		err = b.pool.QueryRow(ctx, `SELECT pg_notification_queue_usage()`).Scan(&out.NotifyQueueUsage)
	} else {
		err = b.pool.QueryRow(ctx, `SELECT pg_notification_queue_usage(), (SELECT count(*) FROM bus_messages WHERE id > $1 AND (node IS NULL OR node = $2))`, last, b.node).
			Scan(&out.NotifyQueueUsage, &out.Undelivered)
	}
	if err != nil {
		return Backlog{}, fmt.Errorf("signaling: bus backlog: %w", err)
	}
	return out, nil
}

// Subscribe sets the function that receives every message on the bus. It
// is called from the listener's goroutine, one frame at a time, and must
// not block.
func (b *PostgresBus) Subscribe(deliver func(Address, []byte)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.deliver = deliver
}

// publishSQL stores a message, addressed to the node bus_parties names
// for its party when $5 allows it (else, or when the party is unknown, to
// every node), and notifies that node's channel or the shared one.
const publishSQL = `WITH m AS (
		INSERT INTO bus_messages (to_role, to_id, frame, node)
		SELECT $1, $2, $3, CASE WHEN $5::bool THEN
			(SELECT p.node FROM bus_parties p WHERE p.role = $1 AND p.id = $2) END
		RETURNING id, node
	), c AS (SELECT ` + busChannelSQL + ` AS shared)
	SELECT pg_notify(CASE WHEN m.node IS NULL THEN c.shared ELSE c.shared || '_' || m.node END,
		m.id::text || $4::text) FROM m, c`

// claimSQL records that party ($1, $2) is on node $3.
const claimSQL = `INSERT INTO bus_parties (role, id, node) VALUES ($1, $2, $3)
	ON CONFLICT (role, id) DO UPDATE SET node = excluded.node, claimed_at = now()`

// Publish stores the message and notifies its node, or every node, in one
// implicit transaction (a single round trip). A replaced frame also
// records that its party is on this node from now on.
func (b *PostgresBus) Publish(ctx context.Context, to Address, frame []byte) error {
	batch := &pgx.Batch{}
	batch.Queue(`SELECT pg_advisory_xact_lock($1)`, busPublishLockKey)
	if claims(frame) {
		batch.Queue(claimSQL, string(to.Role), to.ID, b.node)
	}
	batch.Queue(publishSQL, string(to.Role), to.ID, frame, inlineSuffix(to, frame), targetable(to, frame))
	if err := b.pool.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("signaling: publish to %s: %w", to, err)
	}
	return nil
}

// inlineSuffix is what follows the id in the notification: the address and
// frame when they fit and are safe as text, else nothing.
func inlineSuffix(to Address, frame []byte) string {
	n := 3 + len(to.Role) + len(to.ID) + len(frame)
	if n > maxInline ||
		strings.ContainsAny(string(to.Role), "\n\x00") ||
		strings.ContainsAny(to.ID, "\n\x00") ||
		strings.IndexByte(string(frame), 0) >= 0 ||
		!utf8.Valid(frame) {
		return ""
	}
	return "\n" + string(to.Role) + "\n" + to.ID + "\n" + string(frame)
}

// parsePayload reads a notification: the id, and the message when it was
// inlined.
func parsePayload(p string) (id int64, to Address, frame []byte, inline bool, err error) {
	head, rest, inline := strings.Cut(p, "\n")
	id, err = strconv.ParseInt(head, 10, 64)
	if err != nil {
		return 0, Address{}, nil, false, fmt.Errorf("bad bus payload id %q", head)
	}
	if !inline {
		return id, Address{}, nil, false, nil
	}
	parts := strings.SplitN(rest, "\n", 3)
	if len(parts) != 3 {
		return 0, Address{}, nil, false, fmt.Errorf("bad bus payload for id %d", id)
	}
	return id, Address{Role: protocol.Role(parts[0]), ID: parts[1]}, []byte(parts[2]), true, nil
}

// Start connects the listener and starts it from the newest message: what
// was published before Start is not replayed. It fails if the first
// connection does; later drops are retried until Stop. ctx bounds only the
// first connection.
func (b *PostgresBus) Start(ctx context.Context) error {
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return errBusStopped
	}
	if b.started {
		b.mu.Unlock()
		return errBusStarted
	}
	b.started = true
	b.mu.Unlock()

	l := &listener{bus: b}
	if err := l.connect(ctx, true); err != nil {
		b.mu.Lock()
		b.started = false
		b.mu.Unlock()
		return err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	b.mu.Lock()
	if b.stopped { // Stop ran while we connected
		b.mu.Unlock()
		cancel()
		l.disconnect()
		return errBusStopped
	}
	b.cancel, b.done = cancel, done
	b.mu.Unlock()
	go func() {
		defer close(done)
		l.run(runCtx)
	}()
	return nil
}

// Stop ends the listener and waits for it. Safe to call twice, and before
// Start.
func (b *PostgresBus) Stop() {
	b.stopOnce.Do(func() {
		b.mu.Lock()
		cancel, done := b.cancel, b.done
		b.stopped = true
		b.mu.Unlock()
		if cancel != nil {
			cancel()
			<-done
		}
	})
}

// listenerPID is the backend pid of the listening connection, 0 while it is
// down. Tests terminate it to force a reconnect.
func (b *PostgresBus) listenerPID() uint32 { return b.pid.Load() }

// listener is the state of the listening goroutine. Only that goroutine
// (and Start, before it runs) touches it.
type listener struct {
	bus     *PostgresBus
	conn    *pgx.Conn
	channel string // shared by every node
	own     string // this node's
	last    int64  // highest id delivered or skipped for good
}

// connect takes a connection out of the pool for good, listens, and then
// either starts from the newest id (first) or delivers what it missed.
// Listening first means nothing committed in between is lost.
func (l *listener) connect(ctx context.Context, first bool) error {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	pc, err := l.bus.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("signaling: bus listener connect: %w", err)
	}
	l.conn = pc.Hijack()
	if err := l.listenOn(ctx, first); err != nil {
		l.disconnect()
		return fmt.Errorf("signaling: bus listener connect: %w", err)
	}
	return nil
}

func (l *listener) listenOn(ctx context.Context, first bool) error {
	if err := l.conn.QueryRow(ctx, `SELECT `+busChannelSQL).Scan(&l.channel); err != nil {
		return err
	}
	l.own = l.channel + "_" + l.bus.node
	if _, err := l.conn.Exec(ctx, "LISTEN "+pgx.Identifier{l.channel}.Sanitize()+"; LISTEN "+pgx.Identifier{l.own}.Sanitize()); err != nil {
		return err
	}
	l.bus.pid.Store(l.conn.PgConn().PID())
	l.bus.log.Debug("bus listening", "channel", l.channel, "after_id", l.last, "first", first)
	if first {
		if err := l.conn.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM bus_messages`).Scan(&l.last); err != nil {
			return err
		}
		l.bus.delivered.Store(l.last)
		return nil
	}
	return l.fetch(ctx, 0)
}

func (l *listener) disconnect() {
	l.bus.pid.Store(0)
	if l.conn != nil {
		closeConn(l.conn)
		l.conn = nil
	}
}

func closeConn(c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = c.Close(ctx)
}

// run listens until ctx ends, reconnecting with backoff when the
// connection fails.
func (l *listener) run(ctx context.Context) {
	defer l.disconnect()
	delay := backoffMin
	for {
		if l.conn != nil {
			err := l.listen(ctx)
			l.disconnect()
			if ctx.Err() != nil {
				return
			}
			l.bus.log.Warn("bus listener lost its connection; reconnecting", "err", err)
			delay = backoffMin
		}
		// Jitter keeps the nodes of a cluster from reconnecting in step
		// after a database restart.
		wait := delay/2 + rand.N(delay/2+1)
		if !sleepCtx(ctx, wait) {
			return
		}
		if l.bus.testHookReconnect != nil {
			l.bus.testHookReconnect()
		}
		if err := l.connect(ctx, false); err != nil {
			if ctx.Err() != nil {
				return
			}
			l.bus.log.Warn("bus listener reconnect failed", "err", err, "retry_in", delay)
			delay = min(delay*2, backoffMax)
			continue
		}
		l.bus.log.Info("bus listener reconnected", "from_id", l.last)
	}
}

// listen waits for notifications and runs the janitor between them. It
// returns when the connection fails or ctx ends.
func (l *listener) listen(ctx context.Context) error {
	nextSweep := time.Now().Add(janitorEvery)
	for {
		waitCtx, cancel := context.WithDeadline(ctx, nextSweep)
		n, err := l.conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil && pgconn.Timeout(err) && !l.conn.IsClosed():
			if err := l.sweep(ctx); err != nil {
				return err
			}
			nextSweep = time.Now().Add(janitorEvery)
			continue
		case err != nil:
			return err
		}
		if n == nil || n.Channel != l.channel && n.Channel != l.own {
			continue
		}
		if err := l.handle(ctx, n.Payload); err != nil {
			return err
		}
	}
}

// handle delivers one notification's message, reading it from the table
// when it was not inlined.
//
// Ids skipped since the last one are normal: they belong to other nodes'
// channels, or to publishes that rolled back. A notification is never lost
// while the connection stays up (PostgreSQL queues it for every listener,
// and a publish whose NOTIFY cannot be queued fails), so only a reconnect
// reads the table for what came meanwhile.
func (l *listener) handle(ctx context.Context, payload string) error {
	id, to, frame, inline, err := parsePayload(payload)
	if err != nil {
		l.bus.log.Warn("bus: ignoring notification", "err", err)
		return nil
	}
	if id <= l.last {
		l.bus.log.Debug("bus: skipping delivered id", "id", id, "last", l.last)
		return nil
	}
	if inline {
		l.deliver(id, to, frame)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	return l.fetch(ctx, id)
}

// fetch delivers the stored messages after l.last, up to upTo (all when 0),
// in id order. Ids that are missing below upTo belong to publishes that
// rolled back (or to rows already expired) and are passed over.
func (l *listener) fetch(ctx context.Context, upTo int64) error {
	for {
		rows, err := l.conn.Query(ctx, `SELECT id, to_role, to_id, frame FROM bus_messages
			WHERE id > $1 AND ($2 = 0 OR id <= $2) AND (node IS NULL OR node = $4)
			ORDER BY id LIMIT $3`,
			l.last, upTo, fetchBatch, l.bus.node)
		if err != nil {
			return err
		}
		count := 0
		for rows.Next() {
			var (
				id        int64
				role, tid string
				frame     []byte
			)
			if err := rows.Scan(&id, &role, &tid, &frame); err != nil {
				rows.Close()
				return err
			}
			count++
			l.deliver(id, Address{Role: protocol.Role(role), ID: tid}, frame)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if count < fetchBatch {
			break
		}
	}
	if upTo > l.last {
		l.last = upTo
		l.bus.delivered.Store(l.last)
	}
	return nil
}

func (l *listener) deliver(id int64, to Address, frame []byte) {
	l.last = id
	l.bus.delivered.Store(id)
	l.bus.frames.Add(1)
	l.bus.mu.Lock()
	deliver := l.bus.deliver
	l.bus.mu.Unlock()
	if l.bus.log.Enabled(context.Background(), slog.LevelDebug) {
		l.bus.log.Debug("bus: message", "id", id, "to", to.String(), "bytes", len(frame))
	}
	if deliver != nil {
		deliver(to, frame)
	}
}

// sweep deletes expired rows, a bounded batch at a time. Every node sweeps;
// SKIP LOCKED keeps them from queueing behind each other.
func (l *listener) sweep(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	for range 10 {
		tag, err := l.conn.Exec(ctx, `DELETE FROM bus_messages WHERE id IN (
			SELECT id FROM bus_messages WHERE created_at < now() - make_interval(secs => $1)
			ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)`,
			busRetention.Seconds(), janitorBatch)
		if err != nil {
			return fmt.Errorf("bus janitor: %w", err)
		}
		if tag.RowsAffected() > 0 {
			l.bus.log.Debug("bus janitor", "deleted", tag.RowsAffected())
		}
		if tag.RowsAffected() < janitorBatch {
			break
		}
	}
	if _, err := l.conn.Exec(ctx, `DELETE FROM bus_parties WHERE claimed_at < now() - make_interval(secs => $1)`,
		partyRetention.Seconds()); err != nil {
		return fmt.Errorf("bus janitor: parties: %w", err)
	}
	return nil
}

// sleepCtx waits d, reporting false if ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
