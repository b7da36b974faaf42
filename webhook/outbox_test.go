package webhook_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"guidecall/internal/db"
	"guidecall/internal/db/dbtest"
	"guidecall/webhook"
)

var secret = []byte("outbox-test-secret")

// receiver verifies each POST with secret and answers what its script
// says for that delivery's body.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	fail     map[string]int // body -> failures left (-1: always)
	hits     map[string]int // body -> attempts
	accepted map[string]int // body -> 2xx answers
	refused  map[string]int // body -> bad signatures
	at       map[string]time.Time
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{fail: map[string]int{}, hits: map[string]int{}, accepted: map[string]int{},
		refused: map[string]int{}, at: map[string]time.Time{}}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	body := string(b)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hits[body]++
	if _, ok := r.at[body]; !ok {
		r.at[body] = time.Now()
	}
	if err := webhook.Verify(secret, req.Header.Get("X-Test-Signature"), b, time.Now(), webhook.DefaultTolerance); err != nil {
		r.refused[body]++
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if left := r.fail[body]; left != 0 {
		r.fail[body] = left - 1
		http.Error(w, "down", http.StatusInternalServerError)
		return
	}
	r.accepted[body]++
}

func (r *receiver) count(m map[string]int, body string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return m[body]
}

// waitFor waits, bounded, until cond holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// logSink records log lines by message, so a test can wait for "given up".
type logSink struct {
	mu   sync.Mutex
	msgs map[string]int
}

func (l *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (l *logSink) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs[r.Message]++
	l.mu.Unlock()
	return nil
}
func (l *logSink) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logSink) WithGroup(string) slog.Handler      { return l }
func (l *logSink) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.msgs[msg]
}

type outboxUnderTest struct {
	webhook.Outbox
	// enqueueTx enqueues inside a transaction that commits when commit is
	// true; nil where the outbox has no transactions.
	enqueueTx func(t *testing.T, d webhook.Delivery, commit bool)
}

func delivery(r *receiver, id, body string) webhook.Delivery {
	return webhook.Delivery{ID: id, URL: r.URL, Body: []byte(body), Key: "test", Attrs: []any{"test", true}}
}

