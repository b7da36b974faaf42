package signaling

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"guidecall/protocol"
)

// conn is one WebSocket. The handler goroutine reads; one writer goroutine
// owns all writes and, when the hub's heartbeat says this socket's turn
// has come, starts a ping that lives until its pong (or the socket's end).
// There is no pinger goroutine or timer per socket: with ten thousand
// shoppers waiting, those were a goroutine stack and a timer each that
// did nothing for fifteen seconds at a time.
type conn struct {
	hub    *Hub
	ws     *websocket.Conn
	remote string
	log    *slog.Logger
	who    Identity
	id     string
	limit  *rate.Limiter
	// registered is when the hub made this the party's socket; set under
	// hub.mu, read by other nodes' replacement checks.
	registered time.Time

	mu      sync.Mutex
	send    chan []byte
	holding bool     // true while Open runs: frames wait so welcome goes first
	pending [][]byte // frames that arrived while holding
	gone    bool

	closeOnce sync.Once
	cancel    context.CancelFunc

	// slot is this socket's turn in the hub's heartbeat; pingDue is
	// signalled when it comes, pinging is set while a ping is out.
	slot    int
	pingDue chan struct{}
	pinging atomic.Bool
	pings   sync.WaitGroup
}

func newConn(h *Hub, ws *websocket.Conn, remote, clientIP string) *conn {
	log := h.log.With("remote", remote)
	if clientIP != "" && clientIP != remoteHost(&http.Request{RemoteAddr: remote}) {
		log = log.With("client_ip", clientIP)
	}
	return &conn{
		hub:     h,
		ws:      ws,
		remote:  remote,
		log:     log,
		id:      rand.Text(),
		send:    make(chan []byte, h.cfg.SendBuffer),
		slot:    int(h.nextSlot.Add(1) % heartbeatSlots),
		pingDue: make(chan struct{}, 1),
		limit:   rate.NewLimiter(rate.Limit(h.cfg.RatePerSecond), h.cfg.RatePerSecond),
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
	if c.holding {
		c.pending = append(c.pending, frame)
		return
	}
	select {
	case c.send <- frame:
	default:
		c.gone = true
		c.log.Warn("slow client disconnected", "buffered", len(c.send))
		go c.closeWith(websocket.StatusPolicyViolation, "slow consumer")
	}
}

func (c *conn) sendMessage(typ protocol.Type, callID string, data any) {
	frame, err := protocol.Encode(typ, callID, data)
	if err != nil {
		c.log.Error("encode frame", "type", typ, "err", err)
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
		if c.cancel != nil {
			c.cancel()
		}
	})
}

// serve runs the socket: authenticate, register, then read until it ends.
// ctx is canceled by c.cancel.
func (c *conn) serve(ctx context.Context) {

	who, err := c.authenticate(ctx)
	if err != nil {
		c.writeNow(ctx, asError(err), protocol.TypeAuth)
		c.closeWith(4401, "unauthorized")
		return
	}
	who.Socket = c.id
	c.who = who
	c.log = c.log.With(partyAttrs(who.Address)...)

	c.mu.Lock()
	c.holding = true
	c.mu.Unlock()
	c.hub.register(ctx, c)
	octx, cancel := context.WithTimeout(ctx, c.hub.cfg.HandlerTimeout)
	welcome, err := c.hub.sessions.Open(octx, who)
	cancel()
	if err != nil {
		c.log.Info("socket refused", "err", err)
		c.writeNow(ctx, asError(err), protocol.TypeAuth)
		c.hub.unregister(c)
		c.closeWith(websocket.StatusNormalClosure, "refused")
		return
	}
	c.release(welcome)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); c.writeLoop(ctx) }()
	c.log.Info("socket open")

	c.readLoop(ctx)

	if c.hub.unregister(c) {
		// The socket's ctx may be canceled already; the change it records
		// must still complete, within a bound.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.hub.cfg.HandlerTimeout)
		c.hub.sessions.Close(cctx, who)
		cancel()
	}
	c.closeWith(websocket.StatusNormalClosure, "")
	c.cancel()
	wg.Wait()
	c.pings.Wait()
	c.log.Info("socket closed")
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

