package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"guidecall/app"
	"guidecall/callflow"
	"guidecall/internal/auth"
	"guidecall/internal/config"
	"guidecall/protocol"
	"guidecall/protocol/client"
	"guidecall/protocol/client/clienttest"
)

const secret = "app-test-secret-material-long-enough"

// startApp runs a node on loopback with OS-chosen ports and memory stores
// and stops it when the test ends.
func startApp(t *testing.T, tweak func(*app.Stores)) *app.App {
	t.Helper()
	return startAppConfig(t, nil, tweak)
}

// startAppConfig is startApp with changes to the configuration too.
func startAppConfig(t *testing.T, tweakCfg func(*config.Serve), tweak func(*app.Stores)) *app.App {
	t.Helper()
	var cfg config.Serve
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.Register(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.TURNListenIP = "127.0.0.1"
	cfg.TURNPort = 0
	cfg.JWTSecret, cfg.TURNSecret, cfg.SandboxSecret = secret, secret, secret
	cfg.DemoGuide = config.Toggle{Given: true}
	if tweakCfg != nil {
		tweakCfg(&cfg)
	}
	stores := app.MemoryStores()
	if tweak != nil {
		tweak(&stores)
	}
	node, err := app.New(cfg, stores, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := node.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := node.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return node
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) errorCode(t *testing.T) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Code == "" {
		t.Fatalf("status %d body %q is not a JSON error", r.status, r.body)
	}
	return e.Error.Code
}

func do(t *testing.T, method, url, token string, body io.Reader, hdr map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

func doJSON(t *testing.T, method, url, token string, body any, hdr map[string]string) response {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, method, url, token, bytes.NewReader(b), hdr)
}

type joined struct {
	EntryID string `json:"entry_id"`
	Token   string `json:"token"`
	WSURL   string `json:"ws_url"`
}

func join(t *testing.T, node *app.App) joined {
	t.Helper()
	r := doJSON(t, "POST", node.URL()+"/api/v1/queue", "", map[string]string{"locale": "de-DE", "currency": "EUR", "name": "Sam"}, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("join: %d %s", r.status, r.body)
	}
	var j joined
	if err := json.Unmarshal(r.body, &j); err != nil || j.Token == "" || j.EntryID == "" {
		t.Fatalf("join answer %s", r.body)
	}
	return j
}

func accountToken(t *testing.T, node *app.App, email string, role protocol.Role) (auth.Account, string) {
	t.Helper()
	acct, err := node.Auth.AddAccount(context.Background(), email, "Test "+string(role), "correct horse battery", role)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := node.Auth.Login(context.Background(), email, "correct horse battery", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	return acct, pair.AccessToken
}

func TestJoinBadInput(t *testing.T) {
	t.Parallel()
	node := startApp(t, nil)
	url := node.URL() + "/api/v1/queue"
	cases := []struct {
		name string
		body string
		want int
		code string
	}{
		{"malformed JSON", `{"currency":`, http.StatusBadRequest, "bad_request"},
		{"not an object", `[1]`, http.StatusBadRequest, "bad_request"},
		{"bad currency", `{"currency":"EURO"}`, http.StatusBadRequest, "bad_request"},
		{"lowercase currency", `{"currency":"eur"}`, http.StatusBadRequest, "bad_request"},
		{"no currency", `{"locale":"de-DE"}`, http.StatusBadRequest, "bad_request"},
		{"bad locale", `{"currency":"EUR","locale":"not a locale!"}`, http.StatusBadRequest, "bad_request"},
		{"bad queue", `{"currency":"EUR","queue":"../etc"}`, http.StatusBadRequest, "bad_request"},
		{"priority without a customer token", `{"currency":"EUR","priority":5}`, http.StatusBadRequest, "bad_request"},
		{"over 16 KiB", `{"currency":"EUR","name":"` + strings.Repeat("a", 17<<10) + `"}`, http.StatusRequestEntityTooLarge, "too_large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, "POST", url, "", strings.NewReader(tc.body), nil)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.status, tc.want, r.body)
			}
			if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Fatalf("content type %q", r.header.Get("Content-Type"))
			}
			if c := r.errorCode(t); c != tc.code {
				t.Fatalf("code %q, want %q", c, tc.code)
			}
		})
	}
	// A good join still works after all that.
	join(t, node)
}

