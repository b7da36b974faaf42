package signaling_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"guidecall/protocol"
	"guidecall/signaling"
)

// headerIP lets a test pose as many client addresses over loopback.
func headerIP(r *http.Request) string {
	if ip := r.Header.Get("X-Test-IP"); ip != "" {
		return ip
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	return host
}

// dialAs dials as the client address ip and returns the socket, or the
// HTTP status and body of the refusal.
func (e *env) dialAs(t *testing.T, ip string) (*client, int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, e.url, &websocket.DialOptions{HTTPHeader: http.Header{"X-Test-IP": {ip}}})
	if err != nil {
		if resp == nil {
			t.Fatalf("dial as %s: %v", ip, err)
		}
		b, _ := io.ReadAll(resp.Body)
		return nil, resp.StatusCode, string(b)
	}
	c := &client{t: t, ws: ws, frames: make(chan frame, 64), done: make(chan struct{})}
	t.Cleanup(c.close)
	c.start()
	return c, http.StatusSwitchingProtocols, ""
}

func TestConnectionCaps(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *signaling.Config) {
		c.MaxConnections, c.MaxConnectionsPerIP, c.ClientIP = 3, 2, headerIP
		// The sockets stay unauthenticated: the auth timeout must not free
		// their slots midway on a slow machine.
		c.AuthTimeout = time.Minute
	})
	a1, _, _ := e.dialAs(t, "198.51.100.1")
	e.dialAs(t, "198.51.100.1")
	// Unauthenticated sockets count: the third from one address is refused
	// before the upgrade, with a JSON answer.
	if c, status, body := e.dialAs(t, "198.51.100.1"); c != nil || status != http.StatusTooManyRequests || !strings.Contains(body, `"code":"rate_limited"`) {
		t.Fatalf("third socket from one address: status %d body %q", status, body)
	}
	e.dialAs(t, "198.51.100.2")
	if c, status, body := e.dialAs(t, "198.51.100.3"); c != nil || status != http.StatusServiceUnavailable || !strings.Contains(body, `"code":"too_many_connections"`) {
		t.Fatalf("socket over the node's cap: status %d body %q", status, body)
	}
	// A closed socket frees its slots.
	a1.close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, status, _ := e.dialAs(t, "198.51.100.1")
		if c != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot not freed after close: %d", status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestConnectionCapDefaults(t *testing.T) {
	t.Parallel()
	// The sockets stay unauthenticated: the auth timeout must not free
	// their slots midway on a slow machine.
	e := newEnv(t, func(c *signaling.Config) { c.AuthTimeout = time.Minute })
	// 50 per address by default: the 51st from loopback is refused.
	for i := range 50 {
		if c, status, body := e.dialAs(t, ""); c == nil {
			t.Fatalf("socket %d: %d %s", i+1, status, body)
		}
	}
	if c, status, _ := e.dialAs(t, ""); c != nil || status != http.StatusTooManyRequests {
		t.Fatalf("socket 51: status %d, want 429", status)
	}
}

func TestControllerCallsAreBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *signaling.Config) { c.HandlerTimeout = 3 * time.Second })
	a := e.connect(t, "tok-a")
	a.send(msg(protocol.TypeCallConnected, "c_1", nil))
	expectOne(t, e.ctrl.handled, "Handle")
	a.send(msg(protocol.TypeSDP, "c_1", map[string]string{"type": "offer", "sdp": "v=0"}))
	a.expectError(protocol.CodeNotInCall, protocol.TypeSDP)
	a.close()
	expectOne(t, e.ctrl.closed, "Close")
	for _, method := range []string{"Open", "Handle", "Route", "Close"} {
		s := expectOne(t, e.ctrl.seen, method)
		if s.method != method {
			t.Fatalf("controller call %s, want %s", s.method, method)
		}
		if s.deadline <= 0 || s.deadline > 3*time.Second {
			t.Errorf("%s: %s until the deadline, want a bound of at most 3s", method, s.deadline)
		}
		// Close comes after the socket ended, and must still be able to
		// finish its change.
		if s.err != nil {
			t.Errorf("%s: context already done: %v", method, s.err)
		}
	}
}

