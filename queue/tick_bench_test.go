package queue_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"guidecall/queue"
)

// tickBench is a memory store holding a line of waiting shoppers and a set
// of online guides, and a Service over it on a clock that never moves (so
// nothing expires mid-benchmark). Nobody subscribes: the benchmark
// measures the matcher and the store, not delivery.
type tickBench struct {
	store *queue.MemoryStore
	svc   *queue.Service
}

var benchNow = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

// newTickBench builds the line directly in the store: waiting shoppers
// with open sockets, and guides that are online and either available or
// each in a connected call of their own.
func newTickBench(b *testing.B, waiting, guides int, busy bool) *tickBench {
	b.Helper()
	ctx := context.Background()
	st := queue.NewMemoryStore()
	svc, err := queue.NewService(queue.Config{
		Store: st, Logger: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return benchNow },
	})
	if err != nil {
		b.Fatal(err)
	}
	for i := range waiting {
		if _, err := st.EntryCreate(ctx, queue.Entry{
			ID: fmt.Sprintf("e_w%05d", i), Queue: "default", Locale: "en", Currency: "EUR",
			State: queue.EntryWaiting, JoinedAt: benchNow.Add(time.Duration(i-waiting) * time.Second),
			SocketID: "s", SeenAt: benchNow,
		}); err != nil {
			b.Fatal(err)
		}
	}
	for i := range guides {
		g := queue.Guide{
			ID: fmt.Sprintf("g_%03d", i), Name: "Guide", Status: queue.GuideAvailable, Online: true,
			SocketID: "s", SeenAt: benchNow, IdleSince: benchNow.Add(-time.Duration(i) * time.Minute),
		}
		if busy {
			// A connected call with its own shopper, who is out of line.
			e, err := st.EntryCreate(ctx, queue.Entry{
				ID: fmt.Sprintf("e_c%03d", i), Queue: "default", Locale: "en", Currency: "EUR",
				State: queue.EntryInCall, JoinedAt: benchNow.Add(-time.Hour), SocketID: "s", SeenAt: benchNow,
			})
			if err != nil {
				b.Fatal(err)
			}
			accepted := benchNow.Add(-time.Minute)
			c, err := st.CallCreate(ctx, queue.Call{
				ID: fmt.Sprintf("c_%03d", i), EntryID: e.ID, GuideID: g.ID, Queue: "default",
				State: queue.CallConnected, JoinedAt: e.JoinedAt, OfferedAt: accepted, AcceptedAt: &accepted,
				ConnectedAt: &accepted, OfferDeadline: accepted.Add(15 * time.Second),
			})
			if err != nil {
				b.Fatal(err)
			}
			g.CallIDs = []string{c.ID}
			if _, err := st.EntryUpdate(ctx, e.ID, func(e *queue.Entry) error { e.CallID = c.ID; return nil }); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := st.GuideUpsert(ctx, g); err != nil {
			b.Fatal(err)
		}
	}
	return &tickBench{store: st, svc: svc}
}

// BenchmarkTick times one matcher pass over the memory store.
//
// "busy": every guide is in a call, so the pass settles presence, calls
// and entries, finds nobody to offer to and tells no shopper anything new
// (the positions were sent by a warm-up pass). This is the cost the leader
// pays every 200 ms while the line waits.
//
// "offer": every guide is free, so the pass also makes one offer per
// guide. The line is rebuilt, untimed, before each pass.
func BenchmarkTick(b *testing.B) {
	const guides = 50
	for _, waiting := range []int{100, 1000} {
		b.Run(fmt.Sprintf("waiting=%d/guides=%d/busy", waiting, guides), func(b *testing.B) {
			tb := newTickBench(b, waiting, guides, true)
			ctx := context.Background()
			if err := tb.svc.Tick(ctx); err != nil { // positions go out once
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := tb.svc.Tick(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("waiting=%d/guides=%d/offer", waiting, guides), func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				tb := newTickBench(b, waiting, guides, false)
				b.StartTimer()
				if err := tb.svc.Tick(ctx); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if i == 0 {
					offered, err := tb.store.CallsLive(ctx)
					if err != nil || len(offered) != guides {
						b.Fatalf("one pass made %d offers (%v), want %d", len(offered), err, guides)
					}
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkHeadLeaves is the waiting room's fan-out on the leader: with
// 10 000 shoppers waiting behind 50 busy guides, the head of the line
// leaves and one pass tells everyone behind it the new position (one
// PositionsChanged), then a second pass finds nothing to do. Each
// iteration is one head leaving; the line is built once, with room for
// every iteration.
func BenchmarkHeadLeaves(b *testing.B) {
	const waiting, guides = 10_000, 50
	tb := newTickBench(b, waiting+b.N, guides, true)
	ctx := context.Background()
	sub := tb.svc.Subscribe("bench", 1<<10)
	defer sub.Close()
	if err := tb.svc.Tick(ctx); err != nil {
		b.Fatal(err)
	}
	for len(sub.Events()) > 0 {
		<-sub.Events()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := tb.svc.Cancel(ctx, fmt.Sprintf("e_w%05d", i)); err != nil {
			b.Fatal(err)
		}
		for range 2 {
			if err := tb.svc.Tick(ctx); err != nil {
				b.Fatal(err)
			}
		}
		for len(sub.Events()) > 0 {
			<-sub.Events()
		}
	}
}

// BenchmarkJoinFirstPosition is one shopper joining a line of 1 000 or
// 10 000 waiting behind 50 busy guides and opening its socket: the join, the
// socket's open and its first position (published before
// ShopperConnected returns). Each iteration adds one more shopper.
func BenchmarkJoinFirstPosition(b *testing.B) {
	for _, waiting := range []int{1000, 10_000} {
		b.Run(fmt.Sprintf("waiting=%d", waiting), func(b *testing.B) { benchJoin(b, waiting) })
	}
}

func benchJoin(b *testing.B, waiting int) {
	const guides = 50
	tb := newTickBench(b, waiting, guides, true)
	ctx := context.Background()
	sub := tb.svc.Subscribe("bench", 1<<10)
	defer sub.Close()
	if err := tb.svc.Tick(ctx); err != nil {
		b.Fatal(err)
	}
	drain := func() {
		for len(sub.Events()) > 0 {
			<-sub.Events()
		}
	}
	drain()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e, err := tb.svc.Join(ctx, queue.JoinParams{Queue: "default", Name: "Bench", Locale: "en", Currency: "EUR"})
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := tb.svc.ShopperConnected(ctx, e.ID, fmt.Sprintf("s%d", i)); err != nil {
			b.Fatal(err)
		}
		told := false
		for len(sub.Events()) > 0 {
			switch ev := (<-sub.Events()).(type) {
			case queue.PositionChanged:
				told = told || ev.EntryID == e.ID
			}
		}
		if !told {
			b.Fatalf("entry %s was not told its position", e.ID)
		}
		drain()
	}
}
