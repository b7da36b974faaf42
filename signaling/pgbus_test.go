package signaling

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"guidecall/internal/db/dbtest"
	"guidecall/protocol"
)

// TestPostgresBus runs the bus cases in parallel, each on its own schema,
// then checks that Stop left no goroutine behind. The parent is not
// parallel, so no other test is running when goleak looks.
func TestPostgresBus(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Run("cases", func(t *testing.T) {
		t.Run("EveryNodeGetsEveryMessage", testBusEveryNode)
		t.Run("LargeFrameByTable", testBusLargeFrame)
		t.Run("OrderOf100", testBusOrder)
		t.Run("ConcurrentPublishersOneOrder", testBusConcurrentPublishers)
		t.Run("ReconnectCatchesUp", testBusReconnectCatchesUp)
		t.Run("ReconnectRace", testBusReconnectRace)
		t.Run("NoReplayOnStart", testBusNoReplay)
		t.Run("Lifecycle", testBusLifecycle)
		t.Run("Janitor", testBusJanitor)
		t.Run("Targeted", testBusTargeted)
	})
	goleak.VerifyNone(t, opt)
}

type busMsg struct {
	to    Address
	frame string
}

// recorder is a node's hub: it keeps every frame delivered to it.
type recorder struct {
	mu      sync.Mutex
	got     []busMsg
	changed chan struct{}
	// down, when set, counts in gotWhileDown the frames delivered while
	// it holds: a test that holds a listener down checks afterwards that
	// nothing came meanwhile, instead of sleeping and looking.
	down         *atomic.Bool
	gotWhileDown int
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{}, 1)} }

func (r *recorder) deliver(to Address, frame []byte) {
	r.mu.Lock()
	r.got = append(r.got, busMsg{to, string(frame)})
	if r.down != nil && r.down.Load() {
		r.gotWhileDown++
	}
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) snapshot() []busMsg {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]busMsg(nil), r.got...)
}

// waitN waits until at least n frames arrived and returns them all.
func (r *recorder) waitN(t *testing.T, n int, within time.Duration) []busMsg {
	t.Helper()
	deadline := time.After(within)
	for {
		if got := r.snapshot(); len(got) >= n {
			return got
		}
		select {
		case <-r.changed:
		case <-deadline:
			t.Fatalf("got %d frames within %v, want %d", len(r.snapshot()), within, n)
		}
	}
}

// lastFrame is what drain publishes after everything else.
const lastFrame = `{"type":"last"}`

// drain publishes one frame from b after everything a test published and
// waits until every node has delivered it. The bus delivers in publish
// order, so a frame that could still come (a duplicate, a replay) comes
// before it: what each node got before it, returned here, is all it
// gets. It replaces sleeping and then counting.
func drain(t *testing.T, b *PostgresBus, nodes ...*node) [][]busMsg {
	t.Helper()
	to := Address{Role: protocol.RoleGuide, ID: "last"}
	publish(t, b, to, lastFrame)
	out := make([][]busMsg, len(nodes))
	for i, n := range nodes {
		deadline := time.After(10 * time.Second)
		for out[i] == nil {
			got := n.rec.snapshot()
			for j, m := range got {
				if m.frame != lastFrame {
					continue
				}
				if m.to != to || j != len(got)-1 {
					t.Fatalf("node %d: %v after the last frame", i, got[j:])
				}
				out[i] = got[:j:j]
			}
			if out[i] != nil {
				break
			}
			select {
			case <-n.rec.changed:
			case <-deadline:
				t.Fatalf("node %d: the last frame did not come within 10s; got %d frames", i, len(got))
			}
		}
	}
	return out
}

// node is one guidecall node's bus and what it delivered.
type node struct {
	bus *PostgresBus
	rec *recorder
}

// busEnv is a schema shared by several nodes, each with its own pool.
type busEnv struct {
	pool *pgxpool.Pool
	url  string
	log  *slog.Logger
}

func newBusEnv(t *testing.T) *busEnv {
	t.Helper()
	pool, url := dbtest.NewSchema(t)
	return &busEnv{
		pool: pool,
		url:  url,
		log:  slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

// newNode makes a node on its own pool; start it with start.
func (env *busEnv) newNode(t *testing.T) *node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, env.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	n := &node{bus: NewPostgresBus(pool, env.log), rec: newRecorder()}
	n.bus.Subscribe(n.rec.deliver)
	t.Cleanup(n.bus.Stop) // runs before pool.Close
	return n
}

func (n *node) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.bus.Start(ctx); err != nil {
		t.Fatal(err)
	}
}

