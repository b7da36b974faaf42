package queue_test

import (
	"errors"
	"testing"

	"guidecall/queue"
)

// A guide's transfer picker lists the other queues and only the
// colleagues who could take this shopper: online, not away, serving its
// queue and speaking its language. Nobody else may read another guide's.
func testTransferTargets(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	for id, p := range map[string]queue.Profile{
		"g1": {Queues: []string{"shoes"}, Languages: []string{"en"}},
		"g2": {Queues: []string{"shoes", "hats"}, Languages: []string{"en-US"}},
		"g3": {Queues: []string{"shoes"}, Languages: []string{"de"}},
		"g4": {Queues: []string{"hats"}, Languages: []string{"en"}},
		"g5": {Queues: []string{"shoes"}, Languages: []string{"en"}},
	} {
		h.profile(id, p)
	}
	for _, id := range []string{"g1", "g2", "g3", "g4", "g5"} {
		h.guideOnline(id)
	}
	if _, err := h.svc.SetPresence(h.ctx, "g5", queue.GuideAway); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"g2", "g3", "g4"} {
		if _, err := h.svc.SetPresence(h.ctx, id, queue.GuideAway); err != nil {
			t.Fatal(err)
		}
	}
	a := h.join("shoes")
	c := h.accept("g1", h.offerOne(a.ID, "g1"))
	for _, id := range []string{"g2", "g3", "g4"} {
		if _, err := h.svc.SetPresence(h.ctx, id, queue.GuideAvailable); err != nil {
			t.Fatal(err)
		}
	}
	tt, err := h.svc.TransferTargets(h.ctx, "g1", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if tt.Queue != "shoes" || len(tt.Queues) != 1 || tt.Queues[0].Name != "hats" || !tt.Queues[0].Open {
		t.Errorf("queues: from %q to %+v; want from shoes to hats (open)", tt.Queue, tt.Queues)
	}
	if len(tt.Colleagues) != 1 || tt.Colleagues[0].ID != "g2" || tt.Colleagues[0].Presence != queue.PresenceAvailable {
		t.Errorf("colleagues %+v; want only g2, available (g3 speaks German, g4 serves hats, g5 is away)", tt.Colleagues)
	}
	if _, err := h.svc.TransferTargets(h.ctx, "g2", c.ID); !errors.Is(err, queue.ErrNotParty) {
		t.Errorf("another guide reads the targets of g1's call: %v, want ErrNotParty", err)
	}
}
