package queue_test

import (
	"slices"
	"testing"
	"time"

	"guidecall/queue"
)

// A guide of capacity 2 is offered a second shopper while it holds an
// offer and then a call, is offered nobody once it holds two, gets the
// next shopper when one call ends (no wrap-up while another call runs),
// gets every live call back when its console reconnects, and going away
// declines every pending offer at once.
func testCapacityTwoHoldsTwoCalls(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.createQueue(queue.Queue{Name: "wrapped", WrapUpSeconds: 30})
	h.profile("g1", queue.Profile{Queues: []string{"wrapped"}, Capacity: 2})
	h.guideOnline("g1")
	a := h.join("wrapped")
	b := h.join("wrapped")
	offers := h.tickExpectOffers(map[string]string{a.ID: "g1", b.ID: "g1"})
	for _, o := range offers {
		h.accept("g1", o.CallID)
	}
	g := h.guide("g1")
	if len(g.CallIDs) != 2 || g.Presence() != queue.PresenceBusy || g.HasRoom() {
		t.Fatalf("guide with two calls holds %q, presence %s, room %t", g.CallIDs, g.Presence(), g.HasRoom())
	}
	h.rec.take()
	c := h.join("wrapped")
	// Its estimate is the sooner of the two calls' ends, not a made-up number.
	p := wantEvent(t, h.rec.take(), "Position", func(e event) bool { return e.EntryID == c.ID })
	h.tickExpectOffers(map[string]string{})
	if eta(p.Pos) <= react || p.Pos.GuidesOnline != 1 {
		t.Errorf("behind a full guide: ETA %d s, guides online %d; want more than %d s, 1", eta(p.Pos), p.Pos.GuidesOnline, react)
	}

	first := h.call(offers[0].CallID)
	h.connectCall(first)
	if _, err := h.svc.EndCall(h.ctx, queue.PartyGuide, "g1", first.ID, queue.ReasonHangup); err != nil {
		t.Fatal(err)
	}
	if g := h.guide("g1"); g.Status != queue.GuideAvailable || !slices.Equal(g.CallIDs, []string{offers[1].CallID}) {
		t.Fatalf("after one of two calls ended: status %s, holds %q; want available with %s", g.Status, g.CallIDs, offers[1].CallID)
	}
	third := h.tickExpectOffers(map[string]string{c.ID: "g1"})[0]

	h.svc.GuideDisconnected(h.ctx, "g1", "ws-g1")
	h.rec.take()
	h.clock.Advance(grace / 2)
	_, live, err := h.svc.GuideConnected(h.ctx, "g1", "Guide g1", "ws-g1b")
	if err != nil {
		t.Fatal(err)
	}
	// The offer to c was withdrawn when the console went; the accepted
	// call survives the grace period.
	if len(live) != 1 || live[0].ID != offers[1].CallID {
		t.Errorf("GuideConnected gives %d calls (%v); want the accepted call %s", len(live), live, offers[1].CallID)
	}
	if got := h.call(third.CallID); got.State != queue.CallEnded || got.EndReason != queue.ReasonGuideLost {
		t.Errorf("offer pending when the console went: %s/%s, want ended guide_left", got.State, got.EndReason)
	}

	// Two offers pending at once; going away declines both.
	if _, err := h.svc.SetPresence(h.ctx, "g1", queue.GuideAvailable); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.EndCall(h.ctx, queue.PartyGuide, "g1", offers[1].CallID, queue.ReasonHangup); err != nil {
		t.Fatal(err)
	}
	// The last call ended: now the queue's wrap-up applies.
	if g := h.guide("g1"); g.Status != queue.GuideWrapUp {
		t.Fatalf("after the last call: %s, want wrap_up", g.Status)
	}
	if _, err := h.svc.SetPresence(h.ctx, "g1", queue.GuideAvailable); err != nil {
		t.Fatal(err)
	}
	d := h.join("wrapped")
	h.rec.take()
	pending := h.tickExpectOffers(map[string]string{c.ID: "g1", d.ID: "g1"})
	if _, err := h.svc.SetPresence(h.ctx, "g1", queue.GuideAway); err != nil {
		t.Fatal(err)
	}
	for _, o := range pending {
		if got := h.call(o.CallID); got.State != queue.CallEnded || got.EndReason != queue.ReasonDeclined {
			t.Errorf("offer %s after going away: %s/%s, want ended declined", o.CallID, got.State, got.EndReason)
		}
	}
	if g := h.guide("g1"); len(g.CallIDs) != 0 {
		t.Errorf("away guide still holds %q", g.CallIDs)
	}
	wantLine(t, h.line("wrapped"), c.ID, d.ID)
}

// The estimate counts a guide of capacity 3 as three places: with one
// call it still has room now; with three, the next shopper waits for the
// soonest end and the one after it for the next.
func testETACapacityThree(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.profile("g1", queue.Profile{Queues: []string{"shoes"}, Capacity: 3})
	h.guideOnline("g1")
	var calls []queue.Call
	for len(calls) < 3 {
		e := h.join("shoes")
		if p := wantEvent(t, h.rec.take(), "Position", func(ev event) bool { return ev.EntryID == e.ID }); eta(p.Pos) != react {
			t.Errorf("guide of capacity 3 with %d calls: ETA %d s, want %d (room now)", len(calls), eta(p.Pos), react)
		}
		calls = append(calls, h.accept("g1", h.offerOne(e.ID, "g1")))
		h.clock.Advance(20 * time.Second)
	}
	h.rec.take()
	x := h.join("shoes")
	y := h.join("shoes")
	h.tick()
	var px, py queue.Position
	for _, ev := range h.rec.take() {
		if ev.Kind == "Position" && ev.EntryID == x.ID {
			px = ev.Pos
		}
		if ev.Kind == "Position" && ev.EntryID == y.ID {
			py = ev.Pos
		}
	}
	now := h.clock.Now()
	restOf := func(c queue.Call) int {
		return int((avgCall - now.Sub(*c.AcceptedAt)).Round(time.Second).Seconds()) + react
	}
	if eta(px) != restOf(calls[0]) || eta(py) != restOf(calls[1]) {
		t.Errorf("behind a full guide of capacity 3: ETAs %d s and %d s; want %d and %d (the two soonest ends)",
			eta(px), eta(py), restOf(calls[0]), restOf(calls[1]))
	}
}
