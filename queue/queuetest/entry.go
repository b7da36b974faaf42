package queuetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"guidecall/queue"
)

func runEntryTests(t *testing.T, newStore func(t *testing.T) queue.Store) {
	ctx := context.Background()

	t.Run("CreateRoundTrip", func(t *testing.T) {
		s := newStore(t)
		want := entry("e_1", "shoes", 0)
		want.DisconnectedAt = ptr(at(time.Second))
		got := mustCreateEntry(t, s, want)
		if got.Rank == 0 {
			t.Errorf("EntryCreate left Rank 0")
		}
		want.Rank = got.Rank
		sameEntry(t, "EntryCreate", got, want)
		read, err := s.EntryGet(ctx, "e_1")
		if err != nil {
			t.Fatalf("EntryGet: %v", err)
		}
		sameEntry(t, "EntryGet", read, want)
	})

	t.Run("CreateDuplicateFails", func(t *testing.T) {
		s := newStore(t)
		first := mustCreateEntry(t, s, entry("e_1", "shoes", 0))
		dup := entry("e_1", "hats", time.Second)
		if _, err := s.EntryCreate(ctx, dup); err == nil {
			t.Fatal("EntryCreate with a duplicate id succeeded")
		}
		read, err := s.EntryGet(ctx, "e_1")
		if err != nil {
			t.Fatalf("EntryGet: %v", err)
		}
		sameEntry(t, "after duplicate create", read, first)
	})

	t.Run("CreateAssignsIncreasingRank", func(t *testing.T) {
		s := newStore(t)
		var last int64
		for i, q := range []string{"shoes", "hats", "shoes", "hats", "shoes"} {
			e := mustCreateEntry(t, s, entry("e_"+string(rune('a'+i)), q, time.Duration(i)*time.Second))
			if i > 0 && e.Rank <= last {
				t.Errorf("entry %d: Rank %d not above the previous %d", i, e.Rank, last)
			}
			last = e.Rank
		}
	})

	t.Run("QueuedOrder", func(t *testing.T) {
		s := newStore(t)
		// Interleave two queues; create order is join order.
		for _, e := range []queue.Entry{
			entry("e_s1", "shoes", 0),
			entry("e_h1", "hats", 1*time.Second),
			entry("e_s2", "shoes", 2*time.Second),
			entry("e_h2", "hats", 3*time.Second),
			entry("e_s3", "shoes", 4*time.Second),
			entry("e_s4", "shoes", 5*time.Second),
		} {
			mustCreateEntry(t, s, e)
		}
		setEntryState(t, s, "e_s2", queue.EntryOffered)
		setEntryState(t, s, "e_s3", queue.EntryInCall)
		setEntryState(t, s, "e_h2", queue.EntryCanceled)

		shoes, err := s.EntriesQueued(ctx, "shoes")
		if err != nil {
			t.Fatalf("EntriesQueued(shoes): %v", err)
		}
		wantIDs(t, "EntriesQueued(shoes)", entryIDs(shoes), []string{"e_s1", "e_s2", "e_s4"})

		hats, err := s.EntriesQueued(ctx, "hats")
		if err != nil {
			t.Fatalf("EntriesQueued(hats): %v", err)
		}
		wantIDs(t, "EntriesQueued(hats)", entryIDs(hats), []string{"e_h1"})

		all, err := s.EntriesQueued(ctx, "")
		if err != nil {
			t.Fatalf("EntriesQueued(all): %v", err)
		}
		wantIDs(t, "EntriesQueued(all)", entryIDs(all), []string{"e_h1", "e_s1", "e_s2", "e_s4"})

		none, err := s.EntriesQueued(ctx, "empty")
		if err != nil {
			t.Fatalf("EntriesQueued(empty): %v", err)
		}
		if len(none) != 0 {
			t.Errorf("EntriesQueued(empty) = %q, want none", entryIDs(none))
		}
	})

	t.Run("QueuedExcludesEveryFinishedState", func(t *testing.T) {
		s := newStore(t)
		states := []queue.EntryState{queue.EntryWaiting, queue.EntryOffered, queue.EntryInCall,
			queue.EntryDone, queue.EntryCanceled, queue.EntryAbandoned}
		for _, st := range states {
			mustCreateEntry(t, s, entry("e_"+string(st), "shoes", 0))
			setEntryState(t, s, "e_"+string(st), st)
		}
		got, err := s.EntriesQueued(ctx, "shoes")
		if err != nil {
			t.Fatalf("EntriesQueued: %v", err)
		}
		wantIDs(t, "EntriesQueued", entryIDs(got), []string{"e_waiting", "e_offered"})
	})

	t.Run("GetNotFound", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.EntryGet(ctx, "e_missing"); !errors.Is(err, queue.ErrNotFound) {
			t.Errorf("EntryGet(missing) err = %v, want ErrNotFound", err)
		}
	})

	t.Run("UpdateNotFound", func(t *testing.T) {
		s := newStore(t)
		called := false
		_, err := s.EntryUpdate(ctx, "e_missing", func(*queue.Entry) error { called = true; return nil })
		if !errors.Is(err, queue.ErrNotFound) {
			t.Errorf("EntryUpdate(missing) err = %v, want ErrNotFound", err)
		}
		if called {
			t.Error("EntryUpdate(missing) called fn")
		}
	})

	t.Run("UpdateSaves", func(t *testing.T) {
		s := newStore(t)
		want := mustCreateEntry(t, s, entry("e_1", "shoes", 0))
		got, err := s.EntryUpdate(ctx, "e_1", func(e *queue.Entry) error {
			e.State, e.CallID = queue.EntryOffered, "c_1"
			e.DisconnectedAt = ptr(at(2 * time.Second))
			e.LeftAt = ptr(at(3 * time.Second))
			e.LeftReason = "why"
			return nil
		})
		if err != nil {
			t.Fatalf("EntryUpdate: %v", err)
		}
		want.State, want.CallID = queue.EntryOffered, "c_1"
		want.DisconnectedAt, want.LeftAt, want.LeftReason = ptr(at(2*time.Second)), ptr(at(3*time.Second)), "why"
		sameEntry(t, "EntryUpdate result", got, want)
		read, err := s.EntryGet(ctx, "e_1")
		if err != nil {
			t.Fatalf("EntryGet: %v", err)
		}
		sameEntry(t, "EntryGet after update", read, want)

		// Clearing pointers saves nil.
		if _, err := s.EntryUpdate(ctx, "e_1", func(e *queue.Entry) error {
			e.DisconnectedAt, e.LeftAt = nil, nil
			return nil
		}); err != nil {
			t.Fatalf("EntryUpdate: %v", err)
		}
		read, _ = s.EntryGet(ctx, "e_1")
		if read.DisconnectedAt != nil || read.LeftAt != nil {
			t.Errorf("cleared times read back as %s, %s", fmtTimePtr(read.DisconnectedAt), fmtTimePtr(read.LeftAt))
		}
	})

	t.Run("UpdateErrorLeavesRecord", func(t *testing.T) {
		s := newStore(t)
		want := mustCreateEntry(t, s, entry("e_1", "shoes", 0))
		_, err := s.EntryUpdate(ctx, "e_1", func(e *queue.Entry) error {
			e.State, e.LeftReason, e.CallID = queue.EntryDone, "changed", "c_9"
			e.LeftAt = ptr(at(time.Minute))
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Errorf("EntryUpdate err = %v, want the fn's error", err)
		}
		read, err := s.EntryGet(ctx, "e_1")
		if err != nil {
			t.Fatalf("EntryGet: %v", err)
		}
		sameEntry(t, "after failed update", read, want)
	})

	t.Run("UpdateConcurrentNoLostWrites", func(t *testing.T) {
		s := newStore(t)
		mustCreateEntry(t, s, entry("e_1", "shoes", 0))
		errs := make([]error, parallelUpdates)
		concurrently(parallelUpdates, func(i int) {
			_, errs[i] = s.EntryUpdate(ctx, "e_1", func(e *queue.Entry) error {
				e.LeftReason += "x"
				return nil
			})
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("update %d: %v", i, err)
			}
		}
		read, err := s.EntryGet(ctx, "e_1")
		if err != nil {
			t.Fatalf("EntryGet: %v", err)
		}
		if read.LeftReason != strings.Repeat("x", parallelUpdates) {
			t.Errorf("after %d concurrent appends LeftReason has %d: lost writes", parallelUpdates, len(read.LeftReason))
		}
	})

	t.Run("RequeueGoesBeforeHead", func(t *testing.T) {
		s := newStore(t)
		for i, id := range []string{"e_1", "e_2", "e_3", "e_4"} {
			mustCreateEntry(t, s, entry(id, "shoes", time.Duration(i)*time.Second))
		}
		other := mustCreateEntry(t, s, entry("e_h1", "hats", 10*time.Second))
		// e_3 was offered and accepted; e_1 left the line.
		if _, err := s.EntryUpdate(ctx, "e_3", func(e *queue.Entry) error {
			e.State, e.CallID = queue.EntryInCall, "c_1"
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		setEntryState(t, s, "e_1", queue.EntryCanceled)

		got, err := s.EntryRequeue(ctx, "e_3")
		if err != nil {
			t.Fatalf("EntryRequeue: %v", err)
		}
		if got.State != queue.EntryWaiting || got.CallID != "" {
			t.Errorf("requeued entry state %s call %q, want waiting and no call", got.State, got.CallID)
		}
		line, err := s.EntriesQueued(ctx, "shoes")
		if err != nil {
			t.Fatal(err)
		}
		wantIDs(t, "EntriesQueued(shoes) after requeue", entryIDs(line), []string{"e_3", "e_2", "e_4"})
		if len(line) > 0 && line[0].Rank != got.Rank {
			t.Errorf("EntryRequeue returned Rank %d, store has %d", got.Rank, line[0].Rank)
		}
		read, _ := s.EntryGet(ctx, "e_3")
		if read.State != queue.EntryWaiting || read.CallID != "" {
			t.Errorf("stored requeued entry state %s call %q", read.State, read.CallID)
		}

		// A second requeue goes before the first.
		setEntryState(t, s, "e_4", queue.EntryInCall)
		if _, err := s.EntryRequeue(ctx, "e_4"); err != nil {
			t.Fatal(err)
		}
		line, _ = s.EntriesQueued(ctx, "shoes")
		wantIDs(t, "EntriesQueued(shoes) after second requeue", entryIDs(line), []string{"e_4", "e_3", "e_2"})

		// New joiners still go to the tail.
		mustCreateEntry(t, s, entry("e_5", "shoes", 20*time.Second))
		line, _ = s.EntriesQueued(ctx, "shoes")
		wantIDs(t, "EntriesQueued(shoes) after a join", entryIDs(line), []string{"e_4", "e_3", "e_2", "e_5"})

		// The other queue is untouched.
		hats, _ := s.EntriesQueued(ctx, "hats")
		if len(hats) != 1 {
			t.Fatalf("hats = %q", entryIDs(hats))
		}
		sameEntry(t, "other queue's entry", hats[0], other)
	})

	t.Run("RequeueAlone", func(t *testing.T) {
		s := newStore(t)
		mustCreateEntry(t, s, entry("e_1", "shoes", 0))
		setEntryState(t, s, "e_1", queue.EntryInCall)
		if _, err := s.EntryRequeue(ctx, "e_1"); err != nil {
			t.Fatalf("EntryRequeue: %v", err)
		}
		line, _ := s.EntriesQueued(ctx, "shoes")
		wantIDs(t, "EntriesQueued", entryIDs(line), []string{"e_1"})
	})

	t.Run("RequeueNotFound", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.EntryRequeue(ctx, "e_missing"); !errors.Is(err, queue.ErrNotFound) {
			t.Errorf("EntryRequeue(missing) err = %v, want ErrNotFound", err)
		}
	})
}
