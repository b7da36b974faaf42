package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"guidecall/app"
	"guidecall/internal/config"
	"guidecall/protocol"
)

// node is a guidecall node running in this test process.
type node struct {
	*app.App
	guideEmail, guidePassword string
}

type nodeOptions struct {
	stores  *app.Stores
	secrets string // shared secret material for nodes of one cluster
	tweak   func(*config.Serve)
}

// startNode runs a node on 127.0.0.1 with OS-chosen ports and a guide
// account, and stops it when the test ends.
func startNode(t *testing.T, opt nodeOptions) *node {
	t.Helper()
	var cfg config.Serve
	fs := flagSet()
	cfg.Register(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.TURNListenIP = "127.0.0.1"
	cfg.TURNPort = 0
	if opt.secrets == "" {
		opt.secrets = "e2e-secret-material-that-is-long-enough-" + t.Name()
	}
	cfg.JWTSecret = opt.secrets
	cfg.TURNSecret = opt.secrets
	cfg.SandboxSecret = opt.secrets
	if opt.tweak != nil {
		opt.tweak(&cfg)
	}
	stores := app.MemoryStores()
	if opt.stores != nil {
		stores = *opt.stores
	}
	app, err := app.New(cfg, stores, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	n := &node{App: app, guideEmail: "guide-" + fmt.Sprint(time.Now().UnixNano()) + "@e2e.local", guidePassword: "correct horse battery"}
	if _, err := app.Auth.AddAccount(context.Background(), n.guideEmail, "E2E Guide", n.guidePassword, protocol.RoleGuide); err != nil {
		t.Fatal(err)
	}
	if err := app.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := app.Stop(ctx); err != nil {
			t.Errorf("stop node: %v", err)
		}
	})
	return n
}

// testLogger writes the node's log to the test log when -v or on failure
// would be too noisy for browser runs; GUIDECALL_TEST_LOG=1 turns it on.
func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("GUIDECALL_TEST_LOG") == "" {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// api sends a JSON request and decodes a JSON answer, failing the test on
// an unexpected status.
func api(t *testing.T, method, url, token string, body, out any, want int) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if m, ok := body.(idempotent); ok {
		req.Header.Set("Idempotency-Key", m.key())
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, url, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, url, b, err)
		}
	}
}

type idempotent interface{ key() string }

// paymentLinkRequest is the body of POST /api/v1/calls/{id}/payment-links.
type paymentLinkRequest struct {
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency"`
	Description string `json:"description"`
	Items       []struct {
		Name       string `json:"name"`
		Quantity   int64  `json:"quantity"`
		UnitAmount int64  `json:"unit_amount"`
	} `json:"items,omitempty"`
	idempotencyKey string
}

func (p paymentLinkRequest) key() string { return p.idempotencyKey }