func TestJoinRateLimit(t *testing.T) {
	t.Parallel()
	node := startApp(t, nil)
	// The burst is 20 per address; bad requests count too, so this does not
	// fill the queue.
	ok := 0
	for range 20 {
		r := do(t, "POST", node.URL()+"/api/v1/queue", "", strings.NewReader(`{"currency":"EUR"}`), nil)
		if r.status != http.StatusCreated {
			t.Fatalf("join %d: %d %s", ok, r.status, r.body)
		}
		ok++
	}
	r := do(t, "POST", node.URL()+"/api/v1/queue", "", strings.NewReader(`{"currency":"EUR"}`), nil)
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("join 21: status %d, want 429: %s", r.status, r.body)
	}
	if r.errorCode(t) != "rate_limited" || r.header.Get("Retry-After") == "" {
		t.Fatalf("429 without code or Retry-After: %v %s", r.header, r.body)
	}
}

func TestICEServers(t *testing.T) {
	t.Parallel()
	node := startApp(t, nil)
	url := node.URL() + "/api/v1/ice-servers"
	if r := do(t, "GET", url, "", nil, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("no token: %d", r.status)
	}
	if r := do(t, "GET", url, "not-a-jwt", nil, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("garbage token: %d", r.status)
	}
	// A token with ?token= in the URL is not looked at.
	j := join(t, node)
	if r := do(t, "GET", url+"?token="+j.Token, "", nil, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("token in URL: %d", r.status)
	}
	// A shopper in line gets no relay: anyone can join the queue.
	if r := do(t, "GET", url, j.Token, nil, nil); r.status != http.StatusForbidden || r.errorCode(t) != "not_in_call" {
		t.Fatalf("waiting shopper: %d %s", r.status, r.body)
	}
	// A guide gets one without a call.
	_, guideTok := accountToken(t, node, "ice-guide@test.local", protocol.RoleGuide)
	if r := do(t, "GET", url, guideTok, nil, nil); r.status != http.StatusOK {
		t.Fatalf("guide: %d %s", r.status, r.body)
	}
	g := dialWS(t, node, guideTok)
	g.Send(protocol.TypePresence, "", protocol.SetPresence{Status: "available"})
	sj := dialWS(t, node, j.Token)
	var od protocol.Offer
	g.AwaitInto(protocol.TypeOffer, "", &od)
	g.Send(protocol.TypeOfferAccept, "", protocol.OfferReply{OfferID: od.OfferID})
	callID := sj.Await(protocol.TypeCallMatched, "").CallID

	r := do(t, "GET", url, j.Token, nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("shopper in a call: %d %s", r.status, r.body)
	}
	var relay *turnClient
	defer func() {
		// Once the call is over, no more: no new credentials, and the ones
		// held allocate nothing and lose their relay.
		g.Send(protocol.TypeCallEnd, callID, protocol.CallEnd{Reason: "hangup"})
		sj.Await(protocol.TypeCallEnded, "")
		if r := do(t, "GET", url, j.Token, nil, nil); r.status != http.StatusForbidden || r.errorCode(t) != "not_in_call" {
			t.Fatalf("shopper after the call: %d %s", r.status, r.body)
		}
		waitAllocations(t, node, 0)
		if err := relay.allocateAgain(t); err == nil {
			t.Fatal("the credential of an ended call allocated a relay")
		}
	}()
	var ice struct {
		ICEServers []struct {
			URLs       []string `json:"urls"`
			Username   string   `json:"username"`
			Credential string   `json:"credential"`
		} `json:"iceServers"`
		TTL    int    `json:"ttl"`
		Policy string `json:"iceTransportPolicy"`
	}
	if err := json.Unmarshal(r.body, &ice); err != nil {
		t.Fatal(err)
	}
	if len(ice.ICEServers) != 1 || ice.TTL <= 0 || ice.Policy != "relay" {
		t.Fatalf("shape: %s", r.body)
	}
	s := ice.ICEServers[0]
	var udp, tcp bool
	for _, u := range s.URLs {
		udp = udp || strings.HasPrefix(u, "turn:127.0.0.1:") && strings.HasSuffix(u, "?transport=udp")
		tcp = tcp || strings.HasPrefix(u, "turn:127.0.0.1:") && strings.HasSuffix(u, "?transport=tcp")
		if strings.Contains(u, ":0?") {
			t.Fatalf("url %q has the configured port 0, not the bound one", u)
		}
	}
	if !udp || !tcp {
		t.Fatalf("urls %v", s.URLs)
	}
	exp, id, found := strings.Cut(s.Username, ":")
	if !found || id != j.EntryID+"."+callID || len(exp) < 10 {
		t.Fatalf("username %q, want <expiry>:%s.%s (issued for the call)", s.Username, j.EntryID, callID)
	}
	if ice.TTL > int(callflow.ShopperTURNTTL.Seconds()) {
		t.Fatalf("shopper credential ttl %d s, want at most %v", ice.TTL, callflow.ShopperTURNTTL)
	}
	if b, err := base64.StdEncoding.DecodeString(s.Credential); err != nil || len(b) == 0 {
		t.Fatalf("credential %q is not base64", s.Credential)
	}
	relay = allocateTURN(t, node, s.Username, s.Credential)
	waitAllocations(t, node, 1)
}