func TestLogsNameParty(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	e := newEnv(t, func(c *signaling.Config) { c.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	e.connect(t, "tok-a").close()
	expectOne(t, e.ctrl.closed, "Close")
	e.connect(t, "tok-g").close()
	expectOne(t, e.ctrl.closed, "Close")
	var shopperOpen, guideOpen bool
	for line := range strings.Lines(logs.String()) {
		if !strings.Contains(line, `msg="socket open"`) {
			continue
		}
		shopperOpen = shopperOpen || strings.Contains(line, "entry_id=e_a") && !strings.Contains(line, "guide_id=")
		guideOpen = guideOpen || strings.Contains(line, "guide_id=g_1") && !strings.Contains(line, "entry_id=")
	}
	if !shopperOpen || !guideOpen {
		t.Fatalf("socket open lines without entry_id / guide_id:\n%s", logs)
	}
}

// sharedBus is a bus of several nodes in one process: every publish
// reaches every node, as the Postgres bus does.
type sharedBus struct {
	mu   sync.Mutex
	subs []func(signaling.Address, []byte)
}

type nodeBus struct{ shared *sharedBus }

func (b nodeBus) Subscribe(deliver func(signaling.Address, []byte)) {
	b.shared.mu.Lock()
	defer b.shared.mu.Unlock()
	b.shared.subs = append(b.shared.subs, deliver)
}

func (b nodeBus) Publish(_ context.Context, to signaling.Address, frame []byte) error {
	b.shared.mu.Lock()
	subs := append([]func(signaling.Address, []byte){}, b.shared.subs...)
	b.shared.mu.Unlock()
	for _, deliver := range subs {
		deliver(to, frame)
	}
	return nil
}

func (nodeBus) Start(context.Context) error { return nil }
func (nodeBus) Stop()                       {}

func TestReplacedAcrossNodes(t *testing.T) {
	t.Parallel()
	shared := &sharedBus{}
	onBus := func(c *signaling.Config) { c.Bus = nodeBus{shared} }
	nodeA, nodeB := newEnv(t, onBus), newEnv(t, onBus)

	onA := nodeA.connect(t, "tok-g")
	expectOne(t, nodeA.ctrl.opened, "Open on A")
	onB := nodeB.connect(t, "tok-g")
	expectOne(t, nodeB.ctrl.opened, "Open on B")
	onA.expectClosed(4409, 10*time.Second)
	// The party is still connected, on B: A does not report a drop.
	expectNone(t, nodeA.ctrl.closed, 200*time.Millisecond, "Close on A for the replaced socket")
	// The control frame reaches no client, and B's socket stays.
	onB.quiet(200 * time.Millisecond)
	if n := nodeA.hub.Connections(); n != 0 {
		t.Fatalf("A holds %d sockets, want 0", n)
	}
	if err := nodeA.hub.Send(context.Background(), guideG.Address, protocol.TypePresence, "", protocol.Presence{Status: "away"}); err != nil {
		t.Fatal(err)
	}
	if f := onB.next(); f.Type != protocol.TypePresence {
		t.Fatalf("B got %s, want presence", f.Type)
	}

	// And back: a newer socket on A replaces B's.
	againA := nodeA.connect(t, "tok-g")
	onB.expectClosed(4409, 10*time.Second)
	againA.quiet(200 * time.Millisecond)
	expectNone(t, nodeB.ctrl.closed, 200*time.Millisecond, "Close on B for the replaced socket")
	// Other parties are untouched.
	shopper := nodeB.connect(t, "tok-a")
	againA.quiet(100 * time.Millisecond)
	shopper.quiet(100 * time.Millisecond)
}
