package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/time/rate"

	"guidecall/app"
	"guidecall/internal/config"
	"guidecall/protocol"
	"guidecall/protocol/client"
)

// The load test drives the signaling protocol the way the shopper page and
// the guide console do, minus media: shoppers join and wait, guides accept
// every offer, both sides trade a fake SDP offer/answer and trickle ICE
// through the server, report connected, hold, and hang up. It measures what
// the server adds: queueing and matching, accept round trips, and the
// relay hop. Media quality and TURN are the e2e tests' and benchmarks' job.

const loadtestSummary = `guidecall loadtest: drive calls (join, match, SDP/ICE relay, hang-up) against a node.

Either --self (start an in-process node on loopback with --guides accounts)
or --url with one --guide-login email:password per guide. The run stops after
--calls calls or --duration, whichever comes first, and exits non-zero on any
error or unfinished call. Every shopper joins, and every socket opens, from
this machine's address, so a node under test (--url) needs a --join-rate and
--join-burst high enough for the load and a --max-connections-per-ip (default
50) above --guides plus --shoppers; --self lifts all three on its own node.

--mode waiting fills a waiting room of --waiting shoppers instead, makes its
head leave --rounds times and times every other socket's new position; it
reads the nodes' RSS and idle CPU from /proc (--node-pid, or this process
with --self). --url may name several nodes, separated by commas.
--procs N spreads the sockets over N load processes of this executable
(one process holds at most 19 500), so 20 000 across two nodes is one
command.`

// Bounds that keep every run finite and every flag sane.
const (
	maxLoadCalls    = 1_000_000
	maxLoadDuration = 14 * time.Minute // guide access tokens last 15 minutes
	maxLoadGuides   = 1000
	maxLoadShoppers = 10_000
	maxLoadICE      = 100
)

type loadOptions struct {
	URL string
	// URLs are the nodes of URL, split at commas; sockets and joins go to
	// them in turn.
	URLs         []string
	Self         bool
	Guides       int
	Logins       []guideLogin
	Shoppers     int
	Calls        int
	Duration     time.Duration
	Hold         time.Duration
	ICE          int
	StepTimeout  time.Duration
	MsgRate      float64
	NodeLogLevel string

	// SelfDatabaseURL puts the --self node on PostgreSQL instead of memory.
	SelfDatabaseURL string

	// CPUProfile, if set, is where the calls mode writes a CPU profile
	// of this process (load clients and, with --self, the node) from the
	// guides' logins to the end of the run.
	CPUProfile string

	// Mode is "calls" (the default) or "waiting" (loadwait.go).
	Mode            string
	Waiting         int
	Rounds          int
	JoinConcurrency int
	SettleTimeout   time.Duration
	Idle            time.Duration
	NodePIDs        []int
	// Procs is how many load processes hold the sockets (loadprocs.go);
	// Child is set in each of them.
	Procs int
	Child bool
	// spawn starts a load process with args; nil runs this executable.
	spawn func(ctx context.Context, args []string) *exec.Cmd
}

type guideLogin struct{ email, password string }

// loginList is a repeatable --guide-login flag.
type loginList []guideLogin

func (l *loginList) String() string { return fmt.Sprint(len(*l), " logins") }

func (l *loginList) Set(v string) error {
	email, password, ok := strings.Cut(v, ":")
	if !ok || email == "" || password == "" {
		return errors.New("want email:password")
	}
	*l = append(*l, guideLogin{email, password})
	return nil
}

