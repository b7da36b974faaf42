package queue_test

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"guidecall/internal/db/dbtest"
	"guidecall/queue"
)

// TestAdvisoryElector runs its cases in parallel, each on its own schema
// and lock key, and then checks that no elector goroutine outlived them.
// The parent is not parallel, so no other test's goroutines are running
// when goleak looks.
func TestAdvisoryElector(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Run("cases", func(t *testing.T) {
		t.Run("ExactlyOneLeads", testElectorExactlyOne)
		t.Run("CancelHandsOver", testElectorCancelHandsOver)
		t.Run("KilledBackendHandsOver", testElectorKilledBackend)
		t.Run("LeadEndsWithContext", testElectorLeadEndsWithContext)
	})
	goleak.VerifyNone(t, opt)
}

// electorEnv is two nodes competing for one random key.
type electorEnv struct {
	admin  *pgxpool.Pool // the test's own connections
	key    int64
	e1, e2 *queue.AdvisoryElector
	// refused[n] receives each of node n's attempts that found the lock
	// held by the other.
	refused map[int]chan struct{}
}

// refusalCounter passes records on and signals each refused attempt.
type refusalCounter struct {
	slog.Handler
	refused chan struct{}
}

func (h refusalCounter) Enabled(context.Context, slog.Level) bool { return true }

func (h refusalCounter) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "matcher lock held by another node; standing by" {
		select {
		case h.refused <- struct{}{}:
		default:
		}
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h refusalCounter) WithAttrs(as []slog.Attr) slog.Handler {
	return refusalCounter{Handler: h.Handler.WithAttrs(as), refused: h.refused}
}

func (h refusalCounter) WithGroup(name string) slog.Handler {
	return refusalCounter{Handler: h.Handler.WithGroup(name), refused: h.refused}
}

// standby waits until the node that did not lead has been refused the
// lock twice since the leader took it, then checks it has not led: an
// attempt after the leader's is the later event that must come if it
// keeps standing by.
func (env *electorEnv) standby(t *testing.T, leader int, ch <-chan leadResult) {
	t.Helper()
	other := 3 - leader
	for range len(env.refused[other]) { // refusals from before the lead
		<-env.refused[other]
	}
	for i := range 2 {
		select {
		case <-env.refused[other]:
		case r := <-ch:
			t.Fatalf("node %d also leads (err %v)", r.node, r.err)
		case <-time.After(10 * time.Second):
			t.Fatalf("node %d made no attempt %d within 10s", other, i+1)
		}
	}
	select {
	case r := <-ch:
		t.Fatalf("node %d also leads (err %v)", r.node, r.err)
	default:
	}
}

func newElectorEnv(t *testing.T) *electorEnv {
	t.Helper()
	pool, url := dbtest.NewSchema(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool2, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool2.Close)
	// Advisory locks are per database, not per schema.
	key := rand.Int64N(1<<62) + 1
	text := slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})
	refused := map[int]chan struct{}{1: make(chan struct{}, 64), 2: make(chan struct{}, 64)}
	logFor := func(node int) *slog.Logger {
		return slog.New(refusalCounter{Handler: text, refused: refused[node]}).With("node", node)
	}
	return &electorEnv{
		admin:   pool,
		key:     key,
		e1:      queue.NewAdvisoryElector(pool, key, logFor(1)),
		e2:      queue.NewAdvisoryElector(pool2, key, logFor(2)),
		refused: refused,
	}
}

// holders lists the backends holding the env's key.
func (env *electorEnv) holders(t *testing.T) []uint32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// A bigint key is split into classid (high half) and objid (low half).
	rows, err := env.admin.Query(ctx, `SELECT pid FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND objsubid = 1
		AND classid::bigint = $1 AND objid::bigint = $2`,
		env.key>>32, env.key&0xffffffff)
	if err != nil {
		t.Fatal(err)
	}
	var pids []uint32
	for rows.Next() {
		var pid uint32
		if err := rows.Scan(&pid); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return pids
}

type leadResult struct {
	node int
	ctx  context.Context
	err  error
	at   time.Time
}

// compete runs Lead on both electors and reports each result on the
// returned channel. Cancel the parents to end both.
func (env *electorEnv) compete(parent1, parent2 context.Context) <-chan leadResult {
	ch := make(chan leadResult, 2)
	for i, p := range []struct {
		e   *queue.AdvisoryElector
		ctx context.Context
	}{{env.e1, parent1}, {env.e2, parent2}} {
		go func() {
			lctx, err := p.e.Lead(p.ctx)
			ch <- leadResult{node: i + 1, ctx: lctx, err: err, at: time.Now()}
		}()
	}
	return ch
}

