package queue_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"guidecall/queue"
)

// The presence history stays bounded: each guide keeps its newest keepMax
// changes at most, and of those older than the cut-off only its newest
// keepMin; other guides' changes are counted on their own.
func testPresencePurge(t *testing.T, newStore storeFunc) {
	ctx := context.Background()
	store := newStore(t)
	t0 := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	// g1: 8 changes a minute apart; g2: 2 old changes.
	for i := range 8 {
		if err := store.PresenceAppend(ctx, queue.PresenceRecord{GuideID: "g1", State: queue.PresenceAvailable, Reason: fmt.Sprint(i), At: t0.Add(time.Duration(i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		if err := store.PresenceAppend(ctx, queue.PresenceRecord{GuideID: "g2", State: queue.PresenceAway, Reason: fmt.Sprint(i), At: t0}); err != nil {
			t.Fatal(err)
		}
	}
	reasons := func(id string) []string {
		hist, err := store.PresenceHistory(ctx, id, 100)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range hist {
			out = append(out, r.Reason)
		}
		return out
	}
	// No age limit: g1 keeps its newest 6.
	n, err := store.PresencePurge(ctx, time.Time{}, 2, 6)
	if err != nil {
		t.Fatal(err)
	}
	if got := reasons("g1"); n != 2 || fmt.Sprint(got) != "[7 6 5 4 3 2]" {
		t.Errorf("purge to 6: deleted %d, g1 keeps %v; want 2 and [7 6 5 4 3 2]", n, got)
	}
	// Older than minute 5: beyond the newest 2, gone; g2's 2 old ones stay.
	n, err = store.PresencePurge(ctx, t0.Add(5*time.Minute), 2, 6)
	if err != nil {
		t.Fatal(err)
	}
	if got := reasons("g1"); n != 3 || fmt.Sprint(got) != "[7 6 5]" {
		t.Errorf("purge by age: deleted %d, g1 keeps %v; want 3 and [7 6 5]", n, got)
	}
	if got := reasons("g2"); fmt.Sprint(got) != "[1 0]" {
		t.Errorf("g2 keeps %v, want [1 0]", got)
	}
	if n, err := store.PresencePurge(ctx, t0.Add(5*time.Minute), 2, 6); err != nil || n != 0 {
		t.Errorf("second purge deleted %d (%v), want 0", n, err)
	}
}