func (env *busEnv) startedNodes(t *testing.T, count int) []*node {
	nodes := make([]*node, count)
	for i := range nodes {
		nodes[i] = env.newNode(t)
		nodes[i].start(t)
	}
	return nodes
}

func publish(t *testing.T, b *PostgresBus, to Address, frame string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Publish(ctx, to, []byte(frame)); err != nil {
		t.Fatal(err)
	}
}

// seqFrame is frame i, padded to size bytes when size is larger.
func seqFrame(i, size int) string {
	f := fmt.Sprintf(`{"type":"test","seq":%d,"pad":"`, i)
	if pad := size - len(f) - 2; pad > 0 {
		f += strings.Repeat("x", pad)
	}
	return f + `"}`
}

// checkSeq checks that got is exactly frames 0..n-1 for to, in order.
func checkSeq(t *testing.T, who string, got []busMsg, to Address, n int, sizeOf func(int) int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("%s: got %d frames, want %d", who, len(got), n)
	}
	for i, m := range got {
		if m.to != to || m.frame != seqFrame(i, sizeOf(i)) {
			t.Fatalf("%s: frame %d is %v %.60q, want seq %d", who, i, m.to, m.frame, i)
		}
	}
}

var (
	shopper = Address{Role: protocol.RoleShopper, ID: "ent_1"}
	guide   = Address{Role: protocol.RoleGuide, ID: "acc_1"}
)

func testBusEveryNode(t *testing.T) {
	t.Parallel()
	env := newBusEnv(t)
	nodes := env.startedNodes(t, 2)
	a, b := nodes[0], nodes[1]

	publish(t, a.bus, shopper, `{"type":"hello"}`)
	publish(t, b.bus, guide, `{"type":"offer"}`)
	want := []busMsg{{shopper, `{"type":"hello"}`}, {guide, `{"type":"offer"}`}}
	for name, n := range map[string]*node{"A": a, "B": b} {
		got := n.rec.waitN(t, 2, 10*time.Second)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("node %s got %v, want %v", name, got, want)
		}
	}
	for i, got := range drain(t, a.bus, a, b) {
		if len(got) != 2 {
			t.Errorf("node %d got %d frames in the end, want 2 (no duplicates)", i, len(got))
		}
	}
}

func testBusLargeFrame(t *testing.T) {
	t.Parallel()
	env := newBusEnv(t)
	nodes := env.startedNodes(t, 2)
	a, b := nodes[0], nodes[1]

	large := seqFrame(0, 20<<10)
	binary := "\x00\xff\xfe not text"
	if inlineSuffix(guide, []byte(large)) != "" || inlineSuffix(guide, []byte(binary)) != "" {
		t.Fatal("a 20 KiB or binary frame would be inlined in the notification")
	}
	publish(t, a.bus, guide, large)
	publish(t, a.bus, guide, binary)
	publish(t, a.bus, guide, "small")
	got := b.rec.waitN(t, 3, 10*time.Second)
	want := []busMsg{{guide, large}, {guide, binary}, {guide, "small"}}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("frame %d: %v %d bytes, want %v %d bytes", i, got[i].to, len(got[i].frame), want[i].to, len(want[i].frame))
		}
	}
}

func TestBusPayload(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		to     Address
		frame  string
		inline bool
	}{
		{"small", shopper, `{"type":"x"}`, true},
		{"empty", shopper, ``, true},
		{"with newlines", shopper, "a\nb\nc", true},
		{"at limit", shopper, strings.Repeat("a", maxInline-3-len("shopper")-len("ent_1")), true},
		{"over limit", shopper, strings.Repeat("a", maxInline-2-len("shopper")-len("ent_1")), false},
		{"invalid utf-8", shopper, "\xff", false},
		{"nul", shopper, "a\x00b", false},
		{"newline in id", Address{protocol.RoleGuide, "a\nb"}, "x", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sfx := inlineSuffix(tc.to, []byte(tc.frame))
			if (sfx != "") != tc.inline {
				t.Fatalf("inlined = %v, want %v", sfx != "", tc.inline)
			}
			id, to, frame, inline, err := parsePayload("42" + sfx)
			if err != nil || id != 42 || inline != tc.inline {
				t.Fatalf("parse: id %d inline %v err %v", id, inline, err)
			}
			if inline && (to != tc.to || !bytes.Equal(frame, []byte(tc.frame))) {
				t.Fatalf("parse: %v %q, want %v %q", to, frame, tc.to, tc.frame)
			}
			if len("9223372036854775807"+sfx) >= 8000 {
				t.Fatalf("payload of %d bytes would not fit NOTIFY", len(sfx))
			}
		})
	}
	for _, bad := range []string{"", "x", "1\nshopper"} {
		if _, _, _, _, err := parsePayload(bad); err == nil {
			t.Errorf("parsePayload(%q) accepted", bad)
		}
	}
}

