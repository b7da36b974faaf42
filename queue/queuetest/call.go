package queuetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"guidecall/queue"
)

// callFixture creates the entry and guide a call refers to.
func callFixture(t *testing.T, s queue.Store, n int) {
	t.Helper()
	for i := range n {
		suffix := string(rune('1' + i))
		mustCreateEntry(t, s, entry("e_"+suffix, "shoes", time.Duration(i)*time.Second))
		mustUpsertGuide(t, s, guide("g_"+suffix, 0))
	}
}

func runCallTests(t *testing.T, newStore func(t *testing.T) queue.Store) {
	ctx := context.Background()

	t.Run("CreateRoundTrip", func(t *testing.T) {
		s := newStore(t)
		callFixture(t, s, 1)
		want := call("c_1", "e_1", "g_1", "shoes", 3*time.Second)
		want.AcceptedAt = ptr(at(4 * time.Second))
		want.ConnectedAt = ptr(at(5 * time.Second))
		want.State = queue.CallConnected
		got := mustCreateCall(t, s, want)
		sameCall(t, "CallCreate", got, want)
		read, err := s.CallGet(ctx, "c_1")
		if err != nil {
			t.Fatalf("CallGet: %v", err)
		}
		sameCall(t, "CallGet", read, want)
	})

	t.Run("CreateDuplicateFails", func(t *testing.T) {
		s := newStore(t)
		callFixture(t, s, 2)
		first := mustCreateCall(t, s, call("c_1", "e_1", "g_1", "shoes", 0))
		if _, err := s.CallCreate(ctx, call("c_1", "e_2", "g_2", "shoes", time.Second)); err == nil {
			t.Fatal("CallCreate with a duplicate id succeeded")
		}
		read, err := s.CallGet(ctx, "c_1")
		if err != nil {
			t.Fatalf("CallGet: %v", err)
		}
		sameCall(t, "after duplicate create", read, first)
	})

	t.Run("OneLiveCallPerParty", func(t *testing.T) {
		s := newStore(t)
		callFixture(t, s, 3)
		mustCreateCall(t, s, call("c_1", "e_1", "g_1", "shoes", 0))
		for _, c := range []queue.Call{
			call("c_same_guide", "e_2", "g_1", "shoes", time.Second),
			call("c_same_entry", "e_1", "g_2", "shoes", time.Second),
		} {
			if _, err := s.CallCreate(ctx, c); !errors.Is(err, queue.ErrBadState) {
				t.Errorf("second live call %s: %v, want ErrBadState", c.ID, err)
			}
		}
		if _, err := s.CallUpdate(ctx, "c_1", func(c *queue.Call) error {
			c.State, c.EndedAt = queue.CallEnded, ptr(at(time.Second))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		// Once the first call ended, the same guide and entry may go on.
		mustCreateCall(t, s, call("c_2", "e_1", "g_1", "shoes", 2*time.Second))
	})

	for _, capacity := range []int{2, 3} {
		t.Run(fmt.Sprintf("LiveCallsUpToCapacity%d", capacity), func(t *testing.T) {
			s := newStore(t)
			callFixture(t, s, capacity+2)
			g := guide("g_1", 0)
			g.Capacity = capacity
			mustSetGuide(t, s, g)
			for i := range capacity {
				n := strconv.Itoa(i + 1)
				mustCreateCall(t, s, call("c_"+n, "e_"+n, "g_1", "shoes", time.Duration(i)*time.Second))
			}
			over := strconv.Itoa(capacity + 1)
			if _, err := s.CallCreate(ctx, call("c_over", "e_"+over, "g_1", "shoes", time.Minute)); !errors.Is(err, queue.ErrBadState) {
				t.Errorf("live call %d of a guide of capacity %d: %v, want ErrBadState", capacity+1, capacity, err)
			}
			// An ended call does not count, and another guide is not affected.
			mustCreateCall(t, s, call("c_other", "e_"+over, "g_2", "shoes", time.Minute))
			if _, err := s.CallUpdate(ctx, "c_1", func(c *queue.Call) error {
				c.State, c.EndedAt = queue.CallEnded, ptr(at(time.Minute))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			last := strconv.Itoa(capacity + 2)
			mustCreateCall(t, s, call("c_again", "e_"+last, "g_1", "shoes", 2*time.Minute))
		})
	}

	// Two transactions that each see room for one more call of the same
	// guide (as two matchers briefly leading at once would) cannot both
	// commit it: the store settles the race, not the callers.
	t.Run("ConcurrentCreatesKeepCapacity", func(t *testing.T) {
		s := newStore(t)
		const capacity, racers = 2, 4
		callFixture(t, s, capacity+racers)
		g := guide("g_1", 0)
		g.Capacity = capacity
		mustSetGuide(t, s, g)
		mustCreateCall(t, s, call("c_1", "e_1", "g_1", "shoes", 0))
		errs := make([]error, racers)
		concurrently(racers, func(i int) {
			n := strconv.Itoa(i + capacity)
			errs[i] = s.Tx(ctx, func(ctx context.Context, tx queue.StoreTx) error {
				_, err := tx.CallCreate(ctx, call("c_race_"+n, "e_"+n, "g_1", "shoes", time.Second))
				return err
			})
		})
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, queue.ErrBadState):
				t.Errorf("racer %d: %v, want nil or ErrBadState", i, err)
			}
		}
		live, err := s.CallsLive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if won != capacity-1 || len(live) != capacity {
			t.Errorf("%d racers committed and %d calls are live (%v); want %d and %d", won, len(live), callIDs(live), capacity-1, capacity)
		}
	})

	t.Run("Declined", func(t *testing.T) {
		s := newStore(t)
		callFixture(t, s, 4)
		for i, c := range []struct {
			guide, reason, note string
			ended               time.Duration
		}{
			{"g_1", queue.ReasonDeclined, "not my area", time.Second},
			{"g_1", queue.ReasonOfferTimeout, "", 2 * time.Second},
			{"g_2", queue.ReasonDeclined, "other guide", 3 * time.Second},
			{"g_1", queue.ReasonDeclined, "", 4 * time.Second},
		} {
			n := strconv.Itoa(i + 1)
			mustCreateCall(t, s, call("c_"+n, "e_"+n, c.guide, "shoes", 0))
			if _, err := s.CallUpdate(ctx, "c_"+n, func(cc *queue.Call) error {
				cc.State, cc.EndedAt, cc.EndReason, cc.DeclineNote = queue.CallEnded, ptr(at(c.ended)), c.reason, c.note
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.CallsDeclined(ctx, "g_1", 10)
		if err != nil {
			t.Fatal(err)
		}
		if ids := callIDs(got); !slices.Equal(ids, []string{"c_4", "c_1"}) || got[1].DeclineNote != "not my area" {
			t.Errorf("CallsDeclined(g_1) = %v, want c_4 then c_1 (with its note)", ids)
		}
		if got, _ := s.CallsDeclined(ctx, "g_1", 1); !slices.Equal(callIDs(got), []string{"c_4"}) {
			t.Errorf("CallsDeclined(g_1, 1) = %v, want the newest only", callIDs(got))
		}
	})

	t.Run("GetNotFound", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.CallGet(ctx, "c_missing"); !errors.Is(err, queue.ErrNotFound) {
			t.Errorf("CallGet(missing) err = %v, want ErrNotFound", err)
		}
		if _, err := s.CallUpdate(ctx, "c_missing", func(*queue.Call) error { return nil }); !errors.Is(err, queue.ErrNotFound) {
			t.Errorf("CallUpdate(missing) err = %v, want ErrNotFound", err)
		}
	})

	t.Run("Update", func(t *testing.T) {
		s := newStore(t)
		callFixture(t, s, 1)
		want := mustCreateCall(t, s, call("c_1", "e_1", "g_1", "shoes", 0))
		got, err := s.CallUpdate(ctx, "c_1", func(c *queue.Call) error {
			c.State = queue.CallEnded
			c.AcceptedAt, c.ConnectedAt, c.EndedAt = ptr(at(time.Second)), ptr(at(2*time.Second)), ptr(at(3*time.Second))
			c.EndReason, c.EndedBy = queue.ReasonHangup, string(queue.PartyGuide)
			return nil
		})
		if err != nil {
			t.Fatalf("CallUpdate: %v", err)
		}
		want.State = queue.CallEnded
		want.AcceptedAt, want.ConnectedAt, want.EndedAt = ptr(at(time.Second)), ptr(at(2*time.Second)), ptr(at(3*time.Second))
		want.EndReason, want.EndedBy = queue.ReasonHangup, string(queue.PartyGuide)
		sameCall(t, "CallUpdate result", got, want)
		read, _ := s.CallGet(ctx, "c_1")
		sameCall(t, "CallGet after update", read, want)
	})

	t.Run("UpdateErrorLeavesRecord", func(t *testing.T) {
		s := newStore(t)
		callFixture(t, s, 1)
		want := mustCreateCall(t, s, call("c_1", "e_1", "g_1", "shoes", 0))
		_, err := s.CallUpdate(ctx, "c_1", func(c *queue.Call) error {
			c.State, c.EndReason, c.EndedAt = queue.CallEnded, "changed", ptr(at(time.Minute))
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Errorf("CallUpdate err = %v, want the fn's error", err)
		}
		read, _ := s.CallGet(ctx, "c_1")
		sameCall(t, "after failed update", read, want)
	})

	t.Run("UpdateConcurrentNoLostWrites", func(t *testing.T) {
		s := newStore(t)
		callFixture(t, s, 1)
		mustCreateCall(t, s, call("c_1", "e_1", "g_1", "shoes", 0))
		errs := make([]error, parallelUpdates)
		concurrently(parallelUpdates, func(i int) {
			_, errs[i] = s.CallUpdate(ctx, "c_1", func(c *queue.Call) error {
				c.EndReason += "x"
				return nil
			})
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("update %d: %v", i, err)
			}
		}
		read, _ := s.CallGet(ctx, "c_1")
		if read.EndReason != strings.Repeat("x", parallelUpdates) {
			t.Errorf("after %d concurrent appends EndReason has %d: lost writes", parallelUpdates, len(read.EndReason))
		}
	})

	t.Run("LiveExcludesEnded", func(t *testing.T) {
		s := newStore(t)
		callFixture(t, s, 5)
		for i, st := range []queue.CallState{queue.CallOffered, queue.CallAccepted, queue.CallConnecting, queue.CallConnected, queue.CallEnded} {
			suffix := string(rune('1' + i))
			c := call("c_"+suffix, "e_"+suffix, "g_"+suffix, "shoes", time.Duration(i)*time.Second)
			c.State = st
			mustCreateCall(t, s, c)
		}
		// Ending a live call takes it off the list.
		if _, err := s.CallUpdate(ctx, "c_2", func(c *queue.Call) error {
			c.State, c.EndedAt = queue.CallEnded, ptr(at(time.Minute))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		live, err := s.CallsLive(ctx)
		if err != nil {
			t.Fatalf("CallsLive: %v", err)
		}
		ids := callIDs(live)
		slices.Sort(ids)
		wantIDs(t, "CallsLive", ids, []string{"c_1", "c_3", "c_4"})
		for _, c := range live {
			if c.ID == "c_1" {
				sameCall(t, "CallsLive c_1", c, call("c_1", "e_1", "g_1", "shoes", 0))
			}
		}
	})
}
