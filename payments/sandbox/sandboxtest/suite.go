// Package sandboxtest holds the conformance suite every sandbox.Store
// passes: the memory store and the PostgreSQL one, with the same tests.
package sandboxtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"guidecall/payments"
	"guidecall/payments/sandbox"
	"guidecall/webhook"
)

// Enqueued is what a suite's store handed its outbox, by delivery id: a
// store under test enqueues on an outbox the suite can read back.
type Enqueued func(t *testing.T) []webhook.Delivery

// RunStoreSuite runs the Store conformance tests. newStore returns an empty
// store for one subtest, and a function listing what it enqueued (for
// PostgreSQL: the deliveries whose River jobs committed).
func RunStoreSuite(t *testing.T, newStore func(t *testing.T) (sandbox.Store, Enqueued)) {
	t.Helper()
	ctx := context.Background()
	// Microsecond precision in UTC, which is what Postgres keeps.
	base := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)
	seq := 0
	checkout := func() sandbox.Checkout {
		seq++
		return sandbox.Checkout{
			Ref: fmt.Sprintf("sbx_suite_%d_%d", time.Now().UnixNano(), seq),
			Params: payments.ProviderLinkParams{
				LinkID:      fmt.Sprintf("pl_%d", seq),
				CallID:      "call-1",
				Amount:      1234,
				Currency:    "EUR",
				Items:       []payments.Item{{Name: "Scarf", Quantity: 2, UnitAmount: 617}},
				Description: "blue scarf",
				ExpiresAt:   base.Add(time.Hour),
				ReturnURL:   "https://shop.example/p/scarf?colour=blue",
			},
			Status:    payments.StatusOpen,
			CreatedAt: base.Add(time.Duration(seq) * time.Second),
		}
	}
	equal := func(t *testing.T, got, want sandbox.Checkout) {
		t.Helper()
		g, w := got.Params, want.Params
		if got.Ref != want.Ref || got.Status != want.Status || got.Refunded != want.Refunded ||
			!slices.Equal(got.RefundSeqs, want.RefundSeqs) ||
			!got.CreatedAt.Equal(want.CreatedAt) || !got.PaidAt.Equal(want.PaidAt) || got.PaidAt.IsZero() != want.PaidAt.IsZero() ||
			g.LinkID != w.LinkID || g.CallID != w.CallID ||
			g.Amount != w.Amount || g.Currency != w.Currency || g.Description != w.Description || g.ReturnURL != w.ReturnURL ||
			!g.ExpiresAt.Equal(w.ExpiresAt) || g.ExpiresAt.IsZero() != w.ExpiresAt.IsZero() ||
			len(g.Items) != len(w.Items) || (g.Items == nil) != (w.Items == nil) {
			t.Fatalf("checkout mismatch:\n got  %+v\n want %+v", got, want)
		}
		for i := range g.Items {
			if g.Items[i] != w.Items[i] {
				t.Fatalf("item %d: got %+v, want %+v", i, g.Items[i], w.Items[i])
			}
		}
	}

	t.Run("CreateGet", func(t *testing.T) {
		s, _ := newStore(t)
		c := checkout()
		created, err := s.CheckoutCreate(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, created, c)
		got, err := s.CheckoutGet(ctx, c.Ref)
		if err != nil {
			t.Fatal(err)
		}
		equal(t, got, c)
		// Returned values are copies.
		got.Params.Items[0].Name = "changed"
		created.Params.Items[0].Name = "changed too"
		again, _ := s.CheckoutGet(ctx, c.Ref)
		equal(t, again, c)
	})

	t.Run("NoExpiryNoItems", func(t *testing.T) {
		s, _ := newStore(t)
		for _, items := range [][]payments.Item{nil, {}} {
			c := checkout()
			c.Params.ExpiresAt = time.Time{}
			c.Params.Items = items
			c.Params.Description = ""
			c.Params.ReturnURL = ""
			if _, err := s.CheckoutCreate(ctx, c); err != nil {
				t.Fatal(err)
			}
			got, err := s.CheckoutGet(ctx, c.Ref)
			if err != nil {
				t.Fatal(err)
			}
			equal(t, got, c)
			if got.StatusAt(base.Add(1000*time.Hour)) != payments.StatusOpen {
				t.Fatalf("checkout without expiry: status %s long after", got.StatusAt(base.Add(1000*time.Hour)))
			}
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		s, _ := newStore(t)
		if _, err := s.CheckoutGet(ctx, "sbx_missing"); !errors.Is(err, payments.ErrNotFound) {
			t.Fatalf("CheckoutGet: %v, want ErrNotFound", err)
		}
		called := false
		_, err := s.CheckoutUpdate(ctx, "sbx_missing", func(*sandbox.Checkout) ([]webhook.Delivery, error) { called = true; return nil, nil })
		if !errors.Is(err, payments.ErrNotFound) || called {
			t.Fatalf("CheckoutUpdate: %v (fn called: %v), want ErrNotFound", err, called)
		}
	})

	t.Run("Duplicate", func(t *testing.T) {
		s, _ := newStore(t)
		a := checkout()
		if _, err := s.CheckoutCreate(ctx, a); err != nil {
			t.Fatal(err)
		}
		dup := checkout()
		dup.Ref = a.Ref
		if _, err := s.CheckoutCreate(ctx, dup); !errors.Is(err, payments.ErrDuplicate) {
			t.Fatalf("same ref: %v, want ErrDuplicate", err)
		}
		got, _ := s.CheckoutGet(ctx, a.Ref)
		equal(t, got, a)
	})

	// The refunds taken, by seq, are kept with the checkout.
	t.Run("RefundSeqs", func(t *testing.T) {
		s, _ := newStore(t)
		c := checkout()
		if _, err := s.CheckoutCreate(ctx, c); err != nil {
			t.Fatal(err)
		}
		want, err := s.CheckoutUpdate(ctx, c.Ref, func(x *sandbox.Checkout) ([]webhook.Delivery, error) {
			x.RefundSeqs = append(x.RefundSeqs, 1, 2)
			return nil, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := s.CheckoutGet(ctx, c.Ref)
		equal(t, got, want)
		if !slices.Equal(got.RefundSeqs, []int{1, 2}) {
			t.Fatalf("refund seqs %v, want [1 2]", got.RefundSeqs)
		}
		got.RefundSeqs[0] = 9
		if again, _ := s.CheckoutGet(ctx, c.Ref); again.RefundSeqs[0] != 1 {
			t.Fatal("a returned checkout shares its refund seqs with the store")
		}
	})

	t.Run("Update", func(t *testing.T) {
		s, _ := newStore(t)
		c := checkout()
		if _, err := s.CheckoutCreate(ctx, c); err != nil {
			t.Fatal(err)
		}
		want := c
		want.Status = payments.StatusPartiallyRefunded
		want.Refunded = 200
		want.PaidAt = base.Add(30 * time.Second)
		got, err := s.CheckoutUpdate(ctx, c.Ref, func(x *sandbox.Checkout) ([]webhook.Delivery, error) {
			equal(t, *x, c)
			x.Status = payments.StatusPartiallyRefunded
			x.Refunded = 200
			x.PaidAt = want.PaidAt
			return nil, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		equal(t, got, want)
		got, _ = s.CheckoutGet(ctx, c.Ref)
		equal(t, got, want)
	})

	t.Run("UpdateFnErrorWritesNothing", func(t *testing.T) {
		s, _ := newStore(t)
		c := checkout()
		if _, err := s.CheckoutCreate(ctx, c); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		_, err := s.CheckoutUpdate(ctx, c.Ref, func(x *sandbox.Checkout) ([]webhook.Delivery, error) {
			x.Status = payments.StatusPaid
			return []webhook.Delivery{delivery("d_boom")}, boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("CheckoutUpdate: %v, want fn's error", err)
		}
		got, _ := s.CheckoutGet(ctx, c.Ref)
		equal(t, got, c)
	})

	t.Run("UpdateKeepsRef", func(t *testing.T) {
		s, _ := newStore(t)
		c := checkout()
		if _, err := s.CheckoutCreate(ctx, c); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CheckoutUpdate(ctx, c.Ref, func(x *sandbox.Checkout) ([]webhook.Delivery, error) {
			x.Ref = "sbx_other"
			x.Status = payments.StatusPaid
			return []webhook.Delivery{delivery("d_ref")}, nil
		}); err == nil {
			t.Fatal("CheckoutUpdate that changes the ref succeeded")
		}
		got, _ := s.CheckoutGet(ctx, c.Ref)
		equal(t, got, c)
		if _, err := s.CheckoutGet(ctx, "sbx_other"); !errors.Is(err, payments.ErrNotFound) {
			t.Fatalf("CheckoutGet of the changed ref: %v, want ErrNotFound", err)
		}
	})

	t.Run("UpdateAtomic", func(t *testing.T) {
		s, _ := newStore(t)
		c := checkout()
		if _, err := s.CheckoutCreate(ctx, c); err != nil {
			t.Fatal(err)
		}
		const n = 50
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				_, err := s.CheckoutUpdate(ctx, c.Ref, func(x *sandbox.Checkout) ([]webhook.Delivery, error) {
					x.Refunded++
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
		got, _ := s.CheckoutGet(ctx, c.Ref)
		if got.Refunded != n {
			t.Fatalf("refunded = %d after %d concurrent increments, want %d", got.Refunded, n, n)
		}
	})

	t.Run("UpdateEnqueuesWithTheChange", func(t *testing.T) {
		s, enqueued := newStore(t)
		c := checkout()
		if _, err := s.CheckoutCreate(ctx, c); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CheckoutUpdate(ctx, c.Ref, func(x *sandbox.Checkout) ([]webhook.Delivery, error) {
			x.Status = payments.StatusPaid
			return []webhook.Delivery{delivery("d_1"), delivery("d_2")}, nil
		}); err != nil {
			t.Fatal(err)
		}
		got := enqueued(t)
		ids := map[string]bool{}
		for _, d := range got {
			ids[d.ID] = true
		}
		if len(got) != 2 || !ids["d_1"] || !ids["d_2"] {
			t.Fatalf("enqueued %+v, want d_1 and d_2", got)
		}
		// A refused change enqueues nothing (UpdateFnErrorWritesNothing and
		// UpdateKeepsRef return deliveries with their error).
		if _, err := s.CheckoutUpdate(ctx, c.Ref, func(x *sandbox.Checkout) ([]webhook.Delivery, error) {
			return []webhook.Delivery{delivery("d_3")}, errors.New("no")
		}); err == nil {
			t.Fatal("fn error not returned")
		}
		if _, err := s.CheckoutUpdate(ctx, c.Ref, func(x *sandbox.Checkout) ([]webhook.Delivery, error) {
			x.Ref = "sbx_moved"
			return []webhook.Delivery{delivery("d_4")}, nil
		}); err == nil {
			t.Fatal("ref change accepted")
		}
		if got := enqueued(t); len(got) != 2 {
			t.Fatalf("after refused changes enqueued %d deliveries, want still 2: %+v", len(got), got)
		}
	})
}

func delivery(id string) webhook.Delivery {
	return webhook.Delivery{ID: id, URL: "http://127.0.0.1:1/webhooks/sandbox", Body: []byte(`{}`)}
}
