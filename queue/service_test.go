package queue_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"guidecall/queue"
)

// Matcher tests drive the Service by calling Tick with a fake clock; only
// TestStartStop runs the loop.

const (
	offerTimeout = 15 * time.Second
	// react is the offer-to-accept time the estimate assumes before any
	// call has been handled.
	react   = 5
	grace   = 20 * time.Second
	avgCall = 3 * time.Minute
)

// fakeClock is Config.Now under the test's control.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// event is one queue event, flattened for the assertions.
type event struct {
	Kind      string
	EntryID   string
	GuideID   string
	CallID    string
	Reason    string
	Pos       queue.Position
	Entry     queue.Entry
	Guide     queue.Guide
	Call      queue.Call
	Lost      queue.Party
	Connected bool
}

func (e event) String() string {
	s := e.Kind
	for _, kv := range [][2]string{{"entry", e.EntryID}, {"guide", e.GuideID}, {"call", e.CallID}, {"reason", e.Reason}} {
		if kv[1] != "" {
			s += " " + kv[0] + "=" + kv[1]
		}
	}
	if e.Kind == "Position" || e.Kind == "Requeued" {
		s += fmt.Sprintf(" pos=%d eta=%d", e.Pos.Position, eta(e.Pos))
	}
	return s
}

// recorder subscribes to a Service and keeps every event in order. The
// Service hands events to subscribers before the method that made them
// returns (when no other change is still running), so a test that drives
// the Service from one goroutine finds them all in the buffer.
type recorder struct {
	t   testing.TB
	sub *queue.Subscription
}

func record(t testing.TB, svc *queue.Service) *recorder {
	r := &recorder{t: t, sub: svc.Subscribe("test", 1<<16)}
	t.Cleanup(r.sub.Close)
	return r
}

// take returns the events so far and forgets them.
func (r *recorder) take() []event {
	var out []event
	for {
		select {
		case ev, ok := <-r.sub.Events():
			if !ok {
				return out
			}
			for _, ev := range flatten(ev) {
				out = append(out, r.convert(ev))
			}
		default:
			if n := r.sub.Dropped(); n > 0 {
				r.t.Errorf("the recorder missed %d events", n)
			}
			return out
		}
	}
}

// flatten makes a batch of positions one event per shopper, as the
// assertions read them.
func flatten(ev queue.Event) []queue.Event {
	b, ok := ev.(queue.PositionsChanged)
	if !ok {
		return []queue.Event{ev}
	}
	var out []queue.Event
	for _, p := range b.Each() {
		out = append(out, p)
	}
	return out
}

// convert flattens a queue event into what the assertions look at.
func (r *recorder) convert(ev queue.Event) event {
	if ev.EventID() == "" || ev.EventTime().IsZero() {
		r.t.Errorf("%s event without id or time: %+v", ev.Kind(), ev)
	}
	switch ev := ev.(type) {
	case queue.PositionChanged:
		return event{Kind: "Position", EntryID: ev.EntryID, Pos: ev.Position}
	case queue.OfferMade:
		return event{Kind: "Offer", EntryID: ev.Entry.ID, GuideID: ev.Call.GuideID, CallID: ev.Call.ID, Call: ev.Call, Entry: ev.Entry}
	case queue.OfferRevoked:
		return event{Kind: "OfferRevoked", GuideID: ev.Call.GuideID, CallID: ev.Call.ID, Reason: ev.Reason, Call: ev.Call}
	case queue.CallMatched:
		return event{Kind: "Matched", EntryID: ev.Entry.ID, GuideID: ev.Guide.ID, CallID: ev.Call.ID, Call: ev.Call, Entry: ev.Entry, Guide: ev.Guide}
	case queue.Requeued:
		return event{Kind: "Requeued", EntryID: ev.Entry.ID, Reason: ev.Reason, Pos: ev.Position, Entry: ev.Entry}
	case queue.EntryLeft:
		return event{Kind: "EntryLeft", EntryID: ev.Entry.ID, Reason: ev.Entry.LeftReason, Entry: ev.Entry}
	case queue.CallStateChanged:
		c := ev.Call
		return event{Kind: "CallState", CallID: c.ID, EntryID: c.EntryID, GuideID: c.GuideID, Reason: string(c.State), Call: c}
	case queue.CallFinished:
		c := ev.Call
		return event{Kind: "CallEnded", CallID: c.ID, EntryID: c.EntryID, GuideID: c.GuideID, Reason: c.EndReason, Call: c}
	case queue.PresenceChanged:
		return event{Kind: "Presence", GuideID: ev.Guide.ID, Reason: ev.Reason, Guide: ev.Guide}
	case queue.PeerStatusChanged:
		return event{Kind: "PeerStatus", CallID: ev.Call.ID, Lost: ev.Lost, Connected: ev.Connected}
	case queue.QualityReported:
		return event{Kind: "Quality", CallID: ev.Call.ID, Lost: ev.Report.Party, Call: ev.Call}
	case queue.CallItemAdded:
		return event{Kind: "ItemAdded", CallID: ev.Call.ID, Reason: string(ev.Item.Kind), Call: ev.Call}
	case queue.CallRated:
		return event{Kind: "Rated", CallID: ev.Call.ID, Call: ev.Call, Reason: ev.CustomerID}
	case queue.CallWrappedUp:
		return event{Kind: "WrappedUp", CallID: ev.Call.ID, GuideID: ev.Call.GuideID, Reason: string(ev.Call.Outcome), Call: ev.Call}
	case queue.EntryRelaxed:
		return event{Kind: "Relaxed", EntryID: ev.Entry.ID, Reason: ev.Step, Entry: ev.Entry}
	case queue.CallbackChanged:
		return event{Kind: "Callback", Reason: string(ev.Callback.State), EntryID: ev.Callback.EntryID}
	}
	r.t.Errorf("unknown event type %T", ev)
	return event{Kind: fmt.Sprintf("%T", ev)}
}

// kinds keeps the events of the given kinds.
func kinds(evs []event, want ...string) []event {
	var out []event
	for _, e := range evs {
		if slices.Contains(want, e.Kind) {
			out = append(out, e)
		}
	}
	return out
}

func describe(evs []event) string {
	var b strings.Builder
	for _, e := range evs {
		b.WriteString("\n  " + e.String())
	}
	if b.Len() == 0 {
		return " (none)"
	}
	return b.String()
}

type harness struct {
	t     *testing.T
	ctx   context.Context
	clock *fakeClock
	rec   *recorder
	store queue.Store
	svc   *queue.Service
}

// storeFunc makes an empty store for one test.
type storeFunc func(t *testing.T) queue.Store

func newHarness(t *testing.T, newStore storeFunc) *harness {
	t.Helper()
	h := &harness{
		t:     t,
		ctx:   context.Background(),
		clock: &fakeClock{t: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)},
		store: newStore(t),
	}
	h.useService(queue.Config{
		Store:        h.store,
		OfferTimeout: offerTimeout, MaxMissedOffers: 2, ReconnectGrace: grace,
		AvgCallDuration: avgCall,
		// Nobody refreshes SeenAt here; keep dead-node detection out of
		// the way of the grace periods under test.
		StaleAfter: 24 * time.Hour,
	})
	return h
}

// useService puts a new Service over cfg.Store (the harness's store when
// nil) on the harness's clock, and records its events.
func (h *harness) useService(cfg queue.Config) {
	h.t.Helper()
	if cfg.Store == nil {
		cfg.Store = h.store
	}
	cfg.Now = h.clock.Now
	cfg.Logger = slog.New(slog.DiscardHandler)
	svc, err := queue.NewService(cfg)
	if err != nil {
		h.t.Fatalf("NewService: %v", err)
	}
	h.t.Cleanup(svc.Stop)
	h.svc = svc
	h.rec = record(h.t, svc)
	// The queues the tests join, open around the clock, no rules.
	for _, name := range []string{"shoes", "hats"} {
		if _, err := svc.CreateQueue(h.ctx, queue.Queue{Name: name}); err != nil && !errors.Is(err, queue.ErrBadState) {
			h.t.Fatalf("CreateQueue(%s): %v", name, err)
		}
	}
}

