package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"guidecall/protocol"
	"guidecall/protocol/client"
)

// TestMain fails the package if a test leaves a goroutine behind: Close
// must end the reader.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// script is what the fake server does with one accepted socket; after it
// returns the server reads until the client goes.
type script func(ctx context.Context, t *testing.T, ws *websocket.Conn)

// serve runs a WebSocket server that plays s on every socket and returns
// its ws:// URL.
func serve(t *testing.T, s script) string {
	t.Helper()
	var handlers sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code := r.Header.Get("X-Refuse"); code != "" {
			http.Error(w, `{"error":{"code":"rate_limited"}}`, http.StatusTooManyRequests)
			return
		}
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		handlers.Add(1)
		defer handlers.Done()
		defer ws.CloseNow()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ctx = context.WithValue(ctx, headerKey{}, r.Header)
		s(ctx, t, ws)
		for {
			if _, _, err := ws.Read(ctx); err != nil {
				return
			}
		}
	}))
	t.Cleanup(func() {
		done := make(chan struct{})
		go func() { handlers.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("a server socket outlived its test")
		}
		srv.Close()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

type headerKey struct{}

func write(ctx context.Context, t *testing.T, ws *websocket.Conn, typ protocol.Type, callID string, data any) {
	t.Helper()
	b, err := protocol.Encode(typ, callID, data)
	if err != nil {
		t.Error(err)
		return
	}
	if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
		t.Errorf("server write %s: %v", typ, err)
	}
}

func read(ctx context.Context, t *testing.T, ws *websocket.Conn) protocol.Envelope {
	t.Helper()
	var env protocol.Envelope
	_, b, err := ws.Read(ctx)
	if err != nil {
		t.Errorf("server read: %v", err)
		return env
	}
	if err := json.Unmarshal(b, &env); err != nil {
		t.Errorf("server got %q: %v", b, err)
	}
	return env
}

// welcomeAfterAuth answers an auth with token "good" with a welcome and
// anything else with the refusal the server sends.
func welcomeAfterAuth(ctx context.Context, t *testing.T, ws *websocket.Conn) {
	env := read(ctx, t, ws)
	var auth protocol.Auth
	_ = env.Decode(&auth)
	if env.Type != protocol.TypeAuth || auth.Token != "good" {
		write(ctx, t, ws, protocol.TypeError, "", protocol.Error{Code: protocol.CodeUnauthorized, Message: "token refused", Ref: "auth"})
		_ = ws.Close(4401, "unauthorized")
		return
	}
	write(ctx, t, ws, protocol.TypeWelcome, "", protocol.Welcome{Role: protocol.RoleGuide, WelcomeGuide: &protocol.WelcomeGuide{GuideID: "g_1", Status: "away"}})
}

func bounded(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dialAuth(t *testing.T, url string, opts ...client.Option) *client.Conn {
	t.Helper()
	c, welcome, err := client.DialAuth(bounded(t), url, "good", opts...)
	if err != nil {
		t.Fatal(err)
	}
	if welcome.Role != protocol.RoleGuide || welcome.WelcomeGuide == nil || welcome.GuideID != "g_1" {
		t.Fatalf("welcome %+v", welcome)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestAwaitKeepsOtherFrames(t *testing.T) {
	t.Parallel()
	url := serve(t, func(ctx context.Context, t *testing.T, ws *websocket.Conn) {
		welcomeAfterAuth(ctx, t, ws)
		write(ctx, t, ws, protocol.TypeQueuePosition, "", protocol.QueuePosition{Position: 2})
		write(ctx, t, ws, protocol.TypeSDP, "c_other", protocol.SDP{Type: "offer", SDP: "v=0"})
		write(ctx, t, ws, protocol.TypeSDP, "c_1", protocol.SDP{Type: "offer", SDP: "v=0"})
		write(ctx, t, ws, protocol.TypeCallMatched, "c_1", nil)
	})
	c := dialAuth(t, url)
	ctx := bounded(t)

	// The last frame first; everything before it stays, in order.
	m, err := c.Await(ctx, protocol.TypeCallMatched, "")
	if err != nil || m.CallID != "c_1" {
		t.Fatalf("call.matched: %+v %v", m, err)
	}
	sdp, err := c.Await(ctx, protocol.TypeSDP, "c_1")
	if err != nil || sdp.CallID != "c_1" {
		t.Fatalf("sdp of c_1: %+v %v", sdp, err)
	}
	var pos protocol.QueuePosition
	if _, err := c.AwaitInto(ctx, protocol.TypeQueuePosition, "", &pos); err != nil || pos.Position != 2 {
		t.Fatalf("queue.position: %+v %v", pos, err)
	}
	rest := c.Buffered()
	if len(rest) != 1 || rest[0].Type != protocol.TypeSDP || rest[0].CallID != "c_other" {
		t.Fatalf("left in the buffer: %+v", rest)
	}
	if f, err := c.Next(ctx); err != nil || f.CallID != "c_other" || f.Received.IsZero() {
		t.Fatalf("next: %+v %v", f, err)
	}
}

func TestDiscard(t *testing.T) {
	t.Parallel()
	url := serve(t, func(ctx context.Context, t *testing.T, ws *websocket.Conn) {
		welcomeAfterAuth(ctx, t, ws)
		write(ctx, t, ws, protocol.TypeCallState, "c_1", nil)
		write(ctx, t, ws, protocol.TypeOffer, "", nil)
		write(ctx, t, ws, protocol.TypeCallState, "c_1", nil)
		write(ctx, t, ws, protocol.TypeCallEnded, "c_1", nil)
	})
	c := dialAuth(t, url)
	ctx := bounded(t)
	if _, err := c.Await(ctx, protocol.TypeCallEnded, "c_1"); err != nil {
		t.Fatal(err)
	}
	if n := c.Discard(func(f client.Frame) bool { return f.CallID == "c_1" }); n != 2 {
		t.Fatalf("discarded %d, want the 2 call.state", n)
	}
	if b := c.Buffered(); len(b) != 1 || b[0].Type != protocol.TypeOffer {
		t.Fatalf("kept %+v, want the offer", b)
	}
}

func TestWelcomeMustComeFirst(t *testing.T) {
	t.Parallel()
	url := serve(t, func(ctx context.Context, t *testing.T, ws *websocket.Conn) {
		read(ctx, t, ws)
		write(ctx, t, ws, protocol.TypeQueuePosition, "", nil)
		write(ctx, t, ws, protocol.TypeWelcome, "", nil)
	})
	if _, _, err := client.DialAuth(bounded(t), url, "good"); err == nil || !strings.Contains(err.Error(), "before welcome") {
		t.Fatalf("DialAuth: %v, want a complaint about the frame before welcome", err)
	}
}

func TestCloseEndsReader(t *testing.T) {
	t.Parallel()
	url := serve(t, welcomeAfterAuth)
	c := dialAuth(t, url)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Close returned before the reader ended")
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err := c.Next(bounded(t))
	if !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Next after Close: %v, want ErrClosed", err)
	}
	if err := c.Send(bounded(t), protocol.TypePresence, "", nil); err == nil {
		t.Fatal("Send after Close succeeded")
	}
}

func TestServerCloseCode(t *testing.T) {
	t.Parallel()
	url := serve(t, func(ctx context.Context, t *testing.T, ws *websocket.Conn) {
		welcomeAfterAuth(ctx, t, ws)
		write(ctx, t, ws, protocol.TypeQueuePosition, "", protocol.QueuePosition{Position: 1})
		_ = ws.Close(4409, "replaced")
	})
	c := dialAuth(t, url)
	ctx := bounded(t)
	code, reason, err := c.CloseStatus(ctx)
	if err != nil || code != 4409 || reason != "replaced" {
		t.Fatalf("close status %d %q %v, want 4409 replaced", code, reason, err)
	}
	// What came before the close is still there.
	if _, err := c.Await(ctx, protocol.TypeQueuePosition, ""); err != nil {
		t.Fatalf("frame sent before the close: %v", err)
	}
	_, err = c.Await(ctx, protocol.TypeOffer, "")
	if !errors.Is(err, client.ErrClosed) || websocket.CloseStatus(err) != 4409 {
		t.Fatalf("Await after the close: %v, want ErrClosed with 4409", err)
	}
}

func TestAuthRefused(t *testing.T) {
	t.Parallel()
	url := serve(t, welcomeAfterAuth)
	ctx := bounded(t)
	c, err := client.Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Authenticate(ctx, "forged")
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeUnauthorized || pe.Ref != "auth" {
		t.Fatalf("Authenticate: %v, want the server's unauthorized error", err)
	}
	if code, _, _ := c.CloseStatus(ctx); code != 4401 {
		t.Fatalf("closed with %d, want 4401", code)
	}
	if _, _, err := client.DialAuth(ctx, url, "forged"); !errors.As(err, &pe) {
		t.Fatalf("DialAuth: %v, want a *protocol.Error", err)
	}
}

func TestFailOnError(t *testing.T) {
	t.Parallel()
	url := serve(t, func(ctx context.Context, t *testing.T, ws *websocket.Conn) {
		welcomeAfterAuth(ctx, t, ws)
		write(ctx, t, ws, protocol.TypeError, "", protocol.Error{Code: protocol.CodeNotInCall, Message: "no call", Ref: "sdp"})
		write(ctx, t, ws, protocol.TypeOffer, "", protocol.Offer{OfferID: "c_1"})
		write(ctx, t, ws, protocol.TypeError, "", protocol.Error{Code: protocol.CodeBadState, Message: "late", Ref: "call.connected"})
	})
	c := dialAuth(t, url, client.FailOnError())
	ctx := bounded(t)
	_, err := c.Await(ctx, protocol.TypeOffer, "")
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeNotInCall || pe.Ref != "sdp" {
		t.Fatalf("Await with an error first: %v", err)
	}
	// The error was taken; the offer behind it was not.
	if _, err := c.Await(ctx, protocol.TypeOffer, ""); err != nil {
		t.Fatalf("offer after the error: %v", err)
	}
	// An Await for errors gets them as frames.
	var e protocol.Error
	if _, err := c.AwaitInto(ctx, protocol.TypeError, "", &e); err != nil || e.Code != protocol.CodeBadState {
		t.Fatalf("error frame: %+v %v", e, err)
	}
}

func TestErrorFramesWaitWithoutFailOnError(t *testing.T) {
	t.Parallel()
	url := serve(t, func(ctx context.Context, t *testing.T, ws *websocket.Conn) {
		welcomeAfterAuth(ctx, t, ws)
		write(ctx, t, ws, protocol.TypeError, "", protocol.Error{Code: protocol.CodeNotInCall, Message: "no call"})
		write(ctx, t, ws, protocol.TypeOffer, "", nil)
	})
	c := dialAuth(t, url)
	ctx := bounded(t)
	if _, err := c.Await(ctx, protocol.TypeOffer, ""); err != nil {
		t.Fatal(err)
	}
	if f, err := c.Next(ctx); err != nil || f.Type != protocol.TypeError {
		t.Fatalf("the error frame: %+v %v", f, err)
	}
}

func TestOversizedFrame(t *testing.T) {
	t.Parallel()
	// A frame exactly at the limit passes; one byte over ends the socket.
	frameOf := func(size int) []byte {
		b, _ := protocol.Encode(protocol.TypeQueuePosition, "", protocol.QueuePosition{Queue: ""})
		pad := strings.Repeat("x", size-len(b))
		b, _ = protocol.Encode(protocol.TypeQueuePosition, "", protocol.QueuePosition{Queue: pad})
		return b
	}
	url := serve(t, func(ctx context.Context, t *testing.T, ws *websocket.Conn) {
		welcomeAfterAuth(ctx, t, ws)
		for _, size := range []int{protocol.MaxFrame, protocol.MaxFrame + 1} {
			b := frameOf(size)
			if len(b) != size {
				t.Errorf("frame of %d bytes, want %d", len(b), size)
			}
			_ = ws.Write(ctx, websocket.MessageText, b)
		}
	})
	c := dialAuth(t, url)
	ctx := bounded(t)
	if _, err := c.Await(ctx, protocol.TypeQueuePosition, ""); err != nil {
		t.Fatalf("frame at the limit: %v", err)
	}
	_, err := c.Await(ctx, protocol.TypeQueuePosition, "")
	if !errors.Is(err, client.ErrClosed) || !errors.Is(err, websocket.ErrMessageTooBig) {
		t.Fatalf("frame over the limit: %v, want ErrClosed and ErrMessageTooBig", err)
	}
}

func TestReadLimitOption(t *testing.T) {
	t.Parallel()
	url := serve(t, func(ctx context.Context, t *testing.T, ws *websocket.Conn) {
		welcomeAfterAuth(ctx, t, ws)
		write(ctx, t, ws, protocol.TypeQueuePosition, "", protocol.QueuePosition{Queue: strings.Repeat("x", 2*protocol.MaxFrame)})
	})
	c := dialAuth(t, url, client.WithReadLimit(4*protocol.MaxFrame))
	if _, err := c.Await(bounded(t), protocol.TypeQueuePosition, ""); err != nil {
		t.Fatal(err)
	}
}

func TestNotAnEnvelope(t *testing.T) {
	t.Parallel()
	url := serve(t, func(ctx context.Context, t *testing.T, ws *websocket.Conn) {
		welcomeAfterAuth(ctx, t, ws)
		_ = ws.Write(ctx, websocket.MessageText, []byte("not json"))
	})
	c := dialAuth(t, url)
	_, err := c.Next(bounded(t))
	if !errors.Is(err, client.ErrClosed) || !strings.Contains(err.Error(), "not an envelope") {
		t.Fatalf("Next: %v", err)
	}
}

func TestContextCancel(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	url := serve(t, func(ctx context.Context, t *testing.T, ws *websocket.Conn) {
		welcomeAfterAuth(ctx, t, ws)
		select {
		case <-release:
		case <-ctx.Done():
		}
		write(ctx, t, ws, protocol.TypeOffer, "", nil)
	})
	c := dialAuth(t, url)
	ctx, cancel := context.WithCancel(bounded(t))
	cancel()
	if _, err := c.Await(ctx, protocol.TypeOffer, ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("Await with a canceled ctx: %v", err)
	}
	// The connection outlives a canceled wait.
	close(release)
	if _, err := c.Await(bounded(t), protocol.TypeOffer, ""); err != nil {
		t.Fatalf("Await after a canceled one: %v", err)
	}
}

func TestBufferFull(t *testing.T) {
	t.Parallel()
	url := serve(t, func(ctx context.Context, t *testing.T, ws *websocket.Conn) {
		welcomeAfterAuth(ctx, t, ws)
		for i := range 3 {
			write(ctx, t, ws, protocol.TypeQueuePosition, "", protocol.QueuePosition{Position: i + 1})
		}
	})
	c := dialAuth(t, url, client.WithBuffer(2))
	ctx := bounded(t)
	if _, err := c.Await(ctx, protocol.TypeOffer, ""); !errors.Is(err, client.ErrBufferFull) {
		t.Fatalf("Await with a full buffer: %v, want ErrBufferFull", err)
	}
	// Taking one lets the reader go on.
	for i := range 3 {
		var pos protocol.QueuePosition
		if _, err := c.AwaitInto(ctx, protocol.TypeQueuePosition, "", &pos); err != nil || pos.Position != i+1 {
			t.Fatalf("position %d: %+v %v", i+1, pos, err)
		}
	}
}

func TestConcurrentSends(t *testing.T) {
	t.Parallel()
	const senders, each = 8, 25
	got := make(chan protocol.Envelope, senders*each)
	url := serve(t, func(ctx context.Context, t *testing.T, ws *websocket.Conn) {
		welcomeAfterAuth(ctx, t, ws)
		for range senders * each {
			got <- read(ctx, t, ws)
		}
		write(ctx, t, ws, protocol.TypeCallEnded, "", nil)
	})
	c := dialAuth(t, url)
	ctx := bounded(t)
	var wg sync.WaitGroup
	for i := range senders {
		wg.Go(func() {
			for j := range each {
				cand := protocol.ICECandidate{Candidate: strconv.Itoa(j)}
				if err := c.Send(ctx, protocol.TypeICE, fmt.Sprintf("c_%d", i), cand); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if _, err := c.Await(ctx, protocol.TypeCallEnded, ""); err != nil {
		t.Fatal(err)
	}
	next := map[string]int{}
	for range senders * each {
		env := <-got
		var d protocol.ICECandidate
		if err := env.Decode(&d); err != nil || env.Type != protocol.TypeICE || env.V != protocol.Version {
			t.Fatalf("server got %+v: %v", env, err)
		}
		// One sender's messages arrive in the order it sent them.
		if d.Candidate != strconv.Itoa(next[env.CallID]) {
			t.Fatalf("%s: message %s, want %d", env.CallID, d.Candidate, next[env.CallID])
		}
		next[env.CallID]++
	}
}

func TestPingOrdersAfterHandling(t *testing.T) {
	t.Parallel()
	// The server answers every presence with an error, and reads (so
	// answers pings) only after it has.
	url := serve(t, func(ctx context.Context, t *testing.T, ws *websocket.Conn) {
		welcomeAfterAuth(ctx, t, ws)
		for range 3 {
			read(ctx, t, ws)
			write(ctx, t, ws, protocol.TypeError, "", protocol.Error{Code: protocol.CodeUnknownType, Message: "no"})
		}
	})
	c := dialAuth(t, url)
	ctx := bounded(t)
	for range 3 {
		if err := c.Send(ctx, protocol.TypePresence, "", nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(c.Buffered()); n != 3 {
		t.Fatalf("%d answers buffered after the ping, want 3", n)
	}
}

func TestHandle(t *testing.T) {
	t.Parallel()
	url := serve(t, func(ctx context.Context, t *testing.T, ws *websocket.Conn) {
		welcomeAfterAuth(ctx, t, ws)
		read(ctx, t, ws) // the client's go-ahead, sent once its handler is set
		for i := range 3 {
			write(ctx, t, ws, protocol.TypeICE, "c_1", protocol.ICECandidate{Candidate: strconv.Itoa(i)})
		}
		write(ctx, t, ws, protocol.TypeCallEnded, "c_1", nil)
	})
	c := dialAuth(t, url)
	ctx := bounded(t)
	var got []string
	c.Handle(protocol.TypeICE, func(f client.Frame) {
		var d protocol.ICECandidate
		_ = f.Decode(&d)
		got = append(got, d.Candidate) // the reader goroutine only
	})
	if err := c.Send(ctx, protocol.TypePresence, "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Await(ctx, protocol.TypeCallEnded, "c_1"); err != nil {
		t.Fatal(err)
	}
	// call.ended came after the candidates, through the same reader.
	if fmt.Sprint(got) != "[0 1 2]" {
		t.Fatalf("handled %v", got)
	}
	if b := c.Buffered(); len(b) != 0 {
		t.Fatalf("buffered %+v; handled frames must not be", b)
	}
}

func TestHeadersAndRefusal(t *testing.T) {
	t.Parallel()
	url := serve(t, func(ctx context.Context, t *testing.T, ws *websocket.Conn) {
		h := ctx.Value(headerKey{}).(http.Header)
		welcomeAfterAuth(ctx, t, ws)
		write(ctx, t, ws, protocol.TypePresence, "", protocol.Presence{Status: h.Get("Origin"), Reason: h.Get("X-Forwarded-For")})
	})
	ctx := bounded(t)
	c := dialAuth(t, url, client.WithHeader("Origin", "https://shop.example"), client.WithHeader("X-Forwarded-For", "203.0.113.7"))
	// The fake server echoes the headers in a presence.
	var echo protocol.Presence
	if _, err := c.AwaitInto(ctx, protocol.TypePresence, "", &echo); err != nil || echo.Status != "https://shop.example" || echo.Reason != "203.0.113.7" {
		t.Fatalf("headers seen by the server: %+v %v", echo, err)
	}
	_, err := client.Dial(ctx, url, client.WithHeader("X-Refuse", "yes"))
	var de *client.DialError
	if !errors.As(err, &de) || de.Status != http.StatusTooManyRequests || !strings.Contains(de.Body, "rate_limited") {
		t.Fatalf("refused dial: %v", err)
	}
}

func TestOnPing(t *testing.T) {
	t.Parallel()
	// The client leaves the first ping unanswered and answers the second;
	// pongs come back in order, so once the second is answered the first
	// never will be.
	firstSeen := make(chan struct{})
	first := make(chan error, 1)
	url := serve(t, func(ctx context.Context, t *testing.T, ws *websocket.Conn) {
		welcomeAfterAuth(ctx, t, ws)
		// Pongs are read by a reader on this side too.
		reading := make(chan struct{})
		go func() {
			defer close(reading)
			for {
				if _, _, err := ws.Read(ctx); err != nil {
					return
				}
			}
		}()
		ctx1, cancel1 := context.WithCancel(ctx)
		go func() { first <- ws.Ping(ctx1) }()
		select {
		case <-firstSeen:
		case <-ctx.Done():
		}
		if err := ws.Ping(ctx); err != nil {
			t.Errorf("second ping: %v", err)
		}
		cancel1()
		<-reading
	})
	var pings atomic.Int32
	c := dialAuth(t, url, client.OnPing(func() bool {
		if pings.Add(1) == 1 {
			close(firstSeen)
			return false
		}
		return true
	}))
	select {
	case err := <-first:
		if err == nil {
			t.Fatal("the first ping was answered though OnPing said no")
		}
	case <-bounded(t).Done():
		t.Fatal("the server's first ping never ended")
	}
	_ = c.Close()
}

func TestOnReceive(t *testing.T) {
	t.Parallel()
	url := serve(t, func(ctx context.Context, t *testing.T, ws *websocket.Conn) {
		welcomeAfterAuth(ctx, t, ws)
		write(ctx, t, ws, protocol.TypeOffer, "", nil)
	})
	var mu sync.Mutex
	var seen []protocol.Type
	c := dialAuth(t, url, client.OnReceive(func(f client.Frame) {
		mu.Lock()
		seen = append(seen, f.Type)
		mu.Unlock()
	}))
	if _, err := c.Await(bounded(t), protocol.TypeOffer, ""); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(seen) != "[welcome offer]" {
		t.Fatalf("seen %v", seen)
	}
}
