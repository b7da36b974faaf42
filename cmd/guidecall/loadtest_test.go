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

// TestLoadtestWaitingSelf fills a small waiting room on an in-process node
// and sends its head away a few times: every other socket must hear its
// new position each time. It checks counts, never timings.
func TestLoadtestWaitingSelf(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	o := loadOptions{Self: true, Mode: "waiting", URL: "http://127.0.0.1:1", Waiting: 40, Rounds: 3, JoinConcurrency: 8,
		SettleTimeout: 20 * time.Second, StepTimeout: 10 * time.Second, Duration: 50 * time.Second, MsgRate: 40, NodeLogLevel: "error"}
	if err := o.check(); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	rep, err := runWaiting(ctx, o, &stderr)
	if err != nil {
		t.Fatalf("runWaiting: %v\n%s", err, stderr.String())
	}
	var out bytes.Buffer
	rep.print(&out)
	t.Logf("\n%s", out.String())
	// Rounds leave 39, 38 and 37 others to tell.
	if rep.Joined != 40 || rep.Expected != 39+38+37 || rep.Missing != 0 || rep.ErrorCount() != 0 {
		t.Fatalf("joined %d, expected %d, missing %d, errors %v; want 40, %d, 0, none", rep.Joined, rep.Expected, rep.Missing, rep.Errors, 39+38+37)
	}
	if len(rep.JoinHTTP) != 40 || len(rep.JoinFirst) != 40 || len(rep.Fanout) != rep.Expected {
		t.Errorf("samples: join %d, first %d, fan-out %d", len(rep.JoinHTTP), len(rep.JoinFirst), len(rep.Fanout))
	}
	if err := rep.verdict(); err != nil {
		t.Error(err)
	}
}

// TestLoadtestURLs reads --url as one node or a comma-separated cluster.
func TestLoadtestURLs(t *testing.T) {
	o := loadOptions{URL: "http://a:1/, http://b:2"}
	if err := o.splitURLs(); err != nil {
		t.Fatal(err)
	}
	if got := []string{o.node(0), o.node(1), o.node(2)}; got[0] != "http://a:1" || got[1] != "http://b:2" || got[2] != "http://a:1" {
		t.Errorf("nodes %v", got)
	}
	for _, bad := range []string{"a:1", "http://a:1,", "ftp://x"} {
		o := loadOptions{URL: bad}
		if err := o.splitURLs(); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	for _, args := range [][]string{
		{"loadtest", "--self", "--mode", "waiting", "--waiting", "1"},
		{"loadtest", "--self", "--mode", "waiting", "--waiting", "5", "--rounds", "5"},
		{"loadtest", "--self", "--mode", "sideways"},
		{"loadtest", "--mode", "waiting", "--node-pid", "x"},
	} {
		if _, _, err := runCmd(t, noEnv, args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
