package queuetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"guidecall/queue"
)

// endedCallAt creates a call and ends it at once, so one guide can hold
// any number of them in the history.
func endedCallAt(t *testing.T, s queue.Store, c queue.Call, accepted, connected, ended time.Duration, rating int) {
	t.Helper()
	mustCreateCall(t, s, c)
	if _, err := s.CallUpdate(context.Background(), c.ID, func(cur *queue.Call) error {
		cur.State = queue.CallEnded
		if accepted > 0 {
			cur.AcceptedAt = ptr(at(accepted))
		}
		if connected > 0 {
			cur.ConnectedAt = ptr(at(connected))
		}
		cur.EndedAt, cur.EndReason, cur.Rating = ptr(at(ended)), queue.ReasonHangup, rating
		return nil
	}); err != nil {
		t.Fatalf("CallUpdate(%s): %v", c.ID, err)
	}
}

func runHistoryTests(t *testing.T, newStore func(t *testing.T) queue.Store) {
	ctx := context.Background()

	// The window holds the entries that joined in [from, to) of its queue,
	// every call of those entries (even one offered after to), and those
	// calls' reports in the order they were added; nothing else.
	t.Run("WindowOfEntriesWithTheirCallsAndReports", func(t *testing.T) {
		s := newStore(t)
		mustUpsertGuide(t, s, guide("g_1", 0))
		mustCreateEntry(t, s, entry("e_before", "shoes", 0))
		mustCreateEntry(t, s, entry("e_first", "shoes", time.Hour))
		mustCreateEntry(t, s, entry("e_other", "hats", time.Hour+time.Second))
		mustCreateEntry(t, s, entry("e_second", "shoes", 2*time.Hour))
		mustCreateEntry(t, s, entry("e_at_to", "shoes", 3*time.Hour))

		endedCallAt(t, s, call("c_before", "e_before", "g_1", "shoes", time.Second), 2*time.Second, 3*time.Second, time.Minute, 0)
		endedCallAt(t, s, call("c_first_declined", "e_first", "g_1", "shoes", time.Hour+time.Second), 0, 0, time.Hour+2*time.Second, 0)
		endedCallAt(t, s, call("c_first", "e_first", "g_1", "shoes", time.Hour+5*time.Second), time.Hour+6*time.Second, time.Hour+7*time.Second, time.Hour+5*time.Minute, 4)
		endedCallAt(t, s, call("c_other", "e_other", "g_1", "hats", time.Hour+10*time.Second), time.Hour+11*time.Second, time.Hour+12*time.Second, time.Hour+time.Minute, 5)
		// Offered after the window's end: still the second entry's call.
		endedCallAt(t, s, call("c_second", "e_second", "g_1", "shoes", 3*time.Hour+time.Second), 3*time.Hour+2*time.Second, 3*time.Hour+3*time.Second, 3*time.Hour+time.Minute, 0)
		endedCallAt(t, s, call("c_at_to", "e_at_to", "g_1", "shoes", 3*time.Hour+time.Second), 0, 0, 3*time.Hour+2*time.Second, 0)

		want := []queue.QualityReport{report(queue.PartyGuide, time.Hour+20*time.Second, 40), report(queue.PartyShopper, time.Hour+21*time.Second, 80)}
		for _, r := range want {
			if err := s.QualityAdd(ctx, "c_first", r); err != nil {
				t.Fatalf("QualityAdd: %v", err)
			}
		}
		if err := s.QualityAdd(ctx, "c_before", report(queue.PartyGuide, 10*time.Second, 10)); err != nil {
			t.Fatalf("QualityAdd: %v", err)
		}
		if err := s.QualityAdd(ctx, "c_other", report(queue.PartyGuide, time.Hour+15*time.Second, 10)); err != nil {
			t.Fatalf("QualityAdd: %v", err)
		}

		h, err := s.History(ctx, queue.HistoryQuery{From: at(time.Hour), To: at(3 * time.Hour), Queue: "shoes"})
		if err != nil {
			t.Fatalf("History: %v", err)
		}
		if got := ids(h.Entries, func(e queue.Entry) string { return e.ID }); !reflect.DeepEqual(got, []string{"e_first", "e_second"}) {
			t.Fatalf("entries %v, want [e_first e_second] (joined in the window, of its queue)", got)
		}
		if got := ids(h.Calls, func(c queue.Call) string { return c.ID }); !reflect.DeepEqual(got, []string{"c_first_declined", "c_first", "c_second"}) {
			t.Fatalf("calls %v, want the window's entries' calls by offer time", got)
		}
		if c := h.Calls[1]; c.Rating != 4 || !c.ConnectedAt.Equal(at(time.Hour+7*time.Second)) || !c.EndedAt.Equal(at(time.Hour+5*time.Minute)) {
			t.Fatalf("call c_first read back as %+v", c)
		}
		if len(h.Quality) != 1 || !reflect.DeepEqual(h.Quality["c_first"], want) {
			t.Fatalf("quality %+v, want only c_first's reports in order", h.Quality)
		}

		all, err := s.History(ctx, queue.HistoryQuery{From: at(time.Hour), To: at(3 * time.Hour)})
		if err != nil {
			t.Fatalf("History of every queue: %v", err)
		}
		if got := ids(all.Entries, func(e queue.Entry) string { return e.ID }); !reflect.DeepEqual(got, []string{"e_first", "e_other", "e_second"}) {
			t.Fatalf("every queue's entries %v", got)
		}
		if len(all.Quality) != 2 {
			t.Fatalf("every queue's quality covers %d calls, want 2", len(all.Quality))
		}

		empty, err := s.History(ctx, queue.HistoryQuery{From: at(10 * time.Hour), To: at(11 * time.Hour)})
		if err != nil || len(empty.Entries) != 0 || len(empty.Calls) != 0 || len(empty.Quality) != 0 {
			t.Fatalf("an empty window: %+v, %v", empty, err)
		}
	})
}
