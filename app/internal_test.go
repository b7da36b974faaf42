package app

import (
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"guidecall/internal/auth"
	"guidecall/internal/config"
	"guidecall/payments"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	trusted := clientIPs{trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}}
	none := clientIPs{}
	for _, tc := range []struct {
		name   string
		p      clientIPs
		remote string
		hdr    map[string][]string
		want   string
	}{
		{"no proxies: header ignored", none, "203.0.113.1:5000", map[string][]string{"X-Forwarded-For": {"198.51.100.1"}}, "203.0.113.1"},
		{"untrusted peer: header ignored", trusted, "203.0.113.1:5000", map[string][]string{"X-Forwarded-For": {"198.51.100.1"}, "X-Real-Ip": {"198.51.100.2"}}, "203.0.113.1"},
		{"trusted peer, one hop", trusted, "10.0.0.1:5000", map[string][]string{"X-Forwarded-For": {"198.51.100.1"}}, "198.51.100.1"},
		{"right-most untrusted", trusted, "10.0.0.1:5000", map[string][]string{"X-Forwarded-For": {"1.2.3.4, 198.51.100.1, 10.9.9.9"}}, "198.51.100.1"},
		{"several headers", trusted, "10.0.0.1:5000", map[string][]string{"X-Forwarded-For": {"1.2.3.4", "198.51.100.1,10.9.9.9"}}, "198.51.100.1"},
		{"all hops trusted", trusted, "10.0.0.1:5000", map[string][]string{"X-Forwarded-For": {"10.0.0.7, 10.0.0.8"}}, "10.0.0.7"},
		{"garbage hop stops the walk", trusted, "10.0.0.1:5000", map[string][]string{"X-Forwarded-For": {"198.51.100.1, nonsense, 10.0.0.9"}}, "10.0.0.9"},
		{"X-Real-IP", trusted, "10.0.0.1:5000", map[string][]string{"X-Real-Ip": {"198.51.100.3"}}, "198.51.100.3"},
		{"bad X-Real-IP", trusted, "10.0.0.1:5000", map[string][]string{"X-Real-Ip": {"x"}}, "10.0.0.1"},
		{"no header", trusted, "10.0.0.1:5000", nil, "10.0.0.1"},
		{"IPv6 peer", trusted, "[fd00::1]:5000", map[string][]string{"X-Forwarded-For": {"2001:db8::5"}}, "2001:db8::5"},
		{"mapped IPv4 is one key", none, "[::ffff:203.0.113.1]:5000", nil, "203.0.113.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			for k, vs := range tc.hdr {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			if got := tc.p.of(r); got != tc.want {
				t.Fatalf("client %q, want %q", got, tc.want)
			}
		})
	}
}

func testApp(t *testing.T) *App {
	t.Helper()
	var cfg config.Serve
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.Register(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	cfg.HTTPAddr, cfg.TURNPort = "127.0.0.1:0", 0
	cfg.JWTSecret = "internal-test-secret-long-enough-to-pass"
	a, err := New(cfg, MemoryStores(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.listener.Close() })
	return a
}

// Idle keep-alive connections are closed; nothing bounds a whole request,
// which would cut WebSockets off.
func TestServerTimeouts(t *testing.T) {
	t.Parallel()
	a := testApp(t)
	if a.http.IdleTimeout != 120*time.Second {
		t.Errorf("IdleTimeout %s, want 120s", a.http.IdleTimeout)
	}
	if a.http.ReadTimeout != 0 || a.http.WriteTimeout != 0 {
		t.Errorf("ReadTimeout %s, WriteTimeout %s: they would end WebSockets", a.http.ReadTimeout, a.http.WriteTimeout)
	}
}

func TestCallAuthorizerWrapsTokenError(t *testing.T) {
	t.Parallel()
	a := testApp(t)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer not-a-jwt")
	_, err := a.Flow.PaymentAuthorizer()(r, "c_1")
	if !errors.Is(err, payments.ErrUnauthorized) || !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("err %v does not wrap both payments.ErrUnauthorized and auth.ErrInvalidToken", err)
	}
}

// The call flow subscribes before any part that changes a call or a link
// starts, so the clients miss no event; it needs the bus to send.
func TestLifecycleOrder(t *testing.T) {
	t.Parallel()
	a := testApp(t)
	at := map[string]int{}
	for i, p := range a.parts {
		at[p.name] = i
	}
	for _, later := range []string{"webhooks", "payments", "queue", "presence", "http"} {
		if _, ok := at[later]; !ok {
			t.Fatalf("no part %q in %v", later, at)
		}
		if at["callflow"] > at[later] {
			t.Errorf("callflow starts after %s: %v", later, at)
		}
	}
	if at["bus"] > at["callflow"] {
		t.Errorf("callflow starts before the bus it sends through: %v", at)
	}
}
