package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"guidecall/protocol"
	"guidecall/protocol/client"
)

// The waiting-room mode fills one queue with --waiting shoppers whose
// sockets stay open, then makes the head of the line leave --rounds times.
// Each time, every other shopper must be told its new position: the mode
// times each of those updates from the head's queue.cancel to the frame's
// arrival, and counts the ones that never came. While the full line waits
// it reads the nodes' RSS and CPU from /proc. No guide is online, so
// nobody is matched and the line only moves when the head leaves.

// maxWaiting is the most sockets one load process can hold: every socket
// is a file descriptor, and `ulimit -n` on the machines this was built on
// is 20 000.
const maxWaiting = 19_500

// pidList is the --node-pid flag: pids separated by commas.
type pidList struct{ pids *[]int }

func (p pidList) String() string {
	if p.pids == nil {
		return ""
	}
	s := make([]string, len(*p.pids))
	for i, pid := range *p.pids {
		s[i] = strconv.Itoa(pid)
	}
	return strings.Join(s, ",")
}

func (p pidList) Set(v string) error {
	for _, f := range strings.Split(v, ",") {
		pid, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || pid <= 0 {
			return fmt.Errorf("want process ids separated by commas, got %q", f)
		}
		*p.pids = append(*p.pids, pid)
	}
	return nil
}

func (o *loadOptions) checkWaiting() error {
	switch {
	case len(o.Logins) > 0:
		return errors.New("--guide-login is for --mode calls; the waiting room has no guides")
	case o.Waiting < 2 || o.Waiting > maxWaiting:
		return fmt.Errorf("--waiting must be 2..%d (one file descriptor per socket in this process)", maxWaiting)
	case o.Rounds < 1 || o.Rounds >= o.Waiting:
		return errors.New("--rounds must be at least 1 and below --waiting")
	case o.JoinConcurrency < 1 || o.JoinConcurrency > 1000:
		return errors.New("--join-concurrency must be 1..1000")
	case o.SettleTimeout <= 0 || o.StepTimeout <= 0 || o.Idle < 0 || o.MsgRate <= 0:
		return errors.New("--settle-timeout, --step-timeout and --msg-rate must be positive, --idle not negative")
	case o.Duration <= 0 || o.Duration > maxLoadDuration:
		return fmt.Errorf("--duration must be positive and at most %s", maxLoadDuration)
	case o.Self && len(o.NodePIDs) > 0:
		return errors.New("--node-pid is for nodes under --url; --self measures this process")
	case o.Self:
		return nil // the node's URL is known once it runs
	}
	return o.splitURLs()
}

// waiter is one waiting shopper's socket. Its reader goroutine records
// every position it is told.
type waiter struct {
	c       *client.Conn
	entryID string
	joined  time.Time // when the join request was sent
	pos     atomic.Int32
	first   chan struct{}
	once    sync.Once

	// want is the position the current round must bring (0: none), at
	// when it arrived (unix ns).
	want atomic.Int32
	at   atomic.Int64
}

type waitRun struct {
	lr *loadRun

	remaining atomic.Int64
	mu        sync.Mutex
	settled   chan struct{} // closed when remaining reaches 0
}

// waitReport is what a waiting-room run measured.
type waitReport struct {
	Target   string
	Nodes    int
	Waiting  int
	Joined   int
	Rounds   int
	Errors   map[string]int
	Examples map[string]string

	JoinHTTP  []time.Duration // POST /api/v1/queue round trip
	JoinFirst []time.Duration // join sent → first queue.position
	Fanout    []time.Duration // head's cancel → each other socket's new position, all rounds
	RoundP99  []time.Duration
	RoundMax  []time.Duration
	Expected  int
	Missing   int

	Procs         []procUse
	LoadAvgBefore string
	LoadAvgAfter  string
	Elapsed       time.Duration
}

// procUse is one node process's memory and idle CPU.
type procUse struct {
	PID       int
	Self      bool
	RSSBefore uint64 // before the line filled
	RSSFull   uint64 // with the full line waiting
	IdleCPU   float64
	Err       string
}

