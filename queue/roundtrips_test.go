package queue_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"guidecall/internal/db/dbtest"
	"guidecall/queue"
)

// roundTrips counts what a pool sends PostgreSQL: each query outside a
// batch is one round trip (BEGIN and COMMIT included), each batch is one
// however many statements it carries, and each statement prepared for the
// cache is one more.
type roundTrips struct {
	queries, batches, prepares atomic.Int64
}

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.queries.Add(1)
	return ctx
}
func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.batches.Add(1)
	return ctx
}
func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}
func (r *roundTrips) TracePrepareStart(ctx context.Context, _ *pgx.Conn, _ pgx.TracePrepareStartData) context.Context {
	r.prepares.Add(1)
	return ctx
}
func (r *roundTrips) TracePrepareEnd(context.Context, *pgx.Conn, pgx.TracePrepareEndData) {}

func (r *roundTrips) total() int64 { return r.queries.Load() + r.batches.Load() + r.prepares.Load() }

// TestPostgresCallRoundTrips counts the round trips each step of one call
// costs the PostgreSQL store, on a pool of one connection whose statements
// were prepared by an earlier call, and holds each step to the count it
// has now (docs/PERFORMANCE.md): a change that adds a round trip to the
// call path has to say so here. Merchant webhooks (app's TxHook) and the
// bus are not part of it.
func TestPostgresCallRoundTrips(t *testing.T) {
	t.Parallel()
	_, url := dbtest.NewSchema(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	rt := &roundTrips{}
	cfg.ConnConfig.Tracer = rt
	cfg.MaxConns = 1 // one connection, so the warm-up call prepared every statement
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	clock := &fakeClock{t: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)}
	svc, err := queue.NewService(queue.Config{
		Store: queue.NewPostgresStore(pool), Now: clock.Now, Logger: slog.New(slog.DiscardHandler),
		OfferTimeout: offerTimeout, ReconnectGrace: grace, StaleAfter: 24 * time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Stop)
	if _, _, err := svc.GuideConnected(ctx, "g_1", "Guide", "ws-g"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetPresence(ctx, "g_1", queue.GuideAvailable); err != nil {
		t.Fatal(err)
	}

	// want is each step's round trips now; a step may cost less.
	want := map[string]int64{
		"join": 2, "connect": 8, "match pass (offer)": 20, "accept": 4,
		"first sdp (signaled)": 4, "connected": 4, "connected (other side)": 4, "end": 5,
	}
	order := []string{"join", "connect", "match pass (offer)", "accept", "first sdp (signaled)", "connected", "connected (other side)", "end"}
	for round := range 2 {
		got := map[string]int64{}
		step := func(name string, f func() error) {
			t.Helper()
			before := rt.total()
			if err := f(); err != nil {
				t.Fatalf("round %d: %s: %v", round, name, err)
			}
			got[name] = rt.total() - before
		}
		var e queue.Entry
		var callID string
		step("join", func() (err error) {
			e, err = svc.Join(ctx, queue.JoinParams{Queue: queue.DefaultQueue, Currency: "EUR"})
			return err
		})
		step("connect", func() error {
			_, _, err := svc.ShopperConnected(ctx, e.ID, "ws-"+e.ID)
			return err
		})
		step("match pass (offer)", func() error { return svc.Tick(ctx) })
		offered, err := svc.Entry(ctx, e.ID)
		if err != nil || offered.State != queue.EntryOffered {
			t.Fatalf("round %d: entry %s, %v; want offered", round, offered.State, err)
		}
		callID = offered.CallID
		step("accept", func() error { _, err := svc.Accept(ctx, "g_1", callID); return err })
		step("first sdp (signaled)", func() error { svc.Signaled(ctx, callID); return nil })
		step("connected", func() error { _, err := svc.Connected(ctx, queue.PartyGuide, "g_1", callID); return err })
		step("connected (other side)", func() error {
			_, err := svc.Connected(ctx, queue.PartyShopper, e.ID, callID)
			return err
		})
		step("end", func() error {
			_, err := svc.EndCall(ctx, queue.PartyGuide, "g_1", callID, queue.ReasonHangup)
			return err
		})
		if c, err := svc.CallRecord(ctx, callID); err != nil || c.State != queue.CallEnded {
			t.Fatalf("round %d: call %s, %v; want ended", round, c.State, err)
		}
		if round == 0 {
			continue // warm-up: statements prepared
		}
		var sum int64
		var line []string
		for _, name := range order {
			sum += got[name]
			line = append(line, name+" "+itoa(got[name]))
			if got[name] > want[name] {
				t.Errorf("%s: %d round trips, want at most %d", name, got[name], want[name])
			}
		}
		t.Logf("round trips per call: %d (%s)", sum, strings.Join(line, ", "))
	}
}

func itoa(n int64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// TestPostgresMatcherPassRoundTrips holds a matcher pass to a number of
// round trips that does not grow with the calls in progress: what it reads
// of every live call's parties it reads in one query per table.
func TestPostgresMatcherPassRoundTrips(t *testing.T) {
	t.Parallel()
	pass := func(t *testing.T, calls int) int64 {
		_, url := dbtest.NewSchema(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cfg, err := pgxpool.ParseConfig(url)
		if err != nil {
			t.Fatal(err)
		}
		rt := &roundTrips{}
		cfg.ConnConfig.Tracer = rt
		cfg.MaxConns = 1
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		clock := &fakeClock{t: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)}
		svc, err := queue.NewService(queue.Config{
			Store: queue.NewPostgresStore(pool), Now: clock.Now, Logger: slog.New(slog.DiscardHandler),
			OfferTimeout: offerTimeout, ReconnectGrace: grace, StaleAfter: 24 * time.Hour,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Stop()
		var entries []string
		for i := range calls {
			g := "g_" + itoa(int64(i))
			if _, _, err := svc.GuideConnected(ctx, g, "Guide", "ws-"+g); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.SetPresence(ctx, g, queue.GuideAvailable); err != nil {
				t.Fatal(err)
			}
			e, err := svc.Join(ctx, queue.JoinParams{Queue: queue.DefaultQueue, Currency: "EUR"})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := svc.ShopperConnected(ctx, e.ID, "ws-"+e.ID); err != nil {
				t.Fatal(err)
			}
			entries = append(entries, e.ID)
		}
		if err := svc.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		for _, id := range entries {
			e, err := svc.Entry(ctx, id)
			if err != nil || e.State != queue.EntryOffered {
				t.Fatalf("entry %s: %s, %v; want offered", id, e.State, err)
			}
			c, err := svc.CallRecord(ctx, e.CallID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Accept(ctx, c.GuideID, c.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Connected(ctx, queue.PartyShopper, id, c.ID); err != nil {
				t.Fatal(err)
			}
		}
		for range 2 { // the line is kept once two passes saw the same version
			if err := svc.Tick(ctx); err != nil {
				t.Fatal(err)
			}
		}
		before := rt.total()
		if err := svc.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		return rt.total() - before
	}
	one, five := pass(t, 1), pass(t, 5)
	t.Logf("matcher pass with every guide in a call: %d round trips with 1 call, %d with 5", one, five)
	if five != one {
		t.Errorf("a pass takes %d round trips with 5 live calls, %d with 1: want the same", five, one)
	}
}
