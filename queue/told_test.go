package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// After any sequence of joins, sockets opening and closing, leaves
// (often the head's) and priority changes, with passes in between, what
// the matcher told each connected shopper last (worked out incrementally,
// told.go) is what a full computation from the store gives (positionsOf,
// which reads the whole line, every guide and every call), within the
// tolerance samePosition allows; every PositionsChanged it published is
// what it keeps as told; and where each entry stands worked out from the
// memory store's tally (tally.go) is exactly the full computation.
func TestToldLineMatchesFullComputation(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		ctx := context.Background()
		now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
		st := NewMemoryStore()
		svc, err := NewService(Config{Store: st, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }})
		if err != nil {
			rt.Fatal(err)
		}
		for _, name := range []string{"default", "other"} {
			if _, err := svc.CreateQueue(ctx, Queue{Name: name}); err != nil && !errors.Is(err, ErrBadState) {
				rt.Fatal(err)
			}
		}
		sub := svc.Subscribe("property", 1<<16)
		defer sub.Close()
		// Busy guides of different languages, so that competition
		// depends on who is ahead, not only on how many.
		for i, lang := range []string{"en", "de", "en"} {
			g := Guide{ID: fmt.Sprintf("g_%d", i), Name: "G", Status: GuideAvailable, Online: true,
				SocketID: "s", SeenAt: now, IdleSince: now, Languages: []string{lang}}
			e, err := st.EntryCreate(ctx, Entry{ID: fmt.Sprintf("e_c%d", i), Queue: "default", Locale: lang,
				State: EntryInCall, JoinedAt: now.Add(-time.Hour), SocketID: "s", SeenAt: now})
			if err != nil {
				rt.Fatal(err)
			}
			at := now.Add(-time.Duration(i+1) * time.Minute)
			c, err := st.CallCreate(ctx, Call{ID: fmt.Sprintf("c_%d", i), EntryID: e.ID, GuideID: g.ID, Queue: "default",
				State: CallConnected, JoinedAt: e.JoinedAt, OfferedAt: at, AcceptedAt: &at, ConnectedAt: &at, OfferDeadline: at})
			if err != nil {
				rt.Fatal(err)
			}
			g.CallIDs = []string{c.ID}
			if _, err := st.GuideUpsert(ctx, g); err != nil {
				rt.Fatal(err)
			}
		}
		published := map[string]Position{}
		drain := func() {
			for len(sub.Events()) > 0 {
				if ev, ok := (<-sub.Events()).(PositionsChanged); ok {
					for _, p := range ev.Positions {
						published[p.EntryID] = p.Position
					}
				}
			}
		}
		var ids []string
		steps := rapid.IntRange(1, 40).Draw(rt, "steps")
		for step := range steps {
			switch op := rapid.IntRange(0, 9).Draw(rt, "op"); {
			case op <= 3 || len(ids) == 0: // join and open the socket
				q := "default"
				if rapid.IntRange(0, 4).Draw(rt, "other queue") == 0 {
					q = "other"
				}
				e, err := svc.Join(ctx, JoinParams{Queue: q, Name: "S", Currency: "EUR",
					Locale:   rapid.SampledFrom([]string{"en", "de", "fr"}).Draw(rt, "locale"),
					Priority: rapid.SampledFrom([]int{0, 0, 0, 1}).Draw(rt, "priority")})
				if err != nil {
					rt.Fatal(err)
				}
				ids = append(ids, e.ID)
				if _, _, err := svc.ShopperConnected(ctx, e.ID, fmt.Sprintf("s%d", step)); err != nil {
					rt.Fatal(err)
				}
			case op <= 6: // someone leaves, the head most often
				i := 0
				if rapid.Bool().Draw(rt, "not the head") {
					i = rapid.IntRange(0, len(ids)-1).Draw(rt, "who")
				}
				if err := svc.Cancel(ctx, ids[i]); err != nil {
					rt.Fatal(err)
				}
				ids = append(ids[:i], ids[i+1:]...)
			case op == 7: // a priority changes
				id := rapid.SampledFrom(ids).Draw(rt, "whose priority")
				p := rapid.IntRange(0, 2).Draw(rt, "new priority")
				if _, err := st.EntryUpdate(ctx, id, func(e *Entry) error { e.Priority = p; return nil }); err != nil {
					rt.Fatal(err)
				}
			case op == 8: // a socket closes
				id := rapid.SampledFrom(ids).Draw(rt, "who drops")
				e, err := st.EntryGet(ctx, id)
				if err != nil {
					rt.Fatal(err)
				}
				svc.ShopperDisconnected(ctx, id, e.SocketID)
			case op == 9: // a closed socket comes back
				id := rapid.SampledFrom(ids).Draw(rt, "who returns")
				if _, _, err := svc.ShopperConnected(ctx, id, fmt.Sprintf("r%d", step)); err != nil {
					rt.Fatal(err)
				}
			}
			if err := svc.Tick(ctx); err != nil {
				rt.Fatal(err)
			}
			drain()
			full, err := svc.positionsFromLine(ctx, st, ids)
			if err != nil {
				rt.Fatal(err)
			}
			// A socket's first position, from the store's tally when the
			// line is one queue, is the full computation's.
			quick, err := svc.positionsOf(ctx, st, ids)
			if err != nil {
				rt.Fatal(err)
			}
			if !reflect.DeepEqual(quick, full) {
				rt.Fatalf("step %d: positionsOf %v, from the whole line %v", step, quick, full)
			}
			tl := &svc.toldLine
			for i, e := range tl.entries {
				if e.DisconnectedAt != nil {
					continue
				}
				want, ok := full[e.ID]
				if !ok {
					rt.Fatalf("step %d: %s is in the told line but not queued", step, e.ID)
				}
				got := tl.told[i]
				if !got.ok || !samePosition(got.p, want) {
					rt.Fatalf("step %d: %s told %+v (ok %v), full computation %+v", step, e.ID, got.p, got.ok, want)
				}
				if pub, ok := published[e.ID]; !ok || !samePosition(pub, got.p) || pub.Position != got.p.Position {
					rt.Fatalf("step %d: %s kept as told %+v, last published %+v", step, e.ID, got.p, pub)
				}
			}
			connected := 0
			for id := range full {
				if e, err := st.EntryGet(ctx, id); err == nil && e.DisconnectedAt == nil {
					connected++
				}
			}
			inTold := 0
			for _, e := range tl.entries {
				if e.DisconnectedAt == nil {
					inTold++
				}
			}
			if inTold != connected {
				rt.Fatalf("step %d: told line holds %d connected entries, the store %d", step, inTold, connected)
			}
		}
	})
}

// releases.at answers from the round it settles into (routing.go) what
// handing the releases out one by one gives, asked in any order.
func TestReleasesRoundMatchesOneByOne(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		slots := rapid.IntRange(1, 6).Draw(rt, "slots")
		step := time.Duration(rapid.IntRange(0, 50).Draw(rt, "step"))
		next := make([]time.Duration, slots)
		for i := range next {
			next[i] = time.Duration(rapid.IntRange(0, 200).Draw(rt, "next"))
		}
		naive := func(k int) time.Duration {
			n := slices.Clone(next)
			var out time.Duration
			for range k + 1 {
				i := 0
				for j, t := range n {
					if t < n[i] {
						i = j
					}
				}
				out = n[i]
				n[i] += step
			}
			return out
		}
		r := &releases{next: slices.Clone(next), step: step}
		for range 20 {
			k := rapid.IntRange(0, 300).Draw(rt, "k")
			if got, want := r.at(k), naive(k); got != want {
				rt.Fatalf("at(%d) = %v, one by one %v", k, got, want)
			}
		}
	})
}
