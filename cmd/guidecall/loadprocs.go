package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// Several load processes: one process holds at most maxWaiting sockets
// (a file descriptor each), so --procs N starts N children of this
// executable (`loadtest --mode waiting --child`), each joining its share
// of --waiting across the same --url nodes. The parent holds no socket:
// it reads the nodes' RSS and CPU and drives the rounds. Each round it
// asks every child to get ready (each sets what its sockets must hear and
// says whether it holds the head of the line), tells the one that holds
// it to send the head away, and hands every child the moment it did; the
// children time their sockets from that moment (one machine, one clock)
// and send back the latencies. At the end each sends its join latencies
// and errors, merged here into one report.
//
// Parent and child speak JSON lines: commands on the child's stdin,
// events on its stdout. Its stderr is the parent's.

// maxProcs bounds --procs.
const maxProcs = 16

type childCmd struct {
	Cmd  string `json:"cmd"` // prepare, cancel, settle, finish
	Sent int64  `json:"sent,omitempty"`
}

type childEvent struct {
	Ev       string            `json:"ev"` // filled, prepared, sent, settled, done
	Joined   int               `json:"joined,omitempty"`
	Head     bool              `json:"head,omitempty"`
	At       int64             `json:"at,omitempty"`
	Lat      []time.Duration   `json:"lat,omitempty"`
	Missing  int               `json:"missing,omitempty"`
	JoinHTTP []time.Duration   `json:"join_http,omitempty"`
	First    []time.Duration   `json:"join_first,omitempty"`
	Errors   map[string]int    `json:"errors,omitempty"`
	Examples map[string]string `json:"examples,omitempty"`
}

// lineDriver is the line of waiting sockets as runWaiting drives it: in
// this process (localLine) or in several (procLine).
type lineDriver interface {
	// fill joins the shoppers and returns how many wait.
	fill(ctx context.Context) int
	// round sends the head away; false when there was none to send.
	round(ctx context.Context) (lat []time.Duration, missing int, ok bool)
	// finish gathers join latencies and errors into the run's loadRun.
	finish(ctx context.Context)
	close()
}

type localLine struct {
	wr      *waitRun
	waiters []*waiter
}

func (l *localLine) fill(ctx context.Context) int {
	l.waiters = l.wr.fill(ctx)
	return len(l.waiters)
}

func (l *localLine) round(ctx context.Context) ([]time.Duration, int, bool) {
	var lat []time.Duration
	var missing int
	l.waiters, lat, missing = l.wr.round(ctx, l.waiters)
	return lat, missing, lat != nil || missing > 0
}

func (l *localLine) finish(context.Context) {}

func (l *localLine) close() { closeAll(l.waiters) }

func closeAll(waiters []*waiter) {
	var wg sync.WaitGroup
	for _, w := range waiters {
		wg.Go(w.close)
	}
	wg.Wait()
}

// procLine is the line held by child processes.
type procLine struct {
	lr       *loadRun
	children []*child
}

type child struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	enc  *json.Encoder
	out  *bufio.Reader
	done chan error // the process's exit, once
}

// childArgs are the flags of the i-th of o.Procs children.
func childArgs(o loadOptions, i int) []string {
	share := o.Waiting / o.Procs
	if i < o.Waiting%o.Procs {
		share++
	}
	return []string{"loadtest", "--mode", "waiting", "--child",
		"--url", o.URL,
		"--waiting", strconv.Itoa(share),
		"--join-concurrency", strconv.Itoa(max(1, o.JoinConcurrency/o.Procs)),
		"--settle-timeout", o.SettleTimeout.String(),
		"--step-timeout", o.StepTimeout.String(),
		"--duration", o.Duration.String(),
		"--msg-rate", strconv.FormatFloat(o.MsgRate, 'g', -1, 64),
	}
}

// startProcs starts the children; each starts joining at once. ctx ends
// them (they are killed).
func startProcs(ctx context.Context, o loadOptions, lr *loadRun, stderr io.Writer) (*procLine, error) {
	spawn := o.spawn
	if spawn == nil {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("loadtest --procs: %w", err)
		}
		spawn = func(ctx context.Context, args []string) *exec.Cmd { return exec.CommandContext(ctx, exe, args...) }
	}
	if _, ok := stderr.(*os.File); !ok {
		// exec copies a child's stderr in a goroutine of its own unless it
		// is a file, so the children would write one writer at once.
		stderr = &lockedWriter{w: stderr}
	}
	pl := &procLine{lr: lr}
	for i := range o.Procs {
		cmd := spawn(ctx, childArgs(o, i))
		cmd.Stderr = stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			pl.close()
			return nil, fmt.Errorf("loadtest: load process %d: %w", i, err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			pl.close()
			return nil, fmt.Errorf("loadtest: load process %d: %w", i, err)
		}
		if err := cmd.Start(); err != nil {
			pl.close()
			return nil, fmt.Errorf("loadtest: start load process %d: %w", i, err)
		}
		c := &child{cmd: cmd, in: in, enc: json.NewEncoder(in), out: bufio.NewReaderSize(out, 1<<16), done: make(chan error, 1)}
		pl.children = append(pl.children, c)
	}
	return pl, nil
}

// lockedWriter lets several children's stderr copies share one writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// send writes cmd to the child.
func (c *child) send(cmd childCmd) error { return c.enc.Encode(cmd) }

