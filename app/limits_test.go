package app_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"guidecall/app"
	"guidecall/internal/config"
	"guidecall/protocol"
	"guidecall/queue"
)

func joinFrom(t *testing.T, node *app.App, xff string) response {
	t.Helper()
	return do(t, "POST", node.URL()+"/api/v1/queue", "", strings.NewReader(`{"currency":"EUR"}`), map[string]string{"X-Forwarded-For": xff})
}

func TestJoinLimitBehindTrustedProxy(t *testing.T) {
	t.Parallel()
	node := startAppConfig(t, func(c *config.Serve) { c.TrustedProxies = "127.0.0.0/8, 10.0.0.0/8" }, nil)
	// The balancer (loopback here) and an inner proxy of ours are skipped;
	// what the client wrote left of them is not looked at.
	for i := range 20 {
		if r := joinFrom(t, node, fmt.Sprintf("198.51.100.%d, 203.0.113.7, 10.1.2.3", i)); r.status != http.StatusCreated {
			t.Fatalf("join %d: %d %s", i+1, r.status, r.body)
		}
	}
	if r := joinFrom(t, node, "203.0.113.7"); r.status != http.StatusTooManyRequests {
		t.Fatalf("join 21 from the same client: %d %s", r.status, r.body)
	}
	// Another client behind the same balancer is not held back.
	if r := joinFrom(t, node, "203.0.113.8"); r.status != http.StatusCreated {
		t.Fatalf("another client: %d %s", r.status, r.body)
	}
}

func TestJoinLimitIgnoresHeadersFromStrangers(t *testing.T) {
	t.Parallel()
	node := startApp(t, nil)
	// No trusted proxies: a client cannot dodge the limit by inventing
	// addresses.
	for i := range 20 {
		if r := joinFrom(t, node, fmt.Sprintf("203.0.113.%d", i)); r.status != http.StatusCreated {
			t.Fatalf("join %d: %d %s", i+1, r.status, r.body)
		}
	}
	if r := joinFrom(t, node, "203.0.113.99"); r.status != http.StatusTooManyRequests {
		t.Fatalf("join 21 with a new X-Forwarded-For: %d %s", r.status, r.body)
	}
}

func dialFrom(t *testing.T, node *app.App, xff string) (*websocket.Conn, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(node.URL(), "http") + "/api/v1/ws"
	ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"X-Forwarded-For": {xff}}})
	if err != nil {
		if resp == nil {
			t.Fatal(err)
		}
		return nil, resp.StatusCode
	}
	t.Cleanup(func() { _ = ws.CloseNow() })
	return ws, http.StatusSwitchingProtocols
}

func TestSocketCapPerClient(t *testing.T) {
	t.Parallel()
	node := startAppConfig(t, func(c *config.Serve) {
		c.TrustedProxies = "127.0.0.1/32"
		c.MaxConnectionsPerIP = 2
		c.MaxConnections = 3
	}, nil)
	for range 2 {
		if ws, status := dialFrom(t, node, "203.0.113.1"); ws == nil {
			t.Fatalf("dial: %d", status)
		}
	}
	if _, status := dialFrom(t, node, "203.0.113.1"); status != http.StatusTooManyRequests {
		t.Fatalf("third socket of one client: %d, want 429", status)
	}
	if ws, status := dialFrom(t, node, "203.0.113.2"); ws == nil {
		t.Fatalf("another client: %d", status)
	}
	if _, status := dialFrom(t, node, "203.0.113.3"); status != http.StatusServiceUnavailable {
		t.Fatalf("socket over the node's cap: %d, want 503", status)
	}
}

// flakyQueue is a queue store whose call lookups fail as if the database
// were away while down is set.
type flakyQueue struct {
	queue.Store
	down atomic.Bool
}

func (f *flakyQueue) CallGet(ctx context.Context, id string) (queue.Call, error) {
	if f.down.Load() {
		return queue.Call{}, fmt.Errorf("call %s: %w: %w", id, queue.ErrUnavailable, errors.New("connection refused"))
	}
	return f.Store.CallGet(ctx, id)
}

func TestPaymentLinksStoreOutage(t *testing.T) {
	t.Parallel()
	var flaky *flakyQueue
	node := startApp(t, func(s *app.Stores) {
		flaky = &flakyQueue{Store: s.Queue}
		s.Queue = flaky
	})
	_, guideTok := accountToken(t, node, "outage@test.local", protocol.RoleGuide)
	links := node.URL() + "/api/v1/calls/c_missing/payment-links"
	if r := do(t, "GET", links, guideTok, nil, nil); r.status != http.StatusForbidden {
		t.Fatalf("unknown call: %d %s", r.status, r.body)
	}
	flaky.down.Store(true)
	// An outage is not the caller's fault: 503, so it retries.
	r := do(t, "GET", links, guideTok, nil, nil)
	if r.status != http.StatusServiceUnavailable || r.errorCode(t) != "store_unavailable" {
		t.Fatalf("during an outage: %d %s", r.status, r.body)
	}
}