func runOutboxSuite(t *testing.T, newOutbox func(t *testing.T, cfg webhook.Config) outboxUnderTest) {
	ctx := context.Background()
	cfg := func(logs *logSink, schedule ...time.Duration) webhook.Config {
		return webhook.Config{
			Schedule: schedule,
			Keys:     map[string]webhook.Key{"test": {Header: "X-Test-Signature", Secret: secret}},
			Logger:   slog.New(logs),
		}
	}
	newLogs := func() *logSink { return &logSink{msgs: map[string]int{}} }

	t.Run("RetriedAfter500", func(t *testing.T) {
		r := newReceiver(t)
		o := newOutbox(t, cfg(newLogs(), 10*time.Millisecond, 10*time.Millisecond, 10*time.Millisecond))
		r.mu.Lock()
		r.fail["a"] = 2
		r.mu.Unlock()
		if err := o.Enqueue(ctx, delivery(r, "d_a", "a")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "delivery after two 500s", func() bool { return r.count(r.accepted, "a") == 1 })
		if n := r.count(r.hits, "a"); n != 3 {
			t.Fatalf("%d attempts, want 3 (two 500s, then 200)", n)
		}
	})

	t.Run("GivenUpAfterSchedule", func(t *testing.T) {
		r := newReceiver(t)
		logs := newLogs()
		o := newOutbox(t, cfg(logs, 10*time.Millisecond, 10*time.Millisecond))
		r.mu.Lock()
		r.fail["b"] = -1
		r.mu.Unlock()
		if err := o.Enqueue(ctx, delivery(r, "d_b", "b")); err != nil {
			t.Fatal(err)
		}
		// The give-up is logged after the last attempt's answer, so no
		// attempt can follow it.
		waitFor(t, "give-up", func() bool { return logs.count("webhook given up") == 1 })
		if n := r.count(r.hits, "b"); n != 3 {
			t.Fatalf("%d attempts before giving up, want 3 (a schedule of two retries)", n)
		}
	})

	t.Run("DedupByID", func(t *testing.T) {
		r := newReceiver(t)
		o := newOutbox(t, cfg(newLogs(), 10*time.Millisecond))
		for range 3 {
			if err := o.Enqueue(ctx, delivery(r, "d_c", "c")); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "first delivery", func() bool { return r.count(r.accepted, "c") == 1 })
		// Enqueued after the delivery, a repeat is still dropped; the
		// barrier, enqueued behind it, is delivered after it would have been.
		if err := o.Enqueue(ctx, delivery(r, "d_c", "c")); err != nil {
			t.Fatal(err)
		}
		barrier := delivery(r, "d_barrier", "barrier")
		barrier.Delay = 100 * time.Millisecond
		if err := o.Enqueue(ctx, barrier); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "barrier", func() bool { return r.count(r.accepted, "barrier") == 1 })
		if n := r.count(r.hits, "c"); n != 1 {
			t.Fatalf("delivery d_c POSTed %d times, want once", n)
		}
	})

	t.Run("BadSignatureRefused", func(t *testing.T) {
		r := newReceiver(t)
		logs := newLogs()
		c := cfg(logs, 10*time.Millisecond)
		c.Keys["forged"] = webhook.Key{Header: "X-Test-Signature", Secret: []byte("not the secret")}
		o := newOutbox(t, c)
		forged := delivery(r, "d_forged", "forged")
		forged.Key = "forged"
		if err := o.Enqueue(ctx, forged); err != nil {
			t.Fatal(err)
		}
		unsigned := delivery(r, "d_unsigned", "unsigned")
		unsigned.Key = ""
		if err := o.Enqueue(ctx, unsigned); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "both given up", func() bool { return logs.count("webhook given up") == 2 })
		for _, b := range []string{"forged", "unsigned"} {
			if r.count(r.accepted, b) != 0 || r.count(r.refused, b) != 2 {
				t.Fatalf("%s: accepted %d, refused %d; want refused twice, never accepted", b, r.count(r.accepted, b), r.count(r.refused, b))
			}
		}
	})

	t.Run("Delay", func(t *testing.T) {
		r := newReceiver(t)
		o := newOutbox(t, cfg(newLogs()))
		d := delivery(r, "d_late", "late")
		d.Delay = 300 * time.Millisecond
		start := time.Now()
		if err := o.Enqueue(ctx, d); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "delayed delivery", func() bool { return r.count(r.accepted, "late") == 1 })
		r.mu.Lock()
		at := r.at["late"]
		r.mu.Unlock()
		if at.Sub(start) < d.Delay {
			t.Fatalf("first attempt %s after Enqueue, want at least %s", at.Sub(start), d.Delay)
		}
	})

	t.Run("InvalidRefused", func(t *testing.T) {
		o := newOutbox(t, cfg(newLogs()))
		for _, d := range []webhook.Delivery{{URL: "http://x/"}, {ID: "d", URL: "/relative"}, {ID: "d", URL: "ftp://x/"}} {
			if err := o.Enqueue(ctx, d); err == nil {
				t.Fatalf("Enqueue(%+v) accepted", d)
			}
		}
	})

	t.Run("EnqueueTxCommitsWithTheTransaction", func(t *testing.T) {
		o := newOutbox(t, cfg(newLogs()))
		if o.enqueueTx == nil {
			t.Skip("this outbox has no transactions")
		}
		r := newReceiver(t)
		o.enqueueTx(t, delivery(r, "d_rolled_back", "rolled back"), false)
		o.enqueueTx(t, delivery(r, "d_committed", "committed"), true)
		barrier := delivery(r, "d_barrier", "barrier")
		barrier.Delay = 100 * time.Millisecond
		o.enqueueTx(t, barrier, true)
		waitFor(t, "committed and barrier", func() bool {
			return r.count(r.accepted, "committed") == 1 && r.count(r.accepted, "barrier") == 1
		})
		if n := r.count(r.hits, "rolled back"); n != 0 {
			t.Fatalf("a delivery whose transaction rolled back was POSTed %d times", n)
		}
	})
}

func TestMemoryOutbox(t *testing.T) {
	runOutboxSuite(t, func(t *testing.T, cfg webhook.Config) outboxUnderTest {
		o := webhook.NewMemoryOutbox(webhook.MemoryConfig{Config: cfg})
		if err := o.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(o.Stop)
		return outboxUnderTest{Outbox: o}
	})
}

func TestRiverOutbox(t *testing.T) {
	dbtest.URL(t)
	runOutboxSuite(t, func(t *testing.T, cfg webhook.Config) outboxUnderTest {
		ctx := context.Background()
		pool, _ := dbtest.NewSchema(t)
		schema := dbtest.SchemaName(t, pool)
		o, err := webhook.NewRiverOutbox(pool, schema, cfg)
		if err != nil {
			t.Fatal(err)
		}
		workers := river.NewWorkers()
		o.AddWorker(workers)
		jobs, err := db.NewJobs(ctx, pool, db.JobsConfig{Workers: workers, FetchPollInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := jobs.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(jobs.Stop)
		return outboxUnderTest{Outbox: o, enqueueTx: func(t *testing.T, d webhook.Delivery, commit bool) {
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := o.EnqueueTx(ctx, tx, d); err != nil {
				t.Fatal(err)
			}
			end := tx.Rollback
			if commit {
				end = tx.Commit
			}
			if err := end(ctx); err != nil && err != pgx.ErrTxClosed {
				t.Fatal(err)
			}
		}}
	})
}

func TestMemoryOutboxStop(t *testing.T) {
	o := webhook.NewMemoryOutbox(webhook.MemoryConfig{})
	o.Stop()
	o.Stop()
	if err := o.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("Start after Stop: %v", err)
	}
}