// next reads the child's next event, which must be want.
func (c *child) next(want string) (childEvent, error) {
	line, err := c.out.ReadBytes('\n')
	if err != nil {
		return childEvent{}, fmt.Errorf("load process %d ended while the parent waited for %q: %w", c.cmd.Process.Pid, want, err)
	}
	var ev childEvent
	if err := json.Unmarshal(line, &ev); err != nil || ev.Ev != want {
		return childEvent{}, fmt.Errorf("load process %d sent %.80q, want %q", c.cmd.Process.Pid, line, want)
	}
	return ev, nil
}

// all sends cmd (unless empty) to every child and reads each one's want
// event; it records an error and returns nil if any failed.
func (pl *procLine) all(cmd childCmd, want string) []childEvent {
	out := make([]childEvent, len(pl.children))
	var errs []error
	for _, c := range pl.children {
		if cmd.Cmd != "" {
			if err := c.send(cmd); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for i, c := range pl.children {
		ev, err := c.next(want)
		if err != nil {
			errs = append(errs, err)
		}
		out[i] = ev
	}
	if err := errors.Join(errs...); err != nil {
		pl.lr.fail("load process", err)
		return nil
	}
	return out
}

func (pl *procLine) fill(context.Context) int {
	n := 0
	for _, ev := range pl.all(childCmd{}, "filled") {
		n += ev.Joined
	}
	return n
}

func (pl *procLine) round(context.Context) ([]time.Duration, int, bool) {
	ready := pl.all(childCmd{Cmd: "prepare"}, "prepared")
	if ready == nil {
		return nil, 0, false
	}
	var head []*child
	for i, ev := range ready {
		if ev.Head {
			head = append(head, pl.children[i])
		}
	}
	if len(head) != 1 {
		pl.lr.fail("no shopper at position 1", fmt.Errorf("%d load processes hold a socket at position 1, want 1", len(head)))
		pl.all(childCmd{Cmd: "settle", Sent: 1}, "settled") // long past: nothing to wait for
		return nil, 0, false
	}
	var sent childEvent
	err := head[0].send(childCmd{Cmd: "cancel"})
	if err == nil {
		sent, err = head[0].next("sent")
	}
	if err != nil {
		pl.lr.fail("load process", err)
		return nil, 0, false
	}
	var lat []time.Duration
	missing := 0
	for _, ev := range pl.all(childCmd{Cmd: "settle", Sent: sent.At}, "settled") {
		lat = append(lat, ev.Lat...)
		missing += ev.Missing
	}
	return lat, missing, true
}

// finish merges what the children measured into pl.lr and waits for them.
func (pl *procLine) finish(context.Context) {
	evs := pl.all(childCmd{Cmd: "finish"}, "done")
	lr := pl.lr
	lr.mu.Lock()
	for _, ev := range evs {
		lr.lat["join http"] = append(lr.lat["join http"], ev.JoinHTTP...)
		lr.lat["join first position"] = append(lr.lat["join first position"], ev.First...)
		for k, n := range ev.Errors {
			lr.errs[k] += n
			if _, ok := lr.example[k]; !ok {
				lr.example[k] = ev.Examples[k]
			}
		}
	}
	lr.mu.Unlock()
}

// close ends every child: stdin closed (it closes its sockets and exits),
// then killed if it has not exited within 30 s.
func (pl *procLine) close() {
	for _, c := range pl.children {
		_ = c.in.Close()
		go func() { c.done <- c.cmd.Wait() }()
	}
	for _, c := range pl.children {
		select {
		case <-c.done:
		case <-time.After(30 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	}
}

// runWaitingChild is one of --procs: it fills its share of the line, then
// follows its parent's commands on in until finish or end of input.
func runWaitingChild(ctx context.Context, o loadOptions, in io.Reader, out io.Writer) error {
	wr := newWaitRun(o)
	lr := wr.lr
	defer lr.http.CloseIdleConnections()
	runCtx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	waiters := wr.fill(runCtx)
	defer func() { closeAll(waiters) }()
	enc := json.NewEncoder(out)
	if err := enc.Encode(childEvent{Ev: "filled", Joined: len(waiters)}); err != nil {
		return err
	}
	dec := json.NewDecoder(in)
	var head *waiter
	var rest []*waiter
	for {
		var cmd childCmd
		if err := dec.Decode(&cmd); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("loadtest --child: read command: %w", err)
		}
		var ev childEvent
		switch cmd.Cmd {
		case "prepare":
			head, rest = wr.prepare(waiters)
			ev = childEvent{Ev: "prepared", Head: head != nil}
		case "cancel":
			if head == nil {
				return errors.New("loadtest --child: told to send the head away, but holds no head")
			}
			ev = childEvent{Ev: "sent", At: wr.sendAway(runCtx, head).UnixNano()}
		case "settle":
			lat, missing := wr.settle(runCtx, rest, time.Unix(0, cmd.Sent))
			if head != nil {
				head.close()
			}
			waiters, head, rest = rest, nil, nil
			ev = childEvent{Ev: "settled", Lat: lat, Missing: missing}
		case "finish":
			lr.mu.Lock()
			ev = childEvent{Ev: "done", JoinHTTP: lr.lat["join http"], First: lr.lat["join first position"], Errors: lr.errs, Examples: lr.example}
			lr.mu.Unlock()
		default:
			return fmt.Errorf("loadtest --child: unknown command %q", cmd.Cmd)
		}
		if err := enc.Encode(ev); err != nil {
			return err
		}
		if cmd.Cmd == "finish" {
			return nil
		}
	}
}
