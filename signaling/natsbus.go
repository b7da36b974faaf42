package signaling

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"

	"guidecall/protocol"
)

// NATSBus is the Bus of a cluster over a NATS server, for traffic that
// PostgreSQL's LISTEN/NOTIFY carries too slowly. Each node subscribes to a
// subject shared by every node and to one of its own; which node holds a
// party comes from the same bus_parties table as [PostgresBus] (a replaced
// frame records its party on the publishing node first, then travels), so
// a frame for a known party goes to that node's subject alone, and the
// rest (control frames, batches, unknown parties) to every node.
//
// NATS keeps nothing: a node whose connection is down misses what is
// published meanwhile (nats.go buffers its own publishes while it
// reconnects), and its clients resume from state as after any drop.
//
// Subjects are "guidecall.<scope>.all" and "guidecall.<scope>.node.<id>",
// where scope is named after the database schema, as the PostgreSQL
// channel is, so deployments (and parallel tests) sharing one server
// through separate schemas do not hear each other.
type NATSBus struct {
	url  string
	pool *pgxpool.Pool
	log  *slog.Logger
	node string

	mu      sync.Mutex
	deliver func(Address, []byte)
	nc      *nats.Conn
	scope   string
	subs    []*nats.Subscription
	stop    chan struct{}
	done    chan struct{}
	started bool
	stopped bool

	frames atomic.Int64
}

// natsPending bounds the messages queued for this node (the channel both
// subscriptions feed) before nats.go counts it a slow consumer and drops
// more.
const natsPending = 1 << 16

// NewNATSBus returns a bus over the NATS server at url; pool holds the
// bus_parties table.
func NewNATSBus(url string, pool *pgxpool.Pool, log *slog.Logger) *NATSBus {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	node := newNodeID()
	return &NATSBus{url: url, pool: pool, node: node, log: log.With("component", "natsbus", "node", node)}
}

// Node is this bus's node id.
func (b *NATSBus) Node() string { return b.node }

// Frames counts the frames this node has received and delivered.
func (b *NATSBus) Frames() int64 { return b.frames.Load() }

// Subscribe sets the function that receives this node's messages, one at a
// time from one goroutine. It must not block.
func (b *NATSBus) Subscribe(deliver func(Address, []byte)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.deliver = deliver
}

var (
	errNATSStarted    = errors.New("signaling: nats bus already started")
	errNATSStopped    = errors.New("signaling: nats bus stopped")
	errNATSNotStarted = errors.New("signaling: nats bus not started")
)

// Start connects to NATS and subscribes. It fails if the first connection
// does; later drops are retried by nats.go until Stop.
func (b *NATSBus) Start(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.stopped:
		return errNATSStopped
	case b.started:
		return errNATSStarted
	}
	var scope string
	if err := b.pool.QueryRow(ctx, `SELECT left(md5(coalesce(current_schema(), 'public')), 24)`).Scan(&scope); err != nil {
		return fmt.Errorf("signaling: nats bus scope: %w", err)
	}
	nc, err := nats.Connect(b.url,
		nats.Name("guidecall "+b.node),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: Stop closed it
				b.log.Warn("nats bus disconnected; reconnecting", "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { b.log.Info("nats bus reconnected") }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			b.log.Warn("nats bus error", "err", err)
		}),
	)
	if err != nil {
		return fmt.Errorf("signaling: nats bus connect %s: %w", b.url, err)
	}
	in := make(chan *nats.Msg, natsPending)
	var subs []*nats.Subscription
	for _, subject := range []string{b.sharedSubject(scope), b.nodeSubject(scope, b.node)} {
		sub, err := nc.ChanSubscribe(subject, in)
		if err != nil {
			nc.Close()
			return fmt.Errorf("signaling: nats bus subscribe %s: %w", subject, err)
		}
		subs = append(subs, sub)
	}
	// The subscriptions are live on the server once it answers a flush;
	// what is published after Start returns reaches this node.
	fctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	if err := nc.FlushWithContext(fctx); err != nil {
		nc.Close()
		return fmt.Errorf("signaling: nats bus subscribe: %w", err)
	}
	b.nc, b.scope, b.subs, b.started = nc, scope, subs, true
	b.stop, b.done = make(chan struct{}), make(chan struct{})
	go b.run(in, b.stop, b.done)
	b.log.Info("nats bus connected", "url", nc.ConnectedUrlRedacted(), "subject", b.nodeSubject(scope, b.node))
	return nil
}

func (b *NATSBus) sharedSubject(scope string) string { return "guidecall." + scope + ".all" }
func (b *NATSBus) nodeSubject(scope, node string) string {
	return "guidecall." + scope + ".node." + node
}

