package queue_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"guidecall/queue"
	"guidecall/queue/queuetest"
)

func TestMemoryStore(t *testing.T) {
	queuetest.RunStoreSuite(t, func(*testing.T) queue.Store { return queue.NewMemoryStore() })
}

// TestMemoryStoreDropsOldHistory: finished entries and calls older than
// MemoryRetention go; live and recent ones stay.
func TestMemoryStoreDropsOldHistory(t *testing.T) {
	ctx := context.Background()
	s := queue.NewMemoryStore()
	t0 := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	left := t0.Add(time.Minute)
	for _, e := range []queue.Entry{
		{ID: "e_old_done", Queue: "q", State: queue.EntryDone, JoinedAt: t0, LeftAt: &left},
		{ID: "e_old_waiting", Queue: "q", State: queue.EntryWaiting, JoinedAt: t0},
	} {
		if _, err := s.EntryCreate(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	ended := t0.Add(time.Minute)
	if _, err := s.CallCreate(ctx, queue.Call{ID: "c_old", EntryID: "e_old_done", GuideID: "g", State: queue.CallEnded, EndedAt: &ended}); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(queue.MemoryRetention + time.Hour)
	if _, err := s.EntryCreate(ctx, queue.Entry{ID: "e_new", Queue: "q", State: queue.EntryWaiting, JoinedAt: later}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EntryGet(ctx, "e_old_done"); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("finished entry past retention: %v, want gone", err)
	}
	if _, err := s.CallGet(ctx, "c_old"); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("ended call past retention: %v, want gone", err)
	}
	if _, err := s.EntryGet(ctx, "e_old_waiting"); err != nil {
		t.Errorf("a waiting entry was dropped: %v", err)
	}
}