func testBusOrder(t *testing.T) {
	t.Parallel()
	env := newBusEnv(t)
	nodes := env.startedNodes(t, 2)
	// Every seventh frame goes by the table, the rest inline.
	size := func(i int) int {
		if i%7 == 3 {
			return 9000
		}
		return 100
	}
	for i := range 100 {
		publish(t, nodes[0].bus, shopper, seqFrame(i, size(i)))
	}
	for _, n := range nodes {
		n.rec.waitN(t, 100, 15*time.Second)
	}
	got := drain(t, nodes[0].bus, nodes...)
	checkSeq(t, "A", got[0], shopper, 100, size)
	checkSeq(t, "B", got[1], shopper, 100, size)
}

// Concurrent publishers on two nodes: each node sees all messages once, in
// the same order, with every publisher's own order kept.
func testBusConcurrentPublishers(t *testing.T) {
	t.Parallel()
	env := newBusEnv(t)
	nodes := env.startedNodes(t, 2)
	const pubs, each = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, pubs)
	for p := range pubs {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			to := Address{Role: protocol.RoleGuide, ID: fmt.Sprint("p", p)}
			for i := range each {
				size := 50
				if i%5 == 0 {
					size = 8000
				}
				if err := nodes[p%2].bus.Publish(ctx, to, []byte(seqFrame(i, size))); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	nodes[0].rec.waitN(t, pubs*each, 15*time.Second)
	nodes[1].rec.waitN(t, pubs*each, 15*time.Second)
	got := drain(t, nodes[1].bus, nodes...)
	a, b := got[0], got[1]
	if len(a) != pubs*each || len(b) != pubs*each {
		t.Fatalf("A got %d, B got %d, want %d each", len(a), len(b), pubs*each)
	}
	next := map[string]int{}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("nodes disagree at %d: %v vs %v", i, a[i].to, b[i].to)
		}
		want := seqFrame(next[a[i].to.ID], len(a[i].frame))
		if a[i].frame != want {
			t.Fatalf("publisher %s: frame %.40q out of order, want seq %d", a[i].to.ID, a[i].frame, next[a[i].to.ID])
		}
		next[a[i].to.ID]++
	}
}

// The listener of node B is killed and held down while A publishes; when it
// is let back, B gets everything it missed, in order and once.
func testBusReconnectCatchesUp(t *testing.T) {
	t.Parallel()
	env := newBusEnv(t)
	a := env.newNode(t)
	a.start(t)
	b := env.newNode(t)
	b.rec.down = new(atomic.Bool)
	down := make(chan struct{}, 1)
	release := make(chan struct{})
	b.bus.testHookReconnect = func() {
		select {
		case down <- struct{}{}:
		default:
		}
		<-release
	}
	b.start(t)
	var once sync.Once
	letBack := func() {
		once.Do(func() {
			b.rec.down.Store(false)
			close(release)
		})
	}
	t.Cleanup(letBack) // before Stop, which would wait for the hook

	size := func(i int) int {
		if i%4 == 1 {
			return 12000
		}
		return 80
	}
	publish(t, a.bus, shopper, seqFrame(0, size(0)))
	b.rec.waitN(t, 1, 10*time.Second)

	oldPID := b.bus.listenerPID()
	b.rec.down.Store(true)
	terminate(t, env.pool, oldPID)
	select {
	case <-down:
	case <-time.After(10 * time.Second):
		t.Fatal("listener did not notice its backend was terminated")
	}
	if pid := b.bus.listenerPID(); pid != 0 {
		t.Fatalf("listener pid %d while down", pid)
	}
	for i := 1; i <= 30; i++ {
		publish(t, a.bus, shopper, seqFrame(i, size(i)))
	}
	a.rec.waitN(t, 31, 10*time.Second)
	checkBacklog(t, b.bus, 30)
	checkBacklog(t, a.bus, 0)

	letBack()
	b.rec.waitN(t, 31, 10*time.Second)
	checkBacklog(t, b.bus, 0)
	newPID := b.bus.listenerPID()
	if newPID == 0 || newPID == oldPID {
		t.Errorf("listener pid %d after reconnect (was %d)", newPID, oldPID)
	}
	// Live again, and nothing comes twice.
	publish(t, a.bus, shopper, seqFrame(31, size(31)))
	b.rec.waitN(t, 32, 10*time.Second)
	got := drain(t, a.bus, a, b)
	checkSeq(t, "B", got[1], shopper, 32, size)
	checkSeq(t, "A", got[0], shopper, 32, size)
	b.rec.mu.Lock()
	whileDown := b.rec.gotWhileDown
	b.rec.mu.Unlock()
	if whileDown != 0 {
		t.Fatalf("B delivered %d frames while its listener was down", whileDown)
	}
}

