package signaling_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"guidecall/protocol"
	"guidecall/protocol/client"
	"guidecall/protocol/client/clienttest"
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
func (e *env) dialAs(t *testing.T, ip string) (*clienttest.Conn, int, string) {
	t.Helper()
	c, err := clienttest.TryDial(t, e.url, client.WithHeader("X-Test-IP", ip))
	if err != nil {
		var refused *client.DialError
		if !errors.As(err, &refused) {
			t.Fatalf("dial as %s: %v", ip, err)
		}
		return nil, refused.Status, refused.Body
	}
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
	a1.Close()
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
	a.Send(protocol.TypeCallConnected, "c_1", nil)
	expectOne(t, e.ctrl.handled, "Handle")
	a.Send(protocol.TypeSDP, "c_1", protocol.SDP{Type: "offer", SDP: "v=0"})
	a.ExpectError(protocol.CodeNotInCall, protocol.TypeSDP)
	a.Close()
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
	e.connect(t, "tok-a").Close()
	expectOne(t, e.ctrl.closed, "Close")
	e.connect(t, "tok-g").Close()
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

	// send sends a presence to a party through a node's hub, whichever
	// node holds its socket.
	send := func(from *env, to signaling.Address, status string) {
		t.Helper()
		if err := from.hub.Send(context.Background(), to, protocol.TypePresence, "", protocol.Presence{Status: status}); err != nil {
			t.Fatal(err)
		}
	}
	// gets checks that the next frame c receives is that presence.
	gets := func(c *clienttest.Conn, status string) {
		t.Helper()
		var d struct{ Status string }
		if f := c.Next(); f.Type != protocol.TypePresence || f.Decode(&d) != nil || d.Status != status {
			t.Fatalf("%s got %s %s, want presence %s", c.Name, f.Type, f.Data, status)
		}
	}

	onA := nodeA.connect(t, "tok-g").Named("A")
	onAID := expectOne(t, nodeA.ctrl.opened, "Open on A").Socket
	onB := nodeB.connect(t, "tok-g").Named("B")
	expectOne(t, nodeB.ctrl.opened, "Open on B")
	onA.ExpectClosed(4409)
	if n := nodeA.hub.Connections(); n != 0 {
		t.Fatalf("A holds %d sockets, want 0", n)
	}
	// The control frame reaches no client, and B's socket stays: the next
	// frame B gets is one sent after it.
	send(nodeA, guideG.Address, "away")
	gets(onB, "away")

	// And back: a newer socket on A replaces B's.
	againA := nodeA.connect(t, "tok-g").Named("A again")
	againAID := expectOne(t, nodeA.ctrl.opened, "Open on A again").Socket
	onB.ExpectClosed(4409)
	send(nodeB, guideG.Address, "available")
	gets(againA, "available")
	// Other parties are untouched.
	shopper := nodeB.connect(t, "tok-a").Named("shopper")
	send(nodeA, shopperA.Address, "s1")
	gets(shopper, "s1")
	send(nodeB, guideG.Address, "g1")
	gets(againA, "g1")

	// The party stayed connected through both replacements, so neither
	// node reported a drop: the first Close each reports is for a socket
	// closed now.
	shopper.Close()
	if who := expectOne(t, nodeB.ctrl.closed, "Close on B"); who.Address != shopperA.Address {
		t.Fatalf("Close on B for %v, the replaced socket", who.Address)
	}
	againA.Close()
	if who := expectOne(t, nodeA.ctrl.closed, "Close on A"); who.Socket != againAID || who.Socket == onAID {
		t.Fatalf("Close on A for socket %q, want %q (the replaced one was %q)", who.Socket, againAID, onAID)
	}
}