func loadtest(ctx context.Context, args []string, stdout, stderr io.Writer, _ func(string) string) error {
	var o loadOptions
	var logins loginList
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.URL, "url", "http://127.0.0.1:8080", "base URL of the node under test, or several separated by commas (a cluster: shoppers and guides are spread across them in turn); ignored with --self; start each with --max-connections-per-ip above the sockets it gets")
	fs.BoolVar(&o.Self, "self", false, "start an in-process node on 127.0.0.1 and test it")
	fs.IntVar(&o.Guides, "guides", 0, "guide sockets (default: 10 with --self, else the number of --guide-login)")
	fs.Var(&logins, "guide-login", "guide account as email:password; repeat once per guide (not with --self)")
	fs.IntVar(&o.Shoppers, "shoppers", 0, "shoppers in flight at once (default --guides; more makes a queue)")
	fs.IntVar(&o.Calls, "calls", 200, "stop after this many calls")
	fs.DurationVar(&o.Duration, "duration", 60*time.Second, "stop after this long even if --calls are not done")
	fs.DurationVar(&o.Hold, "hold", 500*time.Millisecond, "how long a call stays connected before the guide hangs up")
	fs.IntVar(&o.ICE, "ice", 10, "ICE candidates each side sends per call")
	fs.DurationVar(&o.StepTimeout, "step-timeout", 10*time.Second, "longest wait for any one protocol step before it counts as an error")
	fs.Float64Var(&o.MsgRate, "msg-rate", 40, "messages per second each socket sends at most (the server allows 50)")
	fs.StringVar(&o.NodeLogLevel, "node-log-level", "warn", "log level of the --self node (to stderr)")
	fs.StringVar(&o.SelfDatabaseURL, "self-database-url", "", "run the --self node on this PostgreSQL database (migrated on start) instead of the memory store")
	fs.StringVar(&o.CPUProfile, "cpu-profile", "", "calls mode: write a CPU profile of this process (the load clients and, with --self, the node) to this file")
	fs.StringVar(&o.Mode, "mode", "calls", "calls: drive whole calls; waiting: fill a waiting room (see --waiting) and time position updates")
	fs.IntVar(&o.Waiting, "waiting", 1000, "waiting mode: shoppers that wait with open sockets")
	fs.IntVar(&o.Rounds, "rounds", 5, "waiting mode: how many times the head of the line leaves")
	fs.IntVar(&o.JoinConcurrency, "join-concurrency", 32, "waiting mode: joins in flight at once while the line fills")
	fs.DurationVar(&o.SettleTimeout, "settle-timeout", 30*time.Second, "waiting mode: longest wait for every socket's new position after the head leaves")
	fs.DurationVar(&o.Idle, "idle", 5*time.Second, "waiting mode: how long to measure the node's CPU while the full line waits")
	fs.IntVar(&o.Procs, "procs", 1, "waiting mode: load processes that share the sockets (each holds at most 19 500, one file descriptor each), started and merged by this one")
	fs.BoolVar(&o.Child, "child", false, "waiting mode, internal: run as one of --procs, driven on stdin by its parent")
	fs.Var(pidList{&o.NodePIDs}, "node-pid", "waiting mode: pid of a node under test on this machine, comma-separated for several, to read its RSS and CPU from /proc")
	fs.Usage = loadtestUsage(fs)
	// No environment twins here: a load generator's knobs belong on its
	// command line, and GUIDECALL_URL-style variables would surprise.
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("loadtest: unexpected argument %q", fs.Arg(0))
	}
	o.Logins = logins
	if err := o.check(); err != nil {
		return err
	}
	if o.Mode == "waiting" && o.Child {
		return runWaitingChild(ctx, o, os.Stdin, stdout)
	}
	if o.Mode == "waiting" {
		rep, err := runWaiting(ctx, o, stderr)
		if err != nil {
			return err
		}
		rep.print(stdout)
		return rep.verdict()
	}
	rep, err := runLoad(ctx, o, stderr)
	if err != nil {
		return err
	}
	rep.print(stdout)
	return rep.verdict()
}

func (o *loadOptions) check() error {
	switch o.Mode {
	case "", "calls":
		o.Mode = "calls"
	case "waiting":
		return o.checkWaiting()
	default:
		return fmt.Errorf("--mode must be calls or waiting, not %q", o.Mode)
	}
	if o.Self && len(o.Logins) > 0 {
		return errors.New("--guide-login is for an external node; --self makes its own guides")
	}
	if o.Guides == 0 {
		o.Guides = len(o.Logins)
		if o.Self {
			o.Guides = 10
		}
	}
	if !o.Self && o.Guides > len(o.Logins) {
		return fmt.Errorf("--guides %d needs as many --guide-login email:password (have %d), or use --self", o.Guides, len(o.Logins))
	}
	if o.Shoppers == 0 {
		o.Shoppers = o.Guides
	}
	switch {
	case o.Guides < 1 || o.Guides > maxLoadGuides:
		return fmt.Errorf("--guides must be 1..%d", maxLoadGuides)
	case o.Shoppers < 1 || o.Shoppers > maxLoadShoppers:
		return fmt.Errorf("--shoppers must be 1..%d", maxLoadShoppers)
	case o.Calls < 1 || o.Calls > maxLoadCalls:
		return fmt.Errorf("--calls must be 1..%d", maxLoadCalls)
	case o.Duration <= 0 || o.Duration > maxLoadDuration:
		return fmt.Errorf("--duration must be positive and at most %s", maxLoadDuration)
	case o.ICE < 0 || o.ICE > maxLoadICE:
		return fmt.Errorf("--ice must be 0..%d", maxLoadICE)
	case o.Hold < 0 || o.StepTimeout <= 0 || o.MsgRate <= 0:
		return errors.New("--hold, --step-timeout and --msg-rate must be positive")
	}
	if o.Self {
		return nil // the node's URL is known once it runs
	}
	return o.splitURLs()
}

// splitURLs reads --url as one node or a comma-separated cluster.
func (o *loadOptions) splitURLs() error {
	o.URLs = o.URLs[:0]
	for _, u := range strings.Split(o.URL, ",") {
		u = strings.TrimRight(strings.TrimSpace(u), "/")
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return fmt.Errorf("--url %q: want http:// or https:// URLs separated by commas", u)
		}
		o.URLs = append(o.URLs, u)
	}
	o.URL = strings.Join(o.URLs, ",")
	return nil
}

// node is the base URL the i-th shopper or guide uses.
func (o *loadOptions) node(i int) string { return o.URLs[i%len(o.URLs)] }

