package queue_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"guidecall/queue"
)

// failingGuideStore fails GuideUpdate while armed, as a database blip or a
// canceled request would in the middle of a change.
type failingGuideStore struct {
	queue.Store
	armed bool
}

func (s *failingGuideStore) GuideUpdate(ctx context.Context, id string, fn func(*queue.Guide) error) (queue.Guide, error) {
	if s.armed {
		return queue.Guide{}, queue.ErrUnavailable
	}
	return s.Store.GuideUpdate(ctx, id, fn)
}

// connectCall takes one shopper and one guide through offer and accept.
func connectCall(t *testing.T, h *harness, guideID string) (queue.Entry, queue.Call) {
	t.Helper()
	h.guideOnline(guideID)
	e := h.join("shoes")
	h.tick()
	offer := wantEvent(t, h.rec.take(), "Offer", nil)
	c, err := h.svc.Accept(h.ctx, guideID, offer.CallID)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	return e, c
}

// TestRepairFreesGuideStrandedByInterruptedEnd: the call ended but freeing
// the guide failed; the next tick frees it and it gets the next shopper.
func TestRepairFreesGuideStrandedByInterruptedEnd(t *testing.T) {
	h := newHarness(t)
	store := &failingGuideStore{Store: h.store}
	svc, err := queue.NewService(queue.Config{Store: store, Notifier: h.rec, Now: h.clock.Now, StaleAfter: 24 * time.Hour,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	_, c := connectCall(t, h, "g1")
	if _, err := svc.Connected(h.ctx, queue.PartyGuide, "g1", c.ID); err != nil {
		t.Fatal(err)
	}
	store.armed = true
	if _, err := svc.EndCall(h.ctx, queue.PartyGuide, "g1", c.ID, queue.ReasonHangup); err != nil {
		t.Fatalf("EndCall: %v", err)
	}
	store.armed = false
	if g := h.guide("g1"); g.CallID != c.ID {
		t.Fatalf("setup: guide call %q, want it stranded on %s", g.CallID, c.ID)
	}
	h.rec.take()
	next := h.join("shoes")
	h.tick()
	if g := h.guide("g1"); g.CallID == c.ID {
		t.Fatal("the guide is still held by the ended call after a tick")
	}
	h.tick()
	wantEvent(t, h.rec.take(), "Offer", func(e event) bool { return e.GuideID == "g1" && e.EntryID == next.ID })
}

// TestAcceptedCallThatNeverConnectsEnds frees the guide after
// ConnectTimeout instead of holding it forever.
func TestAcceptedCallThatNeverConnectsEnds(t *testing.T) {
	h := newHarness(t)
	e, c := connectCall(t, h, "g1")
	h.rec.take()
	h.clock.Advance(2*time.Minute + time.Second)
	h.tick()
	wantEvent(t, h.rec.take(), "CallEnded", func(ev event) bool { return ev.CallID == c.ID && ev.Reason == queue.ReasonFailed })
	if g := h.guide("g1"); g.CallID != "" {
		t.Errorf("guide still on call %s", g.CallID)
	}
	if got := h.entry(e.ID).State; got != queue.EntryDone {
		t.Errorf("entry %s, want done", got)
	}
}

// TestOrphanOfferChargesNoMiss: an offered call whose guide never held it
// (a node died between creating the call and binding the guide) expires
// without counting against the guide.
func TestOrphanOfferChargesNoMiss(t *testing.T) {
	h := newHarness(t)
	h.guideOnline("g1")
	e := h.join("shoes")
	now := h.clock.Now()
	if _, err := h.store.CallCreate(h.ctx, queue.Call{
		ID: "c_orphan", EntryID: e.ID, GuideID: "g1", Queue: "shoes", State: queue.CallOffered,
		OfferDeadline: now.Add(offerTimeout), JoinedAt: e.JoinedAt, OfferedAt: now,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.SetPresence(h.ctx, "g1", queue.GuideAway); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(offerTimeout + time.Second)
	h.tick()
	if g := h.guide("g1"); g.MissedOffers != 0 {
		t.Errorf("guide charged %d missed offers for an offer it never held", g.MissedOffers)
	}
}

// TestTouchBringsBackPartiesGivenUpDuringOutage: nobody reported a guide
// or shopper for longer than StaleAfter (the database was away), so the
// matcher declared them dropped; their node's next Touch, with the same
// sockets, brings them back and the queue moves again.
func TestTouchBringsBackPartiesGivenUpDuringOutage(t *testing.T) {
	h := newHarness(t)
	svc, err := queue.NewService(queue.Config{
		Store: h.store, Notifier: h.rec, Now: h.clock.Now, StaleAfter: 15 * time.Second, ReconnectGrace: grace,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	if _, _, err := svc.GuideConnected(h.ctx, "g1", "Guide", "ws-g1"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetPresence(h.ctx, "g1", queue.GuideAvailable); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(16 * time.Second)
	h.tick()
	if g := h.guide("g1"); g.Online {
		t.Fatal("setup: guide not declared gone after StaleAfter without a report")
	}
	if err := svc.Touch(h.ctx, nil, []queue.Held{{ID: "g1", SocketID: "ws-g1"}}); err != nil {
		t.Fatal(err)
	}
	if g := h.guide("g1"); !g.Online || g.SocketID != "ws-g1" {
		t.Fatalf("guide after its node reported it again: online %v socket %q", g.Online, g.SocketID)
	}
	h.rec.take()
	e := h.join("shoes")
	if err := svc.Touch(h.ctx, []queue.Held{{ID: e.ID, SocketID: "ws-" + e.ID}}, []queue.Held{{ID: "g1", SocketID: "ws-g1"}}); err != nil {
		t.Fatal(err)
	}
	h.tick()
	wantEvent(t, h.rec.take(), "Offer", func(ev event) bool { return ev.GuideID == "g1" && ev.EntryID == e.ID })

	// A socket that really closed is not brought back by a late report.
	svc.GuideDisconnected(h.ctx, "g1", "ws-g1")
	if err := svc.Touch(h.ctx, nil, []queue.Held{{ID: "g1", SocketID: "ws-g1"}}); err != nil {
		t.Fatal(err)
	}
	if g := h.guide("g1"); g.Online {
		t.Error("a closed socket's late report brought the guide back")
	}
}

// TestServiceStartTwice refuses a second Start instead of leaking a loop.
func TestServiceStartTwice(t *testing.T) {
	h := newHarness(t)
	if err := h.svc.Start(h.ctx); err != nil {
		t.Fatal(err)
	}
	defer h.svc.Stop()
	if err := h.svc.Start(h.ctx); err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("second Start: %v, want an error", err)
	}
}
