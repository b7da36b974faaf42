package signaling

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"guidecall/protocol"
)

// Identity is who a socket authenticated as.
type Identity struct {
	Address
	Name string
	// Socket is unique per socket, so Sessions can tell a late close
	// of an old socket from the drop of the current one.
	Socket string
}

// Authenticator turns the token of an auth message into an identity.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (Identity, error)
}

// Sessions is told of every socket's life. Errors it returns reach the
// client as protocol errors: return a *protocol.Error to choose the code.
type Sessions interface {
	// Open registers a new socket of who and returns its welcome.
	Open(ctx context.Context, who Identity) (protocol.Welcome, error)
	// Close unregisters who's socket; it is not called for a socket that a
	// newer one of the same party replaced.
	Close(ctx context.Context, who Identity)
}

// Config configures a Hub. Zero values take the defaults noted.
type Config struct {
	Auth     Authenticator
	Sessions Sessions
	Bus      Bus // nil: LocalBus
	Logger   *slog.Logger

	MaxMessageBytes int64         // 64 KiB
	Heartbeat       time.Duration // 15s between pings
	AuthTimeout     time.Duration // 10s for the first message
	WriteTimeout    time.Duration // 5s for one frame
	SendBuffer      int           // 64 frames queued per socket before it counts as slow
	RatePerSecond   int           // 50 messages per second per socket
	// HandlerTimeout bounds each call to Sessions, a handler or the relay
	// route, so a stuck store cannot hold a socket forever.
	HandlerTimeout time.Duration // 10s
	// MaxConnections caps this node's sockets, authenticated or not; more
	// are refused with 503 before the upgrade.
	MaxConnections int // 20000
	// MaxConnectionsPerIP caps the sockets of one client address,
	// authenticated or not; more are refused with 429 before the upgrade.
	MaxConnectionsPerIP int // 50
	// ClientIP names the client of a request for MaxConnectionsPerIP and
	// logs; nil takes the host of r.RemoteAddr. The wiring passes one that
	// believes X-Forwarded-For only from trusted proxies.
	ClientIP func(r *http.Request) string
	// OriginPatterns are the browser origins allowed besides the request's
	// own host; nil allows only same-origin browsers (and any non-browser).
	OriginPatterns []string
	// Observer is told of messages and bus publishes, for metrics; nil
	// tells nobody.
	Observer Observer
	// Notices receives, on every node, what any node sent with
	// Hub.Notice: cluster-wide facts that are not for a client (a TURN
	// credential revoked). nil drops them.
	Notices func(topic, value string)
}

// Hub holds this node's sockets and routes frames between parties.
type Hub struct {
	cfg      Config
	bus      Bus
	log      *slog.Logger
	sessions Sessions
	handlers registry
	obs      Observer

	mu       sync.Mutex
	conns    map[Address]*conn  // authenticated sockets by party
	all      map[*conn]struct{} // every socket, authenticated or not
	open     int                // requests holding a connection slot
	perIP    map[string]int     // slots held per client address
	closing  bool
	draining sync.WaitGroup

	// The heartbeat runs while the hub holds sockets (heartbeat.go).
	nextSlot atomic.Int64
	beating  bool
	beatStop chan struct{}
}