// loadRun is one run's shared state.
type loadRun struct {
	o    loadOptions
	http *http.Client

	launched  atomic.Int64
	completed atomic.Int64
	failed    atomic.Int64
	throttled atomic.Int64

	joined   sync.Map // entry id → time the join request was sent
	accepted sync.Map // call id → time the guide sent offer.accept

	mu      sync.Mutex
	errs    map[string]int
	example map[string]string
	lat     map[string][]time.Duration
}

// Latency series, in report order.
const (
	latJoinOffer      = "join → offer (guide)"
	latMatchedGuide   = "accept → matched, guide"
	latMatchedShopper = "accept → matched, shopper"
	latRelay          = "relay ice (send → peer)"
)

var latOrder = []string{latJoinOffer, latMatchedGuide, latMatchedShopper, latRelay}

func (lr *loadRun) observe(series string, d time.Duration) {
	lr.mu.Lock()
	lr.lat[series] = append(lr.lat[series], d)
	lr.mu.Unlock()
}

// fail records an error under a short kind, keeping one full example.
func (lr *loadRun) fail(kind string, err error) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	lr.errs[kind]++
	if _, ok := lr.example[kind]; !ok && err != nil {
		lr.example[kind] = err.Error()
	}
}

// loadReport is what a run measured.
type loadReport struct {
	Target     string
	Guides     int
	Shoppers   int
	Calls      int
	Completed  int
	Unfinished int
	Throttled  int
	Elapsed    time.Duration
	Errors     map[string]int
	Examples   map[string]string
	Latency    map[string][]time.Duration // sorted

	Self           bool
	PeakGoroutines int
	PeakSockets    int
	PeakRSS        uint64 // bytes, sampled VmRSS
	HWM            uint64 // bytes, the kernel's VmHWM at the end
	// Pool is what the --self node's database pool did during the run,
	// nil on memory.
	Pool *poolUse
}

// poolUse is how a run used the database pool: how often a connection
// was taken, how often the taker had to wait for one, and for how long.
type poolUse struct {
	MaxConns        int32
	Acquires, Waits int64
	Wait            time.Duration
}

func newPoolUse(before, after *pgxpool.Stat) *poolUse {
	return &poolUse{
		MaxConns: after.MaxConns(),
		Acquires: after.AcquireCount() - before.AcquireCount(),
		Waits:    after.EmptyAcquireCount() - before.EmptyAcquireCount(),
		Wait:     after.AcquireDuration() - before.AcquireDuration(),
	}
}

func (r *loadReport) ErrorCount() int {
	n := 0
	for _, c := range r.Errors {
		n += c
	}
	return n
}

// runLoad runs the load and returns what it measured; err is for a run that
// could not start at all.
func runLoad(ctx context.Context, o loadOptions, stderr io.Writer) (*loadReport, error) {
	lr := &loadRun{
		o: o,
		http: &http.Client{
			Timeout:   o.StepTimeout,
			Transport: &http.Transport{MaxIdleConnsPerHost: o.Shoppers + o.Guides, IdleConnTimeout: 30 * time.Second},
		},
		errs:    map[string]int{},
		example: map[string]string{},
		lat:     map[string][]time.Duration{},
	}
	defer lr.http.CloseIdleConnections()
	rep := &loadReport{Target: o.URL, Guides: o.Guides, Shoppers: o.Shoppers, Calls: o.Calls, Self: o.Self}

	var sample func() // samples the self node's peaks
	if o.Self {
		app, logins, pool, err := startSelfNode(ctx, o, stderr)
		if err != nil {
			return nil, err
		}
		defer stopSelfNode(app, stderr)
		lr.o.URL, lr.o.URLs, lr.o.Logins = app.URL(), []string{app.URL()}, logins
		if pool != nil {
			before := pool.Stat()
			defer func() { rep.Pool = newPoolUse(before, pool.Stat()) }()
		}
		rep.Target = app.URL() + " (--self, in-process)"
		sample = func() {
			rep.PeakGoroutines = max(rep.PeakGoroutines, runtime.NumGoroutine())
			rep.PeakSockets = max(rep.PeakSockets, app.Hub.Connections())
			rss, _ := procStatus("VmRSS")
			rep.PeakRSS = max(rep.PeakRSS, rss)
		}
	}
	o = lr.o
	if o.CPUProfile != "" {
		stop, err := startCPUProfile(o.CPUProfile)
		if err != nil {
			return nil, err
		}
		defer func() {
			if err := stop(); err != nil {
				fmt.Fprintln(stderr, "loadtest: --cpu-profile:", err)
			}
		}()
	}

	tokens := make([]string, o.Guides)
	for i := range tokens {
		tok, err := lr.login(ctx, o.node(i), o.Logins[i])
		if err != nil {
			return nil, fmt.Errorf("guide %s: %w", o.Logins[i].email, err)
		}
		tokens[i] = tok
	}

	runCtx, cancelRun := context.WithTimeout(ctx, o.Duration)
	defer cancelRun()
	guideCtx, stopGuides := context.WithCancel(runCtx)
	defer stopGuides()

	start := time.Now()
	var ready, guides sync.WaitGroup
	for i, tok := range tokens {
		ready.Add(1)
		guides.Add(1)
		go func() {
			defer guides.Done()
			lr.guide(guideCtx, o.node(i), tok, ready.Done)
		}()
	}
	ready.Wait()

	var shoppers sync.WaitGroup
	for i := range o.Shoppers {
		shoppers.Add(1)
		go func() {
			defer shoppers.Done()
			for runCtx.Err() == nil && lr.launched.Add(1) <= int64(o.Calls) {
				lr.shopperCall(runCtx, o.node(i))
			}
		}()
	}
	done := make(chan struct{})
	go func() { shoppers.Wait(); close(done) }()
	if sample != nil {
		t := time.NewTicker(100 * time.Millisecond)
	wait:
		for {
			sample()
			select {
			case <-done:
				break wait
			case <-t.C:
			}
		}
		t.Stop()
	}
	<-done
	rep.Elapsed = time.Since(start)
	stopGuides()
	guides.Wait()
	if sample != nil {
		sample()
		rep.HWM, _ = procStatus("VmHWM")
	}

	lr.mu.Lock()
	defer lr.mu.Unlock()
	rep.Completed = int(lr.completed.Load())
	rep.Unfinished = max(o.Calls-rep.Completed-int(lr.failed.Load()), 0)
	rep.Throttled = int(lr.throttled.Load())
	rep.Errors, rep.Examples, rep.Latency = lr.errs, lr.example, lr.lat
	for _, s := range rep.Latency {
		slices.Sort(s)
	}
	return rep, nil
}

