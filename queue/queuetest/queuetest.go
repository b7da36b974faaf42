// Package queuetest holds the conformance suite every queue.Store must
// pass. The memory store runs it in queue's own tests; the Postgres store
// runs the same suite against a real database, so the two cannot drift.
//
// Times written by the suite are truncated to microseconds, the precision
// Postgres keeps, and compared with Equal (locations may differ after a
// round trip). Records refer to each other the way the service writes them
// (a call's entry and guide exist first), so a store with foreign keys
// passes too.
package queuetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"guidecall/queue"
)

// base is a fixed, microsecond-aligned instant the suite builds times from.
var base = time.Date(2026, 3, 14, 9, 26, 53, 589793000, time.UTC).Truncate(time.Microsecond)

func at(d time.Duration) time.Time { return base.Add(d).Truncate(time.Microsecond) }

func ptr(t time.Time) *time.Time { return &t }

// RunStoreSuite runs the Store conformance suite. newStore must return an
// empty store for each subtest; it may register cleanup with t.
func RunStoreSuite(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Helper()
	t.Run("Entry", func(t *testing.T) { runEntryTests(t, newStore) })
	t.Run("Guide", func(t *testing.T) { runGuideTests(t, newStore) })
	t.Run("Call", func(t *testing.T) { runCallTests(t, newStore) })
	t.Run("Copies", func(t *testing.T) { runCopyTests(t, newStore) })
	t.Run("Items", func(t *testing.T) { runItemTests(t, newStore) })
	t.Run("Tx", func(t *testing.T) { runTxTests(t, newStore) })
	t.Run("Quality", func(t *testing.T) { runQualityTests(t, newStore) })
	t.Run("Erase", func(t *testing.T) { runEraseTests(t, newStore) })
	t.Run("Routing", func(t *testing.T) { runRoutingTests(t, newStore) })
	t.Run("Customer", func(t *testing.T) { runCustomerTests(t, newStore) })
	t.Run("History", func(t *testing.T) { runHistoryTests(t, newStore) })
	t.Run("WrapUp", func(t *testing.T) { runWrapUpTests(t, newStore) })
}

func entry(id, q string, joined time.Duration) queue.Entry {
	return queue.Entry{
		ID: id, Queue: q, Name: "Shopper " + id, Locale: "en-GB", Currency: "EUR",
		PageURL: "https://shop.example/p/" + id, State: queue.EntryWaiting,
		JoinedAt: at(joined),
	}
}

func guide(id string, idle time.Duration) queue.Guide {
	return queue.Guide{ID: id, Name: "Guide " + id, Status: queue.GuideAway, IdleSince: at(idle)}
}

func call(id, entryID, guideID, q string, offered time.Duration) queue.Call {
	return queue.Call{
		ID: id, EntryID: entryID, GuideID: guideID, Queue: q, State: queue.CallOffered,
		OfferDeadline: at(offered + 15*time.Second), JoinedAt: at(0), OfferedAt: at(offered),
	}
}

func mustCreateEntry(t *testing.T, s queue.Store, e queue.Entry) queue.Entry {
	t.Helper()
	got, err := s.EntryCreate(context.Background(), e)
	if err != nil {
		t.Fatalf("EntryCreate(%s): %v", e.ID, err)
	}
	return got
}

func mustUpsertGuide(t *testing.T, s queue.Store, g queue.Guide) queue.Guide {
	t.Helper()
	got, err := s.GuideUpsert(context.Background(), g)
	if err != nil {
		t.Fatalf("GuideUpsert(%s): %v", g.ID, err)
	}
	return got
}

// mustSetGuide overwrites a guide's mutable fields with those of g.
func mustSetGuide(t *testing.T, s queue.Store, g queue.Guide) queue.Guide {
	t.Helper()
	mustUpsertGuide(t, s, g)
	got, err := s.GuideUpdate(context.Background(), g.ID, func(cur *queue.Guide) error {
		*cur = g
		return nil
	})
	if err != nil {
		t.Fatalf("GuideUpdate(%s): %v", g.ID, err)
	}
	return got
}

func mustCreateCall(t *testing.T, s queue.Store, c queue.Call) queue.Call {
	t.Helper()
	got, err := s.CallCreate(context.Background(), c)
	if err != nil {
		t.Fatalf("CallCreate(%s): %v", c.ID, err)
	}
	return got
}

// setEntryState moves an entry to state, as the service would.
func setEntryState(t *testing.T, s queue.Store, id string, state queue.EntryState) {
	t.Helper()
	if _, err := s.EntryUpdate(context.Background(), id, func(e *queue.Entry) error {
		e.State = state
		return nil
	}); err != nil {
		t.Fatalf("EntryUpdate(%s): %v", id, err)
	}
}

func ids[T any](xs []T, id func(T) string) []string {
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		out = append(out, id(x))
	}
	return out
}

