package signaling_test

import (
	"context"
	"encoding/json"
	"errors"
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
	"guidecall/protocol/client"
	"guidecall/protocol/client/clienttest"
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

// dial opens a socket to the hub without authenticating.
func (e *env) dial(t *testing.T, opts ...client.Option) *clienttest.Conn {
	t.Helper()
	return clienttest.Dial(t, e.url, opts...)
}

// connect dials and authenticates with token; the client checks that the
// welcome is the first frame.
func (e *env) connect(t *testing.T, token string, opts ...client.Option) *clienttest.Conn {
	t.Helper()
	c, _ := clienttest.DialAuth(t, e.url, token, opts...)
	return c
}

// forged is a frame claiming a sender's role, which only the server may
// set; Send does not build one.
func forged(t *testing.T, typ protocol.Type, callID string, from protocol.Role, data any) []byte {
	t.Helper()
	b, err := protocol.Encode(typ, callID, data)
	var env protocol.Envelope
	if err == nil {
		err = json.Unmarshal(b, &env)
	}
	if err == nil {
		env.From = from
		b, err = json.Marshal(env)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// candidate is an ICE candidate of media section 0.
func candidate(c string) protocol.ICECandidate {
	mid := "0"
	return protocol.ICECandidate{Candidate: c, SDPMid: &mid}
}

// expectEmpty checks that nothing is waiting in ch; call it once the
// event that must come after anything ch could hold has been seen.
func expectEmpty[T any](t *testing.T, ch chan T, what string) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected %s: %+v", what, v)
	default:
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
		c.Send(protocol.TypePresence, "", protocol.SetPresence{Status: "available"})
		c.ExpectError(protocol.CodeUnauthorized, "auth")
		c.ExpectClosed(4401)
	})
	t.Run("wrong token", func(t *testing.T) {
		c := e.dial(t)
		c.Send(protocol.TypeAuth, "", protocol.Auth{Token: "forged"})
		c.ExpectError(protocol.CodeUnauthorized, "auth")
		c.ExpectClosed(4401)
	})
	t.Run("auth without token", func(t *testing.T) {
		c := e.dial(t)
		c.Send(protocol.TypeAuth, "", nil)
		c.ExpectError(protocol.CodeUnauthorized, "auth")
		c.ExpectClosed(4401)
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
		c.ExpectClosed(4401)
		if el := time.Since(start); el < authTimeout {
			t.Fatalf("closed after %s, before the auth timeout of %s", el, authTimeout)
		}
		expectEmpty(t, silent.ctrl.opened, "Open for an unauthenticated socket")
	})
	// Every refused socket is closed by now; a socket that authenticates
	// after them must be the first one opened.
	e.connect(t, "tok-a")
	if who := expectOne(t, e.ctrl.opened, "Open"); who.Address != shopperA.Address {
		t.Fatalf("Open for %v, an unauthenticated socket", who.Address)
	}
	expectEmpty(t, e.ctrl.opened, "Open for an unauthenticated socket")
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
		f := c.Next()
		var d protocol.QueuePosition
		_ = f.Decode(&d)
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
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := c.On(t)
			c.SendRaw([]byte(tc.raw))
			c.ExpectError(tc.code, tc.ref)
		})
	}
	// Nothing reached the controller or the other party, and the socket
	// still works: a good message sent after them is the first the
	// controller routes and the first frame the other party gets.
	c.Send(protocol.TypeSDP, "c_1", protocol.SDP{Type: "offer", SDP: "v=0"})
	if f := g.Next(); f.Type != protocol.TypeSDP {
		t.Fatalf("guide got %s %s, want sdp", f.Type, f.Data)
	}
	if m := expectOne(t, e.ctrl.routed, "Route"); m.Type != protocol.TypeSDP || m.CallID != "c_1" {
		t.Fatalf("Route of a refused message: %+v", m)
	}
	expectEmpty(t, e.ctrl.routed, "Route of a refused message")
	// A binary frame is refused but the socket stays.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Client.SendBinary(ctx, []byte(`{"v":1,"type":"queue.cancel"}`)); err != nil {
		t.Fatal(err)
	}
	c.ExpectError(protocol.CodeBadMessage, "")
	// The first message the controller handles is the one sent last.
	c.Send(protocol.TypeQueueCancel, "", nil)
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
		c.Send(protocol.TypeSDP, "c_1", protocol.SDP{Type: "offer", SDP: strings.Repeat("a", 1500)})
		c.ExpectError(protocol.CodeTooLarge, "")
		c.ExpectClosed(websocket.StatusMessageTooBig)
		expectOne(t, e.ctrl.closed, "Close")
	})
	t.Run("far over the library limit", func(t *testing.T) {
		c := e.connect(t, "tok-b")
		// The server may cut the socket while the megabyte is still being
		// written, so the write may fail; the close code is what counts.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = c.Client.Send(ctx, protocol.TypeSDP, "c_1", protocol.SDP{Type: "offer", SDP: strings.Repeat("a", 1<<20)})
		c.ExpectClosed(websocket.StatusMessageTooBig)
		expectOne(t, e.ctrl.closed, "Close")
		if !strings.Contains(logs.String(), "frame over the library limit") {
			t.Errorf("the library's refusal was not logged:\n%s", logs.String())
		}
	})
	t.Run("at the limit passes", func(t *testing.T) {
		c := e.connect(t, "tok-g")
		b, _ := protocol.Encode(protocol.TypePresence, "", protocol.SetPresence{Status: "available"})
		pad := strings.Repeat(" ", 1<<10-len(b))
		c.SendRaw(append(b, pad...))
		expectOne(t, e.ctrl.handled, "Handle")
		// No error came for it: the answer to a later message is the next
		// frame.
		c.SendRaw([]byte(`{"v":1,"type":"teleport"}`))
		c.ExpectError(protocol.CodeUnknownType, "teleport")
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
	a.SendRaw(forged(t, protocol.TypeSDP, "c_ag", protocol.RoleGuide, protocol.SDP{Type: "offer", SDP: "v=0"}))
	f := g.Next()
	if f.Type != protocol.TypeSDP || f.CallID != "c_ag" || f.From != protocol.RoleShopper || f.V != 1 {
		t.Fatalf("guide got %+v", f)
	}
	var d protocol.SDP
	if err := f.Decode(&d); err != nil || d.Type != "offer" || d.SDP != "v=0" {
		t.Fatalf("relayed data %s", f.Data)
	}
	g.Send(protocol.TypeICE, "c_ag", candidate("candidate:1"))
	if f := a.Next(); f.Type != protocol.TypeICE || f.From != protocol.RoleGuide {
		t.Fatalf("shopper got %+v", f)
	}

	// B names A's call: refused, and nobody hears of it.
	b.SendRaw(forged(t, protocol.TypeSDP, "c_ag", protocol.RoleGuide, protocol.SDP{Type: "offer", SDP: "evil"}))
	b.ExpectError(protocol.CodeNotInCall, "sdp")
	b.Send(protocol.TypeICERestart, "c_ag", protocol.ICERestart{})
	b.ExpectError(protocol.CodeNotInCall, "ice.restart")
	// The hub relays as it reads, so anything B's messages had sent A or G
	// is queued ahead of what A and G send each other now.
	g.Send(protocol.TypeICE, "c_ag", candidate("candidate:2"))
	if f := a.Next(); f.Type != protocol.TypeICE || f.From != protocol.RoleGuide {
		t.Fatalf("shopper got %s %s, want the guide's ice", f.Type, f.Data)
	}
	a.Send(protocol.TypeICE, "c_ag", candidate("candidate:3"))
	if f := g.Next(); f.Type != protocol.TypeICE || f.From != protocol.RoleShopper {
		t.Fatalf("guide got %s %s, want the shopper's ice", f.Type, f.Data)
	}
	b.Ping()
	b.ExpectNothing()
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	const rate = 3 // per second, and the burst
	e := newEnv(t, func(c *signaling.Config) { c.RatePerSecond = rate })
	g := e.connect(t, "tok-g")
	presence := protocol.SetPresence{Status: "available"}
	// isLimited fails the test on any frame but a rate_limited error.
	isLimited := func(f client.Frame) {
		t.Helper()
		var pe protocol.Error
		_ = f.Decode(&pe)
		if f.Type != protocol.TypeError || pe.Code != protocol.CodeRateLimited || pe.Ref != "" {
			t.Fatalf("got %s %s, want a rate_limited error", f.Type, f.Data)
		}
	}
	// frames hands over what g receives, to wait for it and for Handle
	// calls at once; it closes once g has ended and everything it
	// received was handed over.
	frames := make(chan client.Frame)
	pumpCtx, stopPump := context.WithCancel(context.Background())
	var pump sync.WaitGroup
	pump.Go(func() {
		defer close(frames)
		for {
			f, err := g.Client.Next(pumpCtx)
			if err != nil {
				return
			}
			select {
			case frames <- f:
			case <-pumpCtx.Done():
				return
			}
		}
	})
	defer func() { stopPump(); pump.Wait() }()

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
			g.Send(protocol.TypePresence, "", presence)
		}
		sent += 2 * rate
		for handled+limited < sent {
			select {
			case <-e.ctrl.handled:
				handled++
			case f, ok := <-frames:
				if !ok {
					t.Fatalf("socket ended during a burst within the limit: %v", g.Client.Err())
				}
				isLimited(f)
				limited++
			case <-time.After(10 * time.Second):
				t.Fatalf("%d messages sent, but only %d handled and %d rate_limited", sent, handled, limited)
			}
		}
	}
	if limited > rate {
		t.Fatalf("%d of a burst of %d rate_limited, but the bucket holds %d", limited, 2*rate, rate)
	}
	// Once the hub has read past them (it answers a ping only then), every
	// Handle they caused has been called.
	g.Ping()
	expectEmpty(t, e.ctrl.handled, "Handle beyond the messages sent")

	// A client that keeps flooding is cut off with 1008. The server closes
	// as soon as the limit is passed, so the writes that follow may fail:
	// the flood stops at the first that does.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 1000 {
		if err := g.Client.Send(ctx, protocol.TypePresence, "", presence); err != nil {
			break
		}
	}
	g.ExpectClosed(websocket.StatusPolicyViolation)
	// Whatever arrived before the close is rate_limited errors; the last
	// ones may be lost to the close itself, but never more than the rate
	// plus the one that tipped the socket over come.
	for f := range frames {
		isLimited(f)
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
	first.ExpectClosed(4409)
	if n := e.hub.Connections(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
	// Events reach the new socket.
	if err := e.hub.Send(context.Background(), shopperA.Address, protocol.TypeQueuePosition, "", protocol.QueuePosition{Position: 1}); err != nil {
		t.Fatal(err)
	}
	if f := second.Next(); f.Type != protocol.TypeQueuePosition {
		t.Fatalf("got %s", f.Type)
	}
	// The replaced socket got no Close: the first Close is the second's.
	second.Close()
	if who := expectOne(t, e.ctrl.closed, "Close"); who.Socket != secondID {
		t.Fatalf("Close for socket %q, want %q", who.Socket, secondID)
	}
	expectEmpty(t, e.ctrl.closed, "Close for the replaced socket")
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
	// The slow client authenticates, then stops reading: it holds one
	// frame and takes none.
	slow := e.dial(t, client.WithBuffer(1))
	slow.Send(protocol.TypeAuth, "", protocol.Auth{Token: "tok-a"})
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
		if f := fast.Next(); f.Type != protocol.TypePresence {
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
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for {
			if _, err := slow.Client.Next(context.Background()); err != nil {
				return
			}
		}
	}()
	// Sends to the dropped party still return, and others still receive.
	for i := range 100 {
		send(shopperA.Address, protocol.TypeQueuePosition, protocol.QueuePosition{Queue: big, Position: sent + i})
	}
	fastGets(sent)
	slow.Within(15 * time.Second).ExpectClosed(websocket.StatusPolicyViolation)
	<-drained
	if err := slow.Client.Err(); !strings.Contains(err.Error(), "slow consumer") {
		t.Errorf("slow client closed with %v, want the slow consumer reason", err)
	}
	if who := expectOne(t, e.ctrl.closed, "Close"); who.Address != shopperA.Address {
		t.Fatalf("Close for %v", who.Address)
	}
	fast.ExpectOpen()
}

func TestHeartbeatDropsSilentClient(t *testing.T) {
	t.Parallel()
	// A pong must come back within one heartbeat; the period leaves a
	// loaded machine ample time for an answering client's.
	e := newEnv(t, func(c *signaling.Config) { c.Heartbeat = 400 * time.Millisecond })
	// This client reads but never answers pings.
	c := e.connect(t, "tok-a", client.OnPing(func() bool { return false }))
	// This one answers, and counts the pings it answers.
	pings := make(chan struct{}, 1024)
	alive := e.connect(t, "tok-g", client.OnPing(func() bool {
		pings <- struct{}{}
		return true
	}))
	c.ExpectClosed(4408)
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
	alive.ExpectOpen()
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
	for _, c := range []*clienttest.Conn{a, g, pending} {
		c.ExpectClosed(websocket.StatusGoingAway)
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
				c, err := client.Dial(ctx, e.url)
				if err != nil {
					return // refused after shutdown began
				}
				defer c.Close()
				// A socket the hub forgot would stay open until the deadline.
				if _, _, err := c.CloseStatus(ctx); err != nil {
					t.Errorf("round %d: a socket outlived Shutdown", round)
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

// TestRelayKeepsSenderData: the other party gets the sender's data as it
// was sent, not re-escaped. JSON's HTML escaping writes each <, > and &
// as six bytes, which would push a description that fits the limit past
// it and have the receiver close with 1009.
func TestRelayKeepsSenderData(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.ctrl.setRoute(func(who signaling.Identity, m protocol.Envelope) (signaling.Address, error) {
		if who.Address == shopperA.Address {
			return guideG.Address, nil
		}
		return shopperA.Address, nil
	})
	a := e.connect(t, "tok-a")
	g := e.connect(t, "tok-g")

	head := `{"v":1,"type":"sdp","call_id":"c_ag","data":`
	data := `{"type":"offer","sdp":"v=0\r\na=x:<&>` + strings.Repeat("<&>", 21500) + `"}`
	frame := head + data + "}"
	if n := len(frame); n > protocol.MaxFrame || n < protocol.MaxFrame-2048 {
		t.Fatalf("test frame is %d bytes, want just under %d", n, protocol.MaxFrame)
	}
	a.SendRaw([]byte(frame))
	f := g.Next()
	if f.Type != protocol.TypeSDP || f.From != protocol.RoleShopper {
		t.Fatalf("guide got %s from %q", f.Type, f.From)
	}
	if string(f.Data) != data {
		t.Fatalf("relayed data differs from the sent data: got %d bytes %.80q…, sent %d bytes", len(f.Data), f.Data, len(data))
	}

	// A frame at the limit grows by the server's "from": it is refused to
	// its sender, not sent over the receiver's limit.
	frame = head + `{"type":"offer","sdp":"v=0` + strings.Repeat("a", protocol.MaxFrame-len(head)-len(`{"type":"offer","sdp":"v=0"}}`)) + `"}}`
	if len(frame) != protocol.MaxFrame {
		t.Fatalf("test frame is %d bytes, want %d", len(frame), protocol.MaxFrame)
	}
	a.SendRaw([]byte(frame))
	a.ExpectError(protocol.CodeTooLarge, protocol.TypeSDP)
	a.ExpectOpen()
	g.Ping()
	g.ExpectNothing()
	g.ExpectOpen()
}
