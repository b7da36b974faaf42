package signaling

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Identity is who a socket authenticated as.
type Identity struct {
	Address
	Name string
	// Socket is unique per socket, so the controller can tell a late close
	// of an old socket from the drop of the current one.
	Socket string
}

// Authenticator turns the token of an auth message into an identity.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (Identity, error)
}

// Controller is what signaling asks of the rest of guidecall. Errors it
// returns reach the client as protocol errors: return an *Error to choose
// the code.
type Controller interface {
	// Open registers a new socket of who and returns the welcome payload.
	Open(ctx context.Context, who Identity) (welcome any, err error)
	// Close unregisters who's socket; it is not called for a socket that a
	// newer one of the same party replaced.
	Close(ctx context.Context, who Identity)
	// Route checks that m's call is who's live call and returns the party
	// to relay m to. It may record progress (the first SDP of a call).
	Route(ctx context.Context, who Identity, m Message) (Address, error)
	// Handle applies a message that is not relayed.
	Handle(ctx context.Context, who Identity, m Message) error
}

// Config configures a Hub. Zero values take the defaults noted.
type Config struct {
	Auth       Authenticator
	Controller Controller
	Bus        Bus // nil: LocalBus
	Logger     *slog.Logger

	MaxMessageBytes int64         // 64 KiB
	Heartbeat       time.Duration // 15s between pings
	AuthTimeout     time.Duration // 10s for the first message
	WriteTimeout    time.Duration // 5s for one frame
	SendBuffer      int           // 64 frames queued per socket before it counts as slow
	RatePerSecond   int           // 50 messages per second per socket
	// OriginPatterns are the browser origins allowed besides the request's
	// own host; nil allows only same-origin browsers (and any non-browser).
	OriginPatterns []string
}

// Hub holds this node's sockets and routes frames between parties.
type Hub struct {
	cfg  Config
	bus  Bus
	log  *slog.Logger
	ctrl Controller

	mu       sync.Mutex
	conns    map[Address]*conn  // authenticated sockets by party
	all      map[*conn]struct{} // every socket, authenticated or not
	closing  bool
	draining sync.WaitGroup
}

// NewHub checks cfg and fills in defaults. The hub subscribes to the bus;
// the caller starts and stops the bus.
func NewHub(cfg Config) (*Hub, error) {
	if cfg.Auth == nil || cfg.Controller == nil {
		return nil, errors.New("signaling: Auth and Controller are required")
	}
	if cfg.Bus == nil {
		cfg.Bus = &LocalBus{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 64 << 10
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.AuthTimeout <= 0 {
		cfg.AuthTimeout = 10 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 5 * time.Second
	}
	if cfg.SendBuffer <= 0 {
		cfg.SendBuffer = 64
	}
	if cfg.RatePerSecond <= 0 {
		cfg.RatePerSecond = 50
	}
	h := &Hub{
		cfg:   cfg,
		bus:   cfg.Bus,
		log:   cfg.Logger.With("component", "signaling"),
		ctrl:  cfg.Controller,
		conns: make(map[Address]*conn),
		all:   make(map[*conn]struct{}),
	}
	h.bus.Subscribe(h.deliverLocal)
	return h, nil
}

// Send delivers a server message to a party on whichever node holds it.
func (h *Hub) Send(ctx context.Context, to Address, typ, callID string, data any) error {
	frame, err := encode(typ, callID, data)
	if err != nil {
		return err
	}
	return h.bus.Publish(ctx, to, frame)
}

// deliverLocal queues a frame on this node's socket of to, if it has one.
func (h *Hub) deliverLocal(to Address, frame []byte) {
	h.mu.Lock()
	c := h.conns[to]
	h.mu.Unlock()
	if c != nil {
		c.enqueue(frame)
	}
}

// Parties lists the parties whose sockets this node holds.
func (h *Hub) Parties() []Address {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Address, 0, len(h.conns))
	for a := range h.conns {
		out = append(out, a)
	}
	return out
}

// Connections counts this node's authenticated sockets.
func (h *Hub) Connections() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// ServeHTTP upgrades the request to a WebSocket and serves it until it
// closes.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		http.Error(w, `{"error":{"code":"shutting_down","message":"server is shutting down; reconnect to another node"}}`, http.StatusServiceUnavailable)
		return
	}
	h.draining.Add(1)
	h.mu.Unlock()
	defer h.draining.Done()

	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: h.cfg.OriginPatterns})
	if err != nil {
		h.log.Debug("websocket upgrade refused", "err", err, "remote", r.RemoteAddr)
		return
	}
	// The library closes frames past its limit with 1009 itself; leaving
	// room above ours lets slightly large frames get a readable error first.
	ws.SetReadLimit(h.cfg.MaxMessageBytes + 1024)
	// The cancel func is set before the socket is visible to Shutdown and
	// register, which call closeWith from other goroutines.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	c := newConn(h, ws, r.RemoteAddr)
	c.cancel = cancel
	h.mu.Lock()
	if h.closing {
		// Shutdown began while this socket was being accepted and did not
		// see it; it must not stay open past Shutdown.
		h.mu.Unlock()
		_ = ws.Close(websocket.StatusGoingAway, "server shutting down; reconnect")
		return
	}
	h.all[c] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.all, c)
		h.mu.Unlock()
	}()
	c.serve(ctx)
}

// register makes c the socket of its party, closing an older one.
func (h *Hub) register(c *conn) {
	h.mu.Lock()
	old := h.conns[c.who.Address]
	h.conns[c.who.Address] = c
	h.mu.Unlock()
	if old != nil {
		h.log.Info("socket replaced by a newer one", "party", c.who.Address.String())
		old.closeWith(4409, "replaced by a newer connection")
	}
}

// unregister removes c if it is still its party's socket and reports
// whether it was.
func (h *Hub) unregister(c *conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.conns[c.who.Address] != c {
		return false
	}
	delete(h.conns, c.who.Address)
	return true
}

// Shutdown stops taking sockets, closes every open one with 1001 so the
// clients reconnect elsewhere, and waits for their handlers until ctx ends.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closing = true
	open := make([]*conn, 0, len(h.all))
	for c := range h.all {
		open = append(open, c)
	}
	h.mu.Unlock()
	for _, c := range open {
		c.closeWith(websocket.StatusGoingAway, "server shutting down; reconnect")
	}
	done := make(chan struct{})
	go func() {
		h.draining.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
