// Package statstest is the seeded history the dashboard's figures are
// checked on (app's TestAdminStatsSeededDay against the API and the hand
// queries of docs/dashboard.md, e2e's browser test against the page): 24
// November 2026 in Berlin, written straight into the stores, with the
// figures worked out from it by hand.
package statstest

import (
	"context"
	"testing"
	"time"

	"guidecall/payments"
	"guidecall/queue"
)

// Window is the seeded day as the stats API takes it.
const (
	Day      = "2026-11-24"
	TimeZone = "Europe/Berlin"
)

// berlin is where the seeded day is cut: a day there starts at 23:00 UTC.
var berlin = mustLocation(TimeZone)

func mustLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// seededAt is a time on 24 November 2026 in Berlin, plus day days.
func seededAt(day, h, m, s int) time.Time { return time.Date(2026, 11, 24+day, h, m, s, 0, berlin) }

type seededCall struct {
	id                           string
	offered, accepted, connected time.Time
	ended                        time.Time
	rating                       int
	quality                      []queue.QualityReport
	links                        []payments.Link
}

type seededEntry struct {
	id, queue string
	joined    time.Time
	state     queue.EntryState
	left      time.Time
	reason    string
	calls     []seededCall
}

func quality(party queue.Party, rtt float64, lost, freezes int64) queue.QualityReport {
	return queue.QualityReport{Party: party, RTTMS: rtt, PacketsLost: lost, FreezeCount: freezes, FramesDecoded: 900,
		FrameWidth: 640, FrameHeight: 480, LocalCandidate: "relay", RemoteCandidate: "relay"}
}

func link(id, provider, currency string, amount int64, status payments.LinkStatus, refunded int64) payments.Link {
	return payments.Link{ID: id, Provider: provider, Currency: currency, Amount: amount, Status: status, RefundedAmount: refunded}
}