// Without holding the listener down: publishing right after the kill,
// while the listener may still be noticing or already reconnecting,
// still delivers every frame exactly once.
func testBusReconnectRace(t *testing.T) {
	t.Parallel()
	env := newBusEnv(t)
	nodes := env.startedNodes(t, 2)
	a, b := nodes[0], nodes[1]
	size := func(i int) int {
		if i%3 == 0 {
			return 9000
		}
		return 60
	}
	n := 0
	for round := range 3 {
		terminate(t, env.pool, b.bus.listenerPID())
		for range 10 {
			publish(t, a.bus, guide, seqFrame(n, size(n)))
			n++
			time.Sleep(time.Duration(round*5) * time.Millisecond)
		}
		b.rec.waitN(t, n, 15*time.Second)
		// Wait for it to be up again before the next kill.
		deadline := time.Now().Add(10 * time.Second)
		for b.bus.listenerPID() == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	checkSeq(t, "B", drain(t, a.bus, b)[0], guide, n, size)
}

func terminate(t *testing.T, pool *pgxpool.Pool, pid uint32) {
	t.Helper()
	if pid == 0 {
		t.Fatal("listener has no backend")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var ok bool
	if err := pool.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, pid).Scan(&ok); err != nil || !ok {
		t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, ok, err)
	}
}

func testBusNoReplay(t *testing.T) {
	t.Parallel()
	env := newBusEnv(t)
	a := env.newNode(t) // publishing needs no Start
	for i := range 3 {
		publish(t, a.bus, shopper, seqFrame(i, 10))
	}
	b := env.newNode(t)
	b.start(t)
	publish(t, a.bus, shopper, "after start")
	if got := drain(t, a.bus, b)[0]; len(got) != 1 || got[0].frame != "after start" {
		t.Errorf("new node got %v, want only the frame published after Start", got)
	}
	if got := a.rec.snapshot(); len(got) != 0 {
		t.Errorf("a node that never started delivered %v", got)
	}
}

func testBusLifecycle(t *testing.T) {
	t.Parallel()
	env := newBusEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	n := env.newNode(t)
	n.start(t)
	if err := n.bus.Start(ctx); err == nil {
		t.Error("second Start succeeded")
	}
	n.bus.Stop()
	n.bus.Stop()
	if err := n.bus.Start(ctx); err == nil {
		t.Error("Start after Stop succeeded")
	}

	never := env.newNode(t)
	never.bus.Stop() // before Start: nothing to wait for

	closed, err := pgxpool.New(ctx, env.url)
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	bad := NewPostgresBus(closed, env.log)
	if err := bad.Start(ctx); err == nil {
		t.Error("Start on a closed pool succeeded")
	}
	bad.Stop()
}

func testBusJanitor(t *testing.T) {
	t.Parallel()
	env := newBusEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := env.pool.Exec(ctx, `INSERT INTO bus_messages (to_role, to_id, frame, created_at)
		SELECT 'shopper', 'e', 'old', now() - interval '3 minutes' FROM generate_series(1, 10)`); err != nil {
		t.Fatal(err)
	}
	publish(t, NewPostgresBus(env.pool, env.log), shopper, "fresh")

	pc, err := env.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l := &listener{bus: NewPostgresBus(env.pool, env.log), conn: pc.Hijack()}
	defer l.disconnect()
	if err := l.sweep(ctx); err != nil {
		t.Fatal(err)
	}
	var frames []string
	rows, err := env.pool.Query(ctx, `SELECT convert_from(frame, 'UTF8') FROM bus_messages ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			t.Fatal(err)
		}
		frames = append(frames, f)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(frames) != "[fresh]" {
		t.Errorf("after the janitor: %v, want [fresh]", frames)
	}
}

// checkBacklog checks the bus's undelivered rows, and that the NOTIFY
// queue usage reads as a fraction.
func checkBacklog(t *testing.T, b *PostgresBus, undelivered int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := b.Backlog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Undelivered != undelivered || got.NotifyQueueUsage < 0 || got.NotifyQueueUsage > 1 {
		t.Fatalf("backlog %+v, want %d undelivered and a usage in [0, 1]", got, undelivered)
	}
}