func runWaiting(ctx context.Context, o loadOptions, stderr io.Writer) (*waitReport, error) {
	lr := &loadRun{
		o: o,
		http: &http.Client{
			Timeout:   o.StepTimeout,
			Transport: &http.Transport{MaxIdleConnsPerHost: o.JoinConcurrency, IdleConnTimeout: 30 * time.Second},
		},
		errs:    map[string]int{},
		example: map[string]string{},
		lat:     map[string][]time.Duration{},
	}
	defer lr.http.CloseIdleConnections()
	rep := &waitReport{Target: o.URL, Nodes: len(o.URLs), Waiting: o.Waiting, Rounds: o.Rounds, LoadAvgBefore: loadAvg()}
	pids := o.NodePIDs
	if o.Self {
		o.Guides = 0
		app, _, _, err := startSelfNode(ctx, o, stderr)
		if err != nil {
			return nil, err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := app.Stop(sctx); err != nil {
				fmt.Fprintln(stderr, "loadtest: stop self node:", err)
			}
		}()
		lr.o.URL, lr.o.URLs = app.URL(), []string{app.URL()}
		rep.Target, rep.Nodes = app.URL()+" (--self, in-process: the figures include the load clients)", 1
		pids = []int{os.Getpid()}
	}
	o = lr.o
	for _, pid := range pids {
		p := procUse{PID: pid, Self: o.Self}
		rss, err := procField(pid, "VmRSS")
		if err != nil {
			p.Err = err.Error()
		}
		p.RSSBefore = rss
		rep.Procs = append(rep.Procs, p)
	}

	runCtx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	start := time.Now()
	wr := &waitRun{lr: lr}
	waiters := wr.fill(runCtx)
	defer func() {
		var wg sync.WaitGroup
		for _, w := range waiters {
			wg.Go(func() { _ = w.c.Close() })
		}
		wg.Wait()
	}()
	rep.Joined = len(waiters)

	// The line is full: every socket has been told a position. Now the
	// node only keeps sockets alive and ticks.
	for i := range rep.Procs {
		p := &rep.Procs[i]
		if rss, err := procField(p.PID, "VmRSS"); err == nil {
			p.RSSFull = rss
		}
	}
	if o.Idle > 0 && runCtx.Err() == nil {
		before := make([]time.Duration, len(rep.Procs))
		for i, p := range rep.Procs {
			before[i], _ = procCPU(p.PID)
		}
		t0 := time.Now()
		select {
		case <-time.After(o.Idle):
		case <-runCtx.Done():
		}
		span := time.Since(t0)
		for i := range rep.Procs {
			after, err := procCPU(rep.Procs[i].PID)
			if err == nil {
				rep.Procs[i].IdleCPU = float64(after-before[i]) / float64(span)
			}
		}
	}

	for r := 0; r < o.Rounds && runCtx.Err() == nil; r++ {
		var lat []time.Duration
		var missing int
		waiters, lat, missing = wr.round(runCtx, waiters)
		if lat == nil && missing == 0 {
			break // no head to send away: recorded as an error
		}
		rep.Expected += len(lat) + missing
		rep.Missing += missing
		rep.Fanout = append(rep.Fanout, lat...)
		slices.Sort(lat)
		rep.RoundP99 = append(rep.RoundP99, percentile(lat, 99))
		rep.RoundMax = append(rep.RoundMax, percentile(lat, 100))
	}
	rep.Elapsed = time.Since(start)
	rep.LoadAvgAfter = loadAvg()

	lr.mu.Lock()
	defer lr.mu.Unlock()
	rep.Errors, rep.Examples = lr.errs, lr.example
	rep.JoinHTTP, rep.JoinFirst = lr.lat["join http"], lr.lat["join first position"]
	slices.Sort(rep.JoinHTTP)
	slices.Sort(rep.JoinFirst)
	slices.Sort(rep.Fanout)
	return rep, nil
}

