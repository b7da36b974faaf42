package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for guidecall when a test starts
// load processes of "this executable".
func TestMain(m *testing.M) {
	if os.Getenv("GUIDECALL_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestLoadtestWaitingProcs fills a small waiting room on an in-process
// node from three load processes and sends its head away a few times:
// every other socket, whichever process holds it, must hear its new
// position each time. It checks counts, never timings.
func TestLoadtestWaitingProcs(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	o := loadOptions{Self: true, Mode: "waiting", URL: "http://127.0.0.1:1", Waiting: 40, Rounds: 4, JoinConcurrency: 9, Procs: 3,
		SettleTimeout: 20 * time.Second, StepTimeout: 10 * time.Second, Duration: 80 * time.Second, MsgRate: 40, NodeLogLevel: "error"}
	var started []*exec.Cmd
	o.spawn = func(ctx context.Context, args []string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, exe, args...)
		cmd.Env = append(os.Environ(), "GUIDECALL_TEST_RUN_MAIN=1")
		started = append(started, cmd)
		return cmd
	}
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
	t.Logf("\n%s\n%s", out.String(), stderr.String())
	if len(started) != 3 {
		t.Fatalf("%d load processes started, want 3", len(started))
	}
	for _, c := range started {
		if c.ProcessState == nil || !c.ProcessState.Success() {
			t.Errorf("load process %v: %v", c.Args[1:], c.ProcessState)
		}
	}
	want := 39 + 38 + 37 + 36
	if rep.Joined != 40 || rep.Expected != want || rep.Missing != 0 || rep.ErrorCount() != 0 {
		t.Fatalf("joined %d, expected %d, missing %d, errors %v; want 40, %d, 0, none", rep.Joined, rep.Expected, rep.Missing, rep.Errors, want)
	}
	if len(rep.JoinHTTP) != 40 || len(rep.JoinFirst) != 40 || len(rep.Fanout) != rep.Expected {
		t.Errorf("samples: join %d, first %d, fan-out %d", len(rep.JoinHTTP), len(rep.JoinFirst), len(rep.Fanout))
	}
	if err := rep.verdict(); err != nil {
		t.Error(err)
	}
}
