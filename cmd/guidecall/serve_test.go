package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"guidecall/protocol/client"
)

// syncBuffer lets the test read what serve prints while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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

var (
	shopperURLRE = regexp.MustCompile(`Shopper demo page:\s+(\S+)/shop/`)
	demoLoginRE  = regexp.MustCompile(`Demo guide login:\s+(\S+) / (\S+)`)
	adminLoginRE = regexp.MustCompile(`Demo admin login:\s+(\S+) / (\S+)`)
	dashboardRE  = regexp.MustCompile(`Admin dashboard:\s+(\S+)\n`)
)

// login posts a printed login and returns its access token and role.
func login(t *testing.T, base, email, password string) (token, role string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	resp, err := http.Post(base+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login of %s with the printed password: %d", email, resp.StatusCode)
	}
	var pair struct {
		AccessToken string `json:"access_token"`
		Account     struct {
			Role string `json:"role"`
		} `json:"account"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&pair); err != nil {
		t.Fatal(err)
	}
	return pair.AccessToken, pair.Account.Role
}

// statsStatus is the answer's status to GET /api/v1/admin/stats with token.
func statsStatus(t *testing.T, base, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/admin/stats", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestServePrintsLoginAndShutsDownGracefully runs the default command as
// a newcomer would (in memory, demo guide), uses what it printed, then
// stops it the way SIGTERM does and checks that an open socket is told to
// reconnect elsewhere (1001) and that serve returns promptly.
func TestServePrintsLoginAndShutsDownGracefully(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--http-addr", "127.0.0.1:0", "--turn-port", "0", "--log-level", "warn"}, &stdout, &stderr, noEnv)
	}()

	var base, email, password, adminEmail, adminPassword, dashboard string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		out := stdout.String()
		// The banner is written line by line: wait for its last line.
		if m := shopperURLRE.FindStringSubmatch(out); m != nil && strings.Contains(out, "Ctrl-C stops.") {
			base = m[1]
			if l := demoLoginRE.FindStringSubmatch(out); l != nil {
				email, password = l[1], l[2]
			}
			if l := adminLoginRE.FindStringSubmatch(out); l != nil {
				adminEmail, adminPassword = l[1], l[2]
			}
			if d := dashboardRE.FindStringSubmatch(out); d != nil {
				dashboard = d[1]
			}
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve printed no URLs within 10 s:\n%s\n%s", out, stderr.String())
		}
	}
	if email != "guide@demo.local" || len(password) < 12 {
		t.Fatalf("demo login not printed: %q", stdout.String())
	}

	if adminEmail != "admin@demo.local" || len(adminPassword) < 12 || dashboard != base+"/admin/" {
		t.Fatalf("demo admin login or dashboard URL not printed: %q", stdout.String())
	}

	// The printed logins work: the guide's is refused the dashboard's
	// figures, the admin's gets them.
	guideToken, role := login(t, base, email, password)
	if role != "guide" {
		t.Fatalf("demo guide has role %q", role)
	}
	adminToken, role := login(t, base, adminEmail, adminPassword)
	if role != "admin" {
		t.Fatalf("demo admin has role %q", role)
	}
	if got := statsStatus(t, base, guideToken); got != http.StatusForbidden {
		t.Fatalf("the demo guide reads the stats: %d", got)
	}
	if got := statsStatus(t, base, adminToken); got != http.StatusOK {
		t.Fatalf("the demo admin reads the stats: %d", got)
	}
	for _, page := range []string{"/shop/", "/guide/", "/admin/"} {
		resp, err := http.Get(base + page)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", page, resp.StatusCode)
		}
	}

	// A waiting shopper with an open socket.
	resp, err := http.Post(base+"/api/v1/queue", "application/json", strings.NewReader(`{"currency":"EUR"}`))
	if err != nil {
		t.Fatal(err)
	}
	var joined struct{ Token, WSURL string }
	var raw map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	joined.Token, _ = raw["token"].(string)
	joined.WSURL, _ = raw["ws_url"].(string)
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	ws, _, err := client.DialAuth(wctx, joined.WSURL, joined.Token)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()

	stopped := time.Now()
	cancel()
	if code, reason, err := ws.CloseStatus(wctx); err != nil || code != websocket.StatusGoingAway {
		t.Errorf("socket closed with %v %q (%v), want 1001 going away", code, reason, err)
	}
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return within 10 s of the stop signal")
	}
	t.Logf("shutdown took %d ms", time.Since(stopped).Milliseconds())
}
