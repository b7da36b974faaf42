package queue_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"guidecall/queue"
)

// failingGuideStore fails every guide write inside a transaction while
// armed, as a database blip or a canceled request would in the middle of
// a change.
type failingGuideStore struct {
	queue.Store
	armed atomic.Bool
}

func (s *failingGuideStore) Tx(ctx context.Context, fn func(ctx context.Context, tx queue.StoreTx) error) error {
	return s.Store.Tx(ctx, func(ctx context.Context, tx queue.StoreTx) error {
		return fn(ctx, failingGuideTx{StoreTx: tx, s: s})
	})
}

type failingGuideTx struct {
	queue.StoreTx
	s *failingGuideStore
}

func (tx failingGuideTx) GuideUpdate(ctx context.Context, id string, fn func(*queue.Guide) error) (queue.Guide, error) {
	if tx.s.armed.Load() {
		return queue.Guide{}, queue.ErrUnavailable
	}
	return tx.StoreTx.GuideUpdate(ctx, id, fn)
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

// testInterruptedEndChangesNothing: freeing the guide fails in the
// middle of ending a call, so the whole change rolls back: the call is
// still connected, the guide still in it, and nobody was told it ended.
// Hanging up again works, and the guide gets the next shopper. (Before
// changes were one transaction, a repair sweep had to free such a guide.)
func testInterruptedEndChangesNothing(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	store := &failingGuideStore{Store: h.store}
	h.useService(queue.Config{Store: store, StaleAfter: 24 * time.Hour})
	_, c := connectCall(t, h, "g1")
	if _, err := h.svc.Connected(h.ctx, queue.PartyGuide, "g1", c.ID); err != nil {
		t.Fatal(err)
	}
	h.rec.take()
	store.armed.Store(true)
	if _, err := h.svc.EndCall(h.ctx, queue.PartyGuide, "g1", c.ID, queue.ReasonHangup); !errors.Is(err, queue.ErrUnavailable) {
		t.Fatalf("EndCall with the guide write failing: %v, want ErrUnavailable", err)
	}
	store.armed.Store(false)
	if got := h.call(c.ID); got.State != queue.CallConnected || got.EndedAt != nil {
		t.Errorf("call after a failed end: %s ended %v, want still connected", got.State, got.EndedAt)
	}
	if e := h.entry(c.EntryID); e.State != queue.EntryInCall {
		t.Errorf("entry after a failed end: %s, want in_call", e.State)
	}
	if g := h.guide("g1"); !g.Holds(c.ID) {
		t.Errorf("guide after a failed end holds %q, want %s", g.CallIDs, c.ID)
	}
	// The next change's events come after whatever the failed one would
	// have published: there must be none of it in between.
	next := h.join("shoes")
	if evs := h.rec.take(); len(kinds(evs, "CallEnded")) != 0 || len(kinds(evs, "Position")) != 1 {
		t.Errorf("events after a failed end, up to the next join:%s\nwant only the join's position", describe(evs))
	}
	if _, err := h.svc.EndCall(h.ctx, queue.PartyGuide, "g1", c.ID, queue.ReasonHangup); err != nil {
		t.Fatalf("EndCall again: %v", err)
	}
	wantEvent(t, h.rec.take(), "CallEnded", func(e event) bool { return e.CallID == c.ID })
	h.offerOne(next.ID, "g1")
}

// TestAcceptedCallThatNeverConnectsEnds frees the guide after
// ConnectTimeout instead of holding it forever.
func testAcceptedCallThatNeverConnectsEnds(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	e, c := connectCall(t, h, "g1")
	h.rec.take()
	h.clock.Advance(2*time.Minute + time.Second)
	h.tick()
	wantEvent(t, h.rec.take(), "CallEnded", func(ev event) bool { return ev.CallID == c.ID && ev.Reason == queue.ReasonFailed })
	if g := h.guide("g1"); len(g.CallIDs) > 0 {
		t.Errorf("guide still on call %s", g.CallIDs)
	}
	if got := h.entry(e.ID).State; got != queue.EntryDone {
		t.Errorf("entry %s, want done", got)
	}
}

// TestOrphanOfferChargesNoMiss: an offered call whose guide never held it
// (a node died between creating the call and binding the guide) expires
// without counting against the guide.
func testOrphanOfferChargesNoMiss(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
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
func testTouchBringsBackPartiesGivenUpDuringOutage(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.useService(queue.Config{StaleAfter: 15 * time.Second, ReconnectGrace: grace})
	svc := h.svc
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
func testServiceStartTwice(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	if err := h.svc.Start(h.ctx); err != nil {
		t.Fatal(err)
	}
	defer h.svc.Stop()
	if err := h.svc.Start(h.ctx); err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("second Start: %v, want an error", err)
	}
}
