// Package paymentstest holds the conformance suite that every
// payments.Store implementation must pass: the memory store now, the
// Postgres store later, with the same tests.
package paymentstest

import (
	"context"
	"errors"
	"fmt"
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
			got.ProviderRef != want.ProviderRef || got.Amount != want.Amount ||
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
		if _, err := s.LinkUpdate(ctx, "pl_missing", func(*payments.Link) error { return nil }); !errors.Is(err, payments.ErrNotFound) {
			t.Fatalf("LinkUpdate: %v, want ErrNotFound", err)
		}
		links, err := s.LinksByCall(ctx, "call-none")
		if err != nil || len(links) != 0 {
			t.Fatalf("LinksByCall: %v, %v", links, err)
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
		updated, err := s.LinkUpdate(ctx, b.ID, func(l *payments.Link) error {
			l.ProviderRef = "sbx_b"
			l.CheckoutURL = "http://127.0.0.1/pay/sandbox/sbx_b"
			return nil
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

	t.Run("UpdateFnErrorWritesNothing", func(t *testing.T) {
		s := newStore(t)
		l := link("call-1", "k")
		if _, err := s.LinkCreate(ctx, l); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		_, err := s.LinkUpdate(ctx, l.ID, func(x *payments.Link) error {
			x.Status = payments.StatusPaid
			return boom
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
		want, err := s.LinkUpdate(ctx, l.ID, func(x *payments.Link) error {
			x.Status = payments.StatusPaid
			x.PaidAt = &paid
			x.UpdatedAt = paid
			return nil
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
				_, err := s.LinkUpdate(ctx, l.ID, func(x *payments.Link) error {
					x.Amount++
					return nil
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
		bump := func(x *payments.Link) error { x.Amount++; return nil }
		ev := payments.Event{ID: "evt_1", Provider: "sandbox", ProviderRef: "sbx_1", Status: payments.StatusPaid, OccurredAt: base}

		// A failing fn records nothing: the same event applies later.
		boom := errors.New("boom")
		if _, applied, err := s.EventApply(ctx, ev, l.ID, func(*payments.Link) error { return boom }); !errors.Is(err, boom) || applied {
			t.Fatalf("EventApply with failing fn = %v, %v; want boom", applied, err)
		}
		// So does an unknown link.
		if _, applied, err := s.EventApply(ctx, ev, "pl_missing", bump); !errors.Is(err, payments.ErrNotFound) || applied {
			t.Fatalf("EventApply on a missing link = %v, %v; want ErrNotFound", applied, err)
		}
		for i, want := range []bool{true, false, false} {
			called := false
			got, applied, err := s.EventApply(ctx, ev, l.ID, func(x *payments.Link) error { called = true; return bump(x) })
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
}