func entryIDs(es []queue.Entry) []string { return ids(es, func(e queue.Entry) string { return e.ID }) }
func guideIDs(gs []queue.Guide) []string { return ids(gs, func(g queue.Guide) string { return g.ID }) }
func callIDs(cs []queue.Call) []string   { return ids(cs, func(c queue.Call) string { return c.ID }) }

func wantIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

// normTime makes times comparable with DeepEqual: same instant, UTC, no
// monotonic reading.
func normTime(t time.Time) time.Time { return t.UTC().Round(0) }

func normTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	return ptr(normTime(*t))
}

func normEntry(e queue.Entry) queue.Entry {
	e.JoinedAt = normTime(e.JoinedAt)
	e.SeenAt = normTime(e.SeenAt)
	e.DisconnectedAt = normTimePtr(e.DisconnectedAt)
	e.LeftAt = normTimePtr(e.LeftAt)
	return e
}

func normGuide(g queue.Guide) queue.Guide {
	g.IdleSince = normTime(g.IdleSince)
	g.SeenAt = normTime(g.SeenAt)
	g.DisconnectedAt = normTimePtr(g.DisconnectedAt)
	g.StatusSince = normTime(g.StatusSince)
	g.WrapUpUntil = normTimePtr(g.WrapUpUntil)
	return g
}

func normCall(c queue.Call) queue.Call {
	c.OfferDeadline = normTime(c.OfferDeadline)
	c.JoinedAt = normTime(c.JoinedAt)
	c.OfferedAt = normTime(c.OfferedAt)
	c.AcceptedAt = normTimePtr(c.AcceptedAt)
	c.ConnectedAt = normTimePtr(c.ConnectedAt)
	c.EndedAt = normTimePtr(c.EndedAt)
	c.RatedAt = normTimePtr(c.RatedAt)
	return c
}

func sameEntry(t *testing.T, what string, got, want queue.Entry) {
	t.Helper()
	if g, w := normEntry(got), normEntry(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, fmtEntry(g), fmtEntry(w))
	}
}

func sameGuide(t *testing.T, what string, got, want queue.Guide) {
	t.Helper()
	if g, w := normGuide(got), normGuide(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, fmtGuide(g), fmtGuide(w))
	}
}

func sameCall(t *testing.T, what string, got, want queue.Call) {
	t.Helper()
	if g, w := normCall(got), normCall(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, fmtCall(g), fmtCall(w))
	}
}

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return "<nil>"
	}
	return t.Format(time.RFC3339Nano)
}

func fmtEntry(e queue.Entry) string {
	return fmt.Sprintf("{ID:%s Queue:%s Name:%q Locale:%s Currency:%s PageURL:%s State:%s Rank:%d JoinedAt:%s DisconnectedAt:%s CallID:%s LeftAt:%s LeftReason:%q SocketID:%q SeenAt:%s}",
		e.ID, e.Queue, e.Name, e.Locale, e.Currency, e.PageURL, e.State, e.Rank,
		e.JoinedAt.Format(time.RFC3339Nano), fmtTimePtr(e.DisconnectedAt), e.CallID, fmtTimePtr(e.LeftAt), e.LeftReason, e.SocketID, e.SeenAt.Format(time.RFC3339Nano))
}

func fmtGuide(g queue.Guide) string {
	return fmt.Sprintf("{ID:%s Name:%q Status:%s Online:%t DisconnectedAt:%s IdleSince:%s MissedOffers:%d CallIDs:%q Capacity:%d SocketID:%q SeenAt:%s}",
		g.ID, g.Name, g.Status, g.Online, fmtTimePtr(g.DisconnectedAt), g.IdleSince.Format(time.RFC3339Nano), g.MissedOffers, g.CallIDs, g.Capacity, g.SocketID, g.SeenAt.Format(time.RFC3339Nano))
}

func fmtCall(c queue.Call) string {
	return fmt.Sprintf("{ID:%s EntryID:%s GuideID:%s Queue:%s State:%s OfferDeadline:%s JoinedAt:%s OfferedAt:%s AcceptedAt:%s ConnectedAt:%s EndedAt:%s EndReason:%q EndedBy:%q}",
		c.ID, c.EntryID, c.GuideID, c.Queue, c.State, c.OfferDeadline.Format(time.RFC3339Nano),
		c.JoinedAt.Format(time.RFC3339Nano), c.OfferedAt.Format(time.RFC3339Nano),
		fmtTimePtr(c.AcceptedAt), fmtTimePtr(c.ConnectedAt), fmtTimePtr(c.EndedAt), c.EndReason, c.EndedBy)
}

// concurrently runs fn n times at once and waits for all of them.
func concurrently(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

var errAbort = errors.New("queuetest: abort update")

const parallelUpdates = 50
