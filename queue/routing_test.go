package queue_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"guidecall/internal/db/dbtest"
	"guidecall/queue"
)

// routingSuite runs on both stores with serviceSuite.
var routingSuite = []struct {
	name string
	run  func(t *testing.T, newStore storeFunc)
}{
	{"EachShopperGoesToAGuideOfItsLanguage", testLanguageMatching},
	{"SkillIsDroppedAfterItsWait", testSkillRelaxation},
	{"SecondLanguageAndOverflowSteps", testSecondLanguageAndOverflow},
	{"HigherPriorityFirst", testPriorityFirst},
	{"WrapUpHoldsGuideUntilOverOrEndedEarly", testWrapUp},
	{"AutoAwayIsRecordedWithItsReason", testAutoAwayRecorded},
	{"DeclineKeepsTheGuidesReason", testDeclineNote},
	{"ClosedQueueRefusesJoin", testClosedQueueRefusesJoin},
	{"CallbackClaimedByOneGuideOnly", testCallbackClaimedOnce},
	{"StatusTellsTheTruth", testQueueStatus},
	{"ProfileValidationNamesTheField", testProfileValidation},
	{"QueueRecordsCreateAndUpdate", testQueueRecords},
	{"TransferToAColleagueAndToAQueue", testTransfer},
	{"QueueOfferTimeoutAndMaxWait", testQueueOfferTimeoutAndMaxWait},
}

func TestRoutingMemory(t *testing.T) {
	for _, tt := range routingSuite {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, memoryStore) })
	}
}

func TestRoutingPostgres(t *testing.T) {
	t.Parallel()
	dbtest.URL(t) // skip once here rather than in every subtest
	for _, tt := range routingSuite {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, postgresStore)
		})
	}
}

func (h *harness) profile(id string, p queue.Profile) {
	h.t.Helper()
	if _, err := h.svc.SetProfile(h.ctx, id, p); err != nil {
		h.t.Fatalf("SetProfile(%s): %v", id, err)
	}
}

func (h *harness) createQueue(q queue.Queue) {
	h.t.Helper()
	if _, err := h.svc.CreateQueue(h.ctx, q); err != nil {
		h.t.Fatalf("CreateQueue(%s): %v", q.Name, err)
	}
}

// joinWith joins with p (queue, locale, skill...) and opens the socket.
func (h *harness) joinWith(p queue.JoinParams) queue.Entry {
	h.t.Helper()
	h.clock.Advance(time.Second)
	if p.Currency == "" {
		p.Currency = "EUR"
	}
	e, err := h.svc.Join(h.ctx, p)
	if err != nil {
		h.t.Fatalf("Join(%+v): %v", p, err)
	}
	if _, _, err := h.svc.ShopperConnected(h.ctx, e.ID, "ws-"+e.ID); err != nil {
		h.t.Fatalf("ShopperConnected: %v", err)
	}
	return h.entry(e.ID)
}

func testLanguageMatching(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.profile("g_en", queue.Profile{Queues: []string{"shoes"}, Languages: []string{"en"}})
	h.profile("g_de", queue.Profile{Queues: []string{"shoes"}, Languages: []string{"de-DE", "de-CH"}})
	h.guideOnline("g_en") // idle longest, but speaks only English
	h.guideOnline("g_de")
	de := h.joinWith(queue.JoinParams{Queue: "shoes", Locale: "de-AT"})
	en := h.joinWith(queue.JoinParams{Queue: "shoes", Locale: "en-GB"})
	fr := h.joinWith(queue.JoinParams{Queue: "shoes", Locale: "fr-FR"})
	h.rec.take()
	h.tickExpectOffers(map[string]string{de.ID: "g_de", en.ID: "g_en"})
	// Nobody speaks French: no number, a callback instead.
	h.tick()
	for _, e := range h.rec.take() {
		if e.Kind == "Offer" && e.EntryID == fr.ID {
			t.Fatalf("French shopper offered to %s", e.GuideID)
		}
	}
	pos, err := h.svc.QueueStatus(h.ctx, "shoes", queue.StatusFor{Locale: "fr"})
	if err != nil {
		t.Fatal(err)
	}
	if pos.ETASeconds != nil || !pos.Callback || pos.GuidesOnline != 0 {
		t.Errorf("status for French: %+v, want no ETA, callback, no guide", pos)
	}
}

