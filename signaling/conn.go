package signaling

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"guidecall/protocol"
)

// conn is one WebSocket. What it holds while it waits in line is kept to
// what it cannot do without, since ten thousand of them may wait on a node:
//
//   - one goroutine, its reader, started afresh once the socket is open
//     (serve), so that its stack is the few frames of a blocked read and
//     not the HTTP server's handler chain;
//   - no writer goroutine while there is nothing to send: enqueue starts
//     one when a frame arrives and it ends when the queue is empty, and
//     only one runs at a time, so frames leave in the order they came;
//   - no send buffer until there is a frame to queue;
//   - no pinger goroutine or timer: the hub's heartbeat starts a ping that
//     lives until its pong (or the socket's end).
type conn struct {
	hub    *Hub
	ws     *websocket.Conn
	remote string
	// clientIP is the client's address where it is not remote's host
	// (behind a trusted proxy), else empty.
	clientIP string
	who      Identity
	id       string
	limit    *rate.Limiter
	// registered is when the hub made this the party's socket; set under
	// hub.mu, read by other nodes' replacement checks.
	registered time.Time
	// ctx is the socket's lifetime, canceled by cancel when it ends: the
	// writer and the pings started from other goroutines (a sender's,
	// the heartbeat's) are bounded by it.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	queue   [][]byte // frames for the writer, oldest first; nil while empty
	writing bool     // a writer goroutine is draining queue
	live    bool     // the welcome was queued: frames go to queue, pings may start
	holding bool     // true while Open runs: frames wait so welcome goes first
	pending [][]byte // frames that arrived while holding
	gone    bool
	// writers counts the writer and ping goroutines; both are started
	// under mu only while the socket is not gone.
	writers sync.WaitGroup

	closeOnce sync.Once

	// slot is this socket's turn in the hub's heartbeat; pinging is set
	// while a ping is out.
	slot    int
	pinging atomic.Bool
}

func newConn(h *Hub, ws *websocket.Conn, remote, clientIP string) *conn {
	if clientIP == remoteHost(&http.Request{RemoteAddr: remote}) {
		clientIP = ""
	}
	return &conn{
		hub:      h,
		ws:       ws,
		remote:   remote,
		clientIP: clientIP,
		id:       rand.Text(),
		slot:     int(h.nextSlot.Add(1) % heartbeatSlots),
		limit:    rate.NewLimiter(rate.Limit(h.cfg.RatePerSecond), h.cfg.RatePerSecond),
	}
}

// enqueue hands a frame to the writer without ever blocking the caller; a
// client too slow to drain its buffer is cut off instead.
func (c *conn) enqueue(frame []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gone {
		return
	}
	if c.holding || !c.live {
		c.pending = append(c.pending, frame)
		return
	}
	if len(c.queue) >= c.hub.cfg.SendBuffer {
		c.gone = true
		c.logger().Warn("slow client disconnected", "buffered", len(c.queue))
		go c.closeWith(websocket.StatusPolicyViolation, "slow consumer")
		return
	}
	c.queue = append(c.queue, frame)
	c.startWriterLocked()
}

// startWriterLocked starts the writer if frames wait and none runs. c.mu
// is held.
func (c *conn) startWriterLocked() {
	if c.writing || c.gone || len(c.queue) == 0 {
		return
	}
	c.writing = true
	c.writers.Add(1)
	go c.write()
}

// buffered is how many frames wait for the writer.
func (c *conn) buffered() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

func (c *conn) sendMessage(typ protocol.Type, callID string, data any) {
	frame, err := protocol.Encode(typ, callID, data)
	if err != nil {
		c.logger().Error("encode frame", "type", typ, "err", err)
		return
	}
	c.enqueue(frame)
}

func (c *conn) sendError(e *protocol.Error, ref protocol.Type) {
	e2 := *e
	e2.Ref = string(ref)
	c.hub.obs.MessageRefused(ref, e.Code)
	c.hub.obs.MessageOut(protocol.TypeError)
	c.sendMessage(protocol.TypeError, "", &e2)
}

// closeWith closes the socket once with a close code the client can act on.
func (c *conn) closeWith(code websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.gone = true
		c.mu.Unlock()
		// Close waits for the peer's close frame, bounded by the library.
		_ = c.ws.Close(code, reason)
		c.cancel()
	})
}

