package queue_test

import (
	"errors"
	"testing"
	"time"

	"guidecall/queue"
)

func sample(rtt float64, height int, lost int64) queue.QualityReport {
	return queue.QualityReport{RTTMS: rtt, JitterMS: rtt / 4, PacketsLost: lost, FramesDecoded: 100, FrameWidth: height * 16 / 9,
		FrameHeight: height, LocalCandidate: "relay", RemoteCandidate: "relay"}
}

// testQualityReports: only a party of a live call reports on it, each
// report is published, and the summary is the spread of what was stored.
func testQualityReports(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	e := h.join("shoes")
	h.guideOnline("g_1")
	c := h.accept("g_1", h.offerOne(e.ID, "g_1"))

	if err := h.svc.ReportQuality(h.ctx, queue.PartyGuide, "g_1", c.ID, sample(10, 480, 0)); !errors.Is(err, queue.ErrBadState) {
		t.Fatalf("report before the call is connecting: %v, want ErrBadState", err)
	}
	h.connectCall(c)
	if err := h.svc.ReportQuality(h.ctx, queue.PartyGuide, "g_other", c.ID, sample(10, 480, 0)); !errors.Is(err, queue.ErrNotParty) {
		t.Fatalf("report by a guide not in the call: %v, want ErrNotParty", err)
	}
	bad := sample(-1, 480, 0)
	if err := h.svc.ReportQuality(h.ctx, queue.PartyGuide, "g_1", c.ID, bad); !errors.Is(err, queue.ErrInvalid) {
		t.Fatalf("negative rtt: %v, want ErrInvalid", err)
	}
	h.rec.take()
	for i, s := range []queue.QualityReport{sample(30, 720, 1), sample(10, 360, 4), sample(20, 480, 9)} {
		h.clock.Advance(10 * time.Second)
		if i == 1 {
			s.LocalCandidate = "teleport" // not a candidate type: kept as ""
		}
		if err := h.svc.ReportQuality(h.ctx, queue.PartyGuide, "g_1", c.ID, s); err != nil {
			t.Fatalf("guide report %d: %v", i, err)
		}
	}
	if err := h.svc.ReportQuality(h.ctx, queue.PartyShopper, e.ID, c.ID, sample(50, 1080, 2)); err != nil {
		t.Fatalf("shopper report: %v", err)
	}
	if got := kinds(h.rec.take(), "Quality"); len(got) != 4 {
		t.Fatalf("published %d quality events, want 4: %s", len(got), describe(got))
	}

	q, err := h.svc.CallQuality(h.ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	g := q.Guide
	if g.Reports != 3 || g.RTTMS != (queue.Spread{Min: 10, Median: 20, Max: 30}) ||
		g.FrameHeight != (queue.Spread{Min: 360, Median: 480, Max: 720}) || g.PacketsLost != 9 {
		t.Fatalf("guide summary %+v", g)
	}
	if len(g.Candidates) != 2 || g.Candidates[0] != "relay/relay" || g.Candidates[1] != "/relay" {
		t.Fatalf("guide candidates %v", g.Candidates)
	}
	if s := q.Shopper; s.Reports != 1 || s.RTTMS != (queue.Spread{Min: 50, Median: 50, Max: 50}) {
		t.Fatalf("shopper summary %+v", s)
	}

	if _, err := h.svc.EndCall(h.ctx, queue.PartyGuide, "g_1", c.ID, queue.ReasonHangup); err != nil {
		t.Fatal(err)
	}
	if err := h.svc.ReportQuality(h.ctx, queue.PartyGuide, "g_1", c.ID, sample(10, 480, 0)); !errors.Is(err, queue.ErrBadState) {
		t.Fatalf("report on an ended call: %v, want ErrBadState", err)
	}
	if q2, err := h.svc.CallQuality(h.ctx, c.ID); err != nil || q2.Guide.Reports != 3 {
		t.Fatalf("the summary stays with the ended call: %+v, %v", q2, err)
	}
}

func TestSummarizeEvenCountTakesTheMiddlePair(t *testing.T) {
	q := queue.Summarize("c", []queue.QualityReport{
		{Party: queue.PartyShopper, RTTMS: 40}, {Party: queue.PartyShopper, RTTMS: 10},
		{Party: queue.PartyShopper, RTTMS: 20}, {Party: queue.PartyShopper, RTTMS: 30},
	})
	if q.Shopper.RTTMS != (queue.Spread{Min: 10, Median: 25, Max: 40}) || q.Guide.Reports != 0 {
		t.Fatalf("summary %+v", q)
	}
}