// dialWS connects to node's signaling as the holder of token; an error
// frame fails any wait for another message.
func dialWS(t *testing.T, node *app.App, token string) *clienttest.Conn {
	t.Helper()
	c, _ := clienttest.DialAuth(t, "ws"+strings.TrimPrefix(node.URL(), "http")+"/api/v1/ws", token, client.FailOnError())
	return c
}

func TestCallScope(t *testing.T) {
	t.Parallel()
	node := startApp(t, nil)
	_, guideTok := accountToken(t, node, "guide@test.local", protocol.RoleGuide)
	_, otherGuideTok := accountToken(t, node, "other@test.local", protocol.RoleGuide)

	g := dialWS(t, node, guideTok)
	g.Send(protocol.TypePresence, "", protocol.SetPresence{Status: "available"})
	a := join(t, node)
	sa := dialWS(t, node, a.Token)
	var od protocol.Offer
	if offer := g.AwaitInto(protocol.TypeOffer, "", &od); od.OfferID == "" {
		t.Fatalf("offer %s", offer.Data)
	}
	g.Send(protocol.TypeOfferAccept, "", protocol.OfferReply{OfferID: od.OfferID})
	callID := g.Await(protocol.TypeCallMatched, "").CallID
	if got := sa.Await(protocol.TypeCallMatched, "").CallID; got != callID || callID == "" {
		t.Fatalf("shopper matched to %q, guide to %q", got, callID)
	}
	links := node.URL() + "/api/v1/calls/" + callID + "/payment-links"
	link := map[string]any{"amount": 4999, "currency": "EUR", "description": "Shoes"}
	key := map[string]string{"Idempotency-Key": "k1"}

	// Not yet connected: even the call's guide may not send a link.
	if r := doJSON(t, "POST", links, guideTok, link, key); r.status != http.StatusForbidden {
		t.Fatalf("guide POST before connected: %d %s", r.status, r.body)
	}

	g.Send(protocol.TypeCallConnected, callID, protocol.CallConnected{})
	g.Await(protocol.TypeCallState, "")
	sa.Await(protocol.TypeCallState, "")

	b := join(t, node)
	sb := dialWS(t, node, b.Token)

	// B cannot signal into A's call, and neither side hears of it.
	sb.Send(protocol.TypeSDP, callID, protocol.SDP{Type: "offer", SDP: "v=0"})
	var pe protocol.Error
	if e := sb.AwaitInto(protocol.TypeError, "", &pe); pe.Code != protocol.CodeNotInCall {
		t.Fatalf("B's sdp: %s", e.Data)
	}
	sb.Send(protocol.TypeCallEnd, callID, protocol.CallEnd{Reason: "hangup"})
	if e := sb.AwaitInto(protocol.TypeError, "", &pe); pe.Code != protocol.CodeNotInCall {
		t.Fatalf("B's call.end: %s", e.Data)
	}

	// B cannot read A's links; another guide cannot either.
	if r := do(t, "GET", links, b.Token, nil, nil); r.status != http.StatusForbidden {
		t.Fatalf("B GET: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", links, otherGuideTok, nil, nil); r.status != http.StatusForbidden {
		t.Fatalf("other guide GET: %d %s", r.status, r.body)
	}
	// A shopper cannot send a link, even in its own call.
	if r := doJSON(t, "POST", links, a.Token, link, key); r.status != http.StatusForbidden {
		t.Fatalf("shopper POST: %d %s", r.status, r.body)
	}
	// Unsigned tokens are refused.
	if r := doJSON(t, "POST", links, algNone(t, guideTok), link, key); r.status != http.StatusUnauthorized {
		t.Fatalf("alg none POST: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", links, algNone(t, a.Token), nil, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("alg none GET: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", links, "", nil, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("no token GET: %d %s", r.status, r.body)
	}
	// The call's own parties can.
	if r := doJSON(t, "POST", links, guideTok, link, key); r.status != http.StatusCreated {
		t.Fatalf("guide POST: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", links, a.Token, nil, nil); r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`"amount":4999`)) {
		t.Fatalf("A GET: %d %s", r.status, r.body)
	}
	sa.Await(protocol.TypePaymentLink, "")
	if r := do(t, "GET", links, b.Token, nil, nil); r.status != http.StatusForbidden {
		t.Fatalf("B GET after a link exists: %d %s", r.status, r.body)
	}
	for _, f := range sb.Client.Buffered() {
		if f.CallID == callID {
			t.Fatalf("B heard of A's call: %s %s", f.Type, f.Data)
		}
	}
}

// algNone rewrites a token's header to alg "none" and drops the signature.
func algNone(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q", tok)
	}
	hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	return hdr + "." + parts[1] + "."
}

func TestWebhooks(t *testing.T) {
	t.Parallel()
	node := startApp(t, nil)
	body := `{"id":"evt_1","type":"payment.succeeded"}`
	r := do(t, "POST", node.URL()+"/webhooks/sandbox", "", strings.NewReader(body),
		map[string]string{"Guidecall-Sandbox-Signature": "t=" + time.Now().Format("20060102") + ",v1=00ff"})
	if r.status != http.StatusBadRequest {
		t.Fatalf("bad signature: %d %s", r.status, r.body)
	}
	r = do(t, "POST", node.URL()+"/webhooks/sandbox", "", strings.NewReader(body), nil)
	if r.status != http.StatusBadRequest {
		t.Fatalf("no signature: %d %s", r.status, r.body)
	}
	r = do(t, "POST", node.URL()+"/webhooks/nosuch", "", strings.NewReader(body), nil)
	if r.status != http.StatusNotFound {
		t.Fatalf("unknown provider: %d %s", r.status, r.body)
	}
}

func TestHealthAndReady(t *testing.T) {
	t.Parallel()
	node := startApp(t, nil)
	if r := do(t, "GET", node.URL()+"/healthz", "", nil, nil); r.status != http.StatusOK {
		t.Fatalf("healthz %d", r.status)
	}
	if r := do(t, "GET", node.URL()+"/readyz", "", nil, nil); r.status != http.StatusOK {
		t.Fatalf("readyz %d", r.status)
	}

	var mu sync.Mutex
	var storeErr error
	down := startApp(t, func(s *app.Stores) {
		s.Ready = func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			return storeErr
		}
	})
	if r := do(t, "GET", down.URL()+"/readyz", "", nil, nil); r.status != http.StatusOK {
		t.Fatalf("readyz with a store that answers: %d", r.status)
	}
	mu.Lock()
	storeErr = errors.New("connection refused")
	mu.Unlock()
	r := do(t, "GET", down.URL()+"/readyz", "", nil, nil)
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("readyz with a store down: %d", r.status)
	}
	if bytes.Contains(r.body, []byte("connection refused")) {
		t.Fatalf("readyz leaks the store error: %s", r.body)
	}
	if r := do(t, "GET", down.URL()+"/healthz", "", nil, nil); r.status != http.StatusOK {
		t.Fatalf("healthz with a store down: %d", r.status)
	}
}

