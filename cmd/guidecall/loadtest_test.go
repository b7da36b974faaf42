package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestLoadtestSelf runs the load test against its own in-process node with
// a tiny load: every call must complete without a single error. It checks
// counts, never timings.
func TestLoadtestSelf(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o := loadOptions{Self: true, Guides: 2, Calls: 10, Duration: 15 * time.Second,
		Hold: 50 * time.Millisecond, ICE: 10, StepTimeout: 10 * time.Second, MsgRate: 40, NodeLogLevel: "error"}
	if err := o.check(); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	rep, err := runLoad(ctx, o, &stderr)
	if err != nil {
		t.Fatalf("runLoad: %v\n%s", err, stderr.String())
	}
	var out bytes.Buffer
	rep.print(&out)
	t.Logf("\n%s", out.String())
	if rep.Completed != 10 || rep.ErrorCount() != 0 || rep.Unfinished != 0 {
		t.Fatalf("completed %d, errors %v, unfinished %d; want 10, none, 0\n%s", rep.Completed, rep.Errors, rep.Unfinished, stderr.String())
	}
	// Every call yields one sample per series, and each side relays its
	// candidates to the other.
	for _, name := range []string{latJoinOffer, latMatchedGuide, latMatchedShopper} {
		if n := len(rep.Latency[name]); n != 10 {
			t.Errorf("%s: %d samples, want 10", name, n)
		}
	}
	if n := len(rep.Latency[latRelay]); n != 10*2*10 {
		t.Errorf("relay: %d samples, want 200", n)
	}
	if err := rep.verdict(); err != nil {
		t.Error(err)
	}
}

// TestLoadtestCommand goes through the subcommand's flag parsing and
// table, and refuses options that make no sense.
func TestLoadtestCommand(t *testing.T) {
	t.Parallel()
	out, stderr, err := runCmd(t, noEnv, "loadtest", "--self", "--guides", "1", "--calls", "2",
		"--duration", "15s", "--hold", "10ms", "--ice", "2", "--node-log-level", "error")
	if err != nil {
		t.Fatalf("loadtest: %v\n%s\n%s", err, out, stderr)
	}
	for _, want := range []string{"calls completed  2 / 2", "errors           0", "relay ice (send → peer)", "self node at peak"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	for _, args := range [][]string{
		{"loadtest", "--guides", "2"}, // no logins and no --self
		{"loadtest", "--self", "--guide-login", "a@b.c:pw"},
		{"loadtest", "--self", "--calls", "0"},
		{"loadtest", "--self", "--duration", "1h"},
		{"loadtest", "--guide-login", "no-colon"},
		{"loadtest", "--self", "extra"},
	} {
		if _, _, err := runCmd(t, noEnv, args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
