package signaling_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"guidecall/signaling"
)

// Parties the fake authenticator knows, by token.
var (
	shopperA = signaling.Identity{Address: signaling.Address{Role: signaling.RoleShopper, ID: "e_a"}, Name: "Sam"}
	shopperB = signaling.Identity{Address: signaling.Address{Role: signaling.RoleShopper, ID: "e_b"}, Name: "Bea"}
	guideG   = signaling.Identity{Address: signaling.Address{Role: signaling.RoleGuide, ID: "g_1"}, Name: "Ada"}
	tokens   = map[string]signaling.Identity{"tok-a": shopperA, "tok-b": shopperB, "tok-g": guideG}
)

type fakeAuth struct{}

func (fakeAuth) Authenticate(_ context.Context, token string) (signaling.Identity, error) {
	who, ok := tokens[token]
	if !ok {
		return signaling.Identity{}, errors.New("unknown token")
	}
	return who, nil
}

// fakeController records what the hub asks and answers from its funcs.
type fakeController struct {
	mu    sync.Mutex
	open  func(ctx context.Context, who signaling.Identity) (any, error)
	route func(who signaling.Identity, m signaling.Message) (signaling.Address, error)

	opened  chan signaling.Identity
	closed  chan signaling.Identity
	handled chan signaling.Message
	routed  chan signaling.Message
	// seen records the context of every call, by method.
	seen chan ctxSeen
}

// ctxSeen is what a Controller call's context looked like when it came.
type ctxSeen struct {
	method   string
	deadline time.Duration // until the deadline; 0 when there is none
	err      error
}

func (f *fakeController) see(ctx context.Context, method string) {
	s := ctxSeen{method: method, err: ctx.Err()}
	if d, ok := ctx.Deadline(); ok {
		s.deadline = time.Until(d)
	}
	select {
	case f.seen <- s:
	default:
	}
}

func newFakeController() *fakeController {
	return &fakeController{
		opened:  make(chan signaling.Identity, 64),
		closed:  make(chan signaling.Identity, 64),
		handled: make(chan signaling.Message, 1024),
		routed:  make(chan signaling.Message, 1024),
		seen:    make(chan ctxSeen, 1024),
	}
}

func (f *fakeController) setOpen(fn func(ctx context.Context, who signaling.Identity) (any, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.open = fn
}

func (f *fakeController) setRoute(fn func(who signaling.Identity, m signaling.Message) (signaling.Address, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.route = fn
}

func (f *fakeController) Open(ctx context.Context, who signaling.Identity) (any, error) {
	f.see(ctx, "Open")
	f.opened <- who
	f.mu.Lock()
	fn := f.open
	f.mu.Unlock()
	if fn != nil {
		return fn(ctx, who)
	}
	return map[string]any{"role": who.Role, "id": who.ID}, nil
}

func (f *fakeController) Close(ctx context.Context, who signaling.Identity) {
	f.see(ctx, "Close")
	f.closed <- who
}

func (f *fakeController) Route(ctx context.Context, who signaling.Identity, m signaling.Message) (signaling.Address, error) {
	f.see(ctx, "Route")
	f.routed <- m
	f.mu.Lock()
	fn := f.route
	f.mu.Unlock()
	if fn == nil {
		return signaling.Address{}, signaling.Errorf(signaling.CodeNotInCall, "no call")
	}
	return fn(who, m)
}

func (f *fakeController) Handle(ctx context.Context, _ signaling.Identity, m signaling.Message) error {
	f.see(ctx, "Handle")
	f.handled <- m
	return nil
}

// env is a hub served over loopback.
type env struct {
	t    *testing.T
	hub  *signaling.Hub
	ctrl *fakeController
	srv  *httptest.Server
	url  string
}

// syncBuffer collects log output written from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newEnv(t *testing.T, tweak func(*signaling.Config)) *env {
	t.Helper()
	ctrl := newFakeController()
	cfg := signaling.Config{Auth: fakeAuth{}, Controller: ctrl, Logger: quietLogger(), WriteTimeout: 2 * time.Second}
	if tweak != nil {
		tweak(&cfg)
	}
	hub, err := signaling.NewHub(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hub)
	e := &env{t: t, hub: hub, ctrl: ctrl, srv: srv, url: "ws" + strings.TrimPrefix(srv.URL, "http")}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := hub.Shutdown(ctx); err != nil {
			t.Errorf("hub shutdown: %v", err)
		}
		srv.Close()
	})
	return e
}