// open authenticates the socket, makes it its party's and queues its
// welcome, and reports whether it is open. It runs on the HTTP handler's
// goroutine: the stack that authenticating and Sessions.Open grow ends
// with it, instead of staying with a socket that then waits for minutes.
func (c *conn) open(ctx context.Context) bool {
	who, err := c.authenticate(ctx)
	if err != nil {
		c.writeNow(ctx, asError(err), protocol.TypeAuth)
		c.closeWith(4401, "unauthorized")
		return false
	}
	who.Socket = c.id
	c.who = who

	c.mu.Lock()
	c.holding = true
	c.mu.Unlock()
	c.hub.register(ctx, c)
	octx, cancel := context.WithTimeout(ctx, c.hub.cfg.HandlerTimeout)
	welcome, err := c.hub.sessions.Open(octx, who)
	cancel()
	if err != nil {
		c.logger().Info("socket refused", "err", err)
		c.writeNow(ctx, asError(err), protocol.TypeAuth)
		c.hub.unregister(c)
		c.closeWith(websocket.StatusNormalClosure, "refused")
		return false
	}
	c.release(welcome)
	c.logger().Info("socket open")
	return true
}

// run reads an open socket until it ends, tells Sessions, and waits for
// its writer and ping. It runs on a goroutine of its own, started when
// the socket opened (see Hub.ServeHTTP); a handler's panic ends this
// socket with 1011, not the node.
func (c *conn) run(ctx context.Context) {
	c.readSafely(ctx)
	if c.hub.unregister(c) {
		// The socket's ctx may be canceled already; the change it records
		// must still complete, within a bound.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.hub.cfg.HandlerTimeout)
		c.hub.sessions.Close(cctx, c.who)
		cancel()
	}
	c.closeWith(websocket.StatusNormalClosure, "")
	c.writers.Wait()
	c.logger().Info("socket closed")
}

func (c *conn) readSafely(ctx context.Context) {
	defer func() {
		if p := recover(); p != nil {
			c.logger().Error("socket handler panicked; closing", "panic", p, "stack", string(debug.Stack()))
			c.closeWith(websocket.StatusInternalError, "internal error")
		}
	}()
	c.readLoop(ctx)
}

// logger names the socket and, once it authenticated, its party. It is
// built for each line rather than kept: a socket that waits logs twice in
// its life, and a kept logger with its attributes formatted costs every
// socket half a kilobyte.
func (c *conn) logger() *slog.Logger {
	args := make([]any, 0, 6)
	args = append(args, "remote", c.remote)
	if c.clientIP != "" {
		args = append(args, "client_ip", c.clientIP)
	}
	if c.who.ID != "" {
		args = append(args, partyAttrs(c.who.Address)...)
	}
	return c.hub.log.With(args...)
}

// partyAttrs are the log attributes naming a party: its address, and its
// id under the key the rest of guidecall logs it by.
func partyAttrs(a Address) []any {
	key := "guide_id"
	if a.Role == protocol.RoleShopper {
		key = "entry_id"
	}
	return []any{"party", a.String(), key, a.ID}
}

// release queues the welcome, then whatever arrived while Open ran, and
// makes the socket live: from now on frames go straight to its queue.
func (c *conn) release(welcome protocol.Welcome) {
	frame, err := protocol.Encode(protocol.TypeWelcome, "", welcome)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.holding, c.live = false, true
	if err == nil {
		c.queue = append(c.queue, frame)
		c.hub.obs.MessageOut(protocol.TypeWelcome)
	}
	// A client whose fresh buffer is this full is not reading: the
	// frames past it are dropped.
	c.queue = append(c.queue, c.pending[:min(len(c.pending), c.hub.cfg.SendBuffer-len(c.queue))]...)
	c.pending = nil
	c.startWriterLocked()
}

// writeNow writes an error frame before the writer runs (auth failures).
func (c *conn) writeNow(ctx context.Context, e *protocol.Error, ref protocol.Type) {
	e2 := *e
	e2.Ref = string(ref)
	frame, err := protocol.Encode(protocol.TypeError, "", &e2)
	if err != nil {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, c.hub.cfg.WriteTimeout)
	defer cancel()
	_ = c.ws.Write(wctx, websocket.MessageText, frame)
}

