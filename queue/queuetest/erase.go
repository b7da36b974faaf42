package queuetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"guidecall/queue"
)

func runEraseTests(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Run("PurgeErasesOnlyEndedBeforeTheCutoff", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), context.Background()
		old, recent, live := entry("e_old", "q", 0), entry("e_recent", "q", time.Second), entry("e_live", "q", 2*time.Second)
		old.State, old.LeftAt, old.LeftReason = queue.EntryDone, ptr(at(time.Hour)), "hangup"
		recent.State, recent.LeftAt, recent.LeftReason = queue.EntryCanceled, ptr(at(3*time.Hour)), "canceled"
		for _, e := range []queue.Entry{old, recent, live} {
			mustCreateEntry(t, s, e)
		}
		n, err := s.EntriesPurge(ctx, at(2*time.Hour), at(4*time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("EntriesPurge = %d, %v; want 1", n, err)
		}
		got, err := s.EntryGet(ctx, "e_old")
		if err != nil {
			t.Fatalf("a purged entry is still counted, so it must still exist: %v", err)
		}
		if got.Name != "" || got.PageURL != "" {
			t.Errorf("purged entry keeps name %q, page %q", got.Name, got.PageURL)
		}
		if got.State != queue.EntryDone || !got.JoinedAt.Equal(old.JoinedAt) || got.LeftAt == nil || got.Locale != old.Locale {
			t.Errorf("purge changed what statistics read: %+v", got)
		}
		for _, id := range []string{"e_recent", "e_live"} {
			if e, _ := s.EntryGet(ctx, id); e.Name == "" || e.PageURL == "" {
				t.Errorf("%s erased before its time: %+v", id, e)
			}
		}
		if n, err := s.EntriesPurge(ctx, at(2*time.Hour), at(5*time.Hour)); err != nil || n != 0 {
			t.Errorf("second purge = %d, %v; want 0", n, err)
		}
	})

	t.Run("EraseOneEntry", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), context.Background()
		mustCreateEntry(t, s, entry("e_a", "q", 0))
		mustCreateEntry(t, s, entry("e_b", "q", time.Second))
		if err := s.EntryErase(ctx, "e_a", at(time.Minute)); err != nil {
			t.Fatal(err)
		}
		a, _ := s.EntryGet(ctx, "e_a")
		b, _ := s.EntryGet(ctx, "e_b")
		if a.Name != "" || a.PageURL != "" || a.State != queue.EntryWaiting {
			t.Errorf("erased entry = %+v", a)
		}
		if b.Name == "" || b.PageURL == "" {
			t.Errorf("erasing e_a touched e_b: %+v", b)
		}
		if err := s.EntryErase(ctx, "e_missing", at(time.Minute)); !errors.Is(err, queue.ErrNotFound) {
			t.Errorf("erase of a missing entry: err = %v, want ErrNotFound", err)
		}
	})
}
