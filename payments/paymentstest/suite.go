// Package paymentstest holds the conformance suite that every
// payments.Store implementation must pass: the memory store now, the
// Postgres store later, with the same tests.
package paymentstest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"guidecall/payments"
)

// RunStoreSuite runs the Store conformance tests. newStore returns an empty
// store for one subtest (for Postgres: a fresh schema or a transaction rolled
// back in t.Cleanup).
func RunStoreSuite(t *testing.T, newStore func(t *testing.T) payments.Store) {
	t.Helper()
	ctx := context.Background()
	// Microsecond precision in UTC, which is what Postgres keeps.
	base := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)
	seq := 0
	link := func(callID, key string) payments.Link {
		seq++
		return payments.Link{
			ID:             fmt.Sprintf("pl_suite_%d_%d", time.Now().UnixNano(), seq),
			CallID:         callID,
			Provider:       "sandbox",
			Amount:         1234,
			Currency:       "EUR",
			Items:          []payments.Item{{Name: "Scarf", Quantity: 2, UnitAmount: 617}},
			Description:    "blue scarf",
			Status:         payments.StatusOpen,
			IdempotencyKey: key,
			CreatedBy:      "guide-1",
			CreatedAt:      base.Add(time.Duration(seq) * time.Second),
			UpdatedAt:      base.Add(time.Duration(seq) * time.Second),
			ExpiresAt:      base.Add(time.Hour),
		}
	}
	equal := func(t *testing.T, got, want payments.Link) {
		t.Helper()
		if got.ID != want.ID || got.CallID != want.CallID || got.Provider != want.Provider ||
			got.ProviderRef != want.ProviderRef || got.Mode != want.Mode || got.Amount != want.Amount ||
			got.Currency != want.Currency || got.Status != want.Status ||
			got.CheckoutURL != want.CheckoutURL || got.IdempotencyKey != want.IdempotencyKey ||
			got.CreatedBy != want.CreatedBy || got.Description != want.Description ||
			!got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) ||
			!got.ExpiresAt.Equal(want.ExpiresAt) || (got.PaidAt == nil) != (want.PaidAt == nil) ||
			(got.PaidAt != nil && !got.PaidAt.Equal(*want.PaidAt)) || len(got.Items) != len(want.Items) {
			t.Fatalf("link mismatch:\n got  %+v\n want %+v", got, want)
		}
		for i := range got.Items {
			if got.Items[i] != want.Items[i] {
				t.Fatalf("item %d: got %+v, want %+v", i, got.Items[i], want.Items[i])
			}
		}
	}

	t.Run("CreateGet", func(t *testing.T) {
		s := newStore(t)
		l := link("call-1", "key-1")
		if _, err := s.LinkCreate(ctx, l); err != nil {
			t.Fatal(err)
		}
		got, err := s.LinkGet(ctx, l.ID)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, got, l)
		// Returned values are copies.
		got.Items[0].Name = "changed"
		again, _ := s.LinkGet(ctx, l.ID)
		equal(t, again, l)
	})

	t.Run("NotFound", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.LinkGet(ctx, "pl_missing"); !errors.Is(err, payments.ErrNotFound) {
			t.Fatalf("LinkGet: %v, want ErrNotFound", err)
		}
		if _, err := s.LinkByIdempotencyKey(ctx, "call-1", "nope"); !errors.Is(err, payments.ErrNotFound) {
			t.Fatalf("LinkByIdempotencyKey: %v, want ErrNotFound", err)
		}
		if _, err := s.LinkByProviderRef(ctx, "sandbox", "nope"); !errors.Is(err, payments.ErrNotFound) {
			t.Fatalf("LinkByProviderRef: %v, want ErrNotFound", err)
		}
		if _, err := s.LinkUpdate(ctx, "pl_missing", func(*payments.Link) ([]payments.Event, error) { return nil, nil }); !errors.Is(err, payments.ErrNotFound) {
			t.Fatalf("LinkUpdate: %v, want ErrNotFound", err)
		}
		links, err := s.LinksByCall(ctx, "call-none")
		if err != nil || len(links) != 0 {
			t.Fatalf("LinksByCall: %v, %v", links, err)
		}
	})

	// The links-per-call limit is checked with the insert: 20 concurrent
	// creates for one call under a limit of 3 make exactly 3; a failed
	// link does not count, and other calls are not limited by it.
	t.Run("CreateWithinLimitConcurrently", func(t *testing.T) {
		s := newStore(t)
		failed := link("call-cap", "failed")
		failed.Status = payments.StatusFailed
		if _, err := s.LinkCreate(ctx, failed); err != nil {
			t.Fatal(err)
		}
		links := make([]payments.Link, 20)
		for i := range links {
			links[i] = link("call-cap", fmt.Sprintf("key-%d", i))
		}
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		var mu sync.Mutex
		created, refused := 0, 0
		var other []error
		for _, l := range links {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.LinkCreateWithin(ctx, l, 3)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					created++
				case errors.Is(err, payments.ErrRiskLimit):
					refused++
				default:
					other = append(other, err)
				}
			}()
		}
		wg.Wait()
		if created != 3 || refused != 17 || len(other) != 0 {
			t.Fatalf("20 concurrent creates under a limit of 3: %d created, %d refused, other errors %v", created, refused, other)
		}
		got, err := s.LinksByCall(ctx, "call-cap")
		if err != nil || len(got) != 4 {
			t.Fatalf("links of the call: %d (%v), want 3 and the failed one", len(got), err)
		}
		if _, err := s.LinkCreateWithin(ctx, link("call-other", "k"), 3); err != nil {
			t.Fatalf("another call: %v", err)
		}
		if _, err := s.LinkCreateWithin(ctx, link("call-cap", "unlimited"), 0); err != nil {
			t.Fatalf("no limit: %v", err)
		}
	})

	t.Run("IdempotencyDuplicate", func(t *testing.T) {
		s := newStore(t)
		a := link("call-1", "key-1")
		if _, err := s.LinkCreate(ctx, a); err != nil {
			t.Fatal(err)
		}
		if _, err := s.LinkCreate(ctx, link("call-1", "key-1")); !errors.Is(err, payments.ErrDuplicate) {
			t.Fatalf("same call and key: %v, want ErrDuplicate", err)
		}
		dupID := link("call-9", "key-9")
		dupID.ID = a.ID
		if _, err := s.LinkCreate(ctx, dupID); !errors.Is(err, payments.ErrDuplicate) {
			t.Fatalf("same id: %v, want ErrDuplicate", err)
		}
		b := link("call-2", "key-1") // same key, other call: fine
		if _, err := s.LinkCreate(ctx, b); err != nil {
			t.Fatal(err)
		}
		got, err := s.LinkByIdempotencyKey(ctx, "call-1", "key-1")
		if err != nil {
			t.Fatal(err)
		}
		equal(t, got, a)
		got, err = s.LinkByIdempotencyKey(ctx, "call-2", "key-1")
		if err != nil {
			t.Fatal(err)
		}
		equal(t, got, b)
	})

	t.Run("ByProviderRefAndCall", func(t *testing.T) {
		s := newStore(t)
		a, b, c := link("call-1", "k1"), link("call-1", "k2"), link("call-2", "k1")
		for _, l := range []payments.Link{a, b, c} {
			if _, err := s.LinkCreate(ctx, l); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.LinkByProviderRef(ctx, "sandbox", ""); !errors.Is(err, payments.ErrNotFound) {
			t.Fatalf("empty ref: %v, want ErrNotFound", err)
		}
		updated, err := s.LinkUpdate(ctx, b.ID, func(l *payments.Link) ([]payments.Event, error) {
			l.ProviderRef = "sbx_b"
			l.CheckoutURL = "http://127.0.0.1/pay/sandbox/sbx_b"
			return nil, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.LinkByProviderRef(ctx, "sandbox", "sbx_b")
		if err != nil {
			t.Fatal(err)
		}
		equal(t, got, updated)
		if _, err := s.LinkByProviderRef(ctx, "stripe", "sbx_b"); !errors.Is(err, payments.ErrNotFound) {
			t.Fatalf("other provider: %v, want ErrNotFound", err)
		}
		links, err := s.LinksByCall(ctx, "call-1")
		if err != nil {
			t.Fatal(err)
		}
		if len(links) != 2 || links[0].ID != a.ID || links[1].ID != b.ID {
			t.Fatalf("LinksByCall = %+v, want [a b] oldest first", links)
		}
	})

	// LinksByCalls: several calls in one read, each as LinksByCall has it.
	t.Run("LinksByCalls", func(t *testing.T) {
		s := newStore(t)
		a, b, c, d := link("call-1", "k1"), link("call-2", "k1"), link("call-1", "k2"), link("call-3", "k1")
		for _, l := range []payments.Link{a, b, c, d} {
			if _, err := s.LinkCreate(ctx, l); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.LinksByCalls(ctx, []string{"call-1", "call-2", "call-none"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || len(got["call-1"]) != 2 || len(got["call-2"]) != 1 {
			t.Fatalf("LinksByCalls = %+v, want call-1 [a c], call-2 [b]", got)
		}
		for call, want := range map[string][]payments.Link{"call-1": {a, c}, "call-2": {b}} {
			one, err := s.LinksByCall(ctx, call)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				equal(t, got[call][i], want[i])
				equal(t, got[call][i], one[i])
			}
		}
		if none, err := s.LinksByCalls(ctx, nil); err != nil || len(none) != 0 {
			t.Fatalf("LinksByCalls(nil) = %v, %v", none, err)
		}
	})

	t.Run("UpdateFnErrorWritesNothing", func(t *testing.T) {
		s := newStore(t)
		l := link("call-1", "k")
		if _, err := s.LinkCreate(ctx, l); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		_, err := s.LinkUpdate(ctx, l.ID, func(x *payments.Link) ([]payments.Event, error) {
			x.Status = payments.StatusPaid
			return nil, boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("LinkUpdate: %v, want fn's error", err)
		}
		got, _ := s.LinkGet(ctx, l.ID)
		equal(t, got, l)
	})

	t.Run("UpdatePaidAt", func(t *testing.T) {
		s := newStore(t)
		l := link("call-1", "k")
		if _, err := s.LinkCreate(ctx, l); err != nil {
			t.Fatal(err)
		}
		paid := base.Add(time.Minute)
		want, err := s.LinkUpdate(ctx, l.ID, func(x *payments.Link) ([]payments.Event, error) {
			x.Status = payments.StatusPaid
			x.PaidAt = &paid
			x.UpdatedAt = paid
			return nil, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := s.LinkGet(ctx, l.ID)
		equal(t, got, want)
		if got.Status != payments.StatusPaid || got.PaidAt == nil || !got.PaidAt.Equal(paid) {
			t.Fatalf("after update: %+v", got)
		}
	})

	// The mode that made a link's checkout is kept with it, from the
	// insert (a link created with its checkout) and from an update (the
	// usual way: the reference and mode are stored once the provider
	// answered).
	t.Run("ModeRoundTrip", func(t *testing.T) {
		s := newStore(t)
		live := link("call-1", "k-live")
		live.ProviderRef, live.Mode = "ref-live", payments.ModeLive
		if _, err := s.LinkCreate(ctx, live); err != nil {
			t.Fatal(err)
		}
		got, _ := s.LinkGet(ctx, live.ID)
		equal(t, got, live)
		l := link("call-1", "k")
		if _, err := s.LinkCreate(ctx, l); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.LinkGet(ctx, l.ID); got.Mode != "" {
			t.Fatalf("a link without a checkout has mode %q", got.Mode)
		}
		want, err := s.LinkUpdate(ctx, l.ID, func(x *payments.Link) ([]payments.Event, error) {
			x.ProviderRef, x.Mode = "ref-test", payments.ModeTest
			return nil, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got, _ = s.LinkByProviderRef(ctx, "sandbox", "ref-test")
		equal(t, got, want)
		if got.Mode != payments.ModeTest {
			t.Fatalf("mode after update: %q", got.Mode)
		}
	})

	t.Run("UpdateAtomic", func(t *testing.T) {
		s := newStore(t)
		l := link("call-1", "k")
		if _, err := s.LinkCreate(ctx, l); err != nil {
			t.Fatal(err)
		}
		const n = 50
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				_, err := s.LinkUpdate(ctx, l.ID, func(x *payments.Link) ([]payments.Event, error) {
					x.Amount++
					return nil, nil
				})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		got, _ := s.LinkGet(ctx, l.ID)
		if got.Amount != l.Amount+n {
			t.Fatalf("amount = %d after %d concurrent increments, want %d", got.Amount, n, l.Amount+n)
		}
	})

	t.Run("EventApply", func(t *testing.T) {
		s := newStore(t)
		l := link("call-ev", "k")
		if _, err := s.LinkCreate(ctx, l); err != nil {
			t.Fatal(err)
		}
		bump := func(x *payments.Link) ([]payments.Event, error) { x.Amount++; return nil, nil }
		ev := payments.ProviderEvent{ID: "evt_1", Provider: "sandbox", ProviderRef: "sbx_1", Status: payments.StatusPaid, OccurredAt: base}

		// A failing fn records nothing: the same event applies later.
		boom := errors.New("boom")
		if _, applied, err := s.EventApply(ctx, ev, l.ID, func(*payments.Link) ([]payments.Event, error) { return nil, boom }); !errors.Is(err, boom) || applied {
			t.Fatalf("EventApply with failing fn = %v, %v; want boom", applied, err)
		}
		// So does an unknown link.
		if _, applied, err := s.EventApply(ctx, ev, "pl_missing", bump); !errors.Is(err, payments.ErrNotFound) || applied {
			t.Fatalf("EventApply on a missing link = %v, %v; want ErrNotFound", applied, err)
		}
		for i, want := range []bool{true, false, false} {
			called := false
			got, applied, err := s.EventApply(ctx, ev, l.ID, func(x *payments.Link) ([]payments.Event, error) { called = true; return bump(x) })
			if err != nil || applied != want || called != want {
				t.Fatalf("EventApply #%d = applied %v, fn called %v, %v; want %v", i, applied, called, err, want)
			}
			if want && got.Amount != l.Amount+1 {
				t.Fatalf("EventApply returned amount %d, want %d", got.Amount, l.Amount+1)
			}
		}
		if got, _ := s.LinkGet(ctx, l.ID); got.Amount != l.Amount+1 {
			t.Fatalf("amount = %d after one applied event, want %d", got.Amount, l.Amount+1)
		}
		other := ev
		other.Provider = "stripe"
		if _, applied, err := s.EventApply(ctx, other, l.ID, bump); err != nil || !applied {
			t.Fatalf("same id at another provider = %v, %v; want applied", applied, err)
		}
		// Concurrent duplicates: exactly one applies.
		ev.ID = "evt_race"
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for range 20 {
			wg.Go(func() {
				_, ok, err := s.EventApply(ctx, ev, l.ID, bump)
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d concurrent deliveries of one event applied, want 1", wins)
		}
		if got, _ := s.LinkGet(ctx, l.ID); got.Amount != l.Amount+3 {
			t.Fatalf("amount = %d after three applied events, want %d", got.Amount, l.Amount+3)
		}
	})

	t.Run("OutboxRecordsWithTheChange", func(t *testing.T) {
		s := newStore(t)
		l := link("call-ob", "k")
		if _, err := s.LinkCreate(ctx, l); err != nil {
			t.Fatal(err)
		}
		ev := func(id string, x payments.Link) payments.Event {
			return payments.LinkStatusChanged{EventMeta: payments.EventMeta{ID: id, At: base}, Link: x, From: payments.StatusOpen, To: x.Status}
		}
		// A refused change records nothing.
		if _, err := s.LinkUpdate(ctx, l.ID, func(x *payments.Link) ([]payments.Event, error) {
			x.Status = payments.StatusPaid
			return []payments.Event{ev("pev_refused", *x)}, errors.New("no")
		}); err == nil {
			t.Fatal("fn error not returned")
		}
		if _, err := s.LinkUpdate(ctx, l.ID, func(x *payments.Link) ([]payments.Event, error) {
			x.Status = payments.StatusPaid
			return []payments.Event{ev("pev_1", *x)}, nil
		}); err != nil {
			t.Fatal(err)
		}
		pe := payments.ProviderEvent{ID: "evt_ob", Provider: "sandbox", ProviderRef: "sbx_ob", Status: payments.StatusRefunded}
		refund := func(x *payments.Link) ([]payments.Event, error) {
			x.Status = payments.StatusRefunded
			return []payments.Event{payments.RefundRecorded{EventMeta: payments.EventMeta{ID: "pev_2", At: base.Add(time.Second)},
				Link: *x, From: payments.StatusPaid, To: payments.StatusRefunded}}, nil
		}
		for range 2 { // the duplicate records nothing more
			if _, _, err := s.EventApply(ctx, pe, l.ID, refund); err != nil {
				t.Fatal(err)
			}
		}
		// Not claimable before it was recorded.
		if got, err := s.OutboxClaim(ctx, base, time.Minute, 10); err != nil || len(got) != 0 {
			t.Fatalf("claim before the events' time = %v, %v; want none", got, err)
		}
		got, err := s.OutboxClaim(ctx, base.Add(time.Hour), time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].EventID() != "pev_1" || got[1].EventID() != "pev_2" {
			t.Fatalf("claimed %v, want pev_1 then pev_2", got)
		}
		c, ok := got[0].(payments.LinkStatusChanged)
		if !ok || c.Link.ID != l.ID || c.To != payments.StatusPaid || !c.At.Equal(base) {
			t.Fatalf("pev_1 read back as %#v", got[0])
		}
		if r, ok := got[1].(payments.RefundRecorded); !ok || r.From != payments.StatusPaid || r.Link.Status != payments.StatusRefunded {
			t.Fatalf("pev_2 read back as %#v", got[1])
		}
		// Claimed: not handed out again while the lease runs.
		if again, err := s.OutboxClaim(ctx, base.Add(time.Hour), time.Minute, 10); err != nil || len(again) != 0 {
			t.Fatalf("second claim = %v, %v; want none", again, err)
		}
		if err := s.OutboxPublished(ctx, []string{"pev_1", "pev_unknown"}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("OutboxLapsedClaim", func(t *testing.T) {
		s := newStore(t)
		l := link("call-lapse", "k")
		if _, err := s.LinkCreate(ctx, l); err != nil {
			t.Fatal(err)
		}
		if _, err := s.LinkUpdate(ctx, l.ID, func(x *payments.Link) ([]payments.Event, error) {
			return []payments.Event{payments.LinkCreated{EventMeta: payments.EventMeta{ID: "pev_lapse", At: base}, Link: *x}}, nil
		}); err != nil {
			t.Fatal(err)
		}
		if got, err := s.OutboxClaim(ctx, base.Add(time.Hour), 50*time.Millisecond, 10); err != nil || len(got) != 1 {
			t.Fatalf("first claim = %v, %v", got, err)
		}
		// The claimer died: once its lease ends, another claims the event.
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, err := s.OutboxClaim(ctx, base.Add(time.Hour), time.Minute, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 1 {
				if _, ok := got[0].(payments.LinkCreated); !ok || got[0].EventID() != "pev_lapse" {
					t.Fatalf("reclaimed %#v", got[0])
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("a lapsed claim was never claimed again")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := s.OutboxPublished(ctx, []string{"pev_lapse"}); err != nil {
			t.Fatal(err)
		}
		// Published: gone for good.
		if got, err := s.OutboxClaim(ctx, base.Add(time.Hour), time.Minute, 10); err != nil || len(got) != 0 {
			t.Fatalf("claim after publish = %v, %v; want none", got, err)
		}
	})

	t.Run("LinksUnsettled", func(t *testing.T) {
		s := newStore(t)
		mk := func(key string, st payments.LinkStatus, created, updated time.Duration) payments.Link {
			l := link("call-rec", key)
			l.Status, l.CreatedAt, l.UpdatedAt = st, base.Add(created), base.Add(updated)
			if _, err := s.LinkCreate(ctx, l); err != nil {
				t.Fatal(err)
			}
			return l
		}
		oldOpen := mk("a", payments.StatusOpen, 0, 2*time.Minute)
		oldPaid := mk("b", payments.StatusPaid, 0, time.Minute)
		mk("c", payments.StatusOpen, 0, 10*time.Minute)               // changed too recently
		failed := mk("d", payments.StatusFailed, 0, 70*time.Second)   // closed within the look-back
		expired := mk("e", payments.StatusExpired, 0, 80*time.Second) // closed within the look-back
		mk("f", payments.StatusOpen, -time.Hour, time.Minute)         // created before the window
		partial := mk("g", payments.StatusPartiallyRefunded, 0, 3*time.Minute)
		mk("h", payments.StatusExpired, 0, 0)                                    // closed before the look-back
		mk("i", payments.StatusCanceled, 0, 90*time.Second)                      // final
		mk("j", payments.StatusRefunded, 0, 90*time.Second)                      // final
		oldFailed := mk("k", payments.StatusFailed, -time.Hour, 100*time.Second) // the look-back counts from closing
		mk("l", payments.StatusFailed, 0, 10*time.Minute)                        // closed too recently
		got, err := s.LinksUnsettled(ctx, base.Add(5*time.Minute), base.Add(-time.Minute), base.Add(30*time.Second), 10)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, l := range got {
			ids = append(ids, l.ID)
		}
		want := []string{oldPaid.ID, failed.ID, expired.ID, oldFailed.ID, oldOpen.ID, partial.ID}
		if !slices.Equal(ids, want) {
			t.Fatalf("LinksUnsettled = %v, want %v (least recently updated first)", ids, want)
		}
		if got, _ := s.LinksUnsettled(ctx, base.Add(5*time.Minute), base.Add(-time.Minute), base.Add(30*time.Second), 2); len(got) != 2 {
			t.Fatalf("limit 2 returned %d", len(got))
		}
	})

	t.Run("RefundsRoundTrip", func(t *testing.T) {
		s := newStore(t)
		l := link("call-rf", "key-rf")
		if _, err := s.LinkCreate(ctx, l); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.LinkGet(ctx, l.ID); got.Refunds != nil || got.RefundedAmount != 0 {
			t.Fatalf("new link has refunds %v, refunded %d", got.Refunds, got.RefundedAmount)
		}
		want := []payments.Refund{
			{Seq: 1, Amount: 200, Status: payments.RefundAccepted, IdempotencyKey: "r1", RequestedBy: "guide-1", RequestedAt: base},
			{Seq: 2, Amount: 300, Status: payments.RefundFailed, IdempotencyKey: "r2", RequestedBy: "admin", RequestedAt: base.Add(time.Second), Error: "declined"},
		}
		if _, err := s.LinkUpdate(ctx, l.ID, func(x *payments.Link) ([]payments.Event, error) {
			x.Status, x.RefundedAmount, x.Refunds = payments.StatusPartiallyRefunded, 200, want
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
		got, err := s.LinkGet(ctx, l.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.RefundedAmount != 200 || len(got.Refunds) != 2 {
			t.Fatalf("got refunded %d, refunds %+v", got.RefundedAmount, got.Refunds)
		}
		for i := range want {
			g, w := got.Refunds[i], want[i]
			if g.Seq != w.Seq || g.Amount != w.Amount || g.Status != w.Status || g.IdempotencyKey != w.IdempotencyKey ||
				g.RequestedBy != w.RequestedBy || !g.RequestedAt.Equal(w.RequestedAt) || g.Error != w.Error {
				t.Fatalf("refund %d: got %+v, want %+v", i, g, w)
			}
		}
		got.Refunds[0].Amount = 9999 // a copy
		if again, _ := s.LinkGet(ctx, l.ID); again.Refunds[0].Amount != 200 {
			t.Fatal("the store shares its refunds with callers")
		}
	})

	t.Run("RiskLimits", func(t *testing.T) {
		s := newStore(t)
		if l, err := s.RiskLimits(ctx); err != nil || l.MaxLinksPerCall != 0 || l.MaxAmount != nil {
			t.Fatalf("fresh store limits %+v %v", l, err)
		}
		want := payments.RiskLimits{MaxAmount: map[string]int64{"EUR": 50000, "JPY": 100000}, MaxLinksPerCall: 3,
			RefundAdminAbove: map[string]int64{"EUR": 10000}}
		for range 2 { // the second write replaces the first
			if err := s.SetRiskLimits(ctx, want); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.RiskLimits(ctx)
		if err != nil || got.MaxLinksPerCall != 3 || got.MaxAmount["EUR"] != 50000 || got.MaxAmount["JPY"] != 100000 ||
			got.RefundAdminAbove["EUR"] != 10000 || len(got.MaxAmount) != 2 {
			t.Fatalf("limits %+v %v", got, err)
		}
		got.MaxAmount["EUR"] = 1 // a copy
		if again, _ := s.RiskLimits(ctx); again.MaxAmount["EUR"] != 50000 {
			t.Fatal("the store shares its limits with callers")
		}
	})

	t.Run("RolloutsAndLinksCreatedSince", func(t *testing.T) {
		s := newStore(t)
		if r, err := s.Rollouts(ctx); err != nil || r == nil || len(r) != 0 {
			t.Fatalf("fresh rollouts %v %v", r, err)
		}
		want := map[string]payments.Rollout{"EUR": {Currency: "EUR", Provider: "stripe", Incumbent: "sandbox", Percent: 10, Stopped: true, StopReason: "why"}}
		if err := s.SetRollouts(ctx, want); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Rollouts(ctx); err != nil || got["EUR"] != want["EUR"] {
			t.Fatalf("rollouts %+v %v", got, err)
		}
		a, b := link("call-since", "k-a"), link("call-since", "k-b")
		b.Currency = "JPY"
		for _, l := range []payments.Link{a, b} {
			if _, err := s.LinkCreate(ctx, l); err != nil {
				t.Fatal(err)
			}
		}
		if got, _ := s.LinksCreatedSince(ctx, a.CreatedAt.Add(-time.Second), ""); len(got) < 2 {
			t.Fatalf("since: %d links", len(got))
		}
		got, _ := s.LinksCreatedSince(ctx, a.CreatedAt.Add(-time.Second), "JPY")
		if len(got) != 1 || got[0].ID != b.ID {
			t.Fatalf("since, JPY: %+v", got)
		}
		if got, _ := s.LinksCreatedSince(ctx, b.CreatedAt, ""); len(got) != 0 {
			t.Fatalf("since the last one: %d links", len(got))
		}
	})
}
