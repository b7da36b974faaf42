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
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"guidecall/protocol"
	"guidecall/signaling"
)

// Parties the fake authenticator knows, by token.
var (
	shopperA = signaling.Identity{Address: signaling.Address{Role: protocol.RoleShopper, ID: "e_a"}, Name: "Sam"}
	shopperB = signaling.Identity{Address: signaling.Address{Role: protocol.RoleShopper, ID: "e_b"}, Name: "Bea"}
	guideG   = signaling.Identity{Address: signaling.Address{Role: protocol.RoleGuide, ID: "g_1"}, Name: "Ada"}
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
	open  func(ctx context.Context, who signaling.Identity) (protocol.Welcome, error)
	route func(who signaling.Identity, m protocol.Envelope) (signaling.Address, error)

	opened  chan signaling.Identity
	closed  chan signaling.Identity
	handled chan protocol.Envelope
	routed  chan protocol.Envelope
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
		handled: make(chan protocol.Envelope, 1024),
		routed:  make(chan protocol.Envelope, 1024),
		seen:    make(chan ctxSeen, 1024),
	}
}

func (f *fakeController) setOpen(fn func(ctx context.Context, who signaling.Identity) (protocol.Welcome, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.open = fn
}

func (f *fakeController) setRoute(fn func(who signaling.Identity, m protocol.Envelope) (signaling.Address, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.route = fn
}

func (f *fakeController) Open(ctx context.Context, who signaling.Identity) (protocol.Welcome, error) {
	f.see(ctx, "Open")
	f.opened <- who
	f.mu.Lock()
	fn := f.open
	f.mu.Unlock()
	if fn != nil {
		return fn(ctx, who)
	}
	return protocol.Welcome{Role: who.Role}, nil
}

func (f *fakeController) Close(ctx context.Context, who signaling.Identity) {
	f.see(ctx, "Close")
	f.closed <- who
}

func (f *fakeController) Route(ctx context.Context, who signaling.Identity, m protocol.Envelope) (signaling.Address, error) {
	f.see(ctx, "Route")
	f.routed <- m
	f.mu.Lock()
	fn := f.route
	f.mu.Unlock()
	if fn == nil {
		return signaling.Address{}, protocol.Errorf(protocol.CodeNotInCall, "no call")
	}
	return fn(who, m)
}

func (f *fakeController) Handle(ctx context.Context, _ signaling.Identity, m protocol.Envelope) error {
	f.see(ctx, "Handle")
	f.handled <- m
	return nil
}

// register gives the hub the fake's Handle for every client type, with
// the roles that send it, and its Route for the relayed ones.
func (f *fakeController) register(h *signaling.Hub) {
	shopper, guide := protocol.RoleShopper, protocol.RoleGuide
	h.Handle(protocol.TypeQueueCancel, f.Handle, shopper)
	h.Handle(protocol.TypePresence, f.Handle, guide)
	h.Handle(protocol.TypeOfferAccept, f.Handle, guide)
	h.Handle(protocol.TypeOfferDecline, f.Handle, guide)
	h.Handle(protocol.TypeCallConnected, f.Handle, shopper, guide)
	h.Handle(protocol.TypeCallEnd, f.Handle, shopper, guide)
	h.Relay(f.Route)
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
	cfg := signaling.Config{Auth: fakeAuth{}, Sessions: ctrl, Logger: quietLogger(), WriteTimeout: 2 * time.Second}
	if tweak != nil {
		tweak(&cfg)
	}
	hub, err := signaling.NewHub(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctrl.register(hub)
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
	Type   protocol.Type   `json:"type"`
	CallID string          `json:"call_id,omitempty"`
	From   string          `json:"from,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
}

type protoError struct {
	Code protocol.Code `json:"code"`
	Ref  protocol.Type `json:"ref"`
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
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
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
	if f := c.next(); f.Type != protocol.TypeWelcome {
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
	if err := c.trySendRaw(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// trySendRaw writes a frame and returns the error, for a test in which the
// server may close the socket while the client still writes.
func (c *client) trySendRaw(b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, b)
}

func (c *client) send(v any) {
	c.t.Helper()
	if err := c.trySend(v); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) trySend(v any) error {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.trySendRaw(b)
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
	case <-time.After(10 * time.Second):
		c.t.Fatal("no frame within 10s")
	}
	return frame{}
}

func (c *client) expectError(code protocol.Code, ref protocol.Type) {
	c.t.Helper()
	f := c.next()
	if f.Type != protocol.TypeError {
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

func msg(typ protocol.Type, callID string, data any) map[string]any {
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
	// The refusals get the default auth timeout: with a short one, a client
	// delayed before its first write by a loaded machine would be closed for
	// silence instead of answered.
	e := newEnv(t, nil)

	t.Run("first message not auth", func(t *testing.T) {
		c := e.dial(t)
		c.send(msg("presence", "", map[string]string{"status": "available"}))
		c.expectError(protocol.CodeUnauthorized, "auth")
		c.expectClosed(4401, 10*time.Second)
	})
	t.Run("wrong token", func(t *testing.T) {
		c := e.dial(t)
		c.send(msg("auth", "", map[string]string{"token": "forged"}))
		c.expectError(protocol.CodeUnauthorized, "auth")
		c.expectClosed(4401, 10*time.Second)
	})
	t.Run("auth without token", func(t *testing.T) {
		c := e.dial(t)
		c.send(msg("auth", "", nil))
		c.expectError(protocol.CodeUnauthorized, "auth")
		c.expectClosed(4401, 10*time.Second)
	})
	t.Run("silent until the auth timeout", func(t *testing.T) {
		const authTimeout = 200 * time.Millisecond
		silent := newEnv(t, func(c *signaling.Config) { c.AuthTimeout = authTimeout })
		// Taken before dialing, so the server's timer starts after it: the
		// close cannot be seen sooner than the timeout, however the
		// goroutines are scheduled.
		start := time.Now()
		c := silent.dial(t)
		// The protocol promises 4401 here too, not a dropped connection.
		c.expectClosed(4401, 10*time.Second)
		if el := time.Since(start); el < authTimeout {
			t.Fatalf("closed after %s, before the auth timeout of %s", el, authTimeout)
		}
		expectNone(t, silent.ctrl.opened, 0, "Open for an unauthenticated socket")
	})
	expectNone(t, e.ctrl.opened, 50*time.Millisecond, "Open for an unauthenticated socket")
}

func TestWelcomeComesFirst(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.ctrl.setOpen(func(ctx context.Context, who signaling.Identity) (protocol.Welcome, error) {
		// Events for the party while Open runs must wait for the welcome.
		for i := range 3 {
			if err := e.hub.Send(ctx, who.Address, protocol.TypeQueuePosition, "", protocol.QueuePosition{Position: i + 1}); err != nil {
				return protocol.Welcome{}, err
			}
		}
		return protocol.Welcome{Role: who.Role}, nil
	})
	c := e.connect(t, "tok-a") // fails unless welcome is first
	for i := range 3 {
		f := c.next()
		var d struct{ Position int }
		_ = json.Unmarshal(f.Data, &d)
		if f.Type != protocol.TypeQueuePosition || d.Position != i+1 {
			t.Fatalf("frame %d: %s %s", i, f.Type, f.Data)
		}
	}
}

func TestBadMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.ctrl.setRoute(func(who signaling.Identity, m protocol.Envelope) (signaling.Address, error) {
		return guideG.Address, nil
	})
	c := e.connect(t, "tok-a")
	g := e.connect(t, "tok-g")

	cases := []struct {
		name string
		raw  string
		code protocol.Code
		ref  protocol.Type
	}{
		{"not JSON", `{"v":1,"type":`, protocol.CodeBadMessage, ""},
		{"JSON but not an object", `[1,2]`, protocol.CodeBadMessage, ""},
		{"no type", `{"v":1}`, protocol.CodeBadMessage, ""},
		{"data not an object", `{"v":1,"type":"sdp","call_id":"c_1","data":"x"}`, protocol.CodeBadMessage, "sdp"},
		{"version 2", `{"v":2,"type":"sdp","call_id":"c_1","data":{}}`, protocol.CodeUnsupportedVersion, "sdp"},
		{"no version", `{"type":"sdp","call_id":"c_1"}`, protocol.CodeUnsupportedVersion, "sdp"},
		{"unknown type", `{"v":1,"type":"teleport"}`, protocol.CodeUnknownType, "teleport"},
		{"guide type from a shopper", `{"v":1,"type":"presence","data":{"status":"available"}}`, protocol.CodeUnknownType, "presence"},
		{"server type from a client", `{"v":1,"type":"offer","data":{}}`, protocol.CodeUnknownType, "offer"},
		{"auth again", `{"v":1,"type":"auth","data":{"token":"tok-b"}}`, protocol.CodeBadState, "auth"},
		{"sdp without call_id", `{"v":1,"type":"sdp","data":{"type":"offer","sdp":"v=0"}}`, protocol.CodeBadMessage, "sdp"},
		{"ice without call_id", `{"v":1,"type":"ice","data":{}}`, protocol.CodeBadMessage, "ice"},
		{"call.end without call_id", `{"v":1,"type":"call.end","data":{}}`, protocol.CodeBadMessage, "call.end"},
		{"sdp of the wrong shape", `{"v":1,"type":"sdp","call_id":"c_1","data":{"type":"offer","sdp":5}}`, protocol.CodeBadMessage, "sdp"},
		{"ice of the wrong shape", `{"v":1,"type":"ice","call_id":"c_1","data":{"candidate":["x"]}}`, protocol.CodeBadMessage, "ice"},
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
	if f := g.next(); f.Type != protocol.TypeSDP {
		t.Fatalf("guide got %s, want sdp", f.Type)
	}
	// A binary frame is refused but the socket stays.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageBinary, []byte(`{"v":1,"type":"queue.cancel"}`)); err != nil {
		t.Fatal(err)
	}
	c.expectError(protocol.CodeBadMessage, "")
	c.send(msg("queue.cancel", "", nil))
	if m := expectOne(t, e.ctrl.handled, "Handle"); m.Type != protocol.TypeQueueCancel {
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
		c.expectError(protocol.CodeTooLarge, "")
		c.expectClosed(websocket.StatusMessageTooBig, 10*time.Second)
		expectOne(t, e.ctrl.closed, "Close")
	})
	t.Run("far over the library limit", func(t *testing.T) {
		c := e.connect(t, "tok-b")
		// The server may cut the socket while the megabyte is still being
		// written, so the write may fail; the close code is what counts.
		_ = c.trySend(msg("sdp", "c_1", map[string]string{"type": "offer", "sdp": strings.Repeat("a", 1<<20)}))
		c.expectClosed(websocket.StatusMessageTooBig, 10*time.Second)
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
	e.ctrl.setRoute(func(who signaling.Identity, m protocol.Envelope) (signaling.Address, error) {
		if who.Address == shopperA.Address && m.CallID == "c_ag" {
			return guideG.Address, nil
		}
		if who.Address == guideG.Address && m.CallID == "c_ag" {
			return shopperA.Address, nil
		}
		return signaling.Address{}, protocol.Errorf(protocol.CodeNotInCall, "call %s is not yours", m.CallID)
	})
	a := e.connect(t, "tok-a")
	b := e.connect(t, "tok-b")
	g := e.connect(t, "tok-g")

	// A client-supplied from is dropped and replaced by the server's.
	a.send(map[string]any{"v": 1, "type": "sdp", "call_id": "c_ag", "from": "guide", "data": map[string]string{"type": "offer", "sdp": "v=0"}})
	f := g.next()
	if f.Type != protocol.TypeSDP || f.CallID != "c_ag" || f.From != "shopper" || f.V != 1 {
		t.Fatalf("guide got %+v", f)
	}
	var d struct{ Type, SDP string }
	if err := json.Unmarshal(f.Data, &d); err != nil || d.Type != "offer" || d.SDP != "v=0" {
		t.Fatalf("relayed data %s", f.Data)
	}
	g.send(msg("ice", "c_ag", map[string]any{"candidate": "candidate:1", "sdpMid": "0"}))
	if f := a.next(); f.Type != protocol.TypeICE || f.From != "guide" {
		t.Fatalf("shopper got %+v", f)
	}

	// B names A's call: refused, and nobody hears of it.
	b.send(map[string]any{"v": 1, "type": "sdp", "call_id": "c_ag", "from": "guide", "data": map[string]string{"type": "offer", "sdp": "evil"}})
	b.expectError(protocol.CodeNotInCall, "sdp")
	b.send(msg("ice.restart", "c_ag", map[string]any{}))
	b.expectError(protocol.CodeNotInCall, "ice.restart")
	a.quiet(100 * time.Millisecond)
	g.quiet(0)
	b.quiet(0)
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	const rate = 3 // per second, and the burst
	e := newEnv(t, func(c *signaling.Config) { c.RatePerSecond = rate })
	g := e.connect(t, "tok-g")
	presence := msg("presence", "", map[string]string{"status": "available"})
	// isLimited fails the test on any frame but a rate_limited error.
	isLimited := func(f frame) {
		t.Helper()
		var pe protoError
		_ = json.Unmarshal(f.Data, &pe)
		if f.Type != protocol.TypeError || pe.Code != protocol.CodeRateLimited || pe.Ref != "" {
			t.Fatalf("got %s %s, want a rate_limited error", f.Type, f.Data)
		}
	}

	// A burst of twice the rate from a full bucket: some are limited unless
	// the server spends most of a second on it, and at most rate of them
	// are, so the socket (cut after more than rate limited messages) stays
	// and every write must succeed. Each message is either handled or
	// answered with rate_limited; none is lost and none is both.
	sent, handled, limited := 0, 0, 0
	for burst := 1; limited == 0; burst++ {
		if burst > 5 {
			t.Fatalf("%d bursts of %d messages at a rate of %d were all handled", burst-1, 2*rate, rate)
		}
		if burst > 1 {
			// A loaded machine let tokens refill during the burst. Nothing
			// was limited yet; wait for the bucket to be full again, so the
			// next burst also stays short of the cut-off.
			time.Sleep(time.Second)
		}
		for range 2 * rate {
			g.send(presence)
		}
		sent += 2 * rate
		for handled+limited < sent {
			select {
			case <-e.ctrl.handled:
				handled++
			case f := <-g.frames:
				isLimited(f)
				limited++
			case <-g.done:
				t.Fatalf("socket ended during a burst within the limit: %v", g.err)
			case <-time.After(10 * time.Second):
				t.Fatalf("%d messages sent, but only %d handled and %d rate_limited", sent, handled, limited)
			}
		}
	}
	if limited > rate {
		t.Fatalf("%d of a burst of %d rate_limited, but the bucket holds %d", limited, 2*rate, rate)
	}
	expectNone(t, e.ctrl.handled, 50*time.Millisecond, "Handle beyond the messages sent")

	// A client that keeps flooding is cut off with 1008. The server closes
	// as soon as the limit is passed, so the writes that follow may fail:
	// the flood stops at the first that does.
	for range 1000 {
		if err := g.trySend(presence); err != nil {
			break
		}
	}
	g.expectClosed(websocket.StatusPolicyViolation, 10*time.Second)
	// Whatever arrived before the close is rate_limited errors; the last
	// ones may be lost to the close itself, but never more than the rate
	// plus the one that tipped the socket over come.
	for len(g.frames) > 0 {
		isLimited(<-g.frames)
		limited++
	}
	if limited > rate+1 {
		t.Fatalf("%d rate_limited errors, but the socket is cut at %d", limited, rate+1)
	}
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
	first.expectClosed(4409, 10*time.Second)
	expectNone(t, e.ctrl.closed, 200*time.Millisecond, "Close for the replaced socket")
	if n := e.hub.Connections(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
	// Events reach the new socket.
	if err := e.hub.Send(context.Background(), shopperA.Address, protocol.TypeQueuePosition, "", protocol.QueuePosition{Position: 1}); err != nil {
		t.Fatal(err)
	}
	if f := second.next(); f.Type != protocol.TypeQueuePosition {
		t.Fatalf("got %s", f.Type)
	}
	second.close()
	if who := expectOne(t, e.ctrl.closed, "Close"); who.Socket != secondID {
		t.Fatalf("Close for socket %q, want %q", who.Socket, secondID)
	}
}

func TestSlowConsumerDoesNotBlockSend(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	e := newEnv(t, func(c *signaling.Config) {
		// A small buffer (hub-wide) gets the slow client dropped after
		// little data; the reading client below never has more than one
		// frame queued, so it cannot overflow it, however slowly its
		// writer is scheduled.
		c.SendBuffer = 2
		// Long, so the slow client is dropped for its full buffer and not
		// for a write timeout (which would cut the TCP connection before
		// the close frame), and so a Send that waited on the slow client
		// would hang far longer than the watchdog below allows.
		c.WriteTimeout = time.Minute
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	// The slow client authenticates, then stops reading.
	slow := e.dialOpts(t, nil)
	slow.send(msg("auth", "", map[string]string{"token": "tok-a"}))
	expectOne(t, e.ctrl.opened, "Open")
	fast := e.connect(t, "tok-g")

	// send fails the test if Hub.Send does not return: nothing reads the
	// slow socket while it runs, so a Send that waited on it would hang.
	// The bound is for a hang, not for speed.
	send := func(to signaling.Address, typ protocol.Type, data any) {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- e.hub.Send(context.Background(), to, typ, "", data) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("Hub.Send to %v blocked", to)
		}
	}
	fastGets := func(i int) {
		t.Helper()
		send(guideG.Address, protocol.TypePresence, protocol.Presence{Status: "available", Reason: strconv.Itoa(i)})
		if f := fast.next(); f.Type != protocol.TypePresence {
			t.Fatalf("fast client got %s", f.Type)
		}
	}
	// enqueue logs the drop before the Send that overflowed returns.
	dropped := func() bool { return strings.Contains(logs.String(), "slow client disconnected") }

	big := strings.Repeat("x", 32<<10)
	sent := 0
	for ; !dropped(); sent++ {
		if sent == 20000 {
			t.Fatalf("slow client not dropped after %d frames of 32 KiB", sent)
		}
		send(shopperA.Address, protocol.TypeQueuePosition, protocol.QueuePosition{Queue: big, Position: sent})
		if sent%50 == 0 {
			// The reading client keeps receiving while the slow one backs up.
			fastGets(sent)
		}
	}
	// Read now: the server's close frame waits behind what the socket
	// still buffers, and the library gives up on writing it after 5s.
	// What was buffered comes, then the policy close.
	slow.start()
	// Sends to the dropped party still return, and others still receive.
	for i := range 100 {
		send(shopperA.Address, protocol.TypeQueuePosition, protocol.QueuePosition{Queue: big, Position: sent + i})
	}
	fastGets(sent)
	slow.expectClosed(websocket.StatusPolicyViolation, 15*time.Second)
	if !strings.Contains(slow.err.Error(), "slow consumer") {
		t.Errorf("slow client closed with %v, want the slow consumer reason", slow.err)
	}
	if who := expectOne(t, e.ctrl.closed, "Close"); who.Address != shopperA.Address {
		t.Fatalf("Close for %v", who.Address)
	}
	select {
	case <-fast.done:
		t.Fatalf("reading client dropped: %v", fast.err)
	default:
	}
}

func TestHeartbeatDropsSilentClient(t *testing.T) {
	t.Parallel()
	// A pong must come back within one heartbeat; the period leaves a
	// loaded machine ample time for an answering client's.
	e := newEnv(t, func(c *signaling.Config) { c.Heartbeat = 400 * time.Millisecond })
	// This client reads but never answers pings.
	c := e.dialOpts(t, &websocket.DialOptions{OnPingReceived: func(context.Context, []byte) bool { return false }})
	c.start()
	c.send(msg("auth", "", map[string]string{"token": "tok-a"}))
	if f := c.next(); f.Type != protocol.TypeWelcome {
		t.Fatalf("got %s", f.Type)
	}
	// This one answers, and counts the pings it answers.
	pings := make(chan struct{}, 1024)
	alive := e.dialOpts(t, &websocket.DialOptions{OnPingReceived: func(context.Context, []byte) bool {
		pings <- struct{}{}
		return true
	}})
	alive.start()
	alive.send(msg("auth", "", map[string]string{"token": "tok-g"}))
	if f := alive.next(); f.Type != protocol.TypeWelcome {
		t.Fatalf("got %s", f.Type)
	}
	c.expectClosed(4408, 10*time.Second)
	if who := expectOne(t, e.ctrl.closed, "Close"); who.Address != shopperA.Address {
		t.Fatalf("Close for %v", who.Address)
	}
	// Several more heartbeats: the server pings only after the last pong
	// came in time, so each new ping means the answering client passed
	// one more.
	for len(pings) > 0 {
		<-pings
	}
	for range 3 {
		expectOne(t, pings, "ping")
	}
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
		c.expectClosed(websocket.StatusGoingAway, 10*time.Second)
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
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
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
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := e.hub.Shutdown(ctx); err != nil {
			t.Errorf("round %d: Shutdown: %v", round, err)
		}
		cancel()
		wg.Wait()
	}
}