func (c *conn) authenticate(ctx context.Context) (Identity, error) {
	// A deadline on Read's context would make the library drop the TCP
	// connection without a close frame; the protocol promises 4401.
	t := time.AfterFunc(c.hub.cfg.AuthTimeout, func() { c.closeWith(4401, "no auth in time") })
	defer t.Stop()
	_, b, err := c.ws.Read(ctx)
	if err != nil {
		return Identity{}, protocol.Errorf(protocol.CodeUnauthorized, "no auth message: %v", err)
	}
	m, err := ParseMessage(b)
	if err != nil {
		return Identity{}, err
	}
	if m.Type != protocol.TypeAuth {
		return Identity{}, protocol.Errorf(protocol.CodeUnauthorized, "the first message must be auth, got %q", m.Type)
	}
	var auth protocol.Auth
	if err := m.Decode(&auth); err != nil || auth.Token == "" {
		return Identity{}, protocol.Errorf(protocol.CodeUnauthorized, "auth needs data.token")
	}
	who, err := c.hub.cfg.Auth.Authenticate(ctx, auth.Token)
	if err != nil {
		c.logger().Info("socket auth failed", "err", err)
		return Identity{}, protocol.Errorf(protocol.CodeUnauthorized, "token refused")
	}
	return who, nil
}

// write sends the queued frames in order and ends when the queue is
// empty; enqueue starts it again with the next frame. A write that fails
// (the client did not take a frame within WriteTimeout) closes the socket.
func (c *conn) write() {
	defer c.writers.Done()
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.writing, c.queue = false, nil
			c.mu.Unlock()
			return
		}
		frame := c.queue[0]
		c.queue[0] = nil
		c.queue = c.queue[1:]
		c.mu.Unlock()

		wctx, cancel := context.WithTimeout(c.ctx, c.hub.cfg.WriteTimeout)
		err := c.ws.Write(wctx, websocket.MessageText, frame)
		cancel()
		if err != nil {
			c.mu.Lock()
			c.writing, c.queue = false, nil
			gone := c.gone
			c.mu.Unlock()
			if !gone {
				c.logger().Info("write failed; closing", "err", err)
			}
			c.closeWith(websocket.StatusPolicyViolation, "write timeout")
			return
		}
	}
}

// startPing starts a ping when the hub's heartbeat says this socket's
// turn has come, unless one is still out or the socket is not open.
func (c *conn) startPing() {
	if !c.pinging.CompareAndSwap(false, true) {
		return
	}
	c.mu.Lock()
	ok := c.live && !c.gone
	if ok {
		c.writers.Add(1)
	}
	c.mu.Unlock()
	if !ok {
		c.pinging.Store(false)
		return
	}
	go c.ping()
}

// ping drops a peer that misses a pong for a whole heartbeat period. It
// runs on a goroutine of its own, so a slow pong never holds up writes.
func (c *conn) ping() {
	defer c.writers.Done()
	defer c.pinging.Store(false)
	pctx, cancel := context.WithTimeout(c.ctx, c.hub.cfg.Heartbeat)
	err := c.ws.Ping(pctx)
	cancel()
	if err != nil && c.ctx.Err() == nil {
		c.logger().Info("heartbeat missed; closing", "err", err)
		c.closeWith(4408, "heartbeat missed")
	}
}

// readLoop reads frames until the socket ends. It is the one frame of
// this package on a waiting socket's stack, so it holds nothing but the
// read: the runtime starts new goroutines with the average stack of the
// ones it scanned, and with ten thousand of these waiting that average is
// theirs. Kept under about 3 KiB (this frame and the library's read), it
// lets each start, and stay, at 4 KiB instead of 8.
func (c *conn) readLoop(ctx context.Context) {
	// The read itself needs no cancellation: a socket ends by closeWith,
	// which closes the connection under it. Given a context that can be
	// canceled, the library would register a callback on it for every
	// read and keep it while the socket waits.
	rctx := context.WithoutCancel(ctx)
	var limited int
	for {
		typ, b, err := c.ws.Read(rctx)
		if err != nil {
			c.readFailed(err)
			return
		}
		if !c.received(ctx, typ, b, &limited) {
			return
		}
	}
}

