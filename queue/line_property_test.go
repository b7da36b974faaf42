package queue_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"guidecall/internal/db/dbtest"
	"guidecall/queue"
)

// runLineProperty drives joins, cancellations, requeues at the head and
// rolled-back changes in two queues, and after each step checks that the
// store lists each line in the order a model keeps, that the change
// counter moved with every write, and that after a matcher pass every
// waiting shopper was last told the position the model gives it.
func runLineProperty(t *rapid.T, store queue.Store, steps int) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)}
	svc, err := queue.NewService(queue.Config{Store: store, Now: clock.Now, Logger: slog.New(slog.DiscardHandler), StaleAfter: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()
	sub := svc.Subscribe("line property", 1<<16)
	defer sub.Close()
	names := []string{"shoes", "hats"}
	for _, name := range names {
		if _, err := svc.CreateQueue(ctx, queue.Queue{Name: name}); err != nil && !errors.Is(err, queue.ErrBadState) {
			t.Fatal(err)
		}
	}
	counter, _ := store.(queue.ChangeCounter)
	version := func() int64 {
		if counter == nil {
			return 0
		}
		v, err := counter.ChangeVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	model := map[string][]string{} // queue → entry ids in line order
	told := map[string]int{}       // entry id → last position told
	errRollback := errors.New("roll back")

	for range steps {
		before := version()
		wrote := true
		switch op := rapid.IntRange(0, 9).Draw(t, "op"); {
		case op < 5: // join and open a socket
			q := rapid.SampledFrom(names).Draw(t, "queue")
			clock.Advance(time.Second)
			e, err := svc.Join(ctx, queue.JoinParams{Queue: q, Locale: "en-GB", Currency: "EUR"})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := svc.ShopperConnected(ctx, e.ID, "ws-"+e.ID); err != nil {
				t.Fatal(err)
			}
			model[q] = append(model[q], e.ID)
		case op < 7: // someone in line leaves
			q := rapid.SampledFrom(names).Draw(t, "queue")
			if len(model[q]) == 0 {
				wrote = false
				continue
			}
			i := rapid.IntRange(0, len(model[q])-1).Draw(t, "who")
			if err := svc.Cancel(ctx, model[q][i]); err != nil {
				t.Fatal(err)
			}
			delete(told, model[q][i])
			model[q] = slices.Delete(model[q], i, i+1)
		case op < 8: // a shopper back at the head (a guide lost before the call connected)
			q := rapid.SampledFrom(names).Draw(t, "queue")
			if len(model[q]) == 0 {
				wrote = false
				continue
			}
			i := rapid.IntRange(0, len(model[q])-1).Draw(t, "who")
			id := model[q][i]
			err := store.Tx(ctx, func(ctx context.Context, tx queue.StoreTx) error {
				if _, err := tx.EntryUpdate(ctx, id, func(e *queue.Entry) error { e.State = queue.EntryInCall; return nil }); err != nil {
					return err
				}
				_, err := tx.EntryRequeue(ctx, id)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			model[q] = append([]string{id}, slices.Delete(model[q], i, i+1)...)
		case op < 9: // a change that fails leaves every line as it was
			q := rapid.SampledFrom(names).Draw(t, "queue")
			err := store.Tx(ctx, func(ctx context.Context, tx queue.StoreTx) error {
				if _, err := tx.EntryCreate(ctx, queue.Entry{ID: "e_rolled_back", Queue: q, State: queue.EntryWaiting, JoinedAt: clock.Now(), SeenAt: clock.Now()}); err != nil {
					return err
				}
				for _, id := range model[q] {
					if _, err := tx.EntryUpdate(ctx, id, func(e *queue.Entry) error { e.State = queue.EntryCanceled; return nil }); err != nil {
						return err
					}
				}
				return errRollback
			})
			if !errors.Is(err, errRollback) {
				t.Fatalf("rolled-back change: %v", err)
			}
			wrote = false
		default: // a pass with nothing written
			wrote = false
		}
		if counter != nil && wrote && version() == before {
			t.Fatalf("the change counter stood still at %d across a write", before)
		}
		for _, q := range names {
			line, err := store.EntriesQueued(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			ids := make([]string, len(line))
			for i, e := range line {
				ids[i] = e.ID
			}
			if !slices.Equal(ids, model[q]) && (len(ids) > 0 || len(model[q]) > 0) {
				t.Fatalf("line %s is %v, want %v", q, ids, model[q])
			}
		}
		all, err := store.EntriesQueued(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if want := len(model["hats"]) + len(model["shoes"]); len(all) != want {
			t.Fatalf("every queue's line holds %d, want %d", len(all), want)
		}
		// "hats" sorts before "shoes": every queue's line in name order.
		for i, id := range append(slices.Clone(model["hats"]), model["shoes"]...) {
			if all[i].ID != id {
				t.Fatalf("every queue's line: %d is %s, want %s", i, all[i].ID, id)
			}
		}

		// Two passes: the second runs on the line the first kept.
		for range 2 {
			if err := svc.Tick(ctx); err != nil {
				t.Fatal(err)
			}
		}
		for _, ev := range drain(sub) {
			if p, ok := ev.(queue.PositionChanged); ok {
				told[p.EntryID] = p.Position.Position
			}
		}
		for _, q := range names {
			for i, id := range model[q] {
				if told[id] != i+1 {
					t.Fatalf("%s at %d in %s was last told %d", id, i+1, q, told[id])
				}
			}
		}
	}
	if n := sub.Dropped(); n > 0 {
		t.Fatalf("the subscriber missed %d events", n)
	}
}

func TestLinePositionsMemory(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) { runLineProperty(t, queue.NewMemoryStore(), 60) })
}

func TestLinePositionsPostgres(t *testing.T) {
	pool, _ := dbtest.NewSchema(t)
	store := queue.NewPostgresStore(pool)
	rapid.Check(t, func(rt *rapid.T) {
		truncate(t, pool)
		runLineProperty(rt, store, 20)
	})
}
