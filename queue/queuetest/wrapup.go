package queuetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"guidecall/queue"
)

// wrappedCall is a call guideID accepted at accepted and that ended a
// minute later, with a wrap-up.
func wrappedCall(id, entryID, guideID string, accepted time.Duration, outcome queue.Outcome, notes string) queue.Call {
	c := call(id, entryID, guideID, "shoes", accepted-time.Second)
	c.State, c.AcceptedAt, c.ConnectedAt = queue.CallEnded, ptr(at(accepted)), ptr(at(accepted+time.Second))
	c.EndedAt, c.EndReason, c.EndedBy = ptr(at(accepted+time.Minute)), queue.ReasonHangup, "guide"
	c.Outcome, c.WrapUpNotes, c.WrappedUpAt = outcome, notes, ptr(at(accepted+2*time.Minute))
	return c
}

func runWrapUpTests(t *testing.T, newStore func(t *testing.T) queue.Store) {
	ctx := context.Background()

	t.Run("RoundTripAndHistory", func(t *testing.T) {
		s := newStore(t)
		callFixture(t, s, 3)
		mustCreateCall(t, s, wrappedCall("c_1", "e_1", "g_1", time.Minute, queue.OutcomeFollowUp, "Wants the Trail runner in 43"))
		mustCreateCall(t, s, wrappedCall("c_2", "e_2", "g_1", time.Hour, queue.OutcomeSold, "boots"))
		mustCreateCall(t, s, wrappedCall("c_3", "e_3", "g_2", 2*time.Hour, queue.OutcomeSold, "another guide's"))
		live := call("c_4", "e_3", "g_1", "shoes", 3*time.Hour)
		live.State, live.AcceptedAt = queue.CallAccepted, ptr(at(3*time.Hour))
		mustCreateCall(t, s, live)
		unanswered := call("c_5", "e_1", "g_1", "shoes", 4*time.Hour)
		unanswered.State, unanswered.EndedAt, unanswered.EndReason = queue.CallEnded, ptr(at(4*time.Hour)), queue.ReasonDeclined
		mustCreateCall(t, s, unanswered)

		got, err := s.CallGet(ctx, "c_1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Outcome != queue.OutcomeFollowUp || got.WrapUpNotes != "Wants the Trail runner in 43" || got.WrappedUpAt == nil || !got.WrappedUpAt.Equal(at(3*time.Minute)) {
			t.Errorf("wrap-up round trip: %+v", got)
		}
		if _, err := s.CallUpdate(ctx, "c_2", func(c *queue.Call) error { c.WrapUpNotes = "boots, paid"; return nil }); err != nil {
			t.Fatal(err)
		}

		list := func(q queue.GuideCallsQuery) []string {
			t.Helper()
			if q.GuideID == "" {
				q.GuideID = "g_1"
			}
			if q.Limit == 0 {
				q.Limit = 50
			}
			calls, err := s.CallsOfGuide(ctx, q)
			if err != nil {
				t.Fatalf("CallsOfGuide(%+v): %v", q, err)
			}
			var ids []string
			for _, c := range calls {
				ids = append(ids, c.ID)
			}
			return ids
		}
		for _, tc := range []struct {
			name string
			q    queue.GuideCallsQuery
			want []string
		}{
			{"answered and ended, newest first", queue.GuideCallsQuery{}, []string{"c_2", "c_1"}},
			{"other guide", queue.GuideCallsQuery{GuideID: "g_2"}, []string{"c_3"}},
			{"limit", queue.GuideCallsQuery{Limit: 1}, []string{"c_2"}},
			{"from inclusive", queue.GuideCallsQuery{From: at(time.Hour)}, []string{"c_2"}},
			{"to exclusive", queue.GuideCallsQuery{To: at(time.Hour)}, []string{"c_1"}},
			{"notes (text comes lower-cased)", queue.GuideCallsQuery{Text: "trail runner"}, []string{"c_1"}},
			{"updated notes", queue.GuideCallsQuery{Text: "paid"}, []string{"c_2"}},
			{"outcome", queue.GuideCallsQuery{Text: "follow_up"}, []string{"c_1"}},
			{"shopper name", queue.GuideCallsQuery{Text: "shopper e_2"}, []string{"c_2"}},
			{"page", queue.GuideCallsQuery{Text: "/p/e_1"}, []string{"c_1"}},
			{"queue", queue.GuideCallsQuery{Text: "shoes"}, []string{"c_2", "c_1"}},
			{"a LIKE pattern is plain text", queue.GuideCallsQuery{Text: "%"}, nil},
		} {
			if got := list(tc.q); !slices.Equal(got, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			}
		}
		calls, err := s.CallsOfGuide(ctx, queue.GuideCallsQuery{GuideID: "g_1", Text: "trail", Limit: 5})
		if err != nil || len(calls) != 1 {
			t.Fatalf("%v %v", calls, err)
		}
		want := queue.CallShopper{Name: "Shopper e_1", Locale: "en-GB", Currency: "EUR", PageURL: "https://shop.example/p/e_1"}
		if calls[0].Shopper != want {
			t.Errorf("shopper %+v, want %+v", calls[0].Shopper, want)
		}
	})

	t.Run("ErasureBlanksNotes", func(t *testing.T) {
		s := newStore(t)
		callFixture(t, s, 1)
		mustCreateCall(t, s, wrappedCall("c_1", "e_1", "g_1", time.Minute, queue.OutcomeSold, "Ada, size 38, lives nearby"))
		if _, err := s.EntryErase(ctx, "e_1", at(time.Hour)); err != nil {
			t.Fatal(err)
		}
		got, err := s.CallGet(ctx, "c_1")
		if err != nil {
			t.Fatal(err)
		}
		if got.WrapUpNotes != "" || got.Outcome != queue.OutcomeSold {
			t.Errorf("after erasure: notes %q outcome %q; want the notes gone and the outcome kept", got.WrapUpNotes, got.Outcome)
		}
	})
}