func testSkillRelaxation(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.createQueue(queue.Queue{Name: "boots", Relax: []queue.RelaxStep{{AfterSeconds: 60, Action: queue.RelaxDropSkill}}})
	h.profile("g1", queue.Profile{Queues: []string{"boots"}, Skills: []string{"hiking"}})
	h.guideOnline("g1")
	e := h.joinWith(queue.JoinParams{Queue: "boots", Skill: "skiing"})
	h.rec.take()
	h.tickExpectOffers(map[string]string{})
	h.clock.Advance(59 * time.Second)
	h.tickExpectOffers(map[string]string{})
	h.clock.Advance(2 * time.Second)
	h.tick()
	evs := h.rec.take()
	r := wantEvent(t, evs, "Relaxed", func(ev event) bool { return ev.EntryID == e.ID })
	if r.Reason != queue.RelaxDropSkill {
		t.Errorf("step %q, want drop_skill", r.Reason)
	}
	wantEvent(t, evs, "Offer", func(ev event) bool { return ev.EntryID == e.ID && ev.GuideID == "g1" })
	if got := h.entry(e.ID).Steps; !slices.Equal(got, []string{queue.RelaxDropSkill}) {
		t.Errorf("steps recorded %v", got)
	}
}

func testSecondLanguageAndOverflow(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.createQueue(queue.Queue{Name: "help", Relax: []queue.RelaxStep{
		{AfterSeconds: 30, Action: queue.RelaxSecondLanguage},
		{AfterSeconds: 90, Action: queue.RelaxOverflow, Queue: "shoes"},
	}})
	h.profile("g_en", queue.Profile{Queues: []string{"help"}, Languages: []string{"en"}})
	h.profile("g_shoes", queue.Profile{Queues: []string{"shoes"}})
	h.guideOnline("g_shoes")
	h.guideOnline("g_en")
	// A Dutch shopper who also speaks English; g_en is busy first.
	busy := h.joinWith(queue.JoinParams{Queue: "help", Locale: "en"})
	h.connectCall(h.accept("g_en", h.offerOne(busy.ID, "g_en")))
	nl := h.joinWith(queue.JoinParams{Queue: "help", Locale: "nl-NL", SecondLanguage: "en"})
	other := h.joinWith(queue.JoinParams{Queue: "help", Locale: "nl-BE"})
	h.rec.take()
	h.clock.Advance(31 * time.Second)
	h.tick()
	if got := h.entry(nl.ID).Steps; !slices.Equal(got, []string{queue.RelaxSecondLanguage}) {
		t.Errorf("nl steps after 31 s: %v", got)
	}
	// g_shoes serves only shoes: not yet.
	if offers := kinds(h.rec.take(), "Offer"); len(offers) != 0 {
		t.Fatalf("offers before overflow: %v", describe(offers))
	}
	h.clock.Advance(60 * time.Second)
	h.tick()
	evs := h.rec.take()
	// nl joined first and overflows to g_shoes; other too, but only one
	// guide is free.
	wantEvent(t, evs, "Offer", func(ev event) bool { return ev.EntryID == nl.ID && ev.GuideID == "g_shoes" })
	if got := h.entry(other.ID).Steps; !slices.Equal(got, []string{queue.RelaxSecondLanguage, "overflow:shoes"}) {
		t.Errorf("other's steps %v", got)
	}
	// The overflowed entry keeps its original join time.
	if c := wantEvent(t, evs, "Offer", func(ev event) bool { return ev.EntryID == nl.ID }).Call; !c.JoinedAt.Equal(nl.JoinedAt) {
		t.Errorf("offer's join time %s, want %s", c.JoinedAt, nl.JoinedAt)
	}
}

func testPriorityFirst(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	low := h.joinWith(queue.JoinParams{Queue: "shoes"})
	low2 := h.joinWith(queue.JoinParams{Queue: "hats"})
	high := h.joinWith(queue.JoinParams{Queue: "shoes", Priority: 20})
	h.guideOnline("g1")
	h.rec.take()
	c := h.offerOne(high.ID, "g1")
	if err := h.svc.Decline(h.ctx, "g1", c, ""); err != nil {
		t.Fatal(err)
	}
	h.guideOnline("g2")
	h.rec.take()
	// Declined, high still goes first, to the longest idle (g1 since its
	// decline, g2 a second later); then the oldest of equal priority.
	h.tickExpectOffers(map[string]string{high.ID: "g1", low.ID: "g2"})
	_ = low2
}

