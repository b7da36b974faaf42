package queuetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"guidecall/queue"
)

// txFixture is an entry and a guide, both free, for a transaction to bind.
func txFixture(t *testing.T, s queue.Store) (queue.Entry, queue.Guide) {
	t.Helper()
	e := mustCreateEntry(t, s, entry("e_1", "shoes", 0))
	g := guide("g_1", 0)
	g.Status, g.Online = queue.GuideAvailable, true
	return e, mustSetGuide(t, s, g)
}

// bind is what an offer does: a call and both parties pointing at it.
func bind(ctx context.Context, tx queue.StoreTx, callID string) error {
	if _, err := tx.CallCreate(ctx, call(callID, "e_1", "g_1", "shoes", time.Second)); err != nil {
		return err
	}
	if _, err := tx.EntryUpdate(ctx, "e_1", func(e *queue.Entry) error {
		e.State, e.CallID = queue.EntryOffered, callID
		return nil
	}); err != nil {
		return err
	}
	_, err := tx.GuideUpdate(ctx, "g_1", func(g *queue.Guide) error {
		g.CallIDs = append(g.CallIDs, callID)
		return nil
	})
	return err
}

func runTxTests(t *testing.T, newStore func(t *testing.T) queue.Store) {
	ctx := context.Background()

	t.Run("CommitSavesEverything", func(t *testing.T) {
		s := newStore(t)
		txFixture(t, s)
		err := s.Tx(ctx, func(ctx context.Context, tx queue.StoreTx) error {
			if err := bind(ctx, tx, "c_1"); err != nil {
				return err
			}
			// A transaction reads what it wrote, by id and in lists.
			if e, err := tx.EntryGet(ctx, "e_1"); err != nil || e.State != queue.EntryOffered {
				t.Errorf("EntryGet inside the transaction: %s, %v; want offered", e.State, err)
			}
			if live, err := tx.CallsLive(ctx); err != nil || len(live) != 1 {
				t.Errorf("CallsLive inside the transaction: %v, %v; want c_1", callIDs(live), err)
			}
			if free, err := tx.GuidesAvailable(ctx); err != nil || len(free) != 0 {
				t.Errorf("GuidesAvailable inside the transaction: %v, %v; want none", guideIDs(free), err)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Tx: %v", err)
		}
		if e, _ := s.EntryGet(ctx, "e_1"); e.State != queue.EntryOffered || e.CallID != "c_1" {
			t.Errorf("entry after commit: %s/%q", e.State, e.CallID)
		}
		if g, _ := s.GuideGet(ctx, "g_1"); !slices.Equal(g.CallIDs, []string{"c_1"}) {
			t.Errorf("guide after commit holds %q", g.CallIDs)
		}
		if c, err := s.CallGet(ctx, "c_1"); err != nil || c.State != queue.CallOffered {
			t.Errorf("call after commit: %s, %v", c.State, err)
		}
	})

	// rolledBack checks that nothing a failed bind wrote is left.
	rolledBack := func(t *testing.T, s queue.Store, e queue.Entry, g queue.Guide) {
		t.Helper()
		read, err := s.EntryGet(ctx, "e_1")
		if err != nil {
			t.Fatal(err)
		}
		sameEntry(t, "entry after rollback", read, e)
		gr, err := s.GuideGet(ctx, "g_1")
		if err != nil {
			t.Fatal(err)
		}
		sameGuide(t, "guide after rollback", gr, g)
		if _, err := s.CallGet(ctx, "c_1"); !errors.Is(err, queue.ErrNotFound) {
			t.Errorf("call after rollback: %v, want ErrNotFound", err)
		}
		if _, err := s.EntryGet(ctx, "e_new"); !errors.Is(err, queue.ErrNotFound) {
			t.Errorf("entry created in a rolled-back transaction: %v, want ErrNotFound", err)
		}
		if live, _ := s.CallsLive(ctx); len(live) != 0 {
			t.Errorf("live calls after rollback: %v", callIDs(live))
		}
	}

	t.Run("ErrorRollsBackEverything", func(t *testing.T) {
		s := newStore(t)
		e, g := txFixture(t, s)
		err := s.Tx(ctx, func(ctx context.Context, tx queue.StoreTx) error {
			if _, err := tx.EntryCreate(ctx, entry("e_new", "shoes", time.Second)); err != nil {
				return err
			}
			if err := bind(ctx, tx, "c_1"); err != nil {
				return err
			}
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("Tx = %v, want fn's own error", err)
		}
		rolledBack(t, s, e, g)
		// The queue's order is untouched too: the next entry is still
		// behind e_1.
		mustCreateEntry(t, s, entry("e_2", "shoes", 2*time.Second))
		line, _ := s.EntriesQueued(ctx, "shoes")
		wantIDs(t, "line after a rolled-back create", entryIDs(line), []string{"e_1", "e_2"})
	})

	t.Run("StoreErrorRollsBackEverything", func(t *testing.T) {
		s := newStore(t)
		e, g := txFixture(t, s)
		mustUpsertGuide(t, s, guide("g_2", 0))
		err := s.Tx(ctx, func(ctx context.Context, tx queue.StoreTx) error {
			if err := bind(ctx, tx, "c_1"); err != nil {
				return err
			}
			// A second live call for e_1: the store refuses, and fn passes
			// the refusal on.
			_, err := tx.CallCreate(ctx, call("c_2", "e_1", "g_2", "shoes", 2*time.Second))
			return err
		})
		if !errors.Is(err, queue.ErrBadState) {
			t.Fatalf("Tx = %v, want ErrBadState", err)
		}
		rolledBack(t, s, e, g)
	})

	t.Run("PanicRollsBackEverything", func(t *testing.T) {
		s := newStore(t)
		e, g := txFixture(t, s)
		func() {
			defer func() {
				if recover() == nil {
					t.Error("the panic did not come through Tx")
				}
			}()
			_ = s.Tx(ctx, func(ctx context.Context, tx queue.StoreTx) error {
				if err := bind(ctx, tx, "c_1"); err != nil {
					return err
				}
				panic("queuetest: panic inside a transaction")
			})
		}()
		rolledBack(t, s, e, g)
	})

	// A read by id inside a transaction claims the record: a read and a
	// later write of the same record, in separate calls, lose no update
	// when many transactions do it at once.
	t.Run("ReadThenWriteIsIsolated", func(t *testing.T) {
		s := newStore(t)
		mustUpsertGuide(t, s, guide("g_1", 0))
		errs := make([]error, parallelUpdates)
		concurrently(parallelUpdates, func(i int) {
			errs[i] = s.Tx(ctx, func(ctx context.Context, tx queue.StoreTx) error {
				g, err := tx.GuideGet(ctx, "g_1")
				if err != nil {
					return err
				}
				_, err = tx.GuideUpdate(ctx, "g_1", func(cur *queue.Guide) error {
					cur.MissedOffers = g.MissedOffers + 1
					return nil
				})
				return err
			})
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("transaction %d: %v", i, err)
			}
		}
		if g, _ := s.GuideGet(ctx, "g_1"); g.MissedOffers != parallelUpdates {
			t.Errorf("after %d read-then-write transactions MissedOffers = %d: lost updates", parallelUpdates, g.MissedOffers)
		}
	})
}