// startSelfNode runs a node in this process on loopback with high join
// limits and o.Guides fresh guide accounts.
// pool is the node's database, nil on memory.
// stopSelfNode stops the --self node when the run ends, whatever its mode.
func stopSelfNode(node *app.App, stderr io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := node.Stop(ctx); err != nil {
		fmt.Fprintln(stderr, "loadtest: stop self node:", err)
	}
}

func startSelfNode(ctx context.Context, o loadOptions, stderr io.Writer) (_ *app.App, _ []guideLogin, pool *pgxpool.Pool, _ error) {
	var cfg config.Serve
	fs := flag.NewFlagSet("self", flag.ContinueOnError)
	cfg.Register(fs)
	if err := fs.Parse(nil); err != nil {
		return nil, nil, nil, err
	}
	secret := rand.Text() + rand.Text()
	cfg.HTTPAddr, cfg.TURNListenIP, cfg.TURNPort = "127.0.0.1:0", "127.0.0.1", 0
	cfg.JWTSecret, cfg.TURNSecret, cfg.SandboxSecret = secret, secret, secret
	// Every shopper joins, and every socket opens, from 127.0.0.1; the
	// per-address limits would otherwise be what the run measures. The
	// node-wide --max-connections (20000) still holds, above the most
	// sockets a run can open (maxLoadGuides + maxLoadShoppers).
	cfg.JoinRate, cfg.JoinBurst = 1e9, 1_000_000
	cfg.MaxConnectionsPerIP = cfg.MaxConnections
	cfg.LoginRate, cfg.LoginBurst = 1e9, 1_000_000
	cfg.MaxHTTPConnsPerIP = cfg.MaxConnections
	cfg.DemoGuide = config.Toggle{Given: true}
	cfg.LogLevel = o.NodeLogLevel
	log, err := newLogger(stderr, cfg.LogLevel, "text")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--node-log-level: %w", err)
	}
	stores := app.MemoryStores()
	if o.SelfDatabaseURL != "" {
		if stores, err = app.PostgresStores(ctx, o.SelfDatabaseURL, true, log); err != nil {
			return nil, nil, nil, fmt.Errorf("--self-database-url: %w", err)
		}
	}
	app, err := app.New(cfg, stores, log)
	if err != nil {
		return nil, nil, nil, err
	}
	logins := make([]guideLogin, o.Guides)
	for i := range logins {
		logins[i] = guideLogin{fmt.Sprintf("loadtest-guide-%d@loadtest.local", i+1), rand.Text()}
		if _, err := app.Auth.AddAccount(ctx, logins[i].email, fmt.Sprintf("Load Guide %d", i+1), logins[i].password, protocol.RoleGuide); err != nil {
			return nil, nil, nil, errors.Join(err, app.Stop(context.Background()))
		}
	}
	if err := app.Start(ctx); err != nil {
		return nil, nil, nil, errors.Join(err, app.Stop(context.Background()))
	}
	return app, logins, stores.Pool, nil
}

// startCPUProfile starts a CPU profile written to path; stop ends it and
// closes the file.
func startCPUProfile(path string) (stop func() error, err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, errors.Join(fmt.Errorf("--cpu-profile: %w", err), f.Close())
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

// procStatus reads a kB field of /proc/self/status in bytes; 0 where there
// is no procfs.
func procStatus(field string) (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		return kb << 10, err
	}
	return 0, fmt.Errorf("%s not in /proc/self/status", field)
}