// release queues the welcome, then whatever arrived while Open ran.
func (c *conn) release(welcome protocol.Welcome) {
	frame, err := protocol.Encode(protocol.TypeWelcome, "", welcome)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.holding = false
	if err == nil {
		c.pending = append([][]byte{frame}, c.pending...)
		c.hub.obs.MessageOut(protocol.TypeWelcome)
	}
	for _, f := range c.pending {
		select {
		case c.send <- f:
		default: // a fresh buffer this full means the client is not reading
		}
	}
	c.pending = nil
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
		c.log.Info("socket auth failed", "err", err)
		return Identity{}, protocol.Errorf(protocol.CodeUnauthorized, "token refused")
	}
	return who, nil
}

func (c *conn) writeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.pingDue:
			if c.pinging.CompareAndSwap(false, true) {
				c.pings.Add(1)
				go c.ping(ctx)
			}
		case frame := <-c.send:
			wctx, cancel := context.WithTimeout(ctx, c.hub.cfg.WriteTimeout)
			err := c.ws.Write(wctx, websocket.MessageText, frame)
			cancel()
			if err != nil {
				c.log.Info("write failed; closing", "err", err)
				go c.closeWith(websocket.StatusPolicyViolation, "write timeout")
				return
			}
		}
	}
}

// ping drops a peer that misses a pong for a whole heartbeat period. It
// runs on a goroutine of its own, so a slow pong never holds up writes.
func (c *conn) ping(ctx context.Context) {
	defer c.pings.Done()
	defer c.pinging.Store(false)
	pctx, cancel := context.WithTimeout(ctx, c.hub.cfg.Heartbeat)
	err := c.ws.Ping(pctx)
	cancel()
	if err != nil && ctx.Err() == nil {
		c.log.Info("heartbeat missed; closing", "err", err)
		c.closeWith(4408, "heartbeat missed")
	}
}

func (c *conn) readLoop(ctx context.Context) {
	limited := 0
	for {
		typ, b, err := c.ws.Read(ctx)
		if err != nil {
			// The library reports its own limit as ErrMessageTooBig, not as a
			// close status.
			if errors.Is(err, websocket.ErrMessageTooBig) {
				c.log.Warn("frame over the library limit", "limit", c.hub.cfg.MaxMessageBytes)
			}
			return
		}
		if int64(len(b)) > c.hub.cfg.MaxMessageBytes {
			c.log.Warn("frame too large", "bytes", len(b))
			c.writeNow(ctx, protocol.Errorf(protocol.CodeTooLarge, "frame of %d bytes is over the %d byte limit", len(b), c.hub.cfg.MaxMessageBytes), "")
			c.closeWith(websocket.StatusMessageTooBig, "message too large")
			return
		}
		if !c.limit.Allow() {
			// A client that keeps flooding after a second's worth of
			// refusals in a row is not going to slow down: cut it off.
			limited++
			c.sendError(protocol.Errorf(protocol.CodeRateLimited, "more than %d messages per second", c.hub.cfg.RatePerSecond), "")
			if limited > c.hub.cfg.RatePerSecond {
				c.closeWith(websocket.StatusPolicyViolation, "rate limit")
				return
			}
			continue
		}
		limited = 0
		if typ != websocket.MessageText {
			c.sendError(protocol.Errorf(protocol.CodeBadMessage, "binary frames are not part of the protocol"), "")
			continue
		}
		m, err := ParseMessage(b)
		if err != nil {
			c.log.Info("bad message", "err", err)
			c.sendError(asError(err), m.Type)
			continue
		}
		c.hub.obs.MessageIn(m.Type)
		if err := c.handle(ctx, m); err != nil {
			pe := asError(err)
			if pe.Code == protocol.CodeInternal {
				c.log.Error("message failed", "type", m.Type, "call_id", m.CallID, "err", err)
			} else {
				c.log.Info("message refused", "type", m.Type, "call_id", m.CallID, "code", pe.Code, "err", err)
			}
			c.sendError(pe, m.Type)
		}
	}
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
