package app_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"guidecall/internal/config"
	"guidecall/protocol/client"
	"guidecall/protocol/client/clienttest"
)

const merchant = "http://127.0.0.2:8081"

func TestMerchantOriginsGetCORS(t *testing.T) {
	t.Parallel()
	node := startAppConfig(t, func(c *config.Serve) { c.AllowedOrigins = merchant + ", https://shop.example" }, nil)

	preflight := func(origin, path, method string) response {
		return do(t, http.MethodOptions, node.URL()+path, "", nil, map[string]string{
			"Origin": origin, "Access-Control-Request-Method": method,
			"Access-Control-Request-Headers": "authorization,content-type",
		})
	}
	for _, tc := range []struct{ path, method string }{
		{"/api/v1/queue", "POST"},
		{"/api/v1/ice-servers", "GET"},
		{"/api/v1/calls/c1/payment-links", "GET"},
	} {
		r := preflight(merchant, tc.path, tc.method)
		if r.status >= 300 || r.header.Get("Access-Control-Allow-Origin") != merchant {
			t.Errorf("preflight %s %s from %s: %d, Allow-Origin %q", tc.method, tc.path, merchant, r.status, r.header.Get("Access-Control-Allow-Origin"))
		}
		if h := strings.ToLower(r.header.Get("Access-Control-Allow-Headers")); !strings.Contains(h, "authorization") || !strings.Contains(h, "content-type") {
			t.Errorf("preflight %s: Allow-Headers %q", tc.path, h)
		}
		if r := preflight("http://evil.example", tc.path, tc.method); r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight %s from a stranger: Allow-Origin %q", tc.path, r.header.Get("Access-Control-Allow-Origin"))
		}
	}

	r := doJSON(t, "POST", node.URL()+"/api/v1/queue", "", map[string]string{"locale": "en", "currency": "EUR"}, map[string]string{"Origin": merchant})
	if r.status != http.StatusCreated || r.header.Get("Access-Control-Allow-Origin") != merchant {
		t.Fatalf("join from the merchant: %d %s, Allow-Origin %q", r.status, r.body, r.header.Get("Access-Control-Allow-Origin"))
	}

	// The loader and the modules it imports.
	for _, path := range []string{"/widget.js", "/js/signal.js", "/locales/en.json", "/css/widget.css"} {
		r := do(t, "GET", node.URL()+path, "", nil, map[string]string{"Origin": merchant})
		if r.status != http.StatusOK || r.header.Get("Access-Control-Allow-Origin") != merchant {
			t.Errorf("GET %s from the merchant: %d, Allow-Origin %q", path, r.status, r.header.Get("Access-Control-Allow-Origin"))
		}
		if !strings.Contains(r.header.Get("Vary"), "Origin") {
			t.Errorf("GET %s: Vary %q lacks Origin", path, r.header.Get("Vary"))
		}
		if r := do(t, "GET", node.URL()+path, "", nil, map[string]string{"Origin": "http://evil.example"}); r.header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("GET %s from a stranger: Allow-Origin %q", path, r.header.Get("Access-Control-Allow-Origin"))
		}
	}
	page := do(t, "GET", node.URL()+"/shop/", "", nil, nil)
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'self' "+merchant+" https://shop.example") {
		t.Errorf("shop page CSP %q does not let the merchants frame it", csp)
	}

	url := "ws" + strings.TrimPrefix(node.URL(), "http") + "/api/v1/ws"
	if _, err := clienttest.TryDial(t, url, client.WithHeader("Origin", merchant)); err != nil {
		t.Errorf("socket from the merchant: %v", err)
	}
	_, err := clienttest.TryDial(t, url, client.WithHeader("Origin", "http://evil.example"))
	var refused *client.DialError
	if !errors.As(err, &refused) || refused.Status != http.StatusForbidden {
		t.Errorf("socket from a stranger: %v, want 403", err)
	}
}

func TestNoOriginsMeansSameOriginOnly(t *testing.T) {
	t.Parallel()
	node := startApp(t, nil)
	r := do(t, http.MethodOptions, node.URL()+"/api/v1/queue", "", nil, map[string]string{
		"Origin": merchant, "Access-Control-Request-Method": "POST",
	})
	if r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight without --allowed-origins: Allow-Origin %q", r.header.Get("Access-Control-Allow-Origin"))
	}
	if r := do(t, "GET", node.URL()+"/js/signal.js", "", nil, map[string]string{"Origin": merchant}); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("module without --allowed-origins: Allow-Origin %q", r.header.Get("Access-Control-Allow-Origin"))
	}
	url := "ws" + strings.TrimPrefix(node.URL(), "http") + "/api/v1/ws"
	_, err := clienttest.TryDial(t, url, client.WithHeader("Origin", merchant))
	var refused *client.DialError
	if !errors.As(err, &refused) || refused.Status != http.StatusForbidden {
		t.Errorf("socket from another origin without --allowed-origins: %v, want 403", err)
	}
}