func recvLead(t *testing.T, ch <-chan leadResult, within time.Duration) leadResult {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("node %d: Lead: %v", r.node, r.err)
		}
		return r
	case <-time.After(within):
		t.Fatalf("nobody led within %v", within)
		return leadResult{}
	}
}

func testElectorExactlyOne(t *testing.T) {
	t.Parallel()
	env := newElectorEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := env.compete(ctx, ctx)
	first := recvLead(t, ch, 5*time.Second)
	if first.ctx.Err() != nil {
		t.Fatalf("leader's context already done: %v", first.ctx.Err())
	}
	env.standby(t, first.node, ch)
	if h := env.holders(t); len(h) != 1 {
		t.Fatalf("lock holders %v, want exactly one", h)
	}
	cancel()
	r := <-ch
	if !errors.Is(r.err, context.Canceled) {
		t.Errorf("standby's Lead after cancel: %v, want context.Canceled", r.err)
	}
	waitNoHolders(t, env)
}

func testElectorCancelHandsOver(t *testing.T) {
	t.Parallel()
	env := newElectorEnv(t)
	ctx1, cancel1 := context.WithCancel(context.Background())
	defer cancel1()
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	ch := env.compete(ctx1, ctx2)
	first := recvLead(t, ch, 5*time.Second)
	cancelLeader := map[int]context.CancelFunc{1: cancel1, 2: cancel2}[first.node]
	// Let the standby be refused, so that what is measured is a handover
	// and not its first attempt.
	env.standby(t, first.node, ch)

	start := time.Now()
	cancelLeader()
	select {
	case <-first.ctx.Done():
	case <-time.After(time.Second):
		t.Fatal("leader's context not canceled with its parent")
	}
	second := recvLead(t, ch, 3*time.Second)
	took := second.at.Sub(start)
	t.Logf("graceful handover: node %d -> node %d in %v", first.node, second.node, took)
	if second.node == first.node {
		t.Fatalf("node %d led twice", first.node)
	}
	if second.ctx.Err() != nil {
		t.Fatalf("new leader's context done: %v", second.ctx.Err())
	}
	if h := env.holders(t); len(h) != 1 {
		t.Errorf("lock holders %v after handover, want one", h)
	}
	cancel1()
	cancel2()
	waitNoHolders(t, env)
}

func testElectorKilledBackend(t *testing.T) {
	t.Parallel()
	env := newElectorEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := env.compete(ctx, ctx)
	first := recvLead(t, ch, 5*time.Second)
	env.standby(t, first.node, ch) // the standby is polling by now
	h := env.holders(t)
	if len(h) != 1 {
		t.Fatalf("lock holders %v, want one", h)
	}

	// What SIGKILL of the leader's process looks like to Postgres: its
	// session ends and the lock goes with it.
	start := time.Now()
	tctx, tcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer tcancel()
	if _, err := env.admin.Exec(tctx, `SELECT pg_terminate_backend($1)`, h[0]); err != nil {
		t.Fatal(err)
	}
	second := recvLead(t, ch, 5*time.Second)
	takeover := second.at.Sub(start)
	if second.node == first.node {
		t.Fatalf("node %d led twice", first.node)
	}
	select {
	case <-first.ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("old leader's context still live 5s after its backend was killed")
	}
	noticed := time.Since(start)
	if cause := context.Cause(first.ctx); errors.Is(cause, context.Canceled) {
		t.Errorf("old leader's cause = %v, want a connection error", cause)
	}
	t.Logf("killed backend: node %d took over in %v; old leader %d noticed within %v",
		second.node, takeover, first.node, noticed)
	if h2 := env.holders(t); len(h2) != 1 || h2[0] == h[0] {
		t.Errorf("lock holders %v after takeover (old %v)", h2, h)
	}
	cancel()
	waitNoHolders(t, env)
}

func testElectorLeadEndsWithContext(t *testing.T) {
	t.Parallel()
	env := newElectorEnv(t)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := env.e1.Lead(done); !errors.Is(err, context.Canceled) {
		t.Errorf("Lead on a canceled context: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lctx, err := env.e1.Lead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancelShort()
	if _, err := env.e2.Lead(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lead while another leads: %v, want DeadlineExceeded", err)
	}
	if lctx.Err() != nil {
		t.Errorf("leader's context ended: %v", lctx.Err())
	}
	cancel()
	waitNoHolders(t, env)
}

// waitNoHolders checks that resigning gave the lock back.
func waitNoHolders(t *testing.T, env *electorEnv) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h := env.holders(t)
		if len(h) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lock still held by %v after every elector stopped", h)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
