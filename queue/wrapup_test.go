package queue_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"guidecall/internal/db/dbtest"
	"guidecall/queue"
)

func TestWrapUpMemory(t *testing.T) { testWrapUpNotes(t, memoryStore) }

func TestWrapUpPostgres(t *testing.T) {
	t.Parallel()
	dbtest.URL(t)
	testWrapUpNotes(t, postgresStore)
}

// testWrapUpNotes: only the call's guide saves a wrap-up, only once the
// call ended; a second save corrects the first; the history lists the
// guide's answered calls newest first, by time and by text, with the
// shopper of each.
func testWrapUpNotes(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.guideOnline("g1")
	h.createQueue(queue.Queue{Name: "other"})
	h.guideOnline("g2")
	h.profile("g2", queue.Profile{Queues: []string{"other"}})
	a := h.joinWith(queue.JoinParams{Queue: "default", Name: "Ada", Locale: "de-DE", Currency: "EUR", PageURL: "https://shop.example/p/trail-43"})
	c := h.accept("g1", h.offerOne(a.ID, "g1"))
	h.connectCall(c)
	w := queue.WrapUp{Outcome: queue.OutcomeFollowUp, Notes: "Wants the trail runner in 43\nCall back Friday"}
	if _, err := h.svc.SaveWrapUp(h.ctx, "g1", c.ID, w); !errors.Is(err, queue.ErrBadState) {
		t.Fatalf("wrap-up of a live call: %v, want ErrBadState", err)
	}
	if _, err := h.svc.EndCall(h.ctx, queue.PartyGuide, "g1", c.ID, queue.ReasonHangup); err != nil {
		t.Fatal(err)
	}
	h.rec.take()
	for _, bad := range []struct {
		guide string
		w     queue.WrapUp
		want  error
	}{
		{"g2", w, queue.ErrNotParty},
		{"g1", queue.WrapUp{Outcome: "great"}, queue.ErrInvalid},
		{"g1", queue.WrapUp{Outcome: queue.OutcomeSold, Notes: strings.Repeat("x", queue.MaxWrapUpNotes+1)}, queue.ErrInvalid},
		{"g1", queue.WrapUp{Outcome: queue.OutcomeSold, Notes: "a\x00b"}, queue.ErrInvalid},
	} {
		if _, err := h.svc.SaveWrapUp(h.ctx, bad.guide, c.ID, bad.w); !errors.Is(err, bad.want) {
			t.Errorf("SaveWrapUp(%s, %+v): %v, want %v", bad.guide, bad.w.Outcome, err, bad.want)
		}
	}
	if _, err := h.svc.SaveWrapUp(h.ctx, "g1", "c_missing", w); !errors.Is(err, queue.ErrNotParty) {
		t.Errorf("unknown call: %v, want ErrNotParty", err)
	}
	if evs := h.rec.take(); len(evs) != 0 {
		t.Errorf("refused wrap-ups published %v", evs)
	}
	got, err := h.svc.SaveWrapUp(h.ctx, "g1", c.ID, w)
	if err != nil {
		t.Fatal(err)
	}
	if got.Outcome != queue.OutcomeFollowUp || got.WrapUpNotes != w.Notes || got.WrappedUpAt == nil {
		t.Fatalf("saved %+v", got)
	}
	wantEvent(t, h.rec.take(), "WrappedUp", func(e event) bool { return e.CallID == c.ID && e.Reason == "follow_up" })
	if stored := h.call(c.ID); stored.Outcome != queue.OutcomeFollowUp || stored.WrapUpNotes != w.Notes {
		t.Fatalf("stored %+v", stored)
	}

	// A second call, later, and a correction of the first's notes.
	h.clock.Advance(time.Hour)
	b := h.joinWith(queue.JoinParams{Queue: "default", Name: "Bo", Locale: "fr-FR", Currency: "EUR", PageURL: "https://shop.example/p/boots"})
	c2 := h.accept("g1", h.offerOne(b.ID, "g1"))
	h.connectCall(c2)
	if _, err := h.svc.EndCall(h.ctx, queue.PartyShopper, b.ID, c2.ID, queue.ReasonHangup); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.SaveWrapUp(h.ctx, "g1", c2.ID, queue.WrapUp{Outcome: queue.OutcomeSold, Notes: "Boots, paid"}); err != nil {
		t.Fatal(err)
	}
	w.Notes = "Wants the TRAIL runner in 43, call back Friday"
	if _, err := h.svc.SaveWrapUp(h.ctx, "g1", c.ID, w); err != nil {
		t.Fatal(err)
	}

	ids := func(q queue.GuideCallsQuery) []string {
		t.Helper()
		q.GuideID = "g1"
		calls, err := h.svc.GuideCalls(h.ctx, q)
		if err != nil {
			t.Fatalf("GuideCalls(%+v): %v", q, err)
		}
		var out []string
		for _, gc := range calls {
			out = append(out, gc.ID)
		}
		return out
	}
	same := func(what string, got []string, want ...string) {
		t.Helper()
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: %v, want %v", what, got, want)
		}
	}
	same("all", ids(queue.GuideCallsQuery{}), c2.ID, c.ID)
	same("notes, any case", ids(queue.GuideCallsQuery{Text: "trail RUNNER"}), c.ID)
	same("shopper name", ids(queue.GuideCallsQuery{Text: "bo"}), c2.ID)
	same("outcome", ids(queue.GuideCallsQuery{Text: "sold"}), c2.ID)
	same("page", ids(queue.GuideCallsQuery{Text: "/p/boots"}), c2.ID)
	same("nothing", ids(queue.GuideCallsQuery{Text: "umbrella"}))
	first := *h.call(c.ID).AcceptedAt
	same("from", ids(queue.GuideCallsQuery{From: first.Add(time.Minute)}), c2.ID)
	same("to", ids(queue.GuideCallsQuery{To: first.Add(time.Minute)}), c.ID)
	same("limit", ids(queue.GuideCallsQuery{Limit: 1}), c2.ID)
	calls, err := h.svc.GuideCalls(h.ctx, queue.GuideCallsQuery{GuideID: "g1", Text: "trail"})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0].Shopper.Name != "Ada" || calls[0].Shopper.PageURL != "https://shop.example/p/trail-43" ||
		calls[0].Shopper.Locale != "de-DE" || calls[0].WrapUpNotes != w.Notes {
		t.Errorf("history row %+v", calls)
	}
	if other, err := h.svc.GuideCalls(h.ctx, queue.GuideCallsQuery{GuideID: "g2"}); err != nil || len(other) != 0 {
		t.Errorf("g2's history: %v, %v; it holds no call", other, err)
	}
	if _, err := h.svc.GuideCalls(h.ctx, queue.GuideCallsQuery{GuideID: "g1", From: first, To: first}); !errors.Is(err, queue.ErrInvalid) {
		t.Errorf("from == to: %v, want ErrInvalid", err)
	}
}