// frame is a protocol message as a client sees it.
type frame struct {
	V      int             `json:"v"`
	Type   string          `json:"type"`
	CallID string          `json:"call_id,omitempty"`
	From   string          `json:"from,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
}

type protoError struct {
	Code string `json:"code"`
	Ref  string `json:"ref"`
}

// client is a test WebSocket client; once started, a goroutine reads every
// frame into a channel and records how the socket ended.
type client struct {
	t      *testing.T
	ws     *websocket.Conn
	frames chan frame
	done   chan struct{}
	err    error // set before done closes
}

func (e *env) dialOpts(t *testing.T, opts *websocket.DialOptions) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, e.url, opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	ws.SetReadLimit(1 << 22)
	c := &client{t: t, ws: ws, frames: make(chan frame, 4096), done: make(chan struct{})}
	t.Cleanup(c.close)
	return c
}

func (e *env) dial(t *testing.T) *client {
	t.Helper()
	c := e.dialOpts(t, nil)
	c.start()
	return c
}

// connect dials, authenticates with token and waits for the welcome.
func (e *env) connect(t *testing.T, token string) *client {
	t.Helper()
	c := e.dial(t)
	c.send(map[string]any{"v": 1, "type": "auth", "data": map[string]string{"token": token}})
	if f := c.next(); f.Type != signaling.TypeWelcome {
		t.Fatalf("first frame %s %s, want welcome", f.Type, f.Data)
	}
	return c
}

func (c *client) start() {
	go func() {
		defer close(c.done)
		for {
			_, b, err := c.ws.Read(context.Background())
			if err != nil {
				c.err = err
				return
			}
			var f frame
			if err := json.Unmarshal(b, &f); err != nil {
				c.err = fmt.Errorf("server sent non-JSON %q", b)
				return
			}
			c.frames <- f
		}
	}()
}

func (c *client) close() {
	_ = c.ws.Close(websocket.StatusNormalClosure, "")
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.t.Error("client reader did not end")
	}
}

func (c *client) sendRaw(b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(b)
}

func (c *client) next() frame {
	c.t.Helper()
	select {
	case f := <-c.frames:
		return f
	case <-c.done:
		// Frames read before the close are still in the channel.
		select {
		case f := <-c.frames:
			return f
		default:
		}
		c.t.Fatalf("socket ended while waiting for a frame: %v", c.err)
	case <-time.After(5 * time.Second):
		c.t.Fatal("no frame within 5s")
	}
	return frame{}
}

func (c *client) expectError(code, ref string) {
	c.t.Helper()
	f := c.next()
	if f.Type != signaling.TypeError {
		c.t.Fatalf("got %s %s, want error %s", f.Type, f.Data, code)
	}
	var pe protoError
	if err := json.Unmarshal(f.Data, &pe); err != nil {
		c.t.Fatal(err)
	}
	if pe.Code != code || pe.Ref != ref {
		c.t.Fatalf("error %+v, want code %q ref %q", pe, code, ref)
	}
}

// expectClosed waits for the socket to end and checks its close code;
// frames still queued before the close are skipped.
func (c *client) expectClosed(code websocket.StatusCode, within time.Duration) {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(within):
		c.t.Fatalf("socket still open after %s", within)
	}
	if got := websocket.CloseStatus(c.err); got != code {
		c.t.Fatalf("closed with %v (%v), want %v", got, c.err, code)
	}
}

// quiet checks that no frame arrives for d.
func (c *client) quiet(d time.Duration) {
	c.t.Helper()
	select {
	case f := <-c.frames:
		c.t.Fatalf("unexpected frame %s %s", f.Type, f.Data)
	case <-time.After(d):
	}
}

func msg(typ, callID string, data any) map[string]any {
	m := map[string]any{"v": 1, "type": typ}
	if callID != "" {
		m["call_id"] = callID
	}
	if data != nil {
		m["data"] = data
	}
	return m
}

func expectNone[T any](t *testing.T, ch chan T, d time.Duration, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected %s: %+v", what, v)
	case <-time.After(d):
	}
}

func expectOne[T any](t *testing.T, ch chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10s", what)
	}
	var zero T
	return zero
}

func TestAuthFirst(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *signaling.Config) { c.AuthTimeout = 200 * time.Millisecond })

	t.Run("first message not auth", func(t *testing.T) {
		c := e.dial(t)
		c.send(msg("presence", "", map[string]string{"status": "available"}))
		c.expectError(signaling.CodeUnauthorized, "auth")
		c.expectClosed(4401, 5*time.Second)
	})
	t.Run("wrong token", func(t *testing.T) {
		c := e.dial(t)
		c.send(msg("auth", "", map[string]string{"token": "forged"}))
		c.expectError(signaling.CodeUnauthorized, "auth")
		c.expectClosed(4401, 5*time.Second)
	})
	t.Run("auth without token", func(t *testing.T) {
		c := e.dial(t)
		c.send(msg("auth", "", nil))
		c.expectError(signaling.CodeUnauthorized, "auth")
		c.expectClosed(4401, 5*time.Second)
	})
	t.Run("silent until the auth timeout", func(t *testing.T) {
		c := e.dial(t)
		start := time.Now()
		// The protocol promises 4401 here too, not a dropped connection.
		c.expectClosed(4401, 3*time.Second)
		if el := time.Since(start); el < 150*time.Millisecond {
			t.Fatalf("closed after %s, before the auth timeout", el)
		}
	})
	expectNone(t, e.ctrl.opened, 50*time.Millisecond, "Open for an unauthenticated socket")
}

func TestWelcomeComesFirst(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.ctrl.setOpen(func(ctx context.Context, who signaling.Identity) (any, error) {
		// Events for the party while Open runs must wait for the welcome.
		for i := range 3 {
			if err := e.hub.Send(ctx, who.Address, signaling.TypeQueuePosition, "", map[string]int{"position": i + 1}); err != nil {
				return nil, err
			}
		}
		return map[string]string{"hello": "yes"}, nil
	})
	c := e.connect(t, "tok-a") // fails unless welcome is first
	for i := range 3 {
		f := c.next()
		var d struct{ Position int }
		_ = json.Unmarshal(f.Data, &d)
		if f.Type != signaling.TypeQueuePosition || d.Position != i+1 {
			t.Fatalf("frame %d: %s %s", i, f.Type, f.Data)
		}
	}
}

func TestBadMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.ctrl.setRoute(func(who signaling.Identity, m signaling.Message) (signaling.Address, error) {
		return guideG.Address, nil
	})
	c := e.connect(t, "tok-a")
	g := e.connect(t, "tok-g")

	cases := []struct {
		name      string
		raw       string
		code, ref string
	}{
		{"not JSON", `{"v":1,"type":`, signaling.CodeBadMessage, ""},
		{"JSON but not an object", `[1,2]`, signaling.CodeBadMessage, ""},
		{"no type", `{"v":1}`, signaling.CodeBadMessage, ""},
		{"data not an object", `{"v":1,"type":"sdp","call_id":"c_1","data":"x"}`, signaling.CodeBadMessage, "sdp"},
		{"version 2", `{"v":2,"type":"sdp","call_id":"c_1","data":{}}`, signaling.CodeUnsupportedVersion, "sdp"},
		{"no version", `{"type":"sdp","call_id":"c_1"}`, signaling.CodeUnsupportedVersion, "sdp"},
		{"unknown type", `{"v":1,"type":"teleport"}`, signaling.CodeUnknownType, "teleport"},
		{"guide type from a shopper", `{"v":1,"type":"presence","data":{"status":"available"}}`, signaling.CodeUnknownType, "presence"},
		{"server type from a client", `{"v":1,"type":"offer","data":{}}`, signaling.CodeUnknownType, "offer"},
		{"auth again", `{"v":1,"type":"auth","data":{"token":"tok-b"}}`, signaling.CodeBadState, "auth"},
		{"sdp without call_id", `{"v":1,"type":"sdp","data":{"type":"offer","sdp":"v=0"}}`, signaling.CodeBadMessage, "sdp"},
		{"ice without call_id", `{"v":1,"type":"ice","data":{}}`, signaling.CodeBadMessage, "ice"},
		{"call.end without call_id", `{"v":1,"type":"call.end","data":{}}`, signaling.CodeBadMessage, "call.end"},
	}
	outer := t
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			defer func() { c.t = outer }()
			c.sendRaw([]byte(tc.raw))
			c.expectError(tc.code, tc.ref)
		})
	}
	// Nothing reached the controller or the other party, and the socket
	// still works.
	expectNone(t, e.ctrl.routed, 50*time.Millisecond, "Route of a refused message")
	expectNone(t, e.ctrl.handled, 0, "Handle of a refused message")
	g.quiet(50 * time.Millisecond)
	c.send(msg("sdp", "c_1", map[string]string{"type": "offer", "sdp": "v=0"}))
	if f := g.next(); f.Type != signaling.TypeSDP {
		t.Fatalf("guide got %s, want sdp", f.Type)
	}
	// A binary frame is refused but the socket stays.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageBinary, []byte(`{"v":1,"type":"queue.cancel"}`)); err != nil {
		t.Fatal(err)
	}
	c.expectError(signaling.CodeBadMessage, "")
	c.send(msg("queue.cancel", "", nil))
	if m := expectOne(t, e.ctrl.handled, "Handle"); m.Type != signaling.TypeQueueCancel {
		t.Fatalf("handled %s", m.Type)
	}
}

func TestTooLarge(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	e := newEnv(t, func(c *signaling.Config) {
		c.MaxMessageBytes = 1 << 10
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})

	t.Run("just over the limit", func(t *testing.T) {
		c := e.connect(t, "tok-a")
		c.send(msg("sdp", "c_1", map[string]string{"type": "offer", "sdp": strings.Repeat("a", 1500)}))
		c.expectError(signaling.CodeTooLarge, "")
		c.expectClosed(websocket.StatusMessageTooBig, 5*time.Second)
		expectOne(t, e.ctrl.closed, "Close")
	})
	t.Run("far over the library limit", func(t *testing.T) {
		c := e.connect(t, "tok-b")
		c.send(msg("sdp", "c_1", map[string]string{"type": "offer", "sdp": strings.Repeat("a", 1<<20)}))
		c.expectClosed(websocket.StatusMessageTooBig, 5*time.Second)
		expectOne(t, e.ctrl.closed, "Close")
		if !strings.Contains(logs.String(), "frame over the library limit") {
			t.Errorf("the library's refusal was not logged:\n%s", logs.String())
		}
	})
	t.Run("at the limit passes", func(t *testing.T) {
		c := e.connect(t, "tok-g")
		b, _ := json.Marshal(msg("presence", "", map[string]string{"status": "available"}))
		pad := strings.Repeat(" ", 1<<10-len(b))
		c.sendRaw(append(b, pad...))
		expectOne(t, e.ctrl.handled, "Handle")
		c.quiet(50 * time.Millisecond)
	})
}

func TestRelayOnlyToRoutedParty(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.ctrl.setRoute(func(who signaling.Identity, m signaling.Message) (signaling.Address, error) {
		if who.Address == shopperA.Address && m.CallID == "c_ag" {
			return guideG.Address, nil
		}
		if who.Address == guideG.Address && m.CallID == "c_ag" {
			return shopperA.Address, nil
		}
		return signaling.Address{}, signaling.Errorf(signaling.CodeNotInCall, "call %s is not yours", m.CallID)
	})
	a := e.connect(t, "tok-a")
	b := e.connect(t, "tok-b")
	g := e.connect(t, "tok-g")

	// A client-supplied from is dropped and replaced by the server's.
	a.send(map[string]any{"v": 1, "type": "sdp", "call_id": "c_ag", "from": "guide", "data": map[string]string{"type": "offer", "sdp": "v=0"}})
	f := g.next()
	if f.Type != signaling.TypeSDP || f.CallID != "c_ag" || f.From != "shopper" || f.V != 1 {
		t.Fatalf("guide got %+v", f)
	}
	var d struct{ Type, SDP string }
	if err := json.Unmarshal(f.Data, &d); err != nil || d.Type != "offer" || d.SDP != "v=0" {
		t.Fatalf("relayed data %s", f.Data)
	}
	g.send(msg("ice", "c_ag", map[string]any{"candidate": "candidate:1", "sdpMid": "0"}))
	if f := a.next(); f.Type != signaling.TypeICE || f.From != "guide" {
		t.Fatalf("shopper got %+v", f)
	}

	// B names A's call: refused, and nobody hears of it.
	b.send(map[string]any{"v": 1, "type": "sdp", "call_id": "c_ag", "from": "guide", "data": map[string]string{"type": "offer", "sdp": "evil"}})
	b.expectError(signaling.CodeNotInCall, "sdp")
	b.send(msg("ice.restart", "c_ag", map[string]any{}))
	b.expectError(signaling.CodeNotInCall, "ice.restart")
	a.quiet(100 * time.Millisecond)
	g.quiet(0)
	b.quiet(0)
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *signaling.Config) { c.RatePerSecond = 3 })
	g := e.connect(t, "tok-g")
	for range 6 {
		g.send(msg("presence", "", map[string]string{"status": "available"}))
	}
	limited := 0
	timeout := time.After(500 * time.Millisecond)
collect:
	for {
		select {
		case f := <-g.frames:
			var pe protoError
			_ = json.Unmarshal(f.Data, &pe)
			if f.Type != signaling.TypeError || pe.Code != signaling.CodeRateLimited {
				t.Fatalf("got %s %s", f.Type, f.Data)
			}
			limited++
		case <-timeout:
			break collect
		}
	}
	// The burst is 3; a token may refill while the six are sent.
	if limited < 2 {
		t.Fatalf("%d rate_limited errors for 6 messages at a rate of 3", limited)
	}
	if n := len(e.ctrl.handled); n+limited != 6 {
		t.Fatalf("%d handled + %d limited, want 6", n, limited)
	}
	// A client that keeps flooding is cut off.
	for range 10 {
		g.send(msg("presence", "", map[string]string{"status": "available"}))
	}
	g.expectClosed(websocket.StatusPolicyViolation, 5*time.Second)
}

func TestReplacedSocket(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	first := e.connect(t, "tok-a")
	firstID := expectOne(t, e.ctrl.opened, "Open").Socket
	second := e.connect(t, "tok-a")
	secondID := expectOne(t, e.ctrl.opened, "Open").Socket
	if firstID == "" || firstID == secondID {
		t.Fatalf("socket ids %q and %q", firstID, secondID)
	}
	first.expectClosed(4409, 5*time.Second)
	expectNone(t, e.ctrl.closed, 200*time.Millisecond, "Close for the replaced socket")
	if n := e.hub.Connections(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
	// Events reach the new socket.
	if err := e.hub.Send(context.Background(), shopperA.Address, signaling.TypeQueuePosition, "", map[string]int{"position": 1}); err != nil {
		t.Fatal(err)
	}
	if f := second.next(); f.Type != signaling.TypeQueuePosition {
		t.Fatalf("got %s", f.Type)
	}
	second.close()
	if who := expectOne(t, e.ctrl.closed, "Close"); who.Socket != secondID {
		t.Fatalf("Close for socket %q, want %q", who.Socket, secondID)
	}
}

func TestSlowConsumerDoesNotBlockSend(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *signaling.Config) { c.SendBuffer = 2 })
	// The slow client authenticates, then stops reading.
	slow := e.dialOpts(t, nil)
	slow.send(msg("auth", "", map[string]string{"token": "tok-a"}))
	expectOne(t, e.ctrl.opened, "Open")
	fast := e.connect(t, "tok-g")

	big := strings.Repeat("x", 32<<10)
	deadline := time.Now().Add(5 * time.Second)
	var worst time.Duration
	for i := range 2000 {
		start := time.Now()
		if err := e.hub.Send(context.Background(), shopperA.Address, signaling.TypeQueuePosition, "", map[string]any{"i": i, "pad": big}); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			if err := e.hub.Send(context.Background(), guideG.Address, signaling.TypePresence, "", map[string]int{"i": i}); err != nil {
				t.Fatal(err)
			}
		}
		worst = max(worst, time.Since(start))
		if time.Now().After(deadline) {
			t.Fatalf("2000 sends did not finish in 5s; stuck at %d", i)
		}
	}
	if worst > time.Second {
		t.Fatalf("one Send took %s", worst)
	}
	for range 20 {
		if f := fast.next(); f.Type != signaling.TypePresence {
			t.Fatalf("fast client got %s", f.Type)
		}
	}
	// Now read: after whatever was buffered comes the policy close.
	slow.start()
	slow.expectClosed(websocket.StatusPolicyViolation, 15*time.Second)
	if who := expectOne(t, e.ctrl.closed, "Close"); who.Address != shopperA.Address {
		t.Fatalf("Close for %v", who.Address)
	}
}

func TestHeartbeatDropsSilentClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *signaling.Config) { c.Heartbeat = 100 * time.Millisecond })
	// This client reads but never answers pings.
	c := e.dialOpts(t, &websocket.DialOptions{OnPingReceived: func(context.Context, []byte) bool { return false }})
	c.start()
	c.send(msg("auth", "", map[string]string{"token": "tok-a"}))
	if f := c.next(); f.Type != signaling.TypeWelcome {
		t.Fatalf("got %s", f.Type)
	}
	alive := e.connect(t, "tok-g") // answers pings, so stays
	c.expectClosed(4408, 5*time.Second)
	if who := expectOne(t, e.ctrl.closed, "Close"); who.Address != shopperA.Address {
		t.Fatalf("Close for %v", who.Address)
	}
	time.Sleep(400 * time.Millisecond) // several heartbeats
	select {
	case <-alive.done:
		t.Fatalf("answering client dropped: %v", alive.err)
	default:
	}
	if n := e.hub.Connections(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	a := e.connect(t, "tok-a")
	g := e.connect(t, "tok-g")
	pending := e.dial(t) // not yet authenticated
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.hub.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{a, g, pending} {
		c.expectClosed(websocket.StatusGoingAway, 5*time.Second)
	}
	// New sockets are refused.
	resp, err := http.Get(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d after shutdown", resp.StatusCode)
	}
}

// TestShutdownRacingDials shuts the hub down while sockets are still being
// accepted: every one of them must be closed and Shutdown must not wait
// for a socket it never saw.
func TestShutdownRacingDials(t *testing.T) {
	t.Parallel()
	for round := range 20 {
		e := newEnv(t, nil)
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				ws, _, err := websocket.Dial(ctx, e.url, nil)
				if err != nil {
					return // refused after shutdown began
				}
				defer ws.CloseNow()
				// Read until the server closes; a socket it forgot would
				// hang here until the deadline.
				for {
					if _, _, err := ws.Read(ctx); err != nil {
						if ctx.Err() != nil {
							t.Errorf("round %d: a socket outlived Shutdown", round)
						}
						return
					}
				}
			}()
		}
		time.Sleep(time.Duration(round%5) * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
		if err := e.hub.Shutdown(ctx); err != nil {
			t.Errorf("round %d: Shutdown: %v", round, err)
		}
		cancel()
		wg.Wait()
	}
}