// eta is a position's estimate in seconds, -1 for none.
func eta(p queue.Position) int {
	if p.ETASeconds == nil {
		return -1
	}
	return *p.ETASeconds
}

func (h *harness) tick() {
	h.t.Helper()
	if err := h.svc.Tick(h.ctx); err != nil {
		h.t.Fatalf("Tick: %v", err)
	}
}

// join adds a shopper to q and opens its socket, a second later than the
// previous step so join times are distinct.
func (h *harness) join(q string) queue.Entry {
	h.t.Helper()
	e := h.joinOnly(q)
	if _, _, err := h.svc.ShopperConnected(h.ctx, e.ID, "ws-"+e.ID); err != nil {
		h.t.Fatalf("ShopperConnected: %v", err)
	}
	return h.entry(e.ID)
}

// joinOnly adds a shopper whose socket never arrives.
func (h *harness) joinOnly(q string) queue.Entry {
	h.t.Helper()
	h.clock.Advance(time.Second)
	e, err := h.svc.Join(h.ctx, queue.JoinParams{Queue: q, Locale: "en-GB", Currency: "EUR", PageURL: "https://shop.example/p/1"})
	if err != nil {
		h.t.Fatalf("Join: %v", err)
	}
	return e
}

// guideOnline connects a guide and makes it available, a second after the
// previous step, so guides brought online earlier have been idle longer.
func (h *harness) guideOnline(id string) {
	h.t.Helper()
	h.clock.Advance(time.Second)
	if _, _, err := h.svc.GuideConnected(h.ctx, id, "Guide "+id, "ws-"+id); err != nil {
		h.t.Fatalf("GuideConnected(%s): %v", id, err)
	}
	if _, err := h.svc.SetPresence(h.ctx, id, queue.GuideAvailable); err != nil {
		h.t.Fatalf("SetPresence(%s): %v", id, err)
	}
}

func (h *harness) entry(id string) queue.Entry {
	h.t.Helper()
	e, err := h.store.EntryGet(h.ctx, id)
	if err != nil {
		h.t.Fatalf("EntryGet(%s): %v", id, err)
	}
	return e
}

func (h *harness) guide(id string) queue.Guide {
	h.t.Helper()
	g, err := h.store.GuideGet(h.ctx, id)
	if err != nil {
		h.t.Fatalf("GuideGet(%s): %v", id, err)
	}
	return g
}

func (h *harness) call(id string) queue.Call {
	h.t.Helper()
	c, err := h.store.CallGet(h.ctx, id)
	if err != nil {
		h.t.Fatalf("CallGet(%s): %v", id, err)
	}
	return c
}

