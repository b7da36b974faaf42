package queuetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"guidecall/queue"
)

func runGuideTests(t *testing.T, newStore func(t *testing.T) queue.Store) {
	ctx := context.Background()

	t.Run("UpsertCreates", func(t *testing.T) {
		s := newStore(t)
		want := guide("g_1", 0)
		got := mustUpsertGuide(t, s, want)
		sameGuide(t, "GuideUpsert", got, want)
		read, err := s.GuideGet(ctx, "g_1")
		if err != nil {
			t.Fatalf("GuideGet: %v", err)
		}
		sameGuide(t, "GuideGet", read, want)
	})

	t.Run("UpsertKeepsStateRefreshesName", func(t *testing.T) {
		s := newStore(t)
		mustUpsertGuide(t, s, guide("g_1", 0))
		busy := queue.Guide{
			ID: "g_1", Name: "Guide g_1", Status: queue.GuideAvailable, Online: true,
			IdleSince: at(5 * time.Second), MissedOffers: 1, CallID: "c_1",
			DisconnectedAt: ptr(at(6 * time.Second)),
		}
		mustSetGuide(t, s, busy)

		again := guide("g_1", time.Hour)
		again.Name = "Renamed"
		got := mustUpsertGuide(t, s, again)
		want := busy
		want.Name = "Renamed"
		sameGuide(t, "GuideUpsert of an existing guide", got, want)
		read, err := s.GuideGet(ctx, "g_1")
		if err != nil {
			t.Fatalf("GuideGet: %v", err)
		}
		sameGuide(t, "GuideGet after upsert", read, want)
	})

	t.Run("GetNotFound", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.GuideGet(ctx, "g_missing"); !errors.Is(err, queue.ErrNotFound) {
			t.Errorf("GuideGet(missing) err = %v, want ErrNotFound", err)
		}
		if _, err := s.GuideUpdate(ctx, "g_missing", func(*queue.Guide) error { return nil }); !errors.Is(err, queue.ErrNotFound) {
			t.Errorf("GuideUpdate(missing) err = %v, want ErrNotFound", err)
		}
	})

	t.Run("UpdateErrorLeavesRecord", func(t *testing.T) {
		s := newStore(t)
		want := mustUpsertGuide(t, s, guide("g_1", 0))
		_, err := s.GuideUpdate(ctx, "g_1", func(g *queue.Guide) error {
			g.Status, g.Online, g.CallID, g.MissedOffers = queue.GuideAvailable, true, "c_1", 7
			g.DisconnectedAt = ptr(at(time.Minute))
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Errorf("GuideUpdate err = %v, want the fn's error", err)
		}
		read, _ := s.GuideGet(ctx, "g_1")
		sameGuide(t, "after failed update", read, want)
	})

	t.Run("UpdateConcurrentNoLostWrites", func(t *testing.T) {
		s := newStore(t)
		mustUpsertGuide(t, s, guide("g_1", 0))
		errs := make([]error, parallelUpdates)
		concurrently(parallelUpdates, func(i int) {
			_, errs[i] = s.GuideUpdate(ctx, "g_1", func(g *queue.Guide) error {
				g.MissedOffers++
				return nil
			})
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("update %d: %v", i, err)
			}
		}
		read, _ := s.GuideGet(ctx, "g_1")
		if read.MissedOffers != parallelUpdates {
			t.Errorf("after %d concurrent increments MissedOffers = %d: lost writes", parallelUpdates, read.MissedOffers)
		}
	})

	t.Run("Available", func(t *testing.T) {
		s := newStore(t)
		avail := func(id string, idle time.Duration) queue.Guide {
			g := guide(id, idle)
			g.Status, g.Online = queue.GuideAvailable, true
			return g
		}
		offline := avail("g_offline", -time.Hour)
		offline.Online, offline.DisconnectedAt = false, ptr(at(0))
		away := avail("g_away", -time.Hour)
		away.Status = queue.GuideAway
		busy := avail("g_busy", -time.Hour)
		busy.CallID = "c_1"
		for _, g := range []queue.Guide{
			avail("g_late", 3*time.Second),
			avail("g_tie_b", time.Second),
			offline,
			avail("g_tie_a", time.Second),
			away,
			busy,
			avail("g_early", 0),
			// A microsecond apart: stores must keep that precision.
			avail("g_micro", time.Second+time.Microsecond),
		} {
			mustSetGuide(t, s, g)
		}
		got, err := s.GuidesAvailable(ctx)
		if err != nil {
			t.Fatalf("GuidesAvailable: %v", err)
		}
		wantIDs(t, "GuidesAvailable", guideIDs(got), []string{"g_early", "g_tie_a", "g_tie_b", "g_micro", "g_late"})
		if len(got) > 0 {
			want := avail("g_early", 0)
			sameGuide(t, "GuidesAvailable[0]", got[0], want)
		}
	})

	t.Run("AvailableEmpty", func(t *testing.T) {
		s := newStore(t)
		got, err := s.GuidesAvailable(ctx)
		if err != nil || len(got) != 0 {
			t.Errorf("GuidesAvailable on an empty store = %q, %v", guideIDs(got), err)
		}
	})

	t.Run("Online", func(t *testing.T) {
		s := newStore(t)
		got, err := s.GuidesOnline(ctx)
		if err != nil || len(got) != 0 {
			t.Errorf("GuidesOnline on an empty store = %q, %v", guideIDs(got), err)
		}
		for i, g := range []struct {
			online bool
			status queue.GuideStatus
			call   string
		}{
			{true, queue.GuideAvailable, ""},
			{true, queue.GuideAway, ""},
			{true, queue.GuideAvailable, "c_1"},
			{false, queue.GuideAvailable, ""},
			{false, queue.GuideAway, "c_2"},
		} {
			gg := guide("g_"+string(rune('a'+i)), 0)
			gg.Online, gg.Status, gg.CallID = g.online, g.status, g.call
			mustSetGuide(t, s, gg)
		}
		got, err = s.GuidesOnline(ctx)
		if err != nil {
			t.Fatalf("GuidesOnline: %v", err)
		}
		ids := guideIDs(got)
		slices.Sort(ids)
		wantIDs(t, "GuidesOnline", ids, []string{"g_a", "g_b", "g_c"})
		for _, g := range got {
			if g.ID == "g_c" {
				want := guide("g_c", 0)
				want.Online, want.Status, want.CallID = true, queue.GuideAvailable, "c_1"
				sameGuide(t, "GuidesOnline g_c", g, want)
			}
		}
	})

	t.Run("Touch", func(t *testing.T) {
		s := newStore(t)
		mustCreateEntry(t, s, entry("e_1", "shoes", 0))
		mustCreateEntry(t, s, entry("e_2", "shoes", 0))
		mustUpsertGuide(t, s, guide("g_1", 0))
		mustUpsertGuide(t, s, guide("g_2", 0))
		seen := at(time.Minute + time.Microsecond)
		if err := s.Touch(ctx, []string{"e_1", "e_missing"}, []string{"g_2", "g_missing"}, seen); err != nil {
			t.Fatalf("Touch: %v", err)
		}
		for id, want := range map[string]time.Time{"e_1": seen, "e_2": {}} {
			e, _ := s.EntryGet(ctx, id)
			if !e.SeenAt.Equal(want) {
				t.Errorf("entry %s SeenAt = %s, want %s", id, e.SeenAt, want)
			}
		}
		for id, want := range map[string]time.Time{"g_1": {}, "g_2": seen} {
			g, _ := s.GuideGet(ctx, id)
			if !g.SeenAt.Equal(want) {
				t.Errorf("guide %s SeenAt = %s, want %s", id, g.SeenAt, want)
			}
		}
		if err := s.Touch(ctx, nil, nil, seen); err != nil {
			t.Errorf("Touch of nothing: %v", err)
		}
	})
}