// readFailed logs why the read ended where the client broke a limit.
//
//go:noinline
func (c *conn) readFailed(err error) {
	// The library reports its own limit as ErrMessageTooBig, not as a
	// close status.
	if errors.Is(err, websocket.ErrMessageTooBig) {
		c.logger().Warn("frame over the library limit", "limit", c.hub.cfg.MaxMessageBytes)
	}
}

// received checks and handles one frame, and reports whether the socket
// reads on. limited counts the frames refused in a row by the rate limit.
// It is not inlined, so that its locals stay off readLoop's frame.
//
//go:noinline
func (c *conn) received(ctx context.Context, typ websocket.MessageType, b []byte, limited *int) bool {
	if int64(len(b)) > c.hub.cfg.MaxMessageBytes {
		c.logger().Warn("frame too large", "bytes", len(b))
		c.writeNow(ctx, protocol.Errorf(protocol.CodeTooLarge, "frame of %d bytes is over the %d byte limit", len(b), c.hub.cfg.MaxMessageBytes), "")
		c.closeWith(websocket.StatusMessageTooBig, "message too large")
		return false
	}
	if !c.limit.Allow() {
		// A client that keeps flooding after a second's worth of
		// refusals in a row is not going to slow down: cut it off.
		*limited++
		c.sendError(protocol.Errorf(protocol.CodeRateLimited, "more than %d messages per second", c.hub.cfg.RatePerSecond), "")
		if *limited > c.hub.cfg.RatePerSecond {
			c.closeWith(websocket.StatusPolicyViolation, "rate limit")
			return false
		}
		return true
	}
	*limited = 0
	if typ != websocket.MessageText {
		c.sendError(protocol.Errorf(protocol.CodeBadMessage, "binary frames are not part of the protocol"), "")
		return true
	}
	m, err := ParseMessage(b)
	if err != nil {
		c.logger().Info("bad message", "err", err)
		c.sendError(asError(err), m.Type)
		return true
	}
	c.hub.obs.MessageIn(m.Type)
	if err := c.handle(ctx, m); err != nil {
		pe := asError(err)
		if pe.Code == protocol.CodeInternal {
			c.logger().Error("message failed", "type", m.Type, "call_id", m.CallID, "err", err)
		} else {
			c.logger().Info("message refused", "type", m.Type, "call_id", m.CallID, "code", pe.Code, "err", err)
		}
		c.sendError(pe, m.Type)
	}
	return true
}

func (c *conn) handle(ctx context.Context, m protocol.Envelope) error {
	if m.Type == protocol.TypeAuth {
		return protocol.Errorf(protocol.CodeBadState, "already authenticated")
	}
	if !m.Type.Relayed() {
		fn, ok := c.hub.handlers.handler(m.Type, c.who.Role)
		if !ok {
			return protocol.Errorf(protocol.CodeUnknownType, "%q is not a message a %s sends", m.Type, c.who.Role)
		}
		ctx, cancel := context.WithTimeout(ctx, c.hub.cfg.HandlerTimeout)
		defer cancel()
		return fn(ctx, c.who, m)
	}
	route := c.hub.handlers.relayRoute()
	if route == nil {
		return protocol.Errorf(protocol.CodeUnknownType, "%q is not relayed by this server", m.Type)
	}
	// The other party gets the sender's data bytes, so they must be the
	// payload the protocol says, not whatever a client chose to send.
	if err := m.Decode(protocol.ClientPayload(m.Type)); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.hub.cfg.HandlerTimeout)
	defer cancel()
	to, err := route(ctx, c.who, m)
	if err != nil {
		return err
	}
	// m.Data is the sender's bytes, checked above and passed on unescaped
	// (json drops only whitespace between tokens); the envelope around
	// them is the server's.
	m.V, m.From = protocol.Version, c.who.Role
	frame, err := m.Marshal()
	if err != nil {
		return err
	}
	if int64(len(frame)) > c.hub.cfg.MaxMessageBytes {
		// The server's "from" made it longer than the sender's frame; the
		// other party would close with 1009 on it.
		return protocol.Errorf(protocol.CodeTooLarge, "%s of %d bytes with its sender is over the %d byte limit", m.Type, len(frame), c.hub.cfg.MaxMessageBytes)
	}
	if err := c.hub.publish(ctx, to, m.Type, frame); err != nil {
		return errors.Join(protocol.Errorf(protocol.CodeUnavailable, "could not reach the other party"), err)
	}
	return nil
}
