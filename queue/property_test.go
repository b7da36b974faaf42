package queue_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"pgregory.net/rapid"

	"guidecall/internal/db/dbtest"
	"guidecall/queue"
)

// The routing invariants, checked on random sequences of joins, presence
// changes, offers, accepts, declines, time-outs, drops, hang-ups and
// transfers, after every step:
//
//   - a shopper is only offered to a guide who may take it;
//   - a shopper is never offered to (or in a call with) two guides at once;
//   - a guide never holds more live calls than its capacity;
//   - within equal priority and eligibility, offers go in FIFO order;
//   - after a matcher pass nobody waits while a guide eligible for it is free;
//   - every entry ends in exactly one final state, which never changes.
//
// Eligibility is restated here, independently of the package: a guide
// serves some queues and speaks some languages. Each run draws every
// guide's capacity from 1 to 3, so guides hold several offers and calls
// at once and are offered shoppers while in a call.

type propGuide struct {
	id     string
	queues []string
	langs  []string
}

var propGuides = []propGuide{
	{"g_en", []string{"shoes", "hats"}, []string{"en"}},
	{"g_de", []string{"shoes"}, []string{"de"}},
	{"g_both", []string{"hats"}, []string{"en", "de-AT"}},
}

var propLocales = []string{"en-GB", "de-DE", "fr-FR"} // nobody speaks French

func propEligible(e queue.Entry, g propGuide) bool {
	if e.TransferGuide != "" {
		return e.TransferGuide == g.id
	}
	lang, _, _ := strings.Cut(strings.ToLower(e.Locale), "-")
	speaks := slices.ContainsFunc(g.langs, func(l string) bool { return strings.HasPrefix(strings.ToLower(l), lang) })
	return slices.Contains(g.queues, e.Queue) && speaks
}

type propWorld struct {
	ctx    context.Context
	clock  *fakeClock
	store  queue.Store
	svc    *queue.Service
	sub    *queue.Subscription
	final  map[string]queue.EntryState
	joined []string
}