func testWrapUp(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.createQueue(queue.Queue{Name: "care", WrapUpSeconds: 30})
	h.guideOnline("g1")
	a := h.joinWith(queue.JoinParams{Queue: "care"})
	c := h.accept("g1", h.offerOne(a.ID, "g1"))
	h.connectCall(c)
	if _, err := h.svc.EndCall(h.ctx, queue.PartyGuide, "g1", c.ID, queue.ReasonHangup); err != nil {
		t.Fatal(err)
	}
	g := h.guide("g1")
	if g.Presence() != queue.PresenceWrapUp || g.WrapUpUntil == nil || !g.WrapUpUntil.Equal(h.clock.Now().Add(30*time.Second)) {
		t.Fatalf("after the call: presence %s until %v", g.Presence(), g.WrapUpUntil)
	}
	wantEvent(t, h.rec.take(), "Presence", func(ev event) bool { return ev.Reason == queue.PresenceCallEnded })
	b := h.joinWith(queue.JoinParams{Queue: "care"})
	h.rec.take()
	h.tickExpectOffers(map[string]string{})
	h.clock.Advance(30 * time.Second)
	h.tick()
	evs := h.rec.take()
	wantEvent(t, evs, "Presence", func(ev event) bool { return ev.Reason == queue.PresenceWrapUpOver })
	c2 := wantEvent(t, evs, "Offer", func(ev event) bool { return ev.EntryID == b.ID && ev.GuideID == "g1" }).CallID

	// Ending wrap-up early: the guide says available.
	h.connectCall(h.accept("g1", c2))
	if _, err := h.svc.EndCall(h.ctx, queue.PartyGuide, "g1", c2, queue.ReasonHangup); err != nil {
		t.Fatal(err)
	}
	d := h.joinWith(queue.JoinParams{Queue: "care"})
	if _, err := h.svc.SetPresence(h.ctx, "g1", queue.GuideAvailable); err != nil {
		t.Fatal(err)
	}
	h.rec.take()
	h.offerOne(d.ID, "g1")
	hist, err := h.svc.PresenceHistory(h.ctx, "g1", 20)
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for i := len(hist) - 1; i >= 0; i-- {
		reasons = append(reasons, string(hist[i].State)+":"+hist[i].Reason)
	}
	want := []string{"away:connected", "available:chosen", "wrap_up:call_ended", "available:wrap_up_over", "wrap_up:call_ended", "available:chosen"}
	if !slices.Equal(reasons, want) {
		t.Errorf("presence history %v, want %v", reasons, want)
	}
}

func testAutoAwayRecorded(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.guideOnline("g1")
	e := h.join("shoes")
	h.rec.take()
	for range 2 {
		h.offerOne(e.ID, "g1")
		h.clock.Advance(offerTimeout + time.Second)
		h.tick()
	}
	if g := h.guide("g1"); g.Status != queue.GuideAway || g.StatusReason != queue.PresenceMissedOffers {
		t.Fatalf("after two missed offers: %s (%s)", g.Status, g.StatusReason)
	}
	hist, _ := h.svc.PresenceHistory(h.ctx, "g1", 1)
	if len(hist) != 1 || hist[0].State != queue.PresenceAway || hist[0].Reason != queue.PresenceMissedOffers {
		t.Errorf("latest presence record %+v", hist)
	}
	// The console reconnects: it is still away for that reason, and the
	// history has the socket's comings and goings.
	h.svc.GuideDisconnected(h.ctx, "g1", "ws-g1")
	if _, _, err := h.svc.GuideConnected(h.ctx, "g1", "Guide g1", "ws-g1b"); err != nil {
		t.Fatal(err)
	}
	if g := h.guide("g1"); g.Status != queue.GuideAway || g.StatusReason != queue.PresenceMissedOffers {
		t.Errorf("after reconnecting: %s (%s), want away (missed_offers)", g.Status, g.StatusReason)
	}
	hist, _ = h.svc.PresenceHistory(h.ctx, "g1", 2)
	if len(hist) != 2 || hist[0].Reason != queue.PresenceConnected || hist[1].Reason != queue.PresenceSocketLost {
		t.Errorf("latest presence records %+v", hist)
	}
}