// seededDay is the fixed history the dashboard's figures are checked on:
// 24 November 2026 in Berlin, with a shopper who joined just before it
// and one just after. The expected figures in TestAdminStatsSeededDay are
// worked out from it by hand.
func seededDay() []seededEntry {
	return []seededEntry{
		{id: "e_1", queue: "shoes", joined: seededAt(0, 10, 0, 0), state: queue.EntryDone, left: seededAt(0, 10, 10, 25), calls: []seededCall{{
			id: "c_1", offered: seededAt(0, 10, 0, 5), accepted: seededAt(0, 10, 0, 20), connected: seededAt(0, 10, 0, 25), ended: seededAt(0, 10, 10, 25), rating: 5,
			quality: []queue.QualityReport{quality(queue.PartyShopper, 40, 10, 0), quality(queue.PartyShopper, 60, 30, 1), quality(queue.PartyGuide, 50, 5, 0)},
			links:   []payments.Link{link("pl_1", "sandbox", "EUR", 5000, payments.StatusPaid, 0)},
		}}},
		{id: "e_2", queue: "shoes", joined: seededAt(0, 10, 5, 0), state: queue.EntryDone, left: seededAt(0, 10, 10, 45), calls: []seededCall{
			{id: "c_2a", offered: seededAt(0, 10, 5, 2), ended: seededAt(0, 10, 5, 10)}, // declined
			{id: "c_2b", offered: seededAt(0, 10, 5, 12), accepted: seededAt(0, 10, 5, 40), connected: seededAt(0, 10, 5, 45), ended: seededAt(0, 10, 10, 45), rating: 3,
				quality: []queue.QualityReport{quality(queue.PartyGuide, 100, 2, 3)},
				links: []payments.Link{link("pl_2", "sandbox", "EUR", 2000, payments.StatusExpired, 0),
					link("pl_3", "stripe", "EUR", 3000, payments.StatusPartiallyRefunded, 1000)}},
		}},
		{id: "e_3", queue: "default", joined: seededAt(0, 11, 0, 0), state: queue.EntryDone, left: seededAt(0, 11, 21, 5), calls: []seededCall{{
			id: "c_3", offered: seededAt(0, 11, 0, 1), accepted: seededAt(0, 11, 1, 0), connected: seededAt(0, 11, 1, 5), ended: seededAt(0, 11, 21, 5),
			links: []payments.Link{link("pl_4", "sandbox", "JPY", 1500, payments.StatusPaid, 0), link("pl_5", "sandbox", "EUR", 1000, payments.StatusOpen, 0)},
		}}},
		{id: "e_4", queue: "default", joined: seededAt(0, 12, 0, 0), state: queue.EntryCanceled, left: seededAt(0, 12, 0, 30), reason: queue.ReasonCanceled},
		{id: "e_5", queue: "default", joined: seededAt(0, 12, 30, 0), state: queue.EntryAbandoned, left: seededAt(0, 12, 32, 0), reason: queue.ReasonShopperLost},
		{id: "e_6", queue: "shoes", joined: seededAt(0, 13, 0, 0), state: queue.EntryCanceled, left: seededAt(0, 13, 1, 0), reason: queue.ReasonCallback},
		// Joined a second before midnight: its call runs into the next day
		// but belongs to this one.
		{id: "e_7", queue: "default", joined: seededAt(0, 23, 59, 59), state: queue.EntryDone, left: seededAt(1, 0, 5, 10), calls: []seededCall{{
			id: "c_7", offered: seededAt(1, 0, 0, 2), accepted: seededAt(1, 0, 0, 9), connected: seededAt(1, 0, 0, 10), ended: seededAt(1, 0, 5, 10), rating: 4,
			links: []payments.Link{link("pl_6", "adyen", "EUR", 10000, payments.StatusFailed, 0)},
		}}},
		// 23:30 UTC on the 23rd: the 24th in Berlin.
		{id: "e_8", queue: "default", joined: seededAt(0, 0, 30, 0), state: queue.EntryDone, left: seededAt(0, 0, 32, 6), calls: []seededCall{{
			id: "c_8", offered: seededAt(0, 0, 30, 3), accepted: seededAt(0, 0, 30, 5), connected: seededAt(0, 0, 30, 6), ended: seededAt(0, 0, 32, 6), rating: 5,
		}}},
		// The next day: outside the window.
		{id: "e_9", queue: "default", joined: seededAt(1, 0, 0, 0), state: queue.EntryDone, left: seededAt(1, 0, 10, 0), calls: []seededCall{{
			id: "c_9", offered: seededAt(1, 0, 0, 1), accepted: seededAt(1, 0, 0, 3), connected: seededAt(1, 0, 0, 4), ended: seededAt(1, 0, 10, 0), rating: 1,
			links: []payments.Link{link("pl_9", "sandbox", "EUR", 99900, payments.StatusPaid, 0)},
		}}},
		// The day before, in Berlin.
		{id: "e_10", queue: "default", joined: seededAt(-1, 23, 59, 0), state: queue.EntryAbandoned, left: seededAt(-1, 23, 59, 20), reason: queue.ReasonShopperLost},
	}
}