// postJSON posts body and decodes a JSON answer of status want.
func (lr *loadRun) postJSON(ctx context.Context, base, path string, body, out any, want int) (*http.Response, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := lr.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != want {
		return resp, fmt.Errorf("POST %s: status %d: %s", path, resp.StatusCode, bytes.TrimSpace(rb))
	}
	return resp, json.Unmarshal(rb, out)
}

func (lr *loadRun) login(ctx context.Context, base string, l guideLogin) (string, error) {
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if _, err := lr.postJSON(ctx, base, "/api/v1/auth/login", map[string]string{"email": l.email, "password": l.password}, &out, http.StatusOK); err != nil {
		return "", err
	}
	return out.AccessToken, nil
}

// lconn is one protocol socket: the client timestamps frames as they
// arrive (and the run takes the ICE relay latency off them there); sends
// are paced under the server's per-socket limit.
type lconn struct {
	lr   *loadRun
	c    *client.Conn
	pace *rate.Limiter
}

// stepError is a failure of one protocol step.
type stepError struct {
	kind string
	err  error
}

func (e *stepError) Error() string { return e.kind + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

func stepErr(kind string, err error) error { return &stepError{kind, err} }

func (lr *loadRun) dial(ctx context.Context, url, token string) (*lconn, error) {
	sctx, cancel := lr.stepCtx(ctx)
	defer cancel()
	cc, err := client.Dial(sctx, url, client.FailOnError(), client.OnReceive(lr.received))
	if err != nil {
		return nil, stepErr("ws dial", err)
	}
	c := &lconn{lr: lr, c: cc, pace: rate.NewLimiter(rate.Limit(lr.o.MsgRate), max(1, int(lr.o.MsgRate/2)))}
	if err := c.pace.Wait(sctx); err != nil {
		c.close()
		return nil, stepErr("send auth", err)
	}
	if _, err := cc.Authenticate(sctx, token); err != nil {
		c.close()
		return nil, classifyWait(err, "welcome")
	}
	return c, nil
}

// received times the relay of a candidate stamped by the sending side.
func (lr *loadRun) received(f client.Frame) {
	if f.Type != protocol.TypeICE {
		return
	}
	var d stampedCandidate
	if f.Decode(&d) == nil && d.SentNS > 0 {
		lr.observe(latRelay, f.Received.Sub(time.Unix(0, d.SentNS)))
	}
}

func (c *lconn) close() { _ = c.c.Close() }

func (c *lconn) send(ctx context.Context, typ protocol.Type, callID string, data any) error {
	if err := c.pace.Wait(ctx); err != nil {
		return stepErr("send "+string(typ), err)
	}
	if cand, ok := data.(*stampedCandidate); ok {
		cand.SentNS = time.Now().UnixNano()
	}
	wctx, cancel := c.lr.stepCtx(ctx)
	defer cancel()
	if err := c.c.Send(wctx, typ, callID, data); err != nil {
		return stepErr("send "+string(typ), err)
	}
	return nil
}

// await returns the next frame of one of types (and of callID, if set),
// leaving others for a later await; a protocol error frame fails it.
//
// The protocol does not order events of different calls: the next offer
// may reach a guide before the call.ended of the call it just hung up, so
// the client keeps it for the next await that wants one.
func (c *lconn) await(ctx context.Context, callID string, types ...protocol.Type) (client.Frame, error) {
	for {
		f, err := c.c.AwaitFunc(ctx, func(f client.Frame) bool {
			return slices.Contains(types, f.Type) && (callID == "" || f.CallID == "" || f.CallID == callID)
		})
		var pe *protocol.Error
		if errors.As(err, &pe) && pe.Code == protocol.CodeBadState && pe.Ref == string(protocol.TypeCallConnected) {
			// The peer hung up before our call.connected arrived: a race
			// the protocol allows, not a failure.
			continue
		}
		if err != nil {
			return f, classifyWait(err, types...)
		}
		return f, nil
	}
}

// classifyWait names a failed wait by its cause for the report.
func classifyWait(err error, types ...protocol.Type) error {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = string(t)
	}
	want := strings.Join(names, "|")
	var pe *protocol.Error
	switch {
	case errors.As(err, &pe):
		return stepErr("server error "+string(pe.Code), fmt.Errorf("%s (ref %s) while waiting for %s", pe.Message, pe.Ref, want))
	case errors.Is(err, client.ErrClosed):
		return stepErr("socket closed", err)
	}
	return stepErr("timeout waiting for "+want, err)
}

// forget drops what a guide's socket still holds of calls it is done
// with; only offers (for calls to come) stay.
func (c *lconn) forget() {
	c.c.Discard(func(f client.Frame) bool { return f.Type != protocol.TypeOffer })
}

// exchange reads call frames until the peer's SDP of sdpType (if not
// already seen) and ice candidates have arrived.
type exchange struct {
	sdp  bool
	ices int
}