func testDeclineNote(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.guideOnline("g1")
	e := h.join("shoes")
	h.rec.take()
	c := h.offerOne(e.ID, "g1")
	if err := h.svc.Decline(h.ctx, "g1", c, strings.Repeat("x", 201)); !errors.Is(err, queue.ErrInvalid) {
		t.Errorf("over-long reason: %v", err)
	}
	if err := h.svc.Decline(h.ctx, "g1", c, "not my product line"); err != nil {
		t.Fatal(err)
	}
	if got := h.call(c); got.EndReason != queue.ReasonDeclined || got.DeclineNote != "not my product line" {
		t.Errorf("call %s / %q", got.EndReason, got.DeclineNote)
	}
}

func testClosedQueueRefusesJoin(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	// The harness clock is Monday 4 May 2026, 10:00 UTC.
	h.createQueue(queue.Queue{Name: "evening", TimeZone: "Europe/Lisbon", Hours: map[string][]queue.Span{
		"mon": {{Open: "18:00", Close: "22:00"}},
	}})
	_, err := h.svc.Join(h.ctx, queue.JoinParams{Queue: "evening", Currency: "EUR"})
	var closed *queue.ClosedError
	if !errors.Is(err, queue.ErrClosed) || !errors.As(err, &closed) {
		t.Fatalf("join of a closed queue: %v", err)
	}
	want := time.Date(2026, 5, 4, 17, 0, 0, 0, time.UTC) // 18:00 WEST
	if closed.NextOpen == nil || !closed.NextOpen.Equal(want) {
		t.Errorf("next opening %v, want %s", closed.NextOpen, want)
	}
	if line := h.line("evening"); len(line) != 0 {
		t.Errorf("a refused join was stored: %v", line)
	}
	st, err := h.svc.QueueStatus(h.ctx, "evening", queue.StatusFor{Locale: "en"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Open || st.NextOpen == nil || !st.NextOpen.Equal(want) || !st.Callback || st.ETASeconds != nil {
		t.Errorf("status %+v", st)
	}
	h.clock.Advance(7 * time.Hour)
	if _, err := h.svc.Join(h.ctx, queue.JoinParams{Queue: "evening", Currency: "EUR"}); err != nil {
		t.Errorf("join at opening time: %v", err)
	}
}

func testCallbackClaimedOnce(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.profile("g1", queue.Profile{Queues: []string{"shoes"}})
	h.profile("g2", queue.Profile{Queues: []string{"shoes"}})
	h.profile("g_hats", queue.Profile{Queues: []string{"hats"}})
	e := h.join("shoes")
	if _, err := h.svc.RequestCallback(h.ctx, "shoes", queue.CallbackParams{Name: "Ana"}); !errors.Is(err, queue.ErrInvalid) || !strings.Contains(err.Error(), "phone:") {
		t.Errorf("callback without contact: %v", err)
	}
	from := h.clock.Now().Add(time.Hour)
	to := from.Add(2 * time.Hour)
	cb, err := h.svc.RequestCallback(h.ctx, "shoes", queue.CallbackParams{
		Name: "Ana", Phone: "+49 30 1234567", Message: "Do these come in 38?", WindowFrom: &from, WindowTo: &to, EntryID: e.ID,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Leaving a callback takes the shopper out of line, in the same change.
	if got := h.entry(e.ID); got.State != queue.EntryCanceled || got.LeftReason != queue.ReasonCallback {
		t.Errorf("entry after callback: %s/%s", got.State, got.LeftReason)
	}
	for guide, n := range map[string]int{"g1": 1, "g_hats": 0, "": 1} {
		list, err := h.svc.Callbacks(h.ctx, guide)
		if err != nil || len(list) != n {
			t.Errorf("Callbacks(%q) = %d, %v; want %d", guide, len(list), err, n)
		}
	}
	if _, err := h.svc.ClaimCallback(h.ctx, "g_hats", cb.ID); !errors.Is(err, queue.ErrNotParty) {
		t.Errorf("claim by a guide of another queue: %v", err)
	}
	claimed, err := h.svc.ClaimCallback(h.ctx, "g1", cb.ID)
	if err != nil || claimed.ClaimedBy != "g1" || claimed.State != queue.CallbackClaimed {
		t.Fatalf("claim: %+v, %v", claimed, err)
	}
	if _, err := h.svc.ClaimCallback(h.ctx, "g2", cb.ID); !errors.Is(err, queue.ErrBadState) {
		t.Errorf("second claim: %v, want ErrBadState", err)
	}
	if _, err := h.svc.CallbackOutcome(h.ctx, "g2", cb.ID, queue.OutcomeReached, ""); !errors.Is(err, queue.ErrNotParty) {
		t.Errorf("outcome by another guide: %v", err)
	}
	if _, err := h.svc.CallbackOutcome(h.ctx, "g1", cb.ID, "maybe", ""); !errors.Is(err, queue.ErrInvalid) {
		t.Errorf("unknown outcome: %v", err)
	}
	done, err := h.svc.CallbackOutcome(h.ctx, "g1", cb.ID, queue.OutcomeReached, "ordered size 38")
	if err != nil || done.State != queue.CallbackDone || done.Note != "ordered size 38" {
		t.Fatalf("outcome: %+v, %v", done, err)
	}
	if list, _ := h.svc.Callbacks(h.ctx, "g1"); len(list) != 0 {
		t.Errorf("done callback still listed: %v", list)
	}
	read, err := h.store.CallbackGet(h.ctx, cb.ID)
	if err != nil || read.Phone != "+49 30 1234567" || read.WindowFrom == nil || !read.WindowFrom.Equal(from) || read.Outcome != queue.OutcomeReached {
		t.Errorf("stored callback %+v, %v", read, err)
	}
}

func testQueueStatus(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	st, err := h.svc.QueueStatus(h.ctx, "shoes", queue.StatusFor{Locale: "en"})
	if err != nil {
		t.Fatal(err)
	}
	if !st.Open || st.ETASeconds != nil || !st.Callback || st.GuidesAvailable != 0 {
		t.Errorf("nobody online: %+v", st)
	}
	h.guideOnline("g1")
	st, _ = h.svc.QueueStatus(h.ctx, "shoes", queue.StatusFor{Locale: "en"})
	if st.ETASeconds == nil || *st.ETASeconds != react || st.GuidesAvailable != 1 || st.Callback {
		t.Errorf("a free guide: %+v (eta %d)", st, derefOr(st.ETASeconds))
	}
	a := h.join("shoes")
	h.connectCall(h.accept("g1", h.offerOne(a.ID, "g1")))
	st, _ = h.svc.QueueStatus(h.ctx, "shoes", queue.StatusFor{Locale: "en"})
	if st.ETASeconds == nil || *st.ETASeconds != int(avgCall.Seconds())+react || st.GuidesAvailable != 0 || st.GuidesOnline != 1 {
		t.Errorf("the guide busy: %+v (eta %d)", st, derefOr(st.ETASeconds))
	}
	if _, err := h.svc.QueueStatus(h.ctx, "nosuch", queue.StatusFor{Locale: "en"}); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("unknown queue: %v", err)
	}
}

func testProfileValidation(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	for _, tt := range []struct {
		p     queue.Profile
		field string
	}{
		{queue.Profile{}, "queues:"},
		{queue.Profile{Queues: []string{"nosuch"}}, "queues:"},
		{queue.Profile{Queues: []string{"shoes"}, Languages: []string{"english!"}}, "languages:"},
		{queue.Profile{Queues: []string{"shoes"}, Skills: []string{"Big Shoes"}}, "skills:"},
		{queue.Profile{Queues: []string{"shoes"}, Capacity: queue.MaxCapacity + 1}, "capacity:"},
		{queue.Profile{Queues: []string{"shoes"}, Capacity: -1}, "capacity:"},
	} {
		if _, err := h.svc.SetProfile(h.ctx, "g1", tt.p); !errors.Is(err, queue.ErrInvalid) || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("SetProfile(%+v) = %v, want ErrInvalid naming %s", tt.p, err, tt.field)
		}
	}
	g, err := h.svc.SetProfile(h.ctx, "g1", queue.Profile{Name: "Ada", Queues: []string{"shoes", "hats"}, Languages: []string{"en", "pt-BR"}, Skills: []string{"running"}})
	if err != nil {
		t.Fatal(err)
	}
	read := h.guide("g1")
	if read.Name != "Ada" || !slices.Equal(read.Queues, []string{"shoes", "hats"}) || !slices.Equal(read.Languages, []string{"en", "pt-BR"}) ||
		!slices.Equal(read.Skills, []string{"running"}) || read.Capacity != 1 || read.Status != queue.GuideAway || g.Online {
		t.Errorf("stored profile %+v", read)
	}
}

func testQueueRecords(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	if _, err := h.svc.CreateQueue(h.ctx, queue.Queue{Name: "shoes"}); !errors.Is(err, queue.ErrBadState) {
		t.Errorf("duplicate create: %v", err)
	}
	if _, err := h.svc.CreateQueue(h.ctx, queue.Queue{Name: "x", Relax: []queue.RelaxStep{{Action: queue.RelaxOverflow, Queue: "nosuch"}}}); !errors.Is(err, queue.ErrNotFound) || !strings.Contains(err.Error(), "relax[0]") {
		t.Errorf("overflow to a missing queue: %v", err)
	}
	q := berlinQueue()
	q.Name, q.MaxWaitSeconds, q.Relax = "sales", 300, []queue.RelaxStep{{AfterSeconds: 120, Action: queue.RelaxOverflow, Queue: "shoes"}}
	created, err := h.svc.CreateQueue(h.ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	read, err := h.svc.Queue(h.ctx, "sales")
	if err != nil || read.TimeZone != "Europe/Berlin" || len(read.Hours["mon"]) != 2 || read.Hours["sat"] != nil ||
		!slices.Equal(read.ClosedDates, []string{"2026-12-25"}) || read.MaxWaitSeconds != 300 || len(read.Relax) != 1 || !read.CreatedAt.Equal(created.CreatedAt) {
		t.Errorf("read back %+v, %v", read, err)
	}
	h.clock.Advance(time.Minute)
	up, err := h.svc.UpdateQueue(h.ctx, "sales", func(q *queue.Queue) error { q.DisplayName, q.Hours = "Sales", nil; return nil })
	if err != nil || up.DisplayName != "Sales" || up.Hours != nil || !up.UpdatedAt.Equal(h.clock.Now()) {
		t.Errorf("update: %+v, %v", up, err)
	}
	if _, err := h.svc.UpdateQueue(h.ctx, "sales", func(q *queue.Queue) error { q.TimeZone = "Nowhere/City"; return nil }); !errors.Is(err, queue.ErrInvalid) {
		t.Errorf("update to a bad zone: %v", err)
	}
	if read, _ := h.svc.Queue(h.ctx, "sales"); read.TimeZone != "Europe/Berlin" {
		t.Errorf("a refused update was stored: %s", read.TimeZone)
	}
	list, err := h.svc.Queues(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, q := range list {
		names = append(names, q.Name)
	}
	if !slices.Equal(names, []string{"hats", "sales", "shoes"}) {
		t.Errorf("queues %v", names)
	}
	// The default queue exists on first use.
	if d, err := h.svc.Queue(h.ctx, queue.DefaultQueue); err != nil || !d.OpenAt(h.clock.Now()) {
		t.Errorf("default queue: %+v, %v", d, err)
	}
}

func testTransfer(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.profile("g1", queue.Profile{Queues: []string{"shoes"}})
	h.profile("g2", queue.Profile{Queues: []string{"shoes"}})
	h.profile("g_hats", queue.Profile{Queues: []string{"hats"}})
	h.guideOnline("g1")
	a := h.join("shoes")
	c := h.accept("g1", h.offerOne(a.ID, "g1"))
	h.connectCall(c)
	b := h.join("shoes") // waits behind; the transferred shopper goes first
	h.guideOnline("g2")
	h.guideOnline("g_hats")
	h.rec.take()

	for _, bad := range []queue.TransferTo{{}, {Queue: "shoes", GuideID: "g2"}, {GuideID: "g1"}, {Queue: "nosuch"}, {GuideID: "nobody"}} {
		if err := h.svc.Transfer(h.ctx, "g1", c.ID, bad); !errors.Is(err, queue.ErrInvalid) {
			t.Errorf("Transfer(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	if err := h.svc.Transfer(h.ctx, "g2", c.ID, queue.TransferTo{Queue: "hats"}); !errors.Is(err, queue.ErrNotParty) {
		t.Errorf("transfer by another guide: %v", err)
	}
	// To a named colleague, who is offered it even though b waited and g2 is free.
	if err := h.svc.Transfer(h.ctx, "g1", c.ID, queue.TransferTo{GuideID: "g_hats", Note: "needs hats too"}); err != nil {
		t.Fatal(err)
	}
	evs := h.rec.take()
	if ended := wantEvent(t, evs, "CallEnded", nil); ended.Reason != queue.ReasonTransferred {
		t.Errorf("call ended %s", ended.Reason)
	}
	rq := wantEvent(t, evs, "Requeued", func(e event) bool { return e.EntryID == a.ID })
	if rq.Reason != queue.ReasonTransferred || rq.Pos.Position != 1 {
		t.Errorf("requeued %s at %d", rq.Reason, rq.Pos.Position)
	}
	offers := h.tickExpectOffers(map[string]string{a.ID: "g_hats", b.ID: "g2"})
	for _, o := range offers {
		if o.EntryID == a.ID && (o.Entry.TransferNote != "needs hats too" || !o.Call.JoinedAt.Equal(a.JoinedAt)) {
			t.Errorf("transferred offer: note %q joined %s", o.Entry.TransferNote, o.Call.JoinedAt)
		}
	}
	if got := h.call(c.ID); got.EndReason != queue.ReasonTransferred || got.EndedBy != "guide" {
		t.Errorf("first call %s by %s", got.EndReason, got.EndedBy)
	}

	// To a queue: the colleague hands a back to shoes, at its head.
	var ca string
	for _, o := range offers {
		if o.EntryID == a.ID {
			ca = o.CallID
		}
	}
	h.connectCall(h.accept("g_hats", ca))
	d := h.join("shoes")
	if err := h.svc.Transfer(h.ctx, "g_hats", ca, queue.TransferTo{Queue: "shoes"}); err != nil {
		t.Fatal(err)
	}
	wantLine(t, h.line("shoes"), a.ID, b.ID, d.ID)
	if e := h.entry(a.ID); e.Queue != "shoes" || e.TransferGuide != "" || !e.JoinedAt.Equal(a.JoinedAt) {
		t.Errorf("entry after transfer to a queue: %+v", e)
	}
}

func derefOr(p *int) int {
	if p == nil {
		return -1
	}
	return *p
}

func testQueueOfferTimeoutAndMaxWait(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.createQueue(queue.Queue{Name: "quick", OfferTimeoutSeconds: 5, MaxWaitSeconds: 120})
	h.guideOnline("g1")
	a := h.joinWith(queue.JoinParams{Queue: "quick"})
	h.rec.take()
	offer := h.tickExpectOffers(map[string]string{a.ID: "g1"})[0]
	if got := offer.Call.OfferDeadline.Sub(offer.Call.OfferedAt); got != 5*time.Second {
		t.Errorf("offer deadline %v after the offer, want the queue's 5s", got)
	}
	h.clock.Advance(6 * time.Second)
	h.tick()
	if c := h.call(offer.CallID); c.EndReason != queue.ReasonOfferTimeout {
		t.Errorf("after 6 s the offer is %s/%s, want timed out", c.State, c.EndReason)
	}
	h.connectCall(h.accept("g1", h.offerOne(a.ID, "g1")))
	// Behind a call of about 3 minutes, the 2-minute maximum is passed:
	// the shopper is offered a callback along with the number.
	b := h.joinWith(queue.JoinParams{Queue: "quick"})
	p := wantEvent(t, h.rec.take(), "Position", func(e event) bool { return e.EntryID == b.ID })
	if p.Pos.ETASeconds == nil || !p.Pos.Callback {
		t.Errorf("position %+v (eta %d): want an ETA and a callback offer", p.Pos, eta(p.Pos))
	}
}