// fill joins o.Waiting shoppers, o.JoinConcurrency at a time, and returns
// those whose socket opened and heard its first position.
func (wr *waitRun) fill(ctx context.Context) []*waiter {
	lr := wr.lr
	var next atomic.Int64
	var mu sync.Mutex
	var out []*waiter
	var wg sync.WaitGroup
	for range lr.o.JoinConcurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= lr.o.Waiting {
					return
				}
				w, err := wr.join(ctx, lr.o.node(i))
				if err != nil {
					lr.classify(ctx, "shopper", err)
					continue
				}
				mu.Lock()
				out = append(out, w)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

func (wr *waitRun) join(ctx context.Context, base string) (*waiter, error) {
	lr := wr.lr
	var j struct {
		EntryID string `json:"entry_id"`
		Token   string `json:"token"`
	}
	w := &waiter{first: make(chan struct{}), joined: time.Now()}
	if _, err := lr.postJSON(ctx, base, "/api/v1/queue",
		map[string]string{"queue": "default", "locale": "en-GB", "currency": "EUR", "page_url": "https://shop.example/p/42", "name": "Waiting Shopper"},
		&j, http.StatusCreated); err != nil {
		return nil, stepErr("join", err)
	}
	lr.observe("join http", time.Since(w.joined))
	w.entryID = j.EntryID
	sctx, cancel := lr.stepCtx(ctx)
	defer cancel()
	c, err := client.Dial(sctx, wsURLOf(base), client.FailOnError())
	if err != nil {
		return nil, stepErr("ws dial", err)
	}
	w.c = c
	// Positions go to the handler, not the buffer: a long wait brings
	// many, and a full buffer would stop the reader.
	c.Handle(protocol.TypeQueuePosition, func(f client.Frame) { wr.told(w, f) })
	if _, err := c.Authenticate(sctx, j.Token); err != nil {
		_ = c.Close()
		return nil, classifyWait(err, "welcome")
	}
	select {
	case <-w.first:
		return w, nil
	case <-sctx.Done():
		_ = c.Close()
		return nil, stepErr("timeout waiting for the first queue.position", sctx.Err())
	}
}

// told runs on w's reader goroutine for every queue.position.
func (wr *waitRun) told(w *waiter, f client.Frame) {
	var p protocol.QueuePosition
	if f.Decode(&p) != nil {
		return
	}
	w.pos.Store(int32(p.Position))
	w.once.Do(func() {
		wr.lr.observe("join first position", f.Received.Sub(w.joined))
		close(w.first)
	})
	// A position at or ahead of the one awaited counts: two changes may
	// reach a socket as one update.
	if want := w.want.Load(); want > 0 && int32(p.Position) <= want && w.at.CompareAndSwap(0, f.Received.UnixNano()) {
		if wr.remaining.Add(-1) == 0 {
			wr.mu.Lock()
			close(wr.settled)
			wr.mu.Unlock()
		}
	}
}

// round sends the head of the line away and waits until every other
// socket has its new position, or SettleTimeout. It returns the line
// without the head, the latencies and how many never arrived.
func (wr *waitRun) round(ctx context.Context, line []*waiter) ([]*waiter, []time.Duration, int) {
	lr := wr.lr
	h := slices.IndexFunc(line, func(w *waiter) bool { return w.pos.Load() == 1 })
	if h < 0 {
		lr.fail("no shopper at position 1", errors.New("the line has no head to send away"))
		return line, nil, 0
	}
	head := line[h]
	rest := slices.Delete(slices.Clone(line), h, h+1)
	wr.mu.Lock()
	wr.settled = make(chan struct{})
	settled := wr.settled
	wr.mu.Unlock()
	wr.remaining.Store(int64(len(rest)))
	for _, w := range rest {
		w.at.Store(0)
		w.want.Store(w.pos.Load() - 1)
	}
	sctx, cancel := context.WithTimeout(ctx, lr.o.SettleTimeout)
	defer cancel()
	sent := time.Now()
	if err := head.c.Send(sctx, protocol.TypeQueueCancel, "", protocol.QueueCancel{}); err != nil {
		lr.fail("head: send queue.cancel", err)
	}
	select {
	case <-settled:
	case <-sctx.Done():
	}
	lat := make([]time.Duration, 0, len(rest))
	missing := 0
	for _, w := range rest {
		w.want.Store(0)
		if at := w.at.Load(); at > 0 {
			lat = append(lat, time.Unix(0, at).Sub(sent))
		} else {
			missing++
		}
	}
	if missing > 0 {
		lr.fail("position update never arrived", fmt.Errorf("%d of %d sockets within %s", missing, len(rest), lr.o.SettleTimeout))
	}
	_ = head.c.Close()
	return rest, lat, missing
}

// procField reads a kB field of /proc/<pid>/status in bytes.
func procField(pid int, field string) (uint64, error) {
	if pid == os.Getpid() {
		return procStatus(field)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		return kb << 10, err
	}
	return 0, fmt.Errorf("%s not in /proc/%d/status", field, pid)
}

// clockTicks is USER_HZ, which Linux fixes at 100 for /proc on every
// architecture guidecall runs on.
const clockTicks = 100

// procCPU is the user plus system CPU time a process has used.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces; the fields after it do not.
	_, rest, ok := strings.Cut(string(b), ") ")
	if !ok {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// loadAvg is the first three fields of /proc/loadavg, or "n/a".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "n/a"
	}
	return strings.Join(f[:3], " ")
}