func newPropWorld(t *rapid.T, store queue.Store) *propWorld {
	w := &propWorld{
		ctx: context.Background(), clock: &fakeClock{t: time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)},
		store: store, final: map[string]queue.EntryState{},
	}
	svc, err := queue.NewService(queue.Config{
		Store: store, Now: w.clock.Now, Logger: slog.New(slog.DiscardHandler),
		OfferTimeout: offerTimeout, MaxMissedOffers: 2, ReconnectGrace: grace, AvgCallDuration: avgCall,
		StaleAfter: 24 * time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.svc = svc
	w.sub = svc.Subscribe("property", 1<<16)
	for _, q := range []string{"shoes", "hats"} {
		if _, err := svc.CreateQueue(w.ctx, queue.Queue{Name: q}); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range propGuides {
		capacity := rapid.IntRange(1, 3).Draw(t, "capacity_"+g.id)
		if _, err := svc.SetProfile(w.ctx, g.id, queue.Profile{Queues: g.queues, Languages: g.langs, Capacity: capacity}); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func (w *propWorld) close() { w.sub.Close(); w.svc.Stop() }

// expected reports whether err is one a racing client may get: the offer
// or call moved on, or it was not this party's.
func expected(err error) bool {
	return err == nil || errors.Is(err, queue.ErrBadState) || errors.Is(err, queue.ErrNotParty) || errors.Is(err, queue.ErrNotFound)
}

func (w *propWorld) must(t *rapid.T, what string, err error) {
	if !expected(err) {
		t.Fatalf("%s: %v", what, err)
	}
}

func (w *propWorld) liveCalls(t *rapid.T) []queue.Call {
	live, err := w.store.CallsLive(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	return live
}

func (w *propWorld) callOf(t *rapid.T, state queue.CallState) (queue.Call, bool) {
	var pick []queue.Call
	for _, c := range w.liveCalls(t) {
		if c.State == state || (state == queue.CallConnected && c.State != queue.CallOffered) {
			pick = append(pick, c)
		}
	}
	if len(pick) == 0 {
		return queue.Call{}, false
	}
	return rapid.SampledFrom(pick).Draw(t, "call"), true
}

// tick runs one matcher pass and checks FIFO and that nobody eligible is
// left waiting next to a free guide.
func (w *propWorld) tick(t *rapid.T) {
	before, err := w.store.EntriesQueued(w.ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	drain(w.sub)
	if err := w.svc.Tick(w.ctx); err != nil {
		t.Fatalf("Tick: %v", err)
	}
	offered := map[string]bool{}
	for _, ev := range drain(w.sub) {
		if o, ok := ev.(queue.OfferMade); ok && !o.Resent {
			offered[o.Entry.ID] = true
			if !propEligible(o.Entry, profileOf(o.Call.GuideID)) {
				t.Fatalf("%s (%s, %s) offered to %s, who cannot take it", o.Entry.ID, o.Entry.Queue, o.Entry.Locale, o.Call.GuideID)
			}
		}
	}
	after, err := w.store.EntriesQueued(w.ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	// FIFO: an entry offered in this pass had nobody of the same queue,
	// language and priority ahead of it who was waiting and not offered.
	for i, e := range before {
		if !offered[e.ID] {
			continue
		}
		for _, f := range before[:i] {
			if f.Queue == e.Queue && f.Priority == e.Priority && f.Locale == e.Locale && f.TransferGuide == e.TransferGuide &&
				f.State == queue.EntryWaiting && f.DisconnectedAt == nil && !offered[f.ID] && stillWaiting(after, f.ID) {
				t.Fatalf("FIFO: %s (rank %d) offered while %s (rank %d) of the same kind waits ahead", e.ID, e.Rank, f.ID, f.Rank)
			}
		}
	}
	// Nobody eligible waits next to a free guide.
	free, err := w.store.GuidesAvailable(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range after {
		if e.State != queue.EntryWaiting || e.DisconnectedAt != nil {
			continue
		}
		for _, g := range free {
			if pg := profileOf(g.ID); propEligible(e, pg) {
				t.Fatalf("after a pass %s (%s, %s) waits while %s, eligible for it, is free", e.ID, e.Queue, e.Locale, g.ID)
			}
		}
	}
}

func stillWaiting(line []queue.Entry, id string) bool {
	return slices.ContainsFunc(line, func(e queue.Entry) bool { return e.ID == id && e.State == queue.EntryWaiting })
}

func profileOf(id string) propGuide {
	i := slices.IndexFunc(propGuides, func(g propGuide) bool { return g.id == id })
	return propGuides[i]
}

func drain(sub *queue.Subscription) []queue.Event {
	var out []queue.Event
	for {
		select {
		case ev := <-sub.Events():
			out = append(out, flatten(ev)...)
		default:
			return out
		}
	}
}

// check holds after every step.
func (w *propWorld) check(t *rapid.T) {
	perEntry, perGuide := map[string]int{}, map[string][]string{}
	for _, c := range w.liveCalls(t) {
		perEntry[c.EntryID]++
		perGuide[c.GuideID] = append(perGuide[c.GuideID], c.ID)
	}
	for id, n := range perEntry {
		if n > 1 {
			t.Fatalf("entry %s is in %d live offers or calls", id, n)
		}
	}
	for _, pg := range propGuides {
		g, err := w.store.GuideGet(w.ctx, pg.id)
		if err != nil {
			t.Fatal(err)
		}
		calls := perGuide[pg.id]
		if len(calls) > g.Capacity {
			t.Fatalf("guide %s holds %d live offers or calls, capacity %d", pg.id, len(calls), g.Capacity)
		}
		if held := slices.Sorted(slices.Values(g.CallIDs)); !slices.Equal(held, slices.Sorted(slices.Values(calls))) {
			t.Fatalf("guide %s says it holds %q, its live calls are %q", pg.id, held, calls)
		}
	}
	for _, id := range w.joined {
		e, err := w.store.EntryGet(w.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		final := !e.State.Queued() && e.State != queue.EntryInCall
		if was, ok := w.final[id]; ok && was != e.State {
			t.Fatalf("entry %s left its final state %s for %s", id, was, e.State)
		}
		if final {
			w.final[id] = e.State
			if e.LeftAt == nil || e.LeftReason == "" {
				t.Fatalf("final entry %s (%s) has no time or reason", id, e.State)
			}
		}
	}
}

func (w *propWorld) actions(t *rapid.T) map[string]func(*rapid.T) {
	guideIDs := []string{"g_en", "g_de", "g_both"}
	acts := map[string]func(*rapid.T){
		"join": func(t *rapid.T) {
			w.clock.Advance(time.Second)
			p := queue.JoinParams{
				Queue:    rapid.SampledFrom([]string{"shoes", "hats"}).Draw(t, "queue"),
				Locale:   rapid.SampledFrom(propLocales).Draw(t, "locale"),
				Currency: "EUR", Priority: rapid.SampledFrom([]int{0, 0, 10}).Draw(t, "priority"),
			}
			e, err := w.svc.Join(w.ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			w.joined = append(w.joined, e.ID)
			_, _, err = w.svc.ShopperConnected(w.ctx, e.ID, "ws-"+e.ID)
			w.must(t, "connect", err)
		},
		"guideOnline": func(t *rapid.T) {
			id := rapid.SampledFrom(guideIDs).Draw(t, "guide")
			_, _, err := w.svc.GuideConnected(w.ctx, id, id, "ws-"+id)
			w.must(t, "guide connect", err)
			_, err = w.svc.SetPresence(w.ctx, id, queue.GuideAvailable)
			w.must(t, "available", err)
		},
		"guideAway": func(t *rapid.T) {
			id := rapid.SampledFrom(guideIDs).Draw(t, "guide")
			_, err := w.svc.SetPresence(w.ctx, id, queue.GuideAway)
			w.must(t, "away", err)
		},
		"guideDrop": func(t *rapid.T) {
			id := rapid.SampledFrom(guideIDs).Draw(t, "guide")
			w.svc.GuideDisconnected(w.ctx, id, "ws-"+id)
		},
		"tick":  func(t *rapid.T) { w.tick(t) },
		"tick2": func(t *rapid.T) { w.tick(t) },
		"accept": func(t *rapid.T) {
			if c, ok := w.callOf(t, queue.CallOffered); ok {
				_, err := w.svc.Accept(w.ctx, c.GuideID, c.ID)
				w.must(t, "accept", err)
			}
		},
		"decline": func(t *rapid.T) {
			if c, ok := w.callOf(t, queue.CallOffered); ok {
				w.must(t, "decline", w.svc.Decline(w.ctx, c.GuideID, c.ID, "busy"))
			}
		},
		"timeOut": func(t *rapid.T) {
			w.clock.Advance(offerTimeout + time.Second)
			w.tick(t)
		},
		"shopperDrop": func(t *rapid.T) {
			if len(w.joined) > 0 {
				id := rapid.SampledFrom(w.joined).Draw(t, "entry")
				w.svc.ShopperDisconnected(w.ctx, id, "ws-"+id)
			}
		},
		"graceRunsOut": func(t *rapid.T) {
			w.clock.Advance(grace + time.Second)
			w.tick(t)
		},
		"cancel": func(t *rapid.T) {
			if len(w.joined) > 0 {
				w.must(t, "cancel", w.svc.Cancel(w.ctx, rapid.SampledFrom(w.joined).Draw(t, "entry")))
			}
		},
		"hangUp": func(t *rapid.T) {
			if c, ok := w.callOf(t, queue.CallConnected); ok {
				w.svc.Signaled(w.ctx, c.ID)
				_, err := w.svc.Connected(w.ctx, queue.PartyGuide, c.GuideID, c.ID)
				w.must(t, "connected", err)
				_, err = w.svc.EndCall(w.ctx, queue.PartyGuide, c.GuideID, c.ID, queue.ReasonHangup)
				w.must(t, "hang up", err)
			}
		},
		"transfer": func(t *rapid.T) {
			if c, ok := w.callOf(t, queue.CallConnected); ok {
				to := queue.TransferTo{Queue: rapid.SampledFrom([]string{"shoes", "hats"}).Draw(t, "to")}
				if rapid.Bool().Draw(t, "toGuide") {
					to = queue.TransferTo{GuideID: rapid.SampledFrom(guideIDs).Draw(t, "toGuide")}
				}
				err := w.svc.Transfer(w.ctx, c.GuideID, c.ID, to)
				if errors.Is(err, queue.ErrInvalid) && to.GuideID == c.GuideID {
					return // to itself: refused, as it should be
				}
				w.must(t, "transfer", err)
			}
		},
	}
	// Joins weigh three times as much: lines must be long enough for
	// order to matter.
	acts["join2"], acts["join3"] = acts["join"], acts["join"]
	return acts
}

// settle ends everything: shoppers and guides drop, grace runs out; then
// every entry must be in exactly one final state.
func (w *propWorld) settle(t *rapid.T) {
	for _, id := range w.joined {
		w.svc.ShopperDisconnected(w.ctx, id, "ws-"+id)
	}
	for _, g := range propGuides {
		w.svc.GuideDisconnected(w.ctx, g.id, "ws-"+g.id)
	}
	for range 3 {
		w.clock.Advance(3 * time.Minute)
		if err := w.svc.Tick(w.ctx); err != nil {
			t.Fatal(err)
		}
		w.check(t)
	}
	for _, id := range w.joined {
		if _, ok := w.final[id]; !ok {
			e, _ := w.store.EntryGet(w.ctx, id)
			t.Fatalf("entry %s did not end: %s", id, e.State)
		}
	}
	if live := w.liveCalls(t); len(live) != 0 {
		t.Fatalf("calls still live after everyone left: %d", len(live))
	}
}

func runProperty(t *rapid.T, store queue.Store, maxSteps int) {
	w := newPropWorld(t, store)
	defer w.close()
	acts := w.actions(t)
	names := make([]string, 0, len(acts))
	for k := range acts {
		names = append(names, k)
	}
	slices.Sort(names)
	n := rapid.IntRange(1, maxSteps).Draw(t, "steps")
	for range n {
		acts[rapid.SampledFrom(names).Draw(t, "action")](t)
		w.check(t)
	}
	w.settle(t)
}

func TestRoutingInvariantsMemory(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) { runProperty(t, queue.NewMemoryStore(), 100) })
}

// On PostgreSQL one schema serves every run, emptied in between; runs are
// shorter, since each step is a few round trips.
func TestRoutingInvariantsPostgres(t *testing.T) {
	pool, _ := dbtest.NewSchema(t)
	store := queue.NewPostgresStore(pool)
	rapid.Check(t, func(rt *rapid.T) {
		truncate(t, pool)
		runProperty(rt, store, 25)
	})
}

func truncate(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), `TRUNCATE queue_entries, guides, calls, call_quality_reports, call_items, queues, guide_presence, callbacks`); err != nil {
		t.Fatal(fmt.Errorf("empty the schema between runs: %w", err))
	}
}
