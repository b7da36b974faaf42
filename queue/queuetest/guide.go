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
			IdleSince: at(5 * time.Second), MissedOffers: 1, CallIDs: []string{"c_1"},
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
			g.Status, g.Online, g.CallIDs, g.MissedOffers = queue.GuideAvailable, true, []string{"c_1"}, 7
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
		busy.CallIDs = []string{"c_1"}
		// Capacity counts offers and calls: room for one more is available,
		// a full guide of capacity 3 is not.
		roomy := avail("g_roomy", 2*time.Second)
		roomy.Capacity, roomy.CallIDs = 2, []string{"c_2"}
		full := avail("g_full", -time.Hour)
		full.Capacity, full.CallIDs = 3, []string{"c_3", "c_4", "c_5"}
		for _, g := range []queue.Guide{
			roomy,
			full,
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
		wantIDs(t, "GuidesAvailable", guideIDs(got), []string{"g_early", "g_tie_a", "g_tie_b", "g_micro", "g_roomy", "g_late"})
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
			gg.Online, gg.Status = g.online, g.status
			if g.call != "" {
				gg.CallIDs = []string{g.call}
			}
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
				want.Online, want.Status, want.CallIDs = true, queue.GuideAvailable, []string{"c_1"}
				sameGuide(t, "GuidesOnline g_c", g, want)
			}
		}
	})

	t.Run("Touch", func(t *testing.T) {
		s := newStore(t)
		old := at(time.Second)
		setEntry := func(e queue.Entry, fn func(*queue.Entry)) {
			t.Helper()
			mustCreateEntry(t, s, e)
			if _, err := s.EntryUpdate(ctx, e.ID, func(cur *queue.Entry) error { fn(cur); return nil }); err != nil {
				t.Fatal(err)
			}
		}
		setEntry(entry("e_held", "shoes", 0), func(e *queue.Entry) { e.SocketID, e.SeenAt = "s1", old })
		setEntry(entry("e_moved", "shoes", 0), func(e *queue.Entry) { e.SocketID, e.SeenAt = "elsewhere", old })
		// Declared gone by the matcher: no socket, dropped exactly when last seen.
		setEntry(entry("e_given_up", "shoes", 0), func(e *queue.Entry) {
			e.SocketID, e.SeenAt, e.DisconnectedAt = queue.SocketGivenUp, old, ptr(old)
		})
		// Really closed its socket later than it was last seen.
		setEntry(entry("e_closed", "shoes", 0), func(e *queue.Entry) { e.SeenAt, e.DisconnectedAt = old, ptr(at(2*time.Second)) })
		setEntry(entry("e_done", "shoes", 0), func(e *queue.Entry) {
			e.State, e.SocketID, e.SeenAt, e.DisconnectedAt = queue.EntryDone, queue.SocketGivenUp, old, ptr(old)
		})
		held := mustSetGuide(t, s, guide("g_held", 0))
		held.Online, held.SocketID, held.SeenAt = true, "t1", old
		mustSetGuide(t, s, held)
		givenUp := guide("g_given_up", 0)
		givenUp.SocketID, givenUp.SeenAt, givenUp.DisconnectedAt = queue.SocketGivenUp, old, ptr(old)
		mustSetGuide(t, s, givenUp)

		seen := at(time.Minute + time.Microsecond)
		entries := []queue.Held{{ID: "e_held", SocketID: "s1"}, {ID: "e_moved", SocketID: "s2"}, {ID: "e_given_up", SocketID: "s3"},
			{ID: "e_closed", SocketID: "s4"}, {ID: "e_done", SocketID: "s5"}, {ID: "e_missing", SocketID: "s6"}}
		guides := []queue.Held{{ID: "g_held", SocketID: "t1"}, {ID: "g_given_up", SocketID: "t2"}, {ID: "g_missing", SocketID: "t3"}}
		backE, backG, err := s.Touch(ctx, entries, guides, seen)
		if err != nil {
			t.Fatalf("Touch: %v", err)
		}
		wantIDs(t, "reclaimed entries", backE, []string{"e_given_up"})
		wantIDs(t, "reclaimed guides", backG, []string{"g_given_up"})
		for id, want := range map[string]struct {
			seen   time.Time
			socket string
			gone   bool
		}{
			"e_held": {seen, "s1", false}, "e_moved": {old, "elsewhere", false}, "e_given_up": {seen, "s3", false},
			"e_closed": {old, "", true}, "e_done": {old, queue.SocketGivenUp, true},
		} {
			e, _ := s.EntryGet(ctx, id)
			if !e.SeenAt.Equal(want.seen) || e.SocketID != want.socket || (e.DisconnectedAt != nil) != want.gone {
				t.Errorf("entry %s: seen %s socket %q disconnected %v; want seen %s socket %q disconnected %v",
					id, e.SeenAt, e.SocketID, e.DisconnectedAt, want.seen, want.socket, want.gone)
			}
		}
		for id, socket := range map[string]string{"g_held": "t1", "g_given_up": "t2"} {
			g, _ := s.GuideGet(ctx, id)
			if !g.SeenAt.Equal(seen) || g.SocketID != socket || !g.Online || g.DisconnectedAt != nil {
				t.Errorf("guide %s: seen %s socket %q online %v disconnected %v; want reclaimed or refreshed", id, g.SeenAt, g.SocketID, g.Online, g.DisconnectedAt)
			}
		}
		if _, _, err := s.Touch(ctx, nil, nil, seen); err != nil {
			t.Errorf("Touch of nothing: %v", err)
		}

		// A refresh of SeenAt alone is not a change the counter counts; a
		// reclaim is.
		cc, ok := s.(queue.ChangeCounter)
		if !ok {
			return
		}
		version := func() int64 {
			t.Helper()
			v, err := cc.ChangeVersion(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		v := version()
		if _, _, err := s.Touch(ctx, entries, guides, seen.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		if got := version(); got != v {
			t.Errorf("ChangeVersion moved from %d to %d on a Touch that only refreshed SeenAt", v, got)
		}
		if e, _ := s.EntryGet(ctx, "e_held"); !e.SeenAt.Equal(seen.Add(time.Second)) {
			t.Errorf("e_held seen %s after the second Touch, want %s", e.SeenAt, seen.Add(time.Second))
		}
		setEntry(entry("e_given_up2", "shoes", 0), func(e *queue.Entry) {
			e.SocketID, e.SeenAt, e.DisconnectedAt = queue.SocketGivenUp, old, ptr(old)
		})
		v = version()
		backE, _, err = s.Touch(ctx, []queue.Held{{ID: "e_given_up2", SocketID: "s7"}}, nil, seen)
		if err != nil {
			t.Fatal(err)
		}
		wantIDs(t, "reclaimed entries", backE, []string{"e_given_up2"})
		if got := version(); got == v {
			t.Errorf("ChangeVersion stood at %d over a Touch that reclaimed an entry", v)
		}
	})

	t.Run("EntriesUnseen", func(t *testing.T) {
		s := newStore(t)
		old, recent, cutoff := at(time.Second), at(time.Minute), at(30*time.Second)
		set := func(e queue.Entry, fn func(*queue.Entry)) {
			t.Helper()
			mustCreateEntry(t, s, e)
			if _, err := s.EntryUpdate(ctx, e.ID, func(cur *queue.Entry) error { fn(cur); return nil }); err != nil {
				t.Fatal(err)
			}
		}
		set(entry("e_old_b", "shoes", 0), func(e *queue.Entry) { e.SocketID, e.SeenAt = "s1", old })
		set(entry("e_old_a", "hats", 0), func(e *queue.Entry) { e.SocketID, e.SeenAt = "s2", old })
		set(entry("e_recent", "shoes", 0), func(e *queue.Entry) { e.SocketID, e.SeenAt = "s3", recent })
		set(entry("e_at_cutoff", "shoes", 0), func(e *queue.Entry) { e.SocketID, e.SeenAt = "s4", cutoff })
		set(entry("e_gone", "shoes", 0), func(e *queue.Entry) { e.SeenAt, e.DisconnectedAt = old, ptr(old) })
		set(entry("e_never", "shoes", 0), func(e *queue.Entry) { e.SeenAt = time.Time{} })
		set(entry("e_done", "shoes", 0), func(e *queue.Entry) { e.State, e.SocketID, e.SeenAt = queue.EntryDone, "s5", old })
		got, err := s.EntriesUnseen(ctx, cutoff)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range got {
			ids = append(ids, e.ID)
		}
		if !slices.Equal(ids, []string{"e_old_a", "e_old_b"}) {
			t.Errorf("EntriesUnseen = %v, want [e_old_a e_old_b]", ids)
		}
	})
}