func (c *lconn) exchange(ctx context.Context, callID, sdpType string, ices int, x *exchange) error {
	for !x.sdp || x.ices < ices {
		f, err := c.await(ctx, callID, protocol.TypeSDP, protocol.TypeICE, protocol.TypeCallEnded)
		if err != nil {
			return err
		}
		switch f.Type {
		case protocol.TypeCallEnded:
			return stepErr("call ended early", fmt.Errorf("%s", f.Data))
		case protocol.TypeICE:
			x.ices++
		case protocol.TypeSDP:
			var d protocol.SDP
			if f.Decode(&d) == nil && d.Type == sdpType {
				x.sdp = true
			}
		}
	}
	return nil
}

// stampedCandidate is a candidate with the time it was sent: the server
// relays a candidate as it is, so the receiving side can time the relay.
type stampedCandidate struct {
	protocol.ICECandidate
	SentNS int64 `json:"x_sent_ns"`
}

func (c *lconn) trickle(ctx context.Context, callID, role string) error {
	mid, line, ufrag := "0", uint16(0), role[:4]
	for i := range c.lr.o.ICE {
		cand := &stampedCandidate{ICECandidate: protocol.ICECandidate{
			Candidate:        fmt.Sprintf("candidate:%d 1 udp 16777215 127.0.0.1 %d typ relay raddr 0.0.0.0 rport 0", i+1, 50000+i),
			SDPMid:           &mid,
			SDPMLineIndex:    &line,
			UsernameFragment: &ufrag,
		}}
		if err := c.send(ctx, protocol.TypeICE, callID, cand); err != nil {
			return err
		}
	}
	return nil
}

// stepCtx bounds one protocol step.
func (lr *loadRun) stepCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, lr.o.StepTimeout)
}

// classify records err unless the run itself is over (then the call is
// unfinished, not failed).
func (lr *loadRun) classify(run context.Context, who string, err error) {
	if run.Err() != nil {
		return
	}
	kind := "other"
	var se *stepError
	if errors.As(err, &se) {
		kind = se.kind
	}
	lr.fail(who+": "+kind, err)
}

// guide holds one console socket and takes calls until ctx ends.
func (lr *loadRun) guide(ctx context.Context, base, token string, ready func()) {
	readyOnce := sync.OnceFunc(ready)
	defer readyOnce()
	c, err := lr.dial(ctx, wsURLOf(base), token)
	if err != nil {
		lr.classify(ctx, "guide", err)
		return
	}
	defer c.close()
	sctx, cancel := lr.stepCtx(ctx)
	err = c.send(sctx, protocol.TypePresence, "", protocol.SetPresence{Status: "available"})
	if err == nil {
		_, err = c.await(sctx, "", protocol.TypePresence)
	}
	cancel()
	if err != nil {
		lr.classify(ctx, "guide", err)
		return
	}
	readyOnce()
	for ctx.Err() == nil {
		f, err := c.await(ctx, "", protocol.TypeOffer)
		if err != nil {
			lr.classify(ctx, "guide", err)
			if ctx.Err() != nil || isClosed(err) {
				return
			}
			continue
		}
		callID, err := lr.guideCall(ctx, c, f)
		c.forget()
		if err != nil {
			lr.classify(ctx, "guide", err)
			if isClosed(err) {
				return
			}
			if callID != "" && ctx.Err() == nil {
				// Free the guide for the next offer; the call is lost anyway.
				ectx, cancel := lr.stepCtx(ctx)
				_ = c.send(ectx, protocol.TypeCallEnd, callID, protocol.CallEnd{Reason: "failed"})
				cancel()
			}
		}
	}
}

// isClosed says the socket is gone, so the guide stops instead of
// spinning on a dead socket.
func isClosed(err error) bool {
	var se *stepError
	return errors.As(err, &se) && se.kind == "socket closed"
}

// guideCall takes one offer through to hang-up. It returns the call id
// once the offer was accepted, so a failed call can be ended.
func (lr *loadRun) guideCall(ctx context.Context, c *lconn, offer client.Frame) (string, error) {
	var o protocol.Offer
	if err := offer.Decode(&o); err != nil || o.OfferID == "" {
		return "", stepErr("bad offer", fmt.Errorf("%s", offer.Data))
	}
	if t, ok := lr.joined.LoadAndDelete(o.EntryID); ok {
		lr.observe(latJoinOffer, offer.Received.Sub(t.(time.Time)))
	}
	callID := o.OfferID
	sctx, cancel := lr.stepCtx(ctx)
	defer cancel()
	accepted := time.Now()
	lr.accepted.Store(callID, accepted)
	if err := c.send(sctx, protocol.TypeOfferAccept, "", protocol.OfferReply{OfferID: callID}); err != nil {
		return "", err
	}
	m, err := c.await(sctx, "", protocol.TypeCallMatched)
	if err != nil {
		return "", err
	}
	lr.observe(latMatchedGuide, m.Received.Sub(accepted))
	if m.CallID != callID {
		return "", stepErr("matched other call", fmt.Errorf("accepted %s, matched %s", callID, m.CallID))
	}
	if err := c.send(sctx, protocol.TypeSDP, callID, protocol.SDP{Type: "offer", SDP: fakeSDP("offer")}); err != nil {
		return callID, err
	}
	if err := c.trickle(sctx, callID, "guide"); err != nil {
		return callID, err
	}
	if err := c.exchange(sctx, callID, "answer", lr.o.ICE, &exchange{}); err != nil {
		return callID, err
	}
	if err := c.send(sctx, protocol.TypeCallConnected, callID, protocol.CallConnected{}); err != nil {
		return callID, err
	}
	select {
	case <-time.After(lr.o.Hold):
	case <-ctx.Done():
		return callID, ctx.Err()
	}
	ectx, ecancel := lr.stepCtx(ctx)
	defer ecancel()
	if err := c.send(ectx, protocol.TypeCallEnd, callID, protocol.CallEnd{Reason: "hangup"}); err != nil {
		return callID, err
	}
	_, err = c.await(ectx, callID, protocol.TypeCallEnded)
	return "", err
}