func (r *waitReport) ErrorCount() int {
	n := 0
	for _, c := range r.Errors {
		n += c
	}
	return n
}

func (r *waitReport) print(w io.Writer) {
	fmt.Fprintf(w, "guidecall loadtest --mode waiting against %s\n", r.Target)
	fmt.Fprintf(w, "%s waiting across %s, %s; load average %s before, %s after\n\n",
		plural(r.Joined, "shopper"), plural(r.Nodes, "node"), plural(r.Rounds, "round"), r.LoadAvgBefore, r.LoadAvgAfter)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "joined\t%d / %d\tin %s\n", r.Joined, r.Waiting, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(tw, "position updates\t%d / %d\t(%d never arrived)\n", r.Expected-r.Missing, r.Expected, r.Missing)
	fmt.Fprintf(tw, "errors\t%d\t\n", r.ErrorCount())
	tw.Flush()
	printErrors(w, r.Errors, r.Examples)
	fmt.Fprintln(w)
	const row = "%-32s %6s %9s %9s %9s %9s\n"
	fmt.Fprintf(w, row, "latency", "n", "p50", "p95", "p99", "max")
	for _, s := range []struct {
		name string
		v    []time.Duration
	}{
		{"join (POST /api/v1/queue)", r.JoinHTTP},
		{"join → first queue.position", r.JoinFirst},
		{"head leaves → new position", r.Fanout},
	} {
		if len(s.v) == 0 {
			fmt.Fprintf(w, row, s.name, "0", "-", "-", "-", "-")
			continue
		}
		fmt.Fprintf(w, row, s.name, strconv.Itoa(len(s.v)), fmtDur(percentile(s.v, 50)), fmtDur(percentile(s.v, 95)),
			fmtDur(percentile(s.v, 99)), fmtDur(s.v[len(s.v)-1]))
	}
	if len(r.RoundP99) > 0 {
		p99 := make([]string, len(r.RoundP99))
		for i := range r.RoundP99 {
			p99[i] = fmtDur(r.RoundP99[i]) + " (max " + fmtDur(r.RoundMax[i]) + ")"
		}
		fmt.Fprintf(w, "fan-out p99 per round: %s\n", strings.Join(p99, " · "))
	}
	for _, p := range r.Procs {
		who := fmt.Sprintf("node pid %d", p.PID)
		if p.Self {
			who = "this process (node and clients)"
		}
		if p.Err != "" {
			fmt.Fprintf(w, "%s: %s\n", who, p.Err)
			continue
		}
		per := "n/a"
		if r.Joined > 0 && p.RSSFull > p.RSSBefore {
			per = fmt.Sprintf("%.1f KiB", float64(p.RSSFull-p.RSSBefore)/1024/float64(r.Joined/max(r.Nodes, 1)))
		}
		fmt.Fprintf(w, "%s: RSS %s before, %s with the line full (%s per waiting socket it holds); idle CPU %.1f%% of a core\n",
			who, fmtMiB(p.RSSBefore), fmtMiB(p.RSSFull), per, p.IdleCPU*100)
	}
}

// verdict fails the run on any error or missed update.
func (r *waitReport) verdict() error {
	if n := r.ErrorCount(); n > 0 {
		return fmt.Errorf("loadtest: %d errors", n)
	}
	if r.Joined < r.Waiting {
		return fmt.Errorf("loadtest: %d of %d shoppers joined", r.Joined, r.Waiting)
	}
	return nil
}
