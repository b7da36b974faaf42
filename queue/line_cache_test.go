package queue_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"guidecall/internal/db/dbtest"
	"guidecall/queue"
)

// The matcher reuses the line it read last while the store's change
// counter stands still. On PostgreSQL a transaction moves the counter
// when it writes, not when it commits, so a pass may read the counter and
// then a line that does not show the write yet. A transaction that stays
// open across two passes must not leave its entry out of the line once
// it commits: here a shopper who joins in such a transaction is told its
// position at the first pass after the commit.
func TestPassLineSeesLateCommit(t *testing.T) {
	t.Parallel()
	dbtest.URL(t)
	pool, _ := dbtest.NewSchema(t)
	st := queue.NewPostgresStore(pool)
	ctx := context.Background()
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	svc, err := queue.NewService(queue.Config{
		Store: st, Logger: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	waiting := func(id string, ago time.Duration) queue.Entry {
		return queue.Entry{
			ID: id, Queue: "default", Locale: "en", Currency: "EUR", State: queue.EntryWaiting,
			JoinedAt: now.Add(-ago), SocketID: "s", SeenAt: now,
		}
	}
	if _, err := st.EntryCreate(ctx, waiting("e_first", time.Minute)); err != nil {
		t.Fatal(err)
	}
	sub := svc.Subscribe("test", 1<<10)
	defer sub.Close()
	told := func() map[string]queue.Position {
		out := map[string]queue.Position{}
		for len(sub.Events()) > 0 {
			switch ev := (<-sub.Events()).(type) {
			case queue.PositionsChanged:
				for _, p := range ev.Positions {
					out[p.EntryID] = p.Position
				}
			case queue.PositionChanged:
				out[ev.EntryID] = ev.Position
			}
		}
		return out
	}
	tick := func() {
		t.Helper()
		if err := svc.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	tick()
	tick()
	if got := told(); len(got) != 1 || got["e_first"].Position != 1 {
		t.Fatalf("before the late join, told %v, want e_first at 1", got)
	}

	written, commit, committed := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		committed <- st.Tx(ctx, func(ctx context.Context, tx queue.StoreTx) error {
			if _, err := tx.EntryCreate(ctx, waiting("e_late", 0)); err != nil {
				return err
			}
			close(written)
			<-commit
			return nil
		})
	}()
	<-written
	tick() // the counter moved: a fresh read, without e_late
	tick() // the counter stood still: read again, still without e_late
	tick()
	if got := told(); len(got) != 0 {
		t.Fatalf("while e_late's transaction is open, told %v, want nothing", got)
	}
	close(commit)
	if err := <-committed; err != nil {
		t.Fatal(err)
	}
	tick()
	if got := told(); got["e_late"].Position != 2 {
		t.Errorf("first pass after e_late's commit told %v, want e_late at 2", got)
	}
}
