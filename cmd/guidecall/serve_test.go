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
)

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

	var base, email, password string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		out := stdout.String()
		if m := shopperURLRE.FindStringSubmatch(out); m != nil {
			base = m[1]
			if l := demoLoginRE.FindStringSubmatch(out); l != nil {
				email, password = l[1], l[2]
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

	// The printed login works.
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	resp, err := http.Post(base+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login with the printed demo password: %d", resp.StatusCode)
	}
	for _, page := range []string{"/shop/", "/guide/"} {
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
	resp, err = http.Post(base+"/api/v1/queue", "application/json", strings.NewReader(`{"currency":"EUR"}`))
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
