package queue_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"guidecall/internal/db/dbtest"
	"guidecall/queue"
)

// TestPostgresRaceAcceptTimeoutDrop runs, on two Service instances that
// share one database through two pools (two nodes), the three things that
// can happen to an offer at the same moment: node 1's guide accepts, node
// 2's matcher finds the offer timed out (its clock is past the deadline,
// as a node's may be), and the guide's console drops. Whatever the
// interleaving, every entry, guide and call must end in one consistent
// state.
func TestPostgresRaceAcceptTimeoutDrop(t *testing.T) {
	t.Parallel()
	pool1, url := dbtest.NewSchema(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool2, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool2.Close()

	start := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	clock1, clock2 := &fakeClock{t: start}, &fakeClock{t: start.Add(offerTimeout + time.Millisecond)}
	newNode := func(pool *pgxpool.Pool, clock *fakeClock) *queue.Service {
		svc, err := queue.NewService(queue.Config{
			Store: queue.NewPostgresStore(pool), Now: clock.Now, Logger: slog.New(slog.DiscardHandler),
			OfferTimeout: offerTimeout, ReconnectGrace: grace, StaleAfter: 24 * time.Hour,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(svc.Stop)
		return svc
	}
	node1, node2 := newNode(pool1, clock1), newNode(pool2, clock2)
	store := queue.NewPostgresStore(pool1)
	outcomes := map[string]int{}

	const rounds = 50
	for i := range rounds {
		guideID := fmt.Sprintf("g_%02d", i)
		if _, _, err := node1.GuideConnected(ctx, guideID, "Guide", "ws-"+guideID); err != nil {
			t.Fatal(err)
		}
		if _, err := node1.SetPresence(ctx, guideID, queue.GuideAvailable); err != nil {
			t.Fatal(err)
		}
		e, err := node1.Join(ctx, queue.JoinParams{Queue: queue.DefaultQueue, Currency: "EUR"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := node1.ShopperConnected(ctx, e.ID, "ws-"+e.ID); err != nil {
			t.Fatal(err)
		}
		if err := node1.Tick(ctx); err != nil {
			t.Fatal(err)
		}
		offered, err := store.EntryGet(ctx, e.ID)
		if err != nil || offered.State != queue.EntryOffered {
			t.Fatalf("round %d: setup: entry %s, %v; want offered", i, offered.State, err)
		}
		callID := offered.CallID

		var acceptErr, tickErr error
		concurrently(
			func() { _, acceptErr = node1.Accept(ctx, guideID, callID) },
			func() { tickErr = node2.Tick(ctx) },
			func() { node1.GuideDisconnected(ctx, guideID, "ws-"+guideID) },
		)
		if tickErr != nil {
			t.Fatalf("round %d: node 2 Tick: %v", i, tickErr)
		}
		if acceptErr != nil && !errors.Is(acceptErr, queue.ErrBadState) {
			t.Fatalf("round %d: Accept: %v", i, acceptErr)
		}
		c, err := store.CallGet(ctx, callID)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case acceptErr == nil:
			outcomes["accepted"]++
			if c.State != queue.CallAccepted {
				t.Errorf("round %d: Accept succeeded but the call is %s (%s)", i, c.State, c.EndReason)
			}
		case c.EndReason == queue.ReasonOfferTimeout:
			outcomes["timed out"]++
		case c.EndReason == queue.ReasonGuideLost:
			outcomes["guide dropped"]++
		default:
			t.Errorf("round %d: accept failed and the offer is %s/%q", i, c.State, c.EndReason)
		}
		checkConsistent(t, ctx, store, fmt.Sprintf("round %d", i))

		// Clear the round away so that the next one starts alone: end the
		// call (a guide gone cannot get the shopper back) and take the
		// shopper out of line.
		if cur, _ := store.EntryGet(ctx, e.ID); cur.State == queue.EntryInCall {
			if _, err := node1.EndCall(ctx, queue.PartyShopper, e.ID, cur.CallID, queue.ReasonHangup); err != nil {
				t.Fatalf("round %d: cleanup EndCall: %v", i, err)
			}
		} else if cur.State.Queued() {
			if err := node1.Cancel(ctx, e.ID); err != nil {
				t.Fatalf("round %d: cleanup Cancel: %v", i, err)
			}
		}
		checkConsistent(t, ctx, store, fmt.Sprintf("round %d after cleanup", i))
		if live, _ := store.CallsLive(ctx); len(live) != 0 {
			t.Fatalf("round %d: calls still live after cleanup: %+v", i, live)
		}
		clock1.Advance(time.Minute)
		clock2.Advance(time.Minute)
	}
	t.Logf("outcomes of %d races: %v", rounds, outcomes)
}

// checkConsistent checks every record in the store against the others: an
// entry is offered or in a call exactly when a live call of that kind
// names it and it names the call; a guide holds a call exactly when that
// call is live and its own; nobody has two live calls.
func checkConsistent(t *testing.T, ctx context.Context, store queue.Store, when string) {
	t.Helper()
	live, err := store.CallsLive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byEntry, byGuide := map[string]queue.Call{}, map[string][]string{}
	for _, c := range live {
		if o, dup := byEntry[c.EntryID]; dup {
			t.Errorf("%s: entry %s in two live calls %s and %s", when, c.EntryID, o.ID, c.ID)
		}
		byEntry[c.EntryID] = c
		byGuide[c.GuideID] = append(byGuide[c.GuideID], c.ID)
		e, err := store.EntryGet(ctx, c.EntryID)
		if err != nil {
			t.Fatal(err)
		}
		wantState := queue.EntryInCall
		if c.State == queue.CallOffered {
			wantState = queue.EntryOffered
		}
		if e.State != wantState || e.CallID != c.ID {
			t.Errorf("%s: live %s call %s, but its entry is %s with call %q", when, c.State, c.ID, e.State, e.CallID)
		}
		g, err := store.GuideGet(ctx, c.GuideID)
		if err != nil {
			t.Fatal(err)
		}
		if !g.Holds(c.ID) {
			t.Errorf("%s: live %s call %s, but its guide holds %q", when, c.State, c.ID, g.CallIDs)
		}
	}
	line, err := store.EntriesQueued(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range line {
		if _, inCall := byEntry[e.ID]; e.State == queue.EntryWaiting && inCall {
			t.Errorf("%s: waiting entry %s has a live call", when, e.ID)
		}
		if _, inCall := byEntry[e.ID]; e.State == queue.EntryOffered && !inCall {
			t.Errorf("%s: offered entry %s has no live call", when, e.ID)
		}
	}
	guides, err := store.GuidesOnline(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 64 { // offline guides too: the race drops them
		g, err := store.GuideGet(ctx, fmt.Sprintf("g_%02d", i))
		if errors.Is(err, queue.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		guides = append(guides, g)
	}
	for _, g := range guides {
		held, calls := slices.Sorted(slices.Values(g.CallIDs)), slices.Sorted(slices.Values(byGuide[g.ID]))
		if !slices.Equal(held, calls) {
			t.Errorf("%s: guide %s holds %q; its live calls: %q", when, g.ID, held, calls)
		}
		if len(calls) > g.Slots() {
			t.Errorf("%s: guide %s of capacity %d has %d live calls", when, g.ID, g.Slots(), len(calls))
		}
	}
}