// NewHub checks cfg and fills in defaults. The hub subscribes to the bus;
// the caller starts and stops the bus.
func NewHub(cfg Config) (*Hub, error) {
	if cfg.Auth == nil || cfg.Sessions == nil {
		return nil, errors.New("signaling: Auth and Sessions are required")
	}
	if cfg.Bus == nil {
		cfg.Bus = &LocalBus{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = protocol.MaxFrame
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
	if cfg.HandlerTimeout <= 0 {
		cfg.HandlerTimeout = 10 * time.Second
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = 20000
	}
	if cfg.MaxConnectionsPerIP <= 0 {
		cfg.MaxConnectionsPerIP = 50
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = remoteHost
	}
	if cfg.Observer == nil {
		cfg.Observer = noObserver{}
	}
	h := &Hub{
		cfg:      cfg,
		bus:      cfg.Bus,
		log:      cfg.Logger.With("component", "signaling"),
		sessions: cfg.Sessions,
		handlers: newRegistry(),
		obs:      cfg.Observer,
		conns:    make(map[Address]*conn),
		all:      make(map[*conn]struct{}),
		perIP:    make(map[string]int),
	}
	h.bus.Subscribe(h.deliverLocal)
	return h, nil
}

// Send delivers a server message to a party on whichever node holds it.
// data is the type's payload from package protocol, or nil.
func (h *Hub) Send(ctx context.Context, to Address, typ protocol.Type, callID string, data any) error {
	frame, err := protocol.Encode(typ, callID, data)
	if err != nil {
		return err
	}
	return h.publish(ctx, to, typ, frame)
}

// deliverLocal queues a frame on this node's socket of to, if it has one.
// Control frames between hubs are acted on here and never reach a client.
func (h *Hub) deliverLocal(to Address, frame []byte) {
	if isControl(frame) {
		h.control(to, frame)
		return
	}
	h.mu.Lock()
	c := h.conns[to]
	h.mu.Unlock()
	if c != nil {
		c.enqueue(frame)
	}
}

// Control frames travel the bus between hubs. Every frame for a client is
// a JSON object, so a frame that does not start with '{' cannot be one,
// and no client can forge a control frame: the server writes the envelope
// of every relayed message itself, around the sender's data.
//
// The only control frame today is "replaced <registered unix ns> <socket
// id>": a party's socket registered on some node, and any older socket of
// that party on other nodes must go.
const controlReplaced = "#replaced "

// controlRevoked is "revoked": the party's access was taken away (its
// account disabled), and its socket on every node must close with
// CloseRevoked.
const controlRevoked = "#revoked"

// CloseRevoked is the close code of a socket whose party lost its access.
// Clients must not reconnect with the same token.
const CloseRevoked = 4403

// Disconnect closes the socket of party to on whichever node holds it,
// with CloseRevoked. The close goes through the bus, so it reaches every
// node; Sessions is told of the close as of any other.
func (h *Hub) Disconnect(ctx context.Context, to Address, reason string) error {
	if err := h.bus.Publish(ctx, to, []byte(controlRevoked)); err != nil {
		return fmt.Errorf("signaling: disconnect %s: %w", to, err)
	}
	h.log.Info("socket revoked on every node", "party", to.String(), "reason", reason)
	return nil
}

// controlNotice is "#notice <topic> <value>", for Config.Notices of every
// node; noticeAddress is where it is published, a party nobody can be.
const controlNotice = "#notice "

var noticeAddress = Address{Role: "", ID: "#notice"}

// Notice tells every node's Config.Notices of topic and value, through
// the bus. topic must not contain a space.
func (h *Hub) Notice(ctx context.Context, topic, value string) error {
	if err := h.bus.Publish(ctx, noticeAddress, []byte(controlNotice+topic+" "+value)); err != nil {
		return fmt.Errorf("signaling: notice %s: %w", topic, err)
	}
	return nil
}

// RevokedFrame is the frame Disconnect publishes, for a process that holds
// the bus but no hub (the guidecall CLI).
func RevokedFrame() []byte { return []byte(controlRevoked) }

func isControl(frame []byte) bool { return len(frame) > 0 && frame[0] != '{' }

func replacedFrame(c *conn) []byte {
	return []byte(controlReplaced + strconv.FormatInt(c.registered.UnixNano(), 10) + " " + c.id)
}

// control applies a control frame for the party to.
func (h *Hub) control(to Address, frame []byte) {
	if body, ok := bytes.CutPrefix(frame, []byte(controlBatch)); ok {
		h.deliverBatch(body)
		return
	}
	if rest, ok := bytes.CutPrefix(frame, []byte(controlNotice)); ok {
		topic, value, _ := bytes.Cut(rest, []byte(" "))
		if h.cfg.Notices != nil {
			h.cfg.Notices(string(topic), string(value))
		}
		return
	}
	if string(frame) == controlRevoked {
		h.mu.Lock()
		c := h.conns[to]
		h.mu.Unlock()
		if c != nil {
			c.logger().Info("socket closed: access revoked")
			c.closeWith(CloseRevoked, "access revoked")
		}
		return
	}
	rest, ok := bytes.CutPrefix(frame, []byte(controlReplaced))
	if !ok {
		h.log.Warn("unknown control frame dropped", "frame", string(frame[:min(len(frame), 40)]))
		return
	}
	at, id, ok := bytes.Cut(rest, []byte(" "))
	ns, err := strconv.ParseInt(string(at), 10, 64)
	if !ok || err != nil {
		h.log.Warn("bad control frame dropped", "frame", string(frame[:min(len(frame), 80)]))
		return
	}
	h.mu.Lock()
	c := h.conns[to]
	// The newer socket wins; when two nodes register a party at once, each
	// hears of the other and exactly one socket stays, whichever order the
	// frames arrive in.
	older := c != nil && c.id != string(id) &&
		(c.registered.UnixNano() < ns || c.registered.UnixNano() == ns && c.id < string(id))
	if older {
		// Like a local replacement: Sessions is not told of this
		// socket's close, since the party is still connected elsewhere.
		delete(h.conns, to)
	}
	h.mu.Unlock()
	if older {
		c.logger().Info("socket replaced by a newer one on another node")
		c.closeWith(4409, "replaced by a newer connection")
	}
}

// Parties lists the parties whose sockets this node holds, with the id of
// each socket.
func (h *Hub) Parties() []Identity {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Identity, 0, len(h.conns))
	for _, c := range h.conns {
		out = append(out, c.who)
	}
	return out
}

// Connections counts this node's authenticated sockets.
func (h *Hub) Connections() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// remoteHost is the host part of r.RemoteAddr.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// refuse answers a request that gets no socket with a JSON error.
func refuse(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusTooManyRequests || code == "too_many_connections" {
		w.Header().Set("Retry-After", "5")
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"error":{"code":"` + code + `","message":"` + message + `"}}`))
}

// ServeHTTP upgrades the request to a WebSocket and serves it until it
// closes. The connection caps are checked, and a slot taken, before the
// upgrade, so a refused client gets an HTTP answer it can read.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ip := h.cfg.ClientIP(r)
	h.mu.Lock()
	switch {
	case h.closing:
		h.mu.Unlock()
		refuse(w, http.StatusServiceUnavailable, "shutting_down", "server is shutting down; reconnect to another node")
		return
	case h.open >= h.cfg.MaxConnections:
		h.mu.Unlock()
		h.log.Warn("socket refused: node at its connection limit", "limit", h.cfg.MaxConnections, "client_ip", ip)
		refuse(w, http.StatusServiceUnavailable, "too_many_connections", "this node holds all the connections it may; retry shortly")
		return
	case h.perIP[ip] >= h.cfg.MaxConnectionsPerIP:
		h.mu.Unlock()
		h.log.Info("socket refused: address at its connection limit", "limit", h.cfg.MaxConnectionsPerIP, "client_ip", ip)
		refuse(w, http.StatusTooManyRequests, "rate_limited", "too many connections from this address")
		return
	}
	h.open++
	h.perIP[ip]++
	h.draining.Add(1)
	h.mu.Unlock()
	// done gives the slot back once the socket has ended, on whichever
	// goroutine that happens.
	done := func() {
		h.mu.Lock()
		h.open--
		if h.perIP[ip]--; h.perIP[ip] <= 0 {
			delete(h.perIP, ip)
		}
		h.mu.Unlock()
		h.draining.Done()
	}

	// No permessage-deflate: protocol frames are a few hundred bytes, where
	// compression saves little, and its state would cost every socket
	// tens of kilobytes held for as long as it waits in line.
	ws, err := websocket.Accept(smallBuffers{w}, r, &websocket.AcceptOptions{OriginPatterns: h.cfg.OriginPatterns, CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		h.log.Debug("websocket upgrade refused", "err", err, "remote", r.RemoteAddr)
		done()
		return
	}
	// The library closes frames past its limit with 1009 itself; leaving
	// room above ours lets slightly large frames get a readable error first.
	ws.SetReadLimit(h.cfg.MaxMessageBytes + 1024)
	// The socket outlives this handler (see below), so its context keeps
	// the request's values but not its cancellation, which comes when the
	// handler returns. The cancel func is set before the socket is visible
	// to Shutdown and register, which call closeWith from other goroutines.
	c := newConn(h, ws, r.RemoteAddr, ip)
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	c.ctx, c.cancel = ctx, cancel
	h.mu.Lock()
	if h.closing {
		// Shutdown began while this socket was being accepted and did not
		// see it; it must not stay open past Shutdown.
		h.mu.Unlock()
		_ = ws.Close(websocket.StatusGoingAway, "server shutting down; reconnect")
		cancel()
		done()
		return
	}
	h.all[c] = struct{}{}
	if !h.beating {
		h.beating, h.beatStop = true, make(chan struct{})
		go h.heartbeat(h.beatStop)
	}
	h.mu.Unlock()
	end := func() {
		cancel()
		h.mu.Lock()
		delete(h.all, c)
		if len(h.all) == 0 && h.beating {
			h.beating = false
			close(h.beatStop)
		}
		h.mu.Unlock()
		done()
	}
	if !c.open(ctx) {
		end()
		return
	}
	// The socket is open. Its reads go on in a goroutine of its own, and
	// this handler returns: the HTTP server's goroutine, its stack, the
	// request and the connection's state are then freed, while the socket
	// may wait in line for many minutes. The hub's draining counts it
	// until it ends, so Shutdown still waits for it.
	go func() {
		defer end()
		c.run(ctx)
	}()
}

// socketBuffer is the size of the read and of the write buffer a socket
// keeps. Protocol frames are a few hundred bytes; a larger one (an SDP)
// is read into and written from its own slice past the buffer.
const socketBuffer = 512

// smallBuffers hands the WebSocket library, at the upgrade, read and
// write buffers of socketBuffer bytes instead of the HTTP server's 4 KiB
// each, which the library would otherwise keep for the socket's life.
type smallBuffers struct{ http.ResponseWriter }

func (w smallBuffers) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil {
		_ = nc.Close()
		return nil, nil, fmt.Errorf("signaling: flush before the upgrade: %w", err)
	}
	// What the client sent after its upgrade request (it may not wait for
	// the 101 to send auth) is in the server's reader already: the small
	// reader starts with it buffered, the way the library expects it.
	rest, _ := brw.Reader.Peek(brw.Reader.Buffered())
	br := bufio.NewReaderSize(bytes.NewReader(bytes.Clone(rest)), max(socketBuffer, len(rest)))
	if _, err := br.Peek(len(rest)); err != nil {
		_ = nc.Close()
		return nil, nil, fmt.Errorf("signaling: carry over buffered bytes: %w", err)
	}
	return nc, bufio.NewReadWriter(br, bufio.NewWriterSize(nc, socketBuffer)), nil
}

// register makes c the socket of its party, closing an older one here
// and, through the bus, on every other node.
func (h *Hub) register(ctx context.Context, c *conn) {
	h.mu.Lock()
	c.registered = time.Now()
	old := h.conns[c.who.Address]
	h.conns[c.who.Address] = c
	h.mu.Unlock()
	if old != nil {
		old.logger().Info("socket replaced by a newer one")
		old.closeWith(4409, "replaced by a newer connection")
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.HandlerTimeout)
	defer cancel()
	if err := h.bus.Publish(ctx, c.who.Address, replacedFrame(c)); err != nil {
		// Best effort like every publish: the old socket then lives until
		// it drops, and the queue already ignores its close.
		c.logger().Warn("could not tell other nodes of the new socket", "err", err)
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