// wsURLOf is the socket endpoint of the node at base.
func wsURLOf(base string) string {
	if rest, ok := strings.CutPrefix(base, "https://"); ok {
		return "wss://" + rest + "/api/v1/ws"
	}
	return "ws://" + strings.TrimPrefix(base, "http://") + "/api/v1/ws"
}

// shopperCall is one shopper's whole visit: join, wait, answer, hang up.
func (lr *loadRun) shopperCall(ctx context.Context, base string) {
	if err := lr.shopperVisit(ctx, base); err != nil {
		if ctx.Err() == nil {
			lr.failed.Add(1)
		}
		lr.classify(ctx, "shopper", err)
		return
	}
	lr.completed.Add(1)
}

func (lr *loadRun) shopperVisit(ctx context.Context, base string) error {
	var j struct {
		EntryID string `json:"entry_id"`
		Token   string `json:"token"`
		WSURL   string `json:"ws_url"`
	}
	sent := time.Now()
	for {
		resp, err := lr.postJSON(ctx, base, "/api/v1/queue",
			map[string]string{"queue": "default", "locale": "en-GB", "currency": "EUR", "page_url": "https://shop.example/p/42", "name": "Load Shopper"},
			&j, http.StatusCreated)
		if err == nil {
			break
		}
		if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			return stepErr("join", err)
		}
		// The node's per-address join limit: wait as told, and say so in
		// the report rather than count it as a failure.
		lr.throttled.Add(1)
		wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		select {
		case <-time.After(time.Duration(max(wait, 1)) * time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
		sent = time.Now()
	}
	lr.joined.Store(j.EntryID, sent)
	defer lr.joined.Delete(j.EntryID)
	// A node names its public socket URL, which every node of a cluster
	// may share (one name before a balancer); a cluster run wants each
	// shopper on the node it joined through.
	url := j.WSURL
	if url == "" || len(lr.o.URLs) > 1 {
		url = wsURLOf(base)
	}
	c, err := lr.dial(ctx, url, j.Token)
	if err != nil {
		return err
	}
	defer c.close()

	// Waiting in line may take as long as the run; only later steps are bounded.
	m, err := c.await(ctx, "", protocol.TypeCallMatched)
	if err != nil {
		return err
	}
	callID := m.CallID
	if t, ok := lr.accepted.LoadAndDelete(callID); ok {
		lr.observe(latMatchedShopper, m.Received.Sub(t.(time.Time)))
	}
	sctx, cancel := lr.stepCtx(ctx)
	defer cancel()
	var x exchange
	if err := c.exchange(sctx, callID, "offer", 0, &x); err != nil {
		return err
	}
	if err := c.send(sctx, protocol.TypeSDP, callID, protocol.SDP{Type: "answer", SDP: fakeSDP("answer")}); err != nil {
		return err
	}
	if err := c.trickle(sctx, callID, "shopper"); err != nil {
		return err
	}
	if err := c.exchange(sctx, callID, "offer", lr.o.ICE, &x); err != nil {
		return err
	}
	if err := c.send(sctx, protocol.TypeCallConnected, callID, protocol.CallConnected{}); err != nil {
		return err
	}
	// The guide holds the call, then hangs up.
	ectx, ecancel := context.WithTimeout(ctx, lr.o.Hold+lr.o.StepTimeout)
	defer ecancel()
	f, err := c.await(ectx, callID, protocol.TypeCallEnded)
	if err != nil {
		return err
	}
	var d protocol.CallEnded
	if f.Decode(&d) == nil && d.Reason != "hangup" {
		return stepErr("call ended "+d.Reason, fmt.Errorf("%s", f.Data))
	}
	return nil
}

// fakeSDP is a browser-sized session description; the server relays it
// without reading it.
func fakeSDP(kind string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=- %d 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS loadtest\r\n", time.Now().UnixNano())
	for i, media := range []string{"audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126", "video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 100 101 45 46"} {
		fmt.Fprintf(&b, "m=%s\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:lt%s\r\na=ice-pwd:loadtestloadtestloadtest\r\na=ice-options:trickle\r\n", media, kind[:2])
		b.WriteString("a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n")
		fmt.Fprintf(&b, "a=setup:%s\r\na=mid:%d\r\na=sendrecv\r\na=rtcp-mux\r\n", map[string]string{"offer": "actpass", "answer": "active"}[kind], i)
		for pt := 96; pt < 104; pt++ {
			fmt.Fprintf(&b, "a=rtpmap:%d VP8/90000\r\na=rtcp-fb:%d nack\r\na=rtcp-fb:%d nack pli\r\n", pt, pt, pt)
		}
	}
	return b.String()
}

// percentile is the nearest-rank percentile of sorted samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// plural writes n and noun, with an s unless n is 1: "1 guide", "2 guides".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// loadtestUsage prints the flags the way config.Usage does for the other
// commands (--flag, help, default) but without environment variables,
// which loadtest does not read. Zero defaults are left out, as the flag
// package does, since the help text says what an unset flag means.
func loadtestUsage(fs *flag.FlagSet) func() {
	return func() {
		w := fs.Output()
		fmt.Fprintf(w, "%s\n\nFlags (command line only: loadtest reads no environment variables):\n", loadtestSummary)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			switch f.DefValue {
			case "", "0", "0s", "false", (&loginList{}).String():
			default:
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(w, "  --%s\n      %s%s\n", f.Name, f.Usage, def)
		})
	}
}

