package queue_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"guidecall/internal/db/dbtest"
	"guidecall/queue"
)

// lineReads is the PostgreSQL store, counting the full line reads the
// matcher asks it for (QueuedLine).
type lineReads struct {
	*queue.PostgresStore
	n atomic.Int64
}

func (s *lineReads) QueuedLine(ctx context.Context) ([]queue.Entry, bool, error) {
	s.n.Add(1)
	return s.PostgresStore.QueuedLine(ctx)
}

// TestPresenceRefreshKeepsLine: with a line of a few hundred shoppers and
// nothing changing but their nodes' presence refreshes (Touch every
// TouchEvery), the leader does not read the line again; it still finds
// the one shopper whose node stopped reporting it, and only that one.
func TestPresenceRefreshKeepsLine(t *testing.T) {
	t.Parallel()
	dbtest.URL(t)
	pool, _ := dbtest.NewSchema(t)
	st := &lineReads{PostgresStore: queue.NewPostgresStore(pool)}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	clock := &fakeClock{t: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)}
	svc, err := queue.NewService(queue.Config{
		Store: st, Now: clock.Now, Logger: slog.New(slog.DiscardHandler),
		StaleAfter: 15 * time.Second, ReconnectGrace: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Stop)
	const n = 300
	var held []queue.Held
	for i := range n {
		e, err := svc.Join(ctx, queue.JoinParams{Queue: queue.DefaultQueue, Currency: "EUR"})
		if err != nil {
			t.Fatal(err)
		}
		sock := fmt.Sprintf("ws-%d", i)
		if _, _, err := svc.ShopperConnected(ctx, e.ID, sock); err != nil {
			t.Fatal(err)
		}
		held = append(held, queue.Held{ID: e.ID, SocketID: sock})
	}
	tick := func() {
		t.Helper()
		if err := svc.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	tick()
	tick()
	before := st.n.Load()
	// One minute of refreshes: 12 rounds of TouchEvery, ticks between.
	for range 12 {
		clock.Advance(svc.TouchEvery())
		if err := svc.Touch(ctx, held, nil); err != nil {
			t.Fatal(err)
		}
		tick()
		tick()
	}
	if got := st.n.Load() - before; got != 0 {
		t.Errorf("leader read the line %d times in a minute of presence refreshes of %d shoppers, want 0", got, n)
	}
	line, err := st.EntriesQueued(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range line {
		if e.DisconnectedAt != nil {
			t.Fatalf("entry %s declared gone while its node reported it", e.ID)
		}
	}

	// The last shopper's node stops reporting it.
	lost := held[n-1]
	for range 5 {
		clock.Advance(svc.TouchEvery())
		if err := svc.Touch(ctx, held[:n-1], nil); err != nil {
			t.Fatal(err)
		}
		tick()
	}
	line, err = st.EntriesQueued(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var gone []string
	for _, e := range line {
		if e.DisconnectedAt != nil {
			gone = append(gone, e.ID)
		}
	}
	if !slices.Equal(gone, []string{lost.ID}) {
		t.Errorf("declared gone %v, want only %s, the one nobody reported", gone, lost.ID)
	}
}

// TestChangeTriggerColumns: the change triggers on queue_entries and
// guides (migration 00120) list every column but seen_at, so a column
// added later is counted as a change only once its trigger lists it.
func TestChangeTriggerColumns(t *testing.T) {
	t.Parallel()
	dbtest.URL(t)
	pool, _ := dbtest.NewSchema(t)
	ctx := context.Background()
	for _, table := range []string{"queue_entries", "guides"} {
		var cols, listed []string
		if err := pool.QueryRow(ctx, `SELECT array_agg(column_name::text ORDER BY column_name)
			FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 AND column_name <> 'seen_at'`, table).Scan(&cols); err != nil {
			t.Fatal(err)
		}
		if err := pool.QueryRow(ctx, `SELECT coalesce(array_agg(a.attname::text ORDER BY a.attname), '{}')
			FROM pg_trigger tg JOIN pg_attribute a ON a.attrelid = tg.tgrelid AND a.attnum = ANY (tg.tgattr)
			WHERE tg.tgrelid = $1::regclass AND tg.tgname = $2`, table, table+"_change").Scan(&listed); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(cols, listed) {
			t.Errorf("%s_change fires on UPDATE OF %v, want every column but seen_at: %v", table, listed, cols)
		}
	}
}