// TestReadyDuringStop holds a WebSocket open so Stop takes a moment in the
// hub, and asks /readyz through a connection opened before.
func TestReadyDuringStop(t *testing.T) {
	t.Parallel()
	node := startApp(t, nil)
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	get := func() int {
		resp, err := hc.Get(node.URL() + "/readyz")
		if err != nil {
			return -1
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get(); s != http.StatusOK {
		t.Fatalf("readyz %d", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- node.Stop(ctx) }()
	// Until the listener closes, /readyz says 503; after, the request fails.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		s := get()
		if s == http.StatusServiceUnavailable || s == -1 {
			break
		}
		if s != http.StatusOK {
			t.Fatalf("readyz %d while stopping", s)
		}
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if s := get(); s == http.StatusOK {
		t.Fatal("readyz 200 after Stop")
	}
}

func TestAdminQueue(t *testing.T) {
	t.Parallel()
	node := startApp(t, nil)
	_, guideTok := accountToken(t, node, "guide@test.local", protocol.RoleGuide)
	_, adminTok := accountToken(t, node, "admin@test.local", protocol.RoleAdmin)
	var ids []string
	for range 3 {
		ids = append(ids, join(t, node).EntryID)
	}
	url := node.URL() + "/api/v1/admin/queue"
	if r := do(t, "GET", url, "", nil, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("no token: %d", r.status)
	}
	if r := do(t, "GET", url, guideTok, nil, nil); r.status != http.StatusForbidden {
		t.Fatalf("guide: %d %s", r.status, r.body)
	}
	shopper := join(t, node)
	ids = append(ids, shopper.EntryID)
	if r := do(t, "GET", url, shopper.Token, nil, nil); r.status != http.StatusForbidden {
		t.Fatalf("shopper: %d %s", r.status, r.body)
	}
	r := do(t, "GET", url, adminTok, nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("admin: %d %s", r.status, r.body)
	}
	var q struct {
		Queue   string `json:"queue"`
		Entries []struct {
			EntryID  string `json:"entry_id"`
			Position int    `json:"position"`
			State    string `json:"state"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(r.body, &q); err != nil {
		t.Fatal(err)
	}
	if q.Queue != "default" || len(q.Entries) != len(ids) {
		t.Fatalf("answer %s, want %d entries", r.body, len(ids))
	}
	for i, e := range q.Entries {
		if e.EntryID != ids[i] || e.Position != i+1 || e.State != "waiting" {
			t.Fatalf("entry %d: %+v, want %s at %d", i, e, ids[i], i+1)
		}
	}
	r = do(t, "GET", url+"?queue=other", adminTok, nil, nil)
	if r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`"entries":[]`)) {
		t.Fatalf("empty queue: %d %s", r.status, r.body)
	}
}
