package queue_test

import (
	"slices"
	"testing"

	"guidecall/internal/db/dbtest"
	"guidecall/queue"
)

func TestGuideOverviewMemory(t *testing.T) { testGuideOverview(t, memoryStore) }

func TestGuideOverviewPostgres(t *testing.T) {
	t.Parallel()
	dbtest.URL(t)
	testGuideOverview(t, postgresStore)
}

// testGuideOverview: a guide sees the lines of its own queues only, in
// offer order, empty queues included.
func testGuideOverview(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.createQueue(queue.Queue{Name: "trail"})
	h.createQueue(queue.Queue{Name: "leather"})
	h.createQueue(queue.Queue{Name: "quiet"})
	h.guideOnline("g1")
	h.profile("g1", queue.Profile{Queues: []string{"trail", "quiet"}})
	a := h.joinWith(queue.JoinParams{Queue: "trail", Name: "Ada", Locale: "de-DE", Currency: "EUR", PageURL: "https://shop.example/p/1"})
	b := h.joinWith(queue.JoinParams{Queue: "trail", Name: "Bo", Locale: "fr-FR", Currency: "EUR"})
	h.joinWith(queue.JoinParams{Queue: "leather", Name: "Cy", Locale: "en", Currency: "EUR"})
	lines, err := h.svc.GuideOverview(h.ctx, "g1")
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || lines[0].Queue != "quiet" || len(lines[0].Entries) != 0 || lines[1].Queue != "trail" {
		t.Fatalf("lines %+v, want quiet and trail", lines)
	}
	got := lines[1].Entries
	if len(got) != 2 || got[0].ID != a.ID || got[1].ID != b.ID || got[0].Name != "Ada" || got[0].PageURL != "https://shop.example/p/1" || got[0].Language != "de" {
		t.Errorf("trail line %+v", got)
	}
	// A guide whose console has not connected yet has no record: it
	// serves every queue, as routing would treat it.
	all, err := h.svc.GuideOverview(h.ctx, "not-yet-connected")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range all {
		names = append(names, l.Queue)
	}
	if !slices.Contains(names, "leather") || !slices.Contains(names, "trail") {
		t.Errorf("a guide without a record sees %v, want every queue", names)
	}
}