// Seed writes the seeded history into the stores, as the services would
// have left it.
func Seed(t testing.TB, qs queue.Store, ps payments.Store) {
	t.Helper()
	ctx := context.Background()
	if _, err := qs.GuideUpsert(ctx, queue.Guide{ID: "g_seed", Name: "Seed", Status: queue.GuideAway, IdleSince: seededAt(-1, 0, 0, 0)}); err != nil {
		t.Fatal(err)
	}
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		u := t.UTC()
		return &u
	}
	for _, e := range seededDay() {
		if _, err := qs.EntryCreate(ctx, queue.Entry{ID: e.id, Queue: e.queue, Locale: "de-DE", Language: "de", Currency: "EUR",
			State: queue.EntryWaiting, JoinedAt: e.joined.UTC(), SeenAt: e.joined.UTC()}); err != nil {
			t.Fatalf("entry %s: %v", e.id, err)
		}
		for _, c := range e.calls {
			if _, err := qs.CallCreate(ctx, queue.Call{ID: c.id, EntryID: e.id, GuideID: "g_seed", Queue: e.queue, State: queue.CallOffered,
				JoinedAt: e.joined.UTC(), OfferedAt: c.offered.UTC(), OfferDeadline: c.offered.Add(15 * time.Second).UTC()}); err != nil {
				t.Fatalf("call %s: %v", c.id, err)
			}
			for i, r := range c.quality {
				r.At = c.connected.Add(time.Duration(i+1) * 10 * time.Second).UTC()
				if err := qs.QualityAdd(ctx, c.id, r); err != nil {
					t.Fatalf("quality of %s: %v", c.id, err)
				}
			}
			if _, err := qs.CallUpdate(ctx, c.id, func(cur *queue.Call) error {
				cur.State, cur.EndReason = queue.CallEnded, queue.ReasonHangup
				cur.AcceptedAt, cur.ConnectedAt, cur.EndedAt = opt(c.accepted), opt(c.connected), opt(c.ended)
				if c.accepted.IsZero() {
					cur.EndReason = queue.ReasonDeclined
				}
				cur.Rating = c.rating
				return nil
			}); err != nil {
				t.Fatalf("end call %s: %v", c.id, err)
			}
			for _, l := range c.links {
				l.CallID, l.IdempotencyKey, l.CreatedBy = c.id, "seed-"+l.ID, "g_seed"
				l.CreatedAt = c.connected.Add(time.Minute).UTC()
				l.UpdatedAt, l.ExpiresAt = l.CreatedAt, time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
				if l.Status == payments.StatusPaid || l.Status == payments.StatusPartiallyRefunded {
					l.PaidAt = opt(l.CreatedAt.Add(time.Minute))
				}
				if _, err := ps.LinkCreate(ctx, l); err != nil {
					t.Fatalf("link %s: %v", l.ID, err)
				}
			}
		}
		if _, err := qs.EntryUpdate(ctx, e.id, func(cur *queue.Entry) error {
			cur.State, cur.LeftAt, cur.LeftReason = e.state, opt(e.left), e.reason
			if len(e.calls) > 0 {
				cur.CallID = e.calls[len(e.calls)-1].id
			}
			return nil
		}); err != nil {
			t.Fatalf("entry %s: %v", e.id, err)
		}
	}
}

// Want are the seeded day's totals (as JSON numbers) by their path in the
// answer of GET /api/v1/admin/stats.
var Want = map[string]any{
	"offered": 8.0, "answered": 5.0, "abandoned": 2.0, "callbacks": 1.0,
	// waits 20, 40, 60, 10, 5 s; abandoned after 30 and 120 s
	"wait_seconds.count": 5.0, "wait_seconds.mean": 27.0, "wait_seconds.p90": 60.0,
	"abandon_wait_seconds.count": 2.0, "abandon_wait_seconds.mean": 75.0, "abandon_wait_seconds.p90": 120.0,
	// c_2a was declined; handle times 600, 300, 1200, 300, 120 s
	"answered_calls": 5.0, "handle_seconds.count": 5.0, "handle_seconds.mean": 504.0, "handle_seconds.p90": 1200.0,
	"rating.count": 4.0, "rating.mean": 4.25,
	// c_1, c_2b and c_3 had a link paid
	"converted_calls": 3.0, "conversion": 0.6,
	// reports of c_1 (rtt 40, 60, 50) and c_2b (100); the shopper of c_1
	// lost 30 and froze once, its guide lost 5; the guide of c_2b lost 2 and froze 3 times
	"quality.calls_reported": 2.0, "quality.reports": 4.0, "quality.rtt_ms.count": 4.0, "quality.rtt_ms.mean": 62.5, "quality.rtt_ms.p90": 100.0,
	"quality.packets_lost": 37.0, "quality.freezes": 4.0, "quality.calls_with_freezes": 2.0,
}

// Revenue is the seeded day's totals.revenue.
var Revenue = []any{
	map[string]any{"currency": "EUR", "paid_links": 2.0, "paid": 8000.0, "refunded": 1000.0, "net": 7000.0},
	map[string]any{"currency": "JPY", "paid_links": 1.0, "paid": 1500.0, "refunded": 0.0, "net": 1500.0},
}

// Providers is the seeded day's totals.providers.
var Providers = []any{
	map[string]any{"provider": "adyen", "links": 1.0, "outcomes": 1.0, "paid": 0.0, "success_rate": 0.0},
	map[string]any{"provider": "sandbox", "links": 4.0, "outcomes": 3.0, "paid": 2.0, "success_rate": 0.6667},
	map[string]any{"provider": "stripe", "links": 1.0, "outcomes": 1.0, "paid": 1.0, "success_rate": 1.0},
}
