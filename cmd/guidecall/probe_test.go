package main

import (
	"context"
	"encoding/json"
	"flag"
	"strings"
	"testing"
	"time"

	"guidecall/app"
	"guidecall/internal/config"
	"guidecall/protocol"
)

// probeNode runs an in-process node with a probe guide on loopback.
func probeNode(t *testing.T) (*app.App, string) {
	t.Helper()
	var cfg config.Serve
	fs := flag.NewFlagSet("probe-node", flag.ContinueOnError)
	cfg.Register(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	secret := "probe-test-secret-material-long-enough-" + t.Name()
	cfg.HTTPAddr, cfg.TURNListenIP, cfg.TURNPort = "127.0.0.1:0", "127.0.0.1", 0
	cfg.JWTSecret, cfg.TURNSecret, cfg.SandboxSecret = secret, secret, secret
	cfg.DemoGuide = config.Toggle{Given: true, On: false}
	log, _ := newLogger(&strings.Builder{}, "error", "text")
	a, err := app.New(cfg, app.MemoryStores(), log)
	if err != nil {
		t.Fatal(err)
	}
	const login = "probe@probe.local:probe guide password"
	email, password, _ := strings.Cut(login, ":")
	if _, err := a.Auth.AddAccount(context.Background(), email, "Probe", password, protocol.RoleGuide); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return a, login
}

// TestProbeInProcessNode: the probe's synthetic call succeeds on a
// healthy node, every step in order and timed, and says so in JSON.
func TestProbeInProcessNode(t *testing.T) {
	t.Parallel()
	a, login := probeNode(t)
	out, stderr, err := runCmd(t, noEnv, "probe", "--url", a.URL(), "--guide-login", login, "--json", "--step-timeout", "20s")
	if err != nil {
		t.Fatalf("probe: %v\n%s\n%s", err, out, stderr)
	}
	var rep probeReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("probe --json printed %q: %v", out, err)
	}
	want := []string{"guide_login", "guide_online", "join", "offer", "accept", "connected",
		"first_rtp_guide_to_shopper", "first_rtp_shopper_to_guide", "payment_link", "paid", "hangup"}
	if !rep.OK || rep.CallID == "" || len(rep.Steps) != len(want) {
		t.Fatalf("report %+v", rep)
	}
	for i, s := range rep.Steps {
		if s.Name != want[i] || !s.OK || s.MS <= 0 {
			t.Errorf("step %d: %+v, want %s ok with a time", i, s, want[i])
		}
	}
	t.Logf("probe output:\n%s", out)

	// The call it made is over, and paid.
	c, err := a.Queue.CallRecord(context.Background(), rep.CallID)
	if err != nil || c.State != "ended" || c.EndReason != "hangup" {
		t.Fatalf("the probe's call %+v, %v", c, err)
	}
}

// TestProbeTURNUnreachable: with the node's TURN server gone the probe
// fails at the connected step, says TURN is the cause, and exits non-zero.
func TestProbeTURNUnreachable(t *testing.T) {
	t.Parallel()
	a, login := probeNode(t)
	if err := a.TURN.Stop(); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runCmd(t, noEnv, "probe", "--url", a.URL(), "--guide-login", login, "--step-timeout", "4s")
	if err == nil {
		t.Fatalf("probe passed without TURN:\n%s", out)
	}
	if !strings.Contains(err.Error(), "connected: ") || !strings.Contains(err.Error(), "no relay candidate from the node's TURN server") {
		t.Fatalf("probe error %q does not name TURN as the cause\n%s\n%s", err, out, stderr)
	}
	if !strings.Contains(out, "FAIL connected") || !strings.Contains(out, "ok   accept") {
		t.Fatalf("text report:\n%s", out)
	}
	t.Logf("probe output without TURN:\n%s", out)
}

func TestProbeFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"probe"},
		{"probe", "--url", "http://x"},
		{"probe", "--url", "ftp://x", "--guide-login", "a@b:c"},
		{"probe", "--url", "http://x", "--guide-login", "nocolon"},
		{"probe", "--url", "http://x", "--guide-login", "a@b:c", "extra"},
	} {
		if _, _, err := runCmd(t, noEnv, args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