// run delivers the messages of both subjects in the order they arrive.
func (b *NATSBus) run(in <-chan *nats.Msg, stop, done chan struct{}) {
	defer close(done)
	for {
		select {
		case <-stop:
			return
		case m := <-in:
			to, frame, ok := decodeNATS(m.Data)
			if !ok {
				b.log.Warn("nats bus: bad message dropped", "bytes", len(m.Data))
				continue
			}
			b.frames.Add(1)
			b.mu.Lock()
			deliver := b.deliver
			b.mu.Unlock()
			if deliver != nil {
				deliver(to, frame)
			}
		}
	}
}

// Stop unsubscribes, closes the connection and waits for the delivering
// goroutine. Safe to call twice, and before Start.
func (b *NATSBus) Stop() {
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return
	}
	b.stopped = true
	nc, stop, done := b.nc, b.stop, b.done
	b.mu.Unlock()
	if nc == nil {
		return
	}
	// Flush what this node published, then close; Drain would also
	// deliver what is queued for us, which nobody wants any more.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_ = nc.FlushWithContext(ctx)
	cancel()
	nc.Close()
	close(stop)
	<-done
}

// Publish sends frame to the node that holds to, or to every node. A
// replaced frame first records its party on this node.
func (b *NATSBus) Publish(ctx context.Context, to Address, frame []byte) error {
	b.mu.Lock()
	nc, scope := b.nc, b.scope
	b.mu.Unlock()
	if nc == nil {
		return fmt.Errorf("signaling: publish to %s: %w", to, errNATSNotStarted)
	}
	subject := b.sharedSubject(scope)
	switch {
	case claims(frame):
		if _, err := b.pool.Exec(ctx, claimSQL, string(to.Role), to.ID, b.node); err != nil {
			return fmt.Errorf("signaling: record %s on node %s: %w", to, b.node, err)
		}
	case targetable(to, frame):
		var node string
		err := b.pool.QueryRow(ctx, `SELECT node FROM bus_parties WHERE role = $1 AND id = $2`, string(to.Role), to.ID).Scan(&node)
		switch {
		case err == nil:
			subject = b.nodeSubject(scope, node)
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("signaling: find the node of %s: %w", to, err)
		}
	}
	limit := int(nc.MaxPayload())
	msg := encodeNATS(to, frame)
	if len(msg) > limit && to == batchAddress {
		// A batch larger than the server takes travels in pieces, each a
		// batch of whole entries.
		body := frame[len(controlBatch):]
		for len(body) > 0 {
			n, ok := batchPrefix(body, limit-len(controlBatch)-64)
			if !ok {
				return fmt.Errorf("signaling: publish to %s: a batch entry does not fit %d bytes", to, limit)
			}
			part := append([]byte(controlBatch), body[:n]...)
			if err := nc.Publish(subject, encodeNATS(to, part)); err != nil {
				return fmt.Errorf("signaling: publish to %s: %w", to, err)
			}
			body = body[n:]
		}
		return nil
	}
	if err := nc.Publish(subject, msg); err != nil {
		return fmt.Errorf("signaling: publish to %s: %w", to, err)
	}
	return nil
}

// batchPrefix is the length of the longest run of whole batch entries at
// the start of body that fits limit bytes; false if not even one does.
func batchPrefix(body []byte, limit int) (int, bool) {
	n := 0
	rest := body
	for len(rest) > 0 {
		_, r1, ok1 := readNetstring(rest)
		_, r2, ok2 := readNetstring(r1)
		_, r3, ok3 := readNetstring(r2)
		if !ok1 || !ok2 || !ok3 {
			return 0, false
		}
		size := len(rest) - len(r3)
		if n+size > limit {
			break
		}
		n += size
		rest = r3
	}
	return n, n > 0
}

// encodeNATS is a message on the wire: the role and the id as netstrings,
// then the frame.
func encodeNATS(to Address, frame []byte) []byte {
	b := make([]byte, 0, len(frame)+len(to.ID)+len(to.Role)+8)
	b = appendNetstring(b, []byte(to.Role))
	b = appendNetstring(b, []byte(to.ID))
	return append(b, frame...)
}

func decodeNATS(data []byte) (Address, []byte, bool) {
	role, rest, ok1 := readNetstring(data)
	id, frame, ok2 := readNetstring(rest)
	if !ok1 || !ok2 {
		return Address{}, nil, false
	}
	return Address{Role: protocol.Role(role), ID: string(id)}, frame, true
}