// line returns the entry ids queued in q, in order.
func (h *harness) line(q string) []string {
	h.t.Helper()
	es, err := h.svc.Waiting(h.ctx, q)
	if err != nil {
		h.t.Fatalf("Waiting(%s): %v", q, err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

// offers ticks and returns the offers made, failing unless they pair
// entries with guides exactly as want (entry id → guide id) says.
func (h *harness) tickExpectOffers(want map[string]string) []event {
	h.t.Helper()
	h.tick()
	evs := h.rec.take()
	offers := kinds(evs, "Offer")
	got := map[string]string{}
	for _, o := range offers {
		got[o.EntryID] = o.GuideID
	}
	if len(offers) != len(want) || !mapsEqual(got, want) {
		h.t.Fatalf("offers made: %v, want %v; events:%s", got, want, describe(evs))
	}
	return offers
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// offerOne ticks, expects a single offer of entryID to guideID and
// returns its call id.
func (h *harness) offerOne(entryID, guideID string) string {
	h.t.Helper()
	return h.tickExpectOffers(map[string]string{entryID: guideID})[0].CallID
}

func (h *harness) accept(guideID, callID string) queue.Call {
	h.t.Helper()
	c, err := h.svc.Accept(h.ctx, guideID, callID)
	if err != nil {
		h.t.Fatalf("Accept(%s, %s): %v", guideID, callID, err)
	}
	return c
}

// connectCall takes an accepted call to connected as signaling would.
func (h *harness) connectCall(c queue.Call) {
	h.t.Helper()
	h.svc.Signaled(h.ctx, c.ID)
	if _, err := h.svc.Connected(h.ctx, queue.PartyShopper, c.EntryID, c.ID); err != nil {
		h.t.Fatalf("Connected: %v", err)
	}
	if got := h.call(c.ID).State; got != queue.CallConnected {
		h.t.Fatalf("call state %s, want connected", got)
	}
}

func wantLine(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("line = %q, want %q", got, want)
	}
}

func wantEvent(t *testing.T, evs []event, kind string, match func(event) bool) event {
	t.Helper()
	for _, e := range evs {
		if e.Kind == kind && (match == nil || match(e)) {
			return e
		}
	}
	t.Errorf("no matching %s event among:%s", kind, describe(evs))
	return event{}
}

func testFIFOPerQueue(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	a, b, c := h.join("shoes"), h.join("shoes"), h.join("shoes")
	x := h.join("hats")
	h.guideOnline("g1")
	for _, want := range []queue.Entry{a, b, c, x} {
		callID := h.offerOne(want.ID, "g1")
		h.accept("g1", callID)
		h.clock.Advance(time.Minute)
		if _, err := h.svc.EndCall(h.ctx, queue.PartyGuide, "g1", callID, queue.ReasonHangup); err != nil {
			t.Fatalf("EndCall: %v", err)
		}
	}
	h.tickExpectOffers(nil)
}

func testQueuesTakeTurnsByJoinTime(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	s1, h1, s2, s3 := h.join("shoes"), h.join("hats"), h.join("shoes"), h.join("shoes")
	h.guideOnline("g1")
	h.guideOnline("g2")
	h.guideOnline("g3")
	// Three guides for four shoppers: the oldest three across both queues,
	// each queue in its own order, the longest idle guide first.
	h.tickExpectOffers(map[string]string{s1.ID: "g1", h1.ID: "g2", s2.ID: "g3"})
	wantLine(t, h.line("shoes"), s1.ID, s2.ID, s3.ID)
}

func testLongestIdleGuideGetsFirstOffer(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.guideOnline("g_b")
	h.guideOnline("g_c")
	h.guideOnline("g_a")
	a := h.join("shoes")
	callID := h.offerOne(a.ID, "g_b")
	h.accept("g_b", callID)
	h.clock.Advance(time.Minute)
	if _, err := h.svc.EndCall(h.ctx, queue.PartyShopper, a.ID, callID, queue.ReasonHangup); err != nil {
		t.Fatal(err)
	}
	// g_b just finished a call: it is now the least idle.
	b := h.join("shoes")
	h.offerOne(b.ID, "g_c")
	c := h.join("shoes")
	h.offerOne(c.ID, "g_a")
	d := h.join("shoes")
	h.offerOne(d.ID, "g_b")
}

func testOfferTimesOutAndMovesToNextGuide(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.guideOnline("g1")
	h.guideOnline("g2")
	a := h.join("shoes")
	first := h.offerOne(a.ID, "g1")

	h.clock.Advance(offerTimeout) // exactly at the deadline: still open
	h.tickExpectOffers(nil)

	h.clock.Advance(time.Millisecond)
	h.tick()
	evs := h.rec.take()
	wantEvent(t, evs, "OfferRevoked", func(e event) bool {
		return e.GuideID == "g1" && e.CallID == first && e.Reason == queue.ReasonOfferTimeout
	})
	offers := kinds(evs, "Offer")
	if len(offers) != 1 || offers[0].GuideID != "g2" || offers[0].EntryID != a.ID {
		t.Fatalf("after the timeout the offer went to:%s; want %s to g2", describe(offers), a.ID)
	}
	if c := h.call(first); c.State != queue.CallEnded || c.EndReason != queue.ReasonOfferTimeout {
		t.Errorf("timed-out call is %s/%s", c.State, c.EndReason)
	}
	if g := h.guide("g1"); g.MissedOffers != 1 || g.Status != queue.GuideAvailable || len(g.CallIDs) > 0 {
		t.Errorf("g1 after one miss: %+v", g)
	}
	if e := h.entry(a.ID); e.State != queue.EntryOffered || e.CallID != offers[0].CallID {
		t.Errorf("entry after re-offer: state %s call %s", e.State, e.CallID)
	}
}

func testTwoMissedOffersSetGuideAway(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.guideOnline("g1")
	a := h.join("shoes")
	h.offerOne(a.ID, "g1")
	h.clock.Advance(offerTimeout + time.Millisecond)
	// The only guide gets the shopper again after its first miss.
	h.offerOne(a.ID, "g1")
	h.clock.Advance(offerTimeout + time.Millisecond)
	h.tick()
	evs := h.rec.take()
	p := wantEvent(t, evs, "Presence", func(e event) bool { return e.GuideID == "g1" })
	if p.Reason != "missed_offers" || p.Guide.Status != queue.GuideAway {
		t.Errorf("presence event %s status %s, want missed_offers/away", p.Reason, p.Guide.Status)
	}
	if offers := kinds(evs, "Offer"); len(offers) != 0 {
		t.Errorf("offers to an away guide:%s", describe(offers))
	}
	if g := h.guide("g1"); g.Status != queue.GuideAway || len(g.CallIDs) > 0 {
		t.Errorf("g1 = %+v, want away and free", g)
	}
	if e := h.entry(a.ID); e.State != queue.EntryWaiting {
		t.Errorf("entry state %s, want waiting", e.State)
	}
	wantLine(t, h.line("shoes"), a.ID)

	// Back to available: the count starts over.
	if _, err := h.svc.SetPresence(h.ctx, "g1", queue.GuideAvailable); err != nil {
		t.Fatal(err)
	}
	if g := h.guide("g1"); g.MissedOffers != 0 {
		t.Errorf("MissedOffers after coming back = %d", g.MissedOffers)
	}
	h.offerOne(a.ID, "g1")
}

func testAcceptResetsMissedOffers(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.guideOnline("g1")
	a := h.join("shoes")
	h.offerOne(a.ID, "g1")
	h.clock.Advance(offerTimeout + time.Millisecond)
	callID := h.offerOne(a.ID, "g1") // one miss so far
	h.accept("g1", callID)
	if g := h.guide("g1"); g.MissedOffers != 0 {
		t.Fatalf("MissedOffers after accept = %d", g.MissedOffers)
	}
	if _, err := h.svc.EndCall(h.ctx, queue.PartyGuide, "g1", callID, queue.ReasonHangup); err != nil {
		t.Fatal(err)
	}
	b := h.join("shoes")
	h.offerOne(b.ID, "g1")
	h.clock.Advance(offerTimeout + time.Millisecond)
	h.offerOne(b.ID, "g1") // one miss since the accept: still available
	if g := h.guide("g1"); g.Status != queue.GuideAvailable || g.MissedOffers != 1 {
		t.Errorf("g1 = %+v, want available with one miss", g)
	}
}

func testDeclineKeepsPlace(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.guideOnline("g1")
	a, b, c := h.join("shoes"), h.join("shoes"), h.join("shoes")
	callID := h.offerOne(a.ID, "g1")
	h.tick()
	h.rec.take()

	if err := h.svc.Decline(h.ctx, "g1", callID, ""); err != nil {
		t.Fatalf("Decline: %v", err)
	}
	evs := h.rec.take()
	wantEvent(t, evs, "OfferRevoked", func(e event) bool {
		return e.GuideID == "g1" && e.CallID == callID && e.Reason == queue.ReasonDeclined
	})
	if e := h.entry(a.ID); e.State != queue.EntryWaiting || e.CallID != "" {
		t.Errorf("declined entry: state %s call %q", e.State, e.CallID)
	}
	if g := h.guide("g1"); len(g.CallIDs) > 0 || g.MissedOffers != 0 || g.Status != queue.GuideAvailable {
		t.Errorf("guide after decline: %+v", g)
	}
	wantLine(t, h.line("shoes"), a.ID, b.ID, c.ID)

	// Nobody's position moved, so nobody is told. The only guide gets the
	// shopper, still first in line, again.
	h.tick()
	evs = h.rec.take()
	if pos := kinds(evs, "Position"); len(pos) != 0 {
		t.Errorf("position events after a decline:%s", describe(pos))
	}
	wantEvent(t, evs, "Offer", func(e event) bool { return e.EntryID == a.ID && e.GuideID == "g1" })
}

func testDeclinedOfferMovesToAnotherGuide(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.guideOnline("g1")
	h.guideOnline("g2")
	a := h.join("shoes")
	callID := h.offerOne(a.ID, "g1")
	if err := h.svc.Decline(h.ctx, "g1", callID, ""); err != nil {
		t.Fatalf("Decline: %v", err)
	}
	// g1 said no to this shopper: the next pass must not hand it straight
	// back while another guide is free.
	h.offerOne(a.ID, "g2")
}

func testDeclineByOtherGuide(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.guideOnline("g1")
	h.guideOnline("g2")
	a := h.join("shoes")
	callID := h.offerOne(a.ID, "g1")
	if err := h.svc.Decline(h.ctx, "g2", callID, ""); !errors.Is(err, queue.ErrNotParty) {
		t.Errorf("Decline by another guide: %v, want ErrNotParty", err)
	}
	if _, err := h.svc.Accept(h.ctx, "g2", callID); !errors.Is(err, queue.ErrNotParty) {
		t.Errorf("Accept by another guide: %v, want ErrNotParty", err)
	}
	if c := h.call(callID); c.State != queue.CallOffered {
		t.Errorf("call state %s, want offered", c.State)
	}
}

func testShopperCancelWhileOffered(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.guideOnline("g1")
	a := h.join("shoes")
	callID := h.offerOne(a.ID, "g1")
	if err := h.svc.Cancel(h.ctx, a.ID); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	evs := h.rec.take()
	wantEvent(t, evs, "OfferRevoked", func(e event) bool {
		return e.GuideID == "g1" && e.CallID == callID && e.Reason == queue.ReasonShopperLost
	})
	left := wantEvent(t, evs, "EntryLeft", func(e event) bool { return e.EntryID == a.ID })
	if left.Entry.State != queue.EntryCanceled {
		t.Errorf("EntryLeft state %s, want canceled", left.Entry.State)
	}
	if e := h.entry(a.ID); e.State != queue.EntryCanceled || e.LeftAt == nil || e.LeftReason != queue.ReasonCanceled {
		t.Errorf("entry after cancel: %+v", e)
	}
	if g := h.guide("g1"); len(g.CallIDs) > 0 || g.Status != queue.GuideAvailable || g.MissedOffers != 0 {
		t.Errorf("guide not freed: %+v", g)
	}
	if _, err := h.svc.Accept(h.ctx, "g1", callID); !errors.Is(err, queue.ErrBadState) {
		t.Errorf("Accept of a revoked offer: %v, want ErrBadState", err)
	}
	if err := h.svc.Cancel(h.ctx, a.ID); !errors.Is(err, queue.ErrBadState) {
		t.Errorf("second Cancel: %v, want ErrBadState", err)
	}
	b := h.join("shoes")
	h.offerOne(b.ID, "g1")
}

func testAccept(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.guideOnline("g1")
	a, b := h.join("shoes"), h.join("shoes")
	callID := h.offerOne(a.ID, "g1")
	h.clock.Advance(offerTimeout) // the last moment still counts
	c := h.accept("g1", callID)
	if c.State != queue.CallAccepted || c.AcceptedAt == nil || !c.AcceptedAt.Equal(h.clock.Now()) {
		t.Errorf("accepted call: %+v", c)
	}
	evs := h.rec.take()
	m := wantEvent(t, evs, "Matched", nil)
	if m.CallID != callID || m.EntryID != a.ID || m.GuideID != "g1" || m.Entry.State != queue.EntryInCall {
		t.Errorf("Matched = %s entry state %s", m, m.Entry.State)
	}
	if e := h.entry(a.ID); e.State != queue.EntryInCall || e.CallID != callID {
		t.Errorf("entry: state %s call %s", e.State, e.CallID)
	}
	if g := h.guide("g1"); !g.Holds(callID) {
		t.Errorf("guide call %q", g.CallIDs)
	}
	wantLine(t, h.line("shoes"), b.ID)
	// Past the deadline an accepted call is not withdrawn.
	h.clock.Advance(time.Minute)
	h.tickExpectOffers(nil)
	if c := h.call(callID); c.State != queue.CallAccepted {
		t.Errorf("call state after the deadline %s", c.State)
	}
	if _, err := h.svc.Accept(h.ctx, "g1", callID); !errors.Is(err, queue.ErrBadState) {
		t.Errorf("second Accept: %v, want ErrBadState", err)
	}
}

func testAcceptAfterDeadlineFails(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.guideOnline("g1")
	a := h.join("shoes")
	callID := h.offerOne(a.ID, "g1")
	h.clock.Advance(offerTimeout + time.Millisecond)
	// The matcher has not run yet; the deadline alone decides.
	if _, err := h.svc.Accept(h.ctx, "g1", callID); !errors.Is(err, queue.ErrBadState) {
		t.Fatalf("Accept after the deadline: %v, want ErrBadState", err)
	}
	if evs := kinds(h.rec.take(), "Matched"); len(evs) != 0 {
		t.Errorf("Matched after a late accept:%s", describe(evs))
	}
	if e := h.entry(a.ID); e.State != queue.EntryOffered {
		t.Errorf("entry state %s, want still offered until the matcher withdraws it", e.State)
	}
	h.tick()
	wantEvent(t, h.rec.take(), "OfferRevoked", func(e event) bool { return e.CallID == callID && e.Reason == queue.ReasonOfferTimeout })
}

func testGuideDisconnectDuringOffer(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.guideOnline("g1")
	h.guideOnline("g2")
	a := h.join("shoes")
	callID := h.offerOne(a.ID, "g1")
	h.svc.GuideDisconnected(h.ctx, "g1", "ws-g1")
	evs := h.rec.take()
	wantEvent(t, evs, "OfferRevoked", func(e event) bool {
		return e.GuideID == "g1" && e.CallID == callID && e.Reason == queue.ReasonGuideLost
	})
	if e := h.entry(a.ID); e.State != queue.EntryWaiting {
		t.Errorf("entry state %s, want waiting", e.State)
	}
	if g := h.guide("g1"); g.Online || len(g.CallIDs) > 0 || g.MissedOffers != 0 {
		t.Errorf("g1 after disconnect: %+v", g)
	}
	h.offerOne(a.ID, "g2")
}

func testGuideLostBeforeConnectRequeuesAtHead(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	// early joins first but its socket is late, so the matcher skips it.
	early := h.joinOnly("shoes")
	h.guideOnline("g1")
	a := h.join("shoes")
	callID := h.offerOne(a.ID, "g1")
	h.accept("g1", callID)
	if _, _, err := h.svc.ShopperConnected(h.ctx, early.ID, "ws-"+early.ID); err != nil {
		t.Fatal(err)
	}
	late := h.join("shoes")
	wantLine(t, h.line("shoes"), early.ID, late.ID)

	h.svc.GuideDisconnected(h.ctx, "g1", "ws-g1")
	h.tick()
	h.rec.take()
	h.clock.Advance(grace)
	h.tick()
	if c := h.call(callID); c.State != queue.CallAccepted {
		t.Fatalf("call state %s inside the grace period", c.State)
	}
	h.rec.take()

	h.clock.Advance(time.Millisecond)
	h.tick()
	evs := h.rec.take()
	ended := wantEvent(t, evs, "CallEnded", func(e event) bool { return e.CallID == callID })
	if ended.Reason != queue.ReasonGuideLost {
		t.Errorf("call ended with %q, want %q", ended.Reason, queue.ReasonGuideLost)
	}
	rq := wantEvent(t, evs, "Requeued", func(e event) bool { return e.EntryID == a.ID })
	if rq.Reason != queue.ReasonGuideLost || rq.Pos.Position != 1 || rq.Entry.State != queue.EntryWaiting {
		t.Errorf("Requeued = %s state %s, want guide_left at position 1", rq, rq.Entry.State)
	}
	// Ahead of everyone, including the shopper who joined before it.
	wantLine(t, h.line("shoes"), a.ID, early.ID, late.ID)
	if e := h.entry(a.ID); e.State != queue.EntryWaiting || e.CallID != "" {
		t.Errorf("requeued entry: state %s call %q", e.State, e.CallID)
	}
	if g := h.guide("g1"); len(g.CallIDs) > 0 {
		t.Errorf("lost guide still holds %q", g.CallIDs)
	}
	h.guideOnline("g2")
	h.offerOne(a.ID, "g2")
}

func testGuideBackWithinGraceKeepsCall(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.guideOnline("g1")
	a := h.join("shoes")
	callID := h.offerOne(a.ID, "g1")
	h.accept("g1", callID)
	h.svc.GuideDisconnected(h.ctx, "g1", "ws-g1")
	h.clock.Advance(grace / 2)
	_, c, err := h.svc.GuideConnected(h.ctx, "g1", "Guide g1", "ws-g1")
	if err != nil || len(c) != 1 || c[0].ID != callID {
		t.Fatalf("GuideConnected = %v, %v; want the live call", c, err)
	}
	h.clock.Advance(grace)
	h.tick()
	if c := h.call(callID); c.State != queue.CallAccepted {
		t.Errorf("call state %s, want accepted", c.State)
	}
	if evs := kinds(h.rec.take(), "Requeued", "CallEnded"); len(evs) != 0 {
		t.Errorf("unexpected:%s", describe(evs))
	}
}

func testShopperLostInConnectedCall(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.guideOnline("g1")
	a := h.join("shoes")
	callID := h.offerOne(a.ID, "g1")
	c := h.accept("g1", callID)
	h.connectCall(c)
	h.rec.take()

	h.svc.ShopperDisconnected(h.ctx, a.ID, "ws-"+a.ID)
	wantEvent(t, h.rec.take(), "PeerStatus", func(e event) bool {
		return e.CallID == callID && e.Lost == queue.PartyShopper && !e.Connected
	})
	h.clock.Advance(grace)
	h.tick()
	if c := h.call(callID); c.State != queue.CallConnected {
		t.Fatalf("call state %s inside the grace period", c.State)
	}
	h.clock.Advance(time.Millisecond)
	h.tick()
	ended := wantEvent(t, h.rec.take(), "CallEnded", func(e event) bool { return e.CallID == callID })
	if ended.Reason != queue.ReasonPeerLost || ended.Call.EndedBy != string(queue.PartyShopper) {
		t.Errorf("call ended %q by %q, want peer_lost by shopper", ended.Reason, ended.Call.EndedBy)
	}
	if e := h.entry(a.ID); e.State != queue.EntryDone || e.LeftReason != queue.ReasonPeerLost {
		t.Errorf("entry: state %s reason %q", e.State, e.LeftReason)
	}
	if g := h.guide("g1"); len(g.CallIDs) > 0 || !g.IdleSince.Equal(h.clock.Now()) {
		t.Errorf("guide not freed: %+v", g)
	}
}

func testShopperReconnectWithinGraceKeepsPlace(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	a, b, c := h.join("shoes"), h.join("shoes"), h.join("shoes")
	h.tick()
	h.svc.ShopperDisconnected(h.ctx, a.ID, "ws-"+a.ID)
	h.clock.Advance(grace - time.Second)
	h.tick()
	e, call, err := h.svc.ShopperConnected(h.ctx, a.ID, "ws-"+a.ID)
	if err != nil || call != nil {
		t.Fatalf("ShopperConnected = %v, %v", call, err)
	}
	if e.State != queue.EntryWaiting || e.DisconnectedAt != nil {
		t.Errorf("entry after reconnect: %+v", e)
	}
	h.rec.take()
	h.clock.Advance(grace)
	h.tick()
	if evs := kinds(h.rec.take(), "EntryLeft"); len(evs) != 0 {
		t.Errorf("entry left after reconnecting:%s", describe(evs))
	}
	wantLine(t, h.line("shoes"), a.ID, b.ID, c.ID)
	h.guideOnline("g1")
	h.offerOne(a.ID, "g1")
}

func testDisconnectedShopperIsSkippedNotDropped(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	a, b := h.join("shoes"), h.join("shoes")
	h.svc.ShopperDisconnected(h.ctx, a.ID, "ws-"+a.ID)
	h.guideOnline("g1")
	h.offerOne(b.ID, "g1")
	wantLine(t, h.line("shoes"), a.ID, b.ID)
}

func testJoinedNeverConnectsIsAbandoned(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	a := h.joinOnly("shoes")
	b := h.join("shoes")
	h.guideOnline("g1")
	h.offerOne(b.ID, "g1")                 // a has no socket: it is not offered
	h.clock.Advance(grace - 2*time.Second) // grace since a joined, to the nanosecond
	h.tick()
	wantLine(t, h.line("shoes"), a.ID, b.ID)
	h.rec.take()
	h.clock.Advance(time.Millisecond)
	h.tick()
	left := wantEvent(t, h.rec.take(), "EntryLeft", func(e event) bool { return e.EntryID == a.ID })
	if left.Entry.State != queue.EntryAbandoned || left.Reason != queue.ReasonShopperLost {
		t.Errorf("EntryLeft state %s reason %q, want abandoned/shopper_left", left.Entry.State, left.Reason)
	}
	if e := h.entry(a.ID); e.State != queue.EntryAbandoned || e.LeftAt == nil {
		t.Errorf("entry: %+v", e)
	}
	wantLine(t, h.line("shoes"), b.ID)
	if _, _, err := h.svc.ShopperConnected(h.ctx, a.ID, "ws-"+a.ID); !errors.Is(err, queue.ErrBadState) {
		t.Errorf("ShopperConnected after abandonment: %v, want ErrBadState", err)
	}
}

func testOfferedShopperLostIsAbandonedAndOfferRevoked(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.guideOnline("g1")
	a, b := h.join("shoes"), h.join("shoes")
	callID := h.offerOne(a.ID, "g1")
	h.svc.ShopperDisconnected(h.ctx, a.ID, "ws-"+a.ID)
	// The offer times out first and is not made again to a shopper without
	// a socket; b gets the guide.
	h.clock.Advance(offerTimeout + time.Millisecond)
	h.offerOne(b.ID, "g1")
	h.clock.Advance(grace)
	h.tick()
	evs := h.rec.take()
	left := wantEvent(t, evs, "EntryLeft", func(e event) bool { return e.EntryID == a.ID })
	if left.Entry.State != queue.EntryAbandoned {
		t.Errorf("entry state %s, want abandoned", left.Entry.State)
	}
	if c := h.call(callID); c.EndReason != queue.ReasonOfferTimeout {
		t.Errorf("first offer ended with %q", c.EndReason)
	}
}

func testOfferedShopperLostRevokesOffer(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.guideOnline("g1")
	a := h.join("shoes")
	// A long offer window, so the grace period runs out first.
	callID := h.offerOne(a.ID, "g1")
	h.svc.ShopperDisconnected(h.ctx, a.ID, "ws-"+a.ID)
	h.clock.Advance(grace + time.Millisecond)
	if _, err := h.store.CallUpdate(h.ctx, callID, func(c *queue.Call) error {
		c.OfferDeadline = c.OfferDeadline.Add(time.Hour)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	h.tick()
	evs := h.rec.take()
	wantEvent(t, evs, "OfferRevoked", func(e event) bool {
		return e.CallID == callID && e.Reason == queue.ReasonShopperLost
	})
	wantEvent(t, evs, "EntryLeft", func(e event) bool { return e.EntryID == a.ID && e.Entry.State == queue.EntryAbandoned })
	if g := h.guide("g1"); len(g.CallIDs) > 0 {
		t.Errorf("guide still holds %q", g.CallIDs)
	}
}

func testShopperLostAfterAcceptEndsCall(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.guideOnline("g1")
	a := h.join("shoes")
	callID := h.offerOne(a.ID, "g1")
	h.svc.ShopperDisconnected(h.ctx, a.ID, "ws-"+a.ID)
	h.clock.Advance(offerTimeout / 2)
	if _, err := h.svc.Accept(h.ctx, "g1", callID); err != nil {
		t.Fatalf("Accept: %v", err)
	}
	// The shopper never comes back to the accepted call.
	h.clock.Advance(grace)
	h.tick()
	ended := wantEvent(t, h.rec.take(), "CallEnded", func(e event) bool { return e.CallID == callID })
	if ended.Reason != queue.ReasonPeerLost {
		t.Errorf("call ended with %q, want peer_lost", ended.Reason)
	}
}

// positionsByEntry collects the Position events of evs.
func positionsByEntry(evs []event) map[string][]int {
	out := map[string][]int{}
	for _, e := range kinds(evs, "Position") {
		out[e.EntryID] = append(out[e.EntryID], e.Pos.Position)
	}
	return out
}

func wantPositions(t *testing.T, step string, evs []event, want map[string][]int) {
	t.Helper()
	got := positionsByEntry(evs)
	if len(got) != len(want) {
		t.Errorf("%s: position events:%s\nwant %v", step, describe(kinds(evs, "Position")), want)
		return
	}
	for id, w := range want {
		if !slices.Equal(got[id], w) {
			t.Errorf("%s: position events:%s\nwant %v", step, describe(kinds(evs, "Position")), want)
			return
		}
	}
}

func testPositions(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	a, b, c, d := h.join("shoes"), h.join("shoes"), h.join("shoes"), h.join("shoes")
	h.tick()
	evs := h.rec.take()
	for i, e := range []queue.Entry{a, b, c, d} {
		ps := positionsByEntry(evs)[e.ID]
		if len(ps) == 0 || ps[len(ps)-1] != i+1 {
			t.Errorf("%s told positions %v, want last %d", e.ID, ps, i+1)
		}
	}
	// Nobody is online: no number, and a callback instead.
	p := wantEvent(t, evs, "Position", func(e event) bool { return e.EntryID == d.ID })
	if p.Pos.Queue != "shoes" || p.Pos.ETASeconds != nil || !p.Pos.Callback || p.Pos.GuidesOnline != 0 {
		t.Errorf("d's position with no guide online = %+v (eta %d), want no ETA and a callback", p.Pos, eta(p.Pos))
	}

	h.tick()
	wantPositions(t, "nothing changed", h.rec.take(), nil)

	if err := h.svc.Cancel(h.ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	h.tick()
	wantPositions(t, "b left", h.rec.take(), map[string][]int{c.ID: {2}, d.ID: {3}})

	// Another queue's line does not move this one.
	x := h.join("hats")
	h.tick()
	evs = h.rec.take()
	if got := positionsByEntry(evs); len(got) != 1 || len(got[x.ID]) == 0 || got[x.ID][len(got[x.ID])-1] != 1 {
		t.Errorf("after a join in hats: position events:%s", describe(kinds(evs, "Position")))
	}

	// The offered shopper keeps its place and now waits for nothing but
	// the guide's click.
	h.guideOnline("g1")
	evs = h.rec.take()
	h.tick()
	evs = append(evs, h.rec.take()...)
	offer := wantEvent(t, evs, "Offer", func(e event) bool { return e.EntryID == a.ID })
	// With a guide online every shopper gets a number instead of none.
	wantPositions(t, "a offered", evs, map[string][]int{a.ID: {1}, x.ID: {1}, c.ID: {2}, d.ID: {3}})
	if p := wantEvent(t, evs, "Position", func(e event) bool { return e.EntryID == a.ID }); eta(p.Pos) != 0 {
		t.Errorf("offered shopper's ETA = %d s, want 0", eta(p.Pos))
	}

	h.accept("g1", offer.CallID)
	h.rec.take()
	h.tick()
	evs = h.rec.take()
	// x, in hats, waits for the same guide (who serves every queue).
	wantPositions(t, "a in a call", evs, map[string][]int{c.ID: {1}, d.ID: {2}, x.ID: {1}})
	// d waits for two calls to end (a's, then c's) on the one guide, then
	// for it to accept.
	p = wantEvent(t, evs, "Position", func(e event) bool { return e.EntryID == d.ID })
	if want := int((2 * avgCall).Seconds()) + react; eta(p.Pos) != want {
		t.Errorf("d's ETA behind one busy guide = %d, want %d", eta(p.Pos), want)
	}

	// A second guide who is online but away takes nobody: no ETA moves.
	h.clock.Advance(time.Second)
	if _, _, err := h.svc.GuideConnected(h.ctx, "g2", "Guide g2", "ws-g2"); err != nil {
		t.Fatal(err)
	}
	h.tick()
	wantPositions(t, "second guide away", h.rec.take(), nil)

	// A shopper without a socket is not told; it learns on reconnect.
	h.svc.ShopperDisconnected(h.ctx, d.ID, "ws-"+d.ID)
	if err := h.svc.Cancel(h.ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	h.tick()
	// d is not told; x, who waited behind c too, is.
	wantPositions(t, "d disconnected", h.rec.take(), map[string][]int{x.ID: {1}})
	if _, _, err := h.svc.ShopperConnected(h.ctx, d.ID, "ws-"+d.ID); err != nil {
		t.Fatal(err)
	}
	evs = h.rec.take()
	h.tick()
	evs = append(evs, h.rec.take()...)
	if ps := positionsByEntry(evs)[d.ID]; len(ps) == 0 || ps[len(ps)-1] != 1 {
		t.Errorf("d after reconnecting told %v, want 1", ps)
	}
	h.tick()
	wantPositions(t, "settled", h.rec.take(), nil)
}

func testJoinValidation(t *testing.T, newStore storeFunc) {
	ok := queue.JoinParams{Queue: "shoes", Locale: "pt-BR", Currency: "BRL", PageURL: "https://shop.example/p?id=1", Name: "Ana"}
	tests := []struct {
		name string
		edit func(p *queue.JoinParams)
	}{
		{"queue with capitals", func(p *queue.JoinParams) { p.Queue = "Shoes" }},
		{"queue with a space", func(p *queue.JoinParams) { p.Queue = "big shoes" }},
		{"queue starting with a dash", func(p *queue.JoinParams) { p.Queue = "-shoes" }},
		{"queue too long", func(p *queue.JoinParams) { p.Queue = strings.Repeat("q", 65) }},
		{"queue with a newline", func(p *queue.JoinParams) { p.Queue = "shoes\n" }},
		{"locale one letter", func(p *queue.JoinParams) { p.Locale = "e" }},
		{"locale underscore", func(p *queue.JoinParams) { p.Locale = "en_US" }},
		{"locale script injection", func(p *queue.JoinParams) { p.Locale = "en<script>" }},
		{"locale too many subtags", func(p *queue.JoinParams) { p.Locale = "en-a-b-c-d-e" }},
		{"currency missing", func(p *queue.JoinParams) { p.Currency = "" }},
		{"currency lower case", func(p *queue.JoinParams) { p.Currency = "eur" }},
		{"currency four letters", func(p *queue.JoinParams) { p.Currency = "EURO" }},
		{"page javascript", func(p *queue.JoinParams) { p.PageURL = "javascript:alert(1)" }},
		{"page ftp", func(p *queue.JoinParams) { p.PageURL = "ftp://shop.example/" }},
		{"page relative", func(p *queue.JoinParams) { p.PageURL = "/p/1" }},
		{"page unparsable", func(p *queue.JoinParams) { p.PageURL = "http://[::1" }},
		{"page too long", func(p *queue.JoinParams) { p.PageURL = "https://shop.example/" + strings.Repeat("p", 2048) }},
		{"name too long", func(p *queue.JoinParams) { p.Name = strings.Repeat("n", 81) }},
		{"name too many bytes", func(p *queue.JoinParams) { p.Name = strings.Repeat("é", 41) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, newStore)
			p := ok
			tt.edit(&p)
			if _, err := h.svc.Join(h.ctx, p); !errors.Is(err, queue.ErrInvalid) {
				t.Errorf("Join(%+v) err = %v, want ErrInvalid", p, err)
			}
			if line, _ := h.store.EntriesQueued(h.ctx, ""); len(line) != 0 {
				t.Errorf("an invalid join was stored: %v", line)
			}
		})
	}

	t.Run("unknown queue", func(t *testing.T) {
		h := newHarness(t, newStore)
		p := ok
		p.Queue = "nosuchqueue"
		if _, err := h.svc.Join(h.ctx, p); !errors.Is(err, queue.ErrNotFound) || !strings.Contains(err.Error(), "nosuchqueue") {
			t.Errorf("Join(unknown queue) err = %v, want ErrNotFound naming it", err)
		}
	})

	t.Run("valid", func(t *testing.T) {
		h := newHarness(t, newStore)
		if _, err := h.svc.CreateQueue(h.ctx, queue.Queue{Name: strings.Repeat("q", 64)}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []queue.JoinParams{
			ok,
			{Currency: "EUR"},
			{Queue: strings.Repeat("q", 64), Locale: "zh-Hant-TW", Currency: "JPY", PageURL: "HTTP://shop.example/", Name: strings.Repeat("n", 80)},
		} {
			e, err := h.svc.Join(h.ctx, p)
			if err != nil {
				t.Errorf("Join(%+v): %v", p, err)
				continue
			}
			if e.State != queue.EntryWaiting || e.DisconnectedAt == nil || !e.JoinedAt.Equal(h.clock.Now()) {
				t.Errorf("joined entry: %+v", e)
			}
		}
		e, _ := h.svc.Join(h.ctx, queue.JoinParams{Currency: "EUR"})
		if e.Queue != "default" || e.Locale != "en" {
			t.Errorf("defaults: queue %q locale %q, want default/en", e.Queue, e.Locale)
		}
	})
}

func testCallScope(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.guideOnline("g1")
	h.guideOnline("g2")
	a, b := h.join("shoes"), h.join("shoes")
	offers := h.tickExpectOffers(map[string]string{a.ID: "g1", b.ID: "g2"})
	callA := offers[0].CallID
	if offers[0].EntryID != a.ID {
		callA = offers[1].CallID
	}
	c := h.accept("g1", callA)
	h.connectCall(c)

	if got, err := h.svc.Call(h.ctx, queue.PartyShopper, a.ID, callA); err != nil || got.ID != callA {
		t.Errorf("Call by its shopper = %v, %v", got.ID, err)
	}
	if got, err := h.svc.Call(h.ctx, queue.PartyGuide, "g1", callA); err != nil || got.ID != callA {
		t.Errorf("Call by its guide = %v, %v", got.ID, err)
	}
	for _, tt := range []struct {
		name    string
		party   queue.Party
		partyID string
		callID  string
	}{
		{"other shopper", queue.PartyShopper, b.ID, callA},
		{"other guide", queue.PartyGuide, "g2", callA},
		{"guide id as a shopper", queue.PartyShopper, "g1", callA},
		{"entry id as a guide", queue.PartyGuide, a.ID, callA},
		{"unknown party kind", queue.Party("admin"), a.ID, callA},
		{"unknown call", queue.PartyShopper, a.ID, "c_unknown"},
		{"empty call", queue.PartyShopper, a.ID, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := h.svc.Call(h.ctx, tt.party, tt.partyID, tt.callID); !errors.Is(err, queue.ErrNotParty) {
				t.Errorf("Call err = %v, want ErrNotParty", err)
			}
			if _, err := h.svc.EndCall(h.ctx, tt.party, tt.partyID, tt.callID, queue.ReasonHangup); !errors.Is(err, queue.ErrNotParty) {
				t.Errorf("EndCall err = %v, want ErrNotParty", err)
			}
			if tt.callID != callA {
				return
			}
			if _, err := h.svc.Connected(h.ctx, tt.party, tt.partyID, callA); !errors.Is(err, queue.ErrNotParty) {
				t.Errorf("Connected err = %v, want ErrNotParty", err)
			}
		})
	}
	if got := h.call(callA); got.State != queue.CallConnected {
		t.Errorf("call state %s after strangers tried to end it", got.State)
	}
	ended, err := h.svc.EndCall(h.ctx, queue.PartyShopper, a.ID, callA, queue.ReasonHangup)
	if err != nil || ended.State != queue.CallEnded || ended.EndedBy != string(queue.PartyShopper) {
		t.Errorf("EndCall by its shopper = %+v, %v", ended, err)
	}
	if _, err := h.svc.EndCall(h.ctx, queue.PartyGuide, "g1", callA, queue.ReasonHangup); !errors.Is(err, queue.ErrBadState) {
		t.Errorf("EndCall of an ended call: %v, want ErrBadState", err)
	}
}

func TestStartStop(t *testing.T) {
	defer goleak.VerifyNone(t)
	clock := &fakeClock{t: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)}
	svc, err := queue.NewService(queue.Config{
		Store: queue.NewMemoryStore(), Now: clock.Now,
		Logger: slog.New(slog.DiscardHandler), Tick: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	offers := make(chan queue.OfferMade, 1)
	svc.SubscribeFunc(ctx, "test", 0, func(_ context.Context, ev queue.Event) {
		if o, ok := ev.(queue.OfferMade); ok {
			select {
			case offers <- o:
			default:
			}
		}
	})
	if err := svc.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	e, err := svc.Join(ctx, queue.JoinParams{Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.ShopperConnected(ctx, e.ID, "ws-"+e.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.GuideConnected(ctx, "g1", "Guide g1", "ws-g1"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetPresence(ctx, "g1", queue.GuideAvailable); err != nil {
		t.Fatal(err)
	}
	select {
	case o := <-offers:
		if o.Entry.ID != e.ID || o.Call.GuideID != "g1" {
			t.Errorf("offer %+v, want %s to g1", o, e.ID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the running loop made no offer within 5s")
	}
	cancel() // the caller's context does not stop the loop; Stop does
	stopWithin(t, svc, 5*time.Second)
}

// stopWithin calls Stop twice and fails if that takes longer than d.
func stopWithin(t *testing.T, svc *queue.Service, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		svc.Stop()
		svc.Stop()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("Stop did not return within %v", d)
	}
}

func TestStopWithoutStart(t *testing.T) {
	defer goleak.VerifyNone(t)
	svc, err := queue.NewService(queue.Config{Store: queue.NewMemoryStore(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	sub := svc.Subscribe("test", 1)
	handled := svc.SubscribeFunc(context.Background(), "test-func", 1, func(context.Context, queue.Event) {})
	stopWithin(t, svc, 5*time.Second)
	// Stop ends every subscription: the stream is closed, and a handler
	// of a service never started never got a goroutine (goleak checks).
	select {
	case _, ok := <-sub.Events():
		if ok {
			t.Error("an event arrived from a service that did nothing")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stop left the subscription open")
	}
	handled.Close()
}

func TestNewServiceRequiresStore(t *testing.T) {
	if _, err := queue.NewService(queue.Config{}); err == nil {
		t.Error("NewService without a Store succeeded")
	}
}

// TestSlowSubscriberIsDroppedNotWaitedFor: a subscriber that does not
// drain its buffer loses events, counted; the Service never waits for it
// and other subscribers get everything.
func TestSlowSubscriberIsDroppedNotWaitedFor(t *testing.T) {
	h := newHarness(t, memoryStore)
	slow := h.svc.Subscribe("slow", 1)
	defer slow.Close()
	h.guideOnline("g1")  // presence
	h.guideOnline("g2")  // presence
	a := h.join("shoes") // position
	if got := slow.Dropped(); got != 2 {
		t.Errorf("slow subscriber dropped %d events, want 2", got)
	}
	first := <-slow.Events()
	if p, ok := first.(queue.PresenceChanged); !ok || p.Guide.ID != "g1" {
		t.Errorf("slow subscriber kept %T %+v, want g1's presence", first, first)
	}
	evs := h.rec.take()
	if len(kinds(evs, "Presence")) != 2 || len(kinds(evs, "Position")) != 1 {
		t.Errorf("the other subscriber got:%s", describe(evs))
	}
	h.offerOne(a.ID, "g1")
}

// testAcceptRacingShopperCancel runs a guide's accept and the shopper's
// cancel of the same offer at once, many times: whichever wins, the call,
// the entry and the guide agree afterwards, and the events say the same.
func testAcceptRacingShopperCancel(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.guideOnline("g1")
	for i := range 30 {
		a := h.join("shoes")
		offer := h.tickExpectOffers(map[string]string{a.ID: "g1"})[0]
		var acceptErr, cancelErr error
		concurrently(
			func() { _, acceptErr = h.svc.Accept(h.ctx, "g1", offer.CallID) },
			func() { cancelErr = h.svc.Cancel(h.ctx, a.ID) },
		)
		if cancelErr != nil {
			t.Fatalf("round %d: Cancel: %v", i, cancelErr)
		}
		evs := h.rec.take()
		c, e, g := h.call(offer.CallID), h.entry(a.ID), h.guide("g1")
		switch {
		case acceptErr == nil: // accepted, then hung up by the shopper
			if c.State != queue.CallEnded || c.EndReason != queue.ReasonHangup || e.State != queue.EntryDone {
				t.Errorf("round %d: accepted then canceled: call %s/%s, entry %s", i, c.State, c.EndReason, e.State)
			}
			m := slices.IndexFunc(evs, func(e event) bool { return e.Kind == "Matched" })
			end := slices.IndexFunc(evs, func(e event) bool { return e.Kind == "CallEnded" })
			if m < 0 || end < m {
				t.Errorf("round %d: events:%s\nwant Matched, then CallEnded", i, describe(evs))
			}
		case errors.Is(acceptErr, queue.ErrBadState): // the shopper left first
			if c.State != queue.CallEnded || c.EndReason != queue.ReasonShopperLost || e.State != queue.EntryCanceled {
				t.Errorf("round %d: canceled first: call %s/%s, entry %s", i, c.State, c.EndReason, e.State)
			}
			if len(kinds(evs, "Matched")) != 0 {
				t.Errorf("round %d: a shopper who left was matched:%s", i, describe(evs))
			}
			wantEvent(t, evs, "OfferRevoked", func(e event) bool { return e.CallID == offer.CallID && e.Reason == queue.ReasonShopperLost })
		default:
			t.Fatalf("round %d: Accept: %v", i, acceptErr)
		}
		if len(g.CallIDs) > 0 {
			t.Fatalf("round %d: guide still holds %q", i, g.CallIDs)
		}
	}
}

// concurrently runs the functions at once and waits for all of them.
func concurrently(fns ...func()) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, fn := range fns {
		wg.Go(func() {
			<-start
			fn()
		})
	}
	close(start)
	wg.Wait()
}

// wait collects events until one matches, failing after d.
func (r *recorder) wait(d time.Duration, what string, match func(event) bool) []event {
	r.t.Helper()
	var out []event
	timeout := time.After(d)
	for {
		select {
		case ev, ok := <-r.sub.Events():
			if !ok {
				r.t.Fatalf("subscription closed while waiting for %s; events:%s", what, describe(out))
			}
			for _, ev := range flatten(ev) {
				e := r.convert(ev)
				out = append(out, e)
				if match(e) {
					return out
				}
			}
		case <-timeout:
			r.t.Fatalf("no %s within %v; events:%s", what, d, describe(out))
		}
	}
}

// testEventsFollowCommitOrder runs the matcher loop while the test ends
// each offer or call of one guide with shoppers waiting, so the loop's
// next offer is made the moment the guide is free, on another goroutine.
// The guide must still hear the end of each offer or call before the
// next offer.
func testEventsFollowCommitOrder(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.useService(queue.Config{Tick: 2 * time.Millisecond, OfferTimeout: time.Hour, StaleAfter: 24 * time.Hour})
	for range 4 {
		h.join("shoes")
	}
	if err := h.svc.Start(h.ctx); err != nil {
		t.Fatal(err)
	}
	defer stopWithin(t, h.svc, 10*time.Second)
	h.guideOnline("g1")
	var all []event
	for round := range 4 {
		evs := h.rec.wait(10*time.Second, "an offer to g1", func(e event) bool { return e.Kind == "Offer" && e.GuideID == "g1" })
		all = append(all, evs...)
		callID := evs[len(evs)-1].CallID
		if round%2 == 0 {
			if err := h.svc.Decline(h.ctx, "g1", callID, ""); err != nil {
				t.Fatalf("round %d: Decline: %v", round, err)
			}
			continue
		}
		h.accept("g1", callID)
		if _, err := h.svc.EndCall(h.ctx, queue.PartyGuide, "g1", callID, queue.ReasonHangup); err != nil {
			t.Fatalf("round %d: EndCall: %v", round, err)
		}
	}
	// What g1 heard, in order: no offer while the one before is open.
	open := ""
	for _, e := range all {
		if e.GuideID != "g1" {
			continue
		}
		switch e.Kind {
		case "Offer":
			if open != "" {
				t.Fatalf("offer %s reached g1 before the end of %s; events:%s", e.CallID, open, describe(all))
			}
			open = e.CallID
		case "OfferRevoked", "CallEnded":
			if e.CallID == open {
				open = ""
			}
		}
	}
}

func testCallItems(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.guideOnline("g1")
	a, b := h.join("shoes"), h.join("shoes")
	callID := h.offerOne(a.ID, "g1")
	if _, err := h.svc.AddCallItem(h.ctx, queue.PartyGuide, "g1", callID, queue.ItemChat, []byte(`{"text":"hi"}`)); !errors.Is(err, queue.ErrBadState) {
		t.Errorf("item in an offered call: %v, want ErrBadState", err)
	}
	h.connectCall(h.accept("g1", callID))
	h.rec.take()

	it, err := h.svc.AddCallItem(h.ctx, queue.PartyShopper, a.ID, callID, queue.ItemChat, []byte(`{"text":"hi"}`))
	if err != nil || it.Seq != 1 || it.From != queue.PartyShopper || it.ID == "" {
		t.Fatalf("AddCallItem: %+v, %v", it, err)
	}
	wantEvent(t, h.rec.take(), "ItemAdded", func(e event) bool { return e.CallID == callID && e.Reason == "chat" })
	if _, err := h.svc.AddCallItem(h.ctx, queue.PartyGuide, "g1", callID, queue.ItemProduct, []byte(`{"name":"Sneaker"}`)); err != nil {
		t.Fatal(err)
	}
	for _, who := range []struct {
		party queue.Party
		id    string
	}{{queue.PartyShopper, b.ID}, {queue.PartyGuide, "g_other"}} {
		if _, err := h.svc.AddCallItem(h.ctx, who.party, who.id, callID, queue.ItemChat, []byte(`{}`)); !errors.Is(err, queue.ErrNotParty) {
			t.Errorf("%s %s adds to another's call: %v, want ErrNotParty", who.party, who.id, err)
		}
		if _, err := h.svc.CallItems(h.ctx, who.party, who.id, callID); !errors.Is(err, queue.ErrNotParty) {
			t.Errorf("%s %s reads another's call: %v, want ErrNotParty", who.party, who.id, err)
		}
	}
	items, err := h.svc.CallItems(h.ctx, queue.PartyGuide, "g1", callID)
	if err != nil || len(items) != 2 || items[1].Kind != queue.ItemProduct || items[1].Seq != 2 {
		t.Fatalf("CallItems: %+v, %v", items, err)
	}
	if _, err := h.svc.EndCall(h.ctx, queue.PartyGuide, "g1", callID, queue.ReasonHangup); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.AddCallItem(h.ctx, queue.PartyGuide, "g1", callID, queue.ItemChat, []byte(`{}`)); !errors.Is(err, queue.ErrBadState) {
		t.Errorf("item after the end: %v, want ErrBadState", err)
	}
	// The history stays readable after the call, for the summary.
	if items, err := h.svc.CallItems(h.ctx, queue.PartyShopper, a.ID, callID); err != nil || len(items) != 2 {
		t.Errorf("items after the end: %d, %v", len(items), err)
	}
}

func testRateCall(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.guideOnline("g1")
	a := h.joinWith(queue.JoinParams{Queue: "shoes", Locale: "en-GB", CustomerID: "cust_42"})
	callID := h.offerOne(a.ID, "g1")
	h.connectCall(h.accept("g1", callID))
	if _, err := h.svc.RateCall(h.ctx, a.ID, callID, 5, ""); !errors.Is(err, queue.ErrBadState) {
		t.Errorf("rating a live call: %v, want ErrBadState", err)
	}
	if _, err := h.svc.EndCall(h.ctx, queue.PartyShopper, a.ID, callID, queue.ReasonHangup); err != nil {
		t.Fatal(err)
	}
	h.rec.take()
	for _, bad := range []int{0, 6, -1} {
		if _, err := h.svc.RateCall(h.ctx, a.ID, callID, bad, ""); !errors.Is(err, queue.ErrInvalid) {
			t.Errorf("rating %d: %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := h.svc.RateCall(h.ctx, "e_stranger", callID, 5, ""); !errors.Is(err, queue.ErrNotParty) {
		t.Errorf("a stranger rates: %v, want ErrNotParty", err)
	}
	c, err := h.svc.RateCall(h.ctx, a.ID, callID, 4, "Good advice on the size")
	if err != nil || c.Rating != 4 || c.RatingComment != "Good advice on the size" || c.RatedAt == nil || !c.RatedAt.Equal(h.clock.Now()) {
		t.Fatalf("RateCall: %+v, %v", c, err)
	}
	// The customer id travels with the event, so the merchant's call.rated
	// can be erased with the customer's other data.
	wantEvent(t, h.rec.take(), "Rated", func(e event) bool {
		return e.CallID == callID && e.Call.Rating == 4 && e.Reason == "cust_42"
	})
	if got := h.call(callID); got.Rating != 4 {
		t.Errorf("stored rating %d", got.Rating)
	}
	if _, err := h.svc.RateCall(h.ctx, a.ID, callID, 1, ""); !errors.Is(err, queue.ErrBadState) {
		t.Errorf("second rating: %v, want ErrBadState", err)
	}
}
