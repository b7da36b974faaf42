package main

import (
	"bytes"
	"context"
	"encoding/json"
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

	"github.com/coder/websocket"

	"guidecall/protocol"
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
const maxWaiting = 19_500 // per load process: see --procs (loadprocs.go)

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
	if o.Procs == 0 {
		o.Procs = 1
	}
	switch {
	case len(o.Logins) > 0:
		return errors.New("--guide-login is for --mode calls; the waiting room has no guides")
	case o.Procs < 1 || o.Procs > maxProcs:
		return fmt.Errorf("--procs must be 1..%d", maxProcs)
	case o.Child && (o.Self || o.Procs != 1 || len(o.NodePIDs) > 0):
		return errors.New("--child takes no --self, --procs or --node-pid: its parent does that")
	case o.Child && (o.Waiting < 1 || o.Waiting > maxWaiting):
		return fmt.Errorf("--waiting must be 1..%d in one load process", maxWaiting)
	case o.Child:
	case o.Waiting < 2 || o.Waiting > maxWaiting*o.Procs:
		return fmt.Errorf("--waiting must be 2..%d with --procs %d (one file descriptor per socket; at most %d per process)", maxWaiting*o.Procs, o.Procs, maxWaiting)
	case o.Waiting < 2*o.Procs:
		return errors.New("--waiting must give every one of --procs at least two sockets")
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
// every position it is told, and reads nothing else of any frame: the
// clients share the machine with the nodes they measure, so each frame
// costs them a search for its type and position, not a JSON decoding.
type waiter struct {
	ws      *websocket.Conn
	done    chan struct{} // closed when the reader ends
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

// newWaitRun is the shared state of one load process's sockets.
func newWaitRun(o loadOptions) *waitRun {
	return &waitRun{lr: &loadRun{
		o: o,
		http: &http.Client{
			Timeout:   o.StepTimeout,
			Transport: &http.Transport{MaxIdleConnsPerHost: o.JoinConcurrency, IdleConnTimeout: 30 * time.Second},
		},
		errs:    map[string]int{},
		example: map[string]string{},
		lat:     map[string][]time.Duration{},
	}}
}

func runWaiting(ctx context.Context, o loadOptions, stderr io.Writer) (*waitReport, error) {
	wr := newWaitRun(o)
	lr := wr.lr
	defer lr.http.CloseIdleConnections()
	rep := &waitReport{Target: o.URL, Nodes: len(o.URLs), Waiting: o.Waiting, Rounds: o.Rounds, LoadAvgBefore: loadAvg()}
	pids := o.NodePIDs
	if o.Self {
		o.Guides = 0
		app, _, _, err := startSelfNode(ctx, o, stderr)
		if err != nil {
			return nil, err
		}
		defer stopSelfNode(app, stderr)
		lr.o.URL, lr.o.URLs = app.URL(), []string{app.URL()}
		rep.Target, rep.Nodes = app.URL()+" (--self, in-process: the figures include the load clients)", 1
		pids = []int{os.Getpid()}
	}
	o = lr.o
	for _, pid := range pids {
		// With --procs the clients are elsewhere: this process is the node.
		p := procUse{PID: pid, Self: o.Self && o.Procs == 1}
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
	var line lineDriver = &localLine{wr: wr}
	if o.Procs > 1 {
		pl, err := startProcs(runCtx, o, lr, stderr)
		if err != nil {
			return nil, err
		}
		line = pl
		if o.Self {
			rep.Target = lr.o.URL + " (--self, in-process)"
		}
		rep.Target += fmt.Sprintf(", the clients in %d load processes", o.Procs)
	}
	defer line.close()
	rep.Joined = line.fill(runCtx)

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
		lat, missing, ok := line.round(runCtx)
		if !ok {
			break // no head to send away: recorded as an error
		}
		rep.Expected += len(lat) + missing
		rep.Missing += missing
		rep.Fanout = append(rep.Fanout, lat...)
		slices.Sort(lat)
		rep.RoundP99 = append(rep.RoundP99, percentile(lat, 99))
		rep.RoundMax = append(rep.RoundMax, percentile(lat, 100))
	}
	line.finish(runCtx)
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
	ws, _, err := websocket.Dial(sctx, wsURLOf(base), nil)
	if err != nil {
		return nil, stepErr("ws dial", err)
	}
	ws.SetReadLimit(protocol.MaxFrame)
	w.ws, w.done = ws, make(chan struct{})
	auth, err := protocol.Encode(protocol.TypeAuth, "", protocol.Auth{Token: j.Token})
	if err == nil {
		err = ws.Write(sctx, websocket.MessageText, auth)
	}
	if err != nil {
		ws.CloseNow()
		return nil, stepErr("send auth", err)
	}
	// The welcome comes first, or an error.
	_, b, err := ws.Read(sctx)
	if err != nil {
		ws.CloseNow()
		return nil, stepErr("timeout waiting for welcome", err)
	}
	if typ := frameType(b); typ != protocol.TypeWelcome {
		ws.CloseNow()
		var env protocol.Envelope
		var pe protocol.Error
		if json.Unmarshal(b, &env) == nil && env.Type == protocol.TypeError && env.Decode(&pe) == nil {
			return nil, stepErr("server error "+string(pe.Code), fmt.Errorf("%s while waiting for welcome", pe.Message))
		}
		return nil, stepErr("auth", fmt.Errorf("the server sent %q before welcome", typ))
	}
	go wr.read(w)
	select {
	case <-w.first:
		return w, nil
	case <-sctx.Done():
		w.close()
		return nil, stepErr("timeout waiting for the first queue.position", sctx.Err())
	}
}

// read is w's reader: it hands every queue.position to told until the
// socket ends.
func (wr *waitRun) read(w *waiter) {
	defer close(w.done)
	for {
		_, b, err := w.ws.Read(context.Background())
		if err != nil {
			return
		}
		at := time.Now()
		if pos, ok := positionOf(b); ok {
			wr.told(w, pos, at)
		}
	}
}

// close closes w's socket and waits for its reader.
func (w *waiter) close() {
	_ = w.ws.Close(websocket.StatusNormalClosure, "")
	<-w.done
}

var (
	typeKey     = []byte(`"type":"`)
	positionKey = []byte(`"position":`)
	positionTyp = []byte(`"type":"` + string(protocol.TypeQueuePosition) + `"`)
)

// frameType is the type of an envelope as the server writes it (encoding/json,
// no spaces), without decoding the rest.
func frameType(b []byte) protocol.Type {
	i := bytes.Index(b, typeKey)
	if i < 0 {
		return ""
	}
	rest := b[i+len(typeKey):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return ""
	}
	return protocol.Type(rest[:end])
}

// positionOf reads the position of a queue.position frame; false for any
// other frame. The envelope's keys come before its data, and the payload
// has one "position" key.
func positionOf(b []byte) (int, bool) {
	if !bytes.Contains(b, positionTyp) {
		return 0, false
	}
	i := bytes.Index(b, positionKey)
	if i < 0 {
		return 0, false
	}
	n, digits := 0, 0
	for _, c := range b[i+len(positionKey):] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
		digits++
	}
	return n, digits > 0
}

// told runs on w's reader goroutine for every queue.position.
func (wr *waitRun) told(w *waiter, pos int, at time.Time) {
	w.pos.Store(int32(pos))
	w.once.Do(func() {
		wr.lr.observe("join first position", at.Sub(w.joined))
		close(w.first)
	})
	// A position at or ahead of the one awaited counts: two changes may
	// reach a socket as one update.
	if want := w.want.Load(); want > 0 && int32(pos) <= want && w.at.CompareAndSwap(0, at.UnixNano()) {
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
	head, rest := wr.prepare(line)
	if head == nil {
		wr.lr.fail("no shopper at position 1", errors.New("the line has no head to send away"))
		return line, nil, 0
	}
	sent := wr.sendAway(ctx, head)
	lat, missing := wr.settle(ctx, rest, sent)
	head.close()
	return rest, lat, missing
}

// prepare makes every socket of line but the head (nil when this process
// does not hold it) await the position ahead of its own.
func (wr *waitRun) prepare(line []*waiter) (head *waiter, rest []*waiter) {
	rest = line
	if h := slices.IndexFunc(line, func(w *waiter) bool { return w.pos.Load() == 1 }); h >= 0 {
		head, rest = line[h], slices.Delete(slices.Clone(line), h, h+1)
	}
	wr.mu.Lock()
	wr.settled = make(chan struct{})
	if len(rest) == 0 {
		close(wr.settled)
	}
	wr.mu.Unlock()
	wr.remaining.Store(int64(len(rest)))
	for _, w := range rest {
		w.at.Store(0)
		w.want.Store(w.pos.Load() - 1)
	}
	return head, rest
}

// sendAway sends the head's queue.cancel, returning when it was sent.
// The caller closes the head once the round settled.
func (wr *waitRun) sendAway(ctx context.Context, head *waiter) time.Time {
	sctx, cancel := context.WithTimeout(ctx, wr.lr.o.StepTimeout)
	defer cancel()
	msg, _ := protocol.Encode(protocol.TypeQueueCancel, "", protocol.QueueCancel{})
	sent := time.Now()
	if err := head.ws.Write(sctx, websocket.MessageText, msg); err != nil {
		wr.lr.fail("head: send queue.cancel", err)
	}
	return sent
}

// settle waits until every socket of rest has its new position, or
// SettleTimeout after sent, and returns the latencies from sent and how
// many never arrived.
func (wr *waitRun) settle(ctx context.Context, rest []*waiter, sent time.Time) ([]time.Duration, int) {
	lr := wr.lr
	wr.mu.Lock()
	settled := wr.settled
	wr.mu.Unlock()
	sctx, cancel := context.WithDeadline(ctx, sent.Add(lr.o.SettleTimeout))
	defer cancel()
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
	return lat, missing
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
