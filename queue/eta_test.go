package queue_test

import (
	"testing"
	"time"
)

// TestETACountsFreeGuides: a shopper a free guide is about to be offered
// to is told it waits about nothing, not a whole call; behind a busy
// guide it waits about one call.
func testETACountsFreeGuides(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.guideOnline("g1")
	h.rec.take()
	a := h.join("shoes") // told its position on connect, before any tick
	p := wantEvent(t, h.rec.take(), "Position", func(e event) bool { return e.EntryID == a.ID })
	if p.Pos.Position != 1 || eta(p.Pos) != react {
		t.Errorf("with a free guide: position %d, ETA %d s; want 1, %d (the guide's time to accept)", p.Pos.Position, eta(p.Pos), react)
	}
	h.tick()
	offer := wantEvent(t, h.rec.take(), "Offer", nil)
	c := h.accept("g1", offer.CallID)
	h.clock.Advance(time.Second)
	b := h.join("shoes")
	p = wantEvent(t, h.rec.take(), "Position", func(e event) bool { return e.EntryID == b.ID })
	// The call has run for a while already: the rest of an average call.
	rest := avgCall - h.clock.Now().Sub(*c.AcceptedAt)
	if want := int(rest.Seconds()) + react; p.Pos.Position != 1 || eta(p.Pos) != want {
		t.Errorf("behind a busy guide: position %d, ETA %d s; want 1, %d", p.Pos.Position, eta(p.Pos), want)
	}
}