func fmtMiB(b uint64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

func (r *loadReport) print(w io.Writer) {
	fmt.Fprintf(w, "guidecall loadtest against %s\n", r.Target)
	fmt.Fprintf(w, "%s, %s in flight, target %s\n\n", plural(r.Guides, "guide"), plural(r.Shoppers, "shopper"), plural(r.Calls, "call"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	rate := float64(r.Completed) / max(r.Elapsed.Seconds(), 1e-9)
	fmt.Fprintf(tw, "calls completed\t%d / %d\tin %s (%.1f calls/s)\n", r.Completed, r.Calls, r.Elapsed.Round(time.Millisecond), rate)
	fmt.Fprintf(tw, "errors\t%d\t\n", r.ErrorCount())
	fmt.Fprintf(tw, "unfinished\t%d\t(cut off by --duration)\n", r.Unfinished)
	if r.Throttled > 0 {
		fmt.Fprintf(tw, "joins throttled\t%d\t(429 from the node's --join-rate; waited and retried)\n", r.Throttled)
	}
	tw.Flush()
	if len(r.Errors) > 0 {
		fmt.Fprintln(w)
		printErrors(w, r.Errors, r.Examples)
	}
	fmt.Fprintln(w)
	const row = "%-27s %6s %9s %9s %9s %9s\n"
	fmt.Fprintf(w, row, "latency", "n", "p50", "p95", "p99", "max")
	for _, name := range latOrder {
		s := r.Latency[name]
		if len(s) == 0 {
			fmt.Fprintf(w, row, name, "0", "-", "-", "-", "-")
			continue
		}
		fmt.Fprintf(w, row, name, strconv.Itoa(len(s)),
			fmtDur(percentile(s, 50)), fmtDur(percentile(s, 95)), fmtDur(percentile(s, 99)), fmtDur(s[len(s)-1]))
	}
	if r.Self {
		fmt.Fprintf(w, "\nself node at peak (one process with the load clients): %d goroutines, %d node sockets, RSS %s (sampled), %s (VmHWM)\n",
			r.PeakGoroutines, r.PeakSockets, fmtMiB(r.PeakRSS), fmtMiB(r.HWM))
	}
	if p := r.Pool; p != nil && p.Acquires > 0 {
		fmt.Fprintf(w, "database pool (%d connections): %d acquires, %d waited for a connection, %s waiting in all (%s per acquire)\n",
			p.MaxConns, p.Acquires, p.Waits, fmtDur(p.Wait), fmtDur(p.Wait/time.Duration(p.Acquires)))
	}
}

// verdict fails the command on any error or unfinished call, so scripts
// and CI can rely on the exit status.
func (r *loadReport) verdict() error {
	if n := r.ErrorCount(); n > 0 {
		return fmt.Errorf("loadtest: %d errors", n)
	}
	if r.Completed < r.Calls {
		return fmt.Errorf("loadtest: %d of %d calls completed before the run ended", r.Completed, r.Calls)
	}
	return nil
}

// printErrors lists error kinds by name with their counts and one example
// each, for both load modes' reports.
func printErrors(w io.Writer, counts map[string]int, examples map[string]string) {
	kinds := make([]string, 0, len(counts))
	for k := range counts {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		fmt.Fprintf(w, "  %6d × %s\n", counts[k], k)
		if ex := examples[k]; ex != "" {
			fmt.Fprintf(w, "           e.g. %s\n", ex)
		}
	}
}
