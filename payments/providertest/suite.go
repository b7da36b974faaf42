// Package providertest is the conformance suite every payments.Provider
// passes, whatever stands behind it: the sandbox in process, Stripe
// against stripe-mock and signed fixtures, Adyen against its fake
// (payments/adyen/adyentest). It checks what payments relies on of any
// provider: a checkout created twice for one link is the same one (or, at
// a stateless mock, asked for with the same idempotency key), status
// fetch, refunds keyed by (link, seq), webhook verification (good,
// tampered, stale, from the future) and parsing into events.
package providertest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"guidecall/payments"
)

// Target is one provider under test and what the suite needs around it.
type Target struct {
	Provider payments.Provider
	// Now is the provider's clock: webhooks are signed around it.
	Now time.Time
	// Mode is the mode of the provider's links and events.
	Mode payments.Mode
	// Stateless is true for an API that remembers nothing (stripe-mock):
	// a second create need not return the same reference, fetch answers
	// a canned status, and only request shapes and keys are checked.
	Stateless bool
	// CreateKeys and RefundKeys return the idempotency keys the
	// provider's API saw on creates and refunds, oldest first; nil for a
	// provider that takes none (the sandbox runs in process).
	CreateKeys, RefundKeys func() []string
	// Pay settles a created checkout at the provider, as the shopper
	// paying does; nil where the API cannot be driven (stripe-mock).
	Pay func(t *testing.T, pl payments.ProviderLink, linkID string)
	// PaidWebhook is the provider's webhook saying that the checkout was
	// paid, signed at at.
	PaidWebhook func(t *testing.T, pl payments.ProviderLink, linkID string, at time.Time) (http.Header, []byte)
	// RefundWebhook is its webhook saying that refunded (minor units of
	// the link's currency) has been refunded so far, signed at at.
	RefundWebhook func(t *testing.T, pl payments.ProviderLink, linkID string, refunded int64, at time.Time) (http.Header, []byte)
	// Timestamped is true when the signature covers a time checked within
	// Tolerance both ways; Adyen's HMAC covers none.
	Timestamped bool
	Tolerance   time.Duration
}

var seq atomic.Int64

// Run runs the suite; newTarget makes a fresh provider for each subtest.
func Run(t *testing.T, newTarget func(t *testing.T) Target) {
	t.Helper()
	ctx := context.Background()
	params := func() payments.ProviderLinkParams {
		n := seq.Add(1)
		return payments.ProviderLinkParams{
			LinkID: fmt.Sprintf("pl_conformance_%d_%d", time.Now().UnixNano(), n), CallID: fmt.Sprintf("call_conformance_%d", n),
			Amount: 2500, Currency: "EUR", Description: "conformance",
			Items:     []payments.Item{{Name: "Scarf", Quantity: 2, UnitAmount: 1000}, {Name: "Pin", Quantity: 1, UnitAmount: 500}},
			ExpiresAt: time.Now().Add(2 * time.Hour),
		}
	}
	create := func(t *testing.T, tg Target, p payments.ProviderLinkParams) payments.ProviderLink {
		t.Helper()
		pl, err := tg.Provider.CreateLink(ctx, p)
		if err != nil {
			t.Fatalf("CreateLink %s: %v", p.LinkID, err)
		}
		if pl.Ref == "" || !strings.HasPrefix(pl.CheckoutURL, "http") || pl.Mode != tg.Mode {
			t.Fatalf("CreateLink %s = %+v: want a reference, a checkout URL and mode %q", p.LinkID, pl, tg.Mode)
		}
		return pl
	}

	t.Run("CreateIsIdempotentPerLink", func(t *testing.T) {
		tg := newTarget(t)
		p := params()
		first := create(t, tg, p)
		again := create(t, tg, p)
		if !tg.Stateless && (again.Ref != first.Ref || again.CheckoutURL != first.CheckoutURL) {
			t.Fatalf("second create of link %s made another checkout: %+v then %+v", p.LinkID, first, again)
		}
		other := create(t, tg, params())
		if other.Ref == first.Ref && !tg.Stateless {
			t.Fatalf("two links share the checkout %s", first.Ref)
		}
		if tg.CreateKeys == nil {
			return
		}
		keys := tg.CreateKeys()
		if len(keys) < 3 {
			t.Fatalf("idempotency keys of 3 creates: %q", keys)
		}
		k := keys[len(keys)-3:]
		if k[0] == "" || k[0] != k[1] || k[2] == k[0] {
			t.Fatalf("create keys %q: want the same key for one link and another for the next", k)
		}
	})

	t.Run("FetchStatus", func(t *testing.T) {
		tg := newTarget(t)
		p := params()
		pl := create(t, tg, p)
		st, err := tg.Provider.FetchStatus(ctx, pl.Ref)
		if err != nil || !st.Valid() {
			t.Fatalf("FetchStatus of a new checkout: %q %v", st, err)
		}
		if tg.Stateless {
			return
		}
		if st != payments.StatusOpen {
			t.Fatalf("a new checkout is %s, want open", st)
		}
		if tg.Pay == nil {
			t.Fatal("a stateful target must say how to pay")
		}
		tg.Pay(t, pl, p.LinkID)
		if st, err := tg.Provider.FetchStatus(ctx, pl.Ref); err != nil || st != payments.StatusPaid {
			t.Fatalf("FetchStatus after payment: %q %v, want paid", st, err)
		}
		if _, err := tg.Provider.FetchStatus(ctx, pl.Ref+"x"); err == nil {
			t.Fatal("FetchStatus of an unknown reference answered")
		}
	})

	t.Run("RefundIdempotency", func(t *testing.T) {
		tg := newTarget(t)
		sf, stateful := tg.Provider.(payments.StateFetcher)
		if tg.RefundKeys == nil && (!stateful || tg.Stateless || tg.Pay == nil) {
			t.Fatal("a provider without idempotency keys must show its refunded total (payments.StateFetcher)")
		}
		p := params()
		pl := create(t, tg, p)
		if tg.Pay != nil {
			tg.Pay(t, pl, p.LinkID)
		}
		refund := func(n int, amount int64) {
			t.Helper()
			if err := tg.Provider.Refund(ctx, payments.RefundParams{Ref: pl.Ref, LinkID: p.LinkID, CallID: p.CallID,
				Amount: amount, Currency: p.Currency, Seq: n}); err != nil {
				t.Fatalf("refund %d: %v", n, err)
			}
		}
		before := 0
		if tg.RefundKeys != nil {
			before = len(tg.RefundKeys())
		}
		refund(1, 500)
		refund(1, 500) // our own retry of the same refund
		refund(2, 700)
		if tg.RefundKeys == nil {
			// In process: the provider itself takes each (link, seq) once.
			st, err := sf.FetchState(ctx, pl.Ref)
			if err != nil || st.RefundedAmount != 1200 || st.Status != payments.StatusPartiallyRefunded {
				t.Fatalf("after refunds 1, 1 again and 2: %+v %v, want 1200 refunded", st, err)
			}
			return
		}
		keys := tg.RefundKeys()[before:]
		if len(keys) != 3 || keys[0] == "" || keys[0] != keys[1] || keys[2] == keys[0] || !strings.Contains(keys[0], p.LinkID) {
			t.Fatalf("refund keys %q: want one per (link, seq), the same on a retry", keys)
		}
	})

	t.Run("WebhookVerification", func(t *testing.T) {
		tg := newTarget(t)
		p := params()
		pl := create(t, tg, p)
		if tg.Pay != nil {
			tg.Pay(t, pl, p.LinkID)
		}
		parse := func(h http.Header, b []byte) error { _, err := tg.Provider.ParseWebhook(h, b); return err }
		h, body := tg.PaidWebhook(t, pl, p.LinkID, tg.Now)
		if err := parse(h, body); err != nil {
			t.Fatalf("a good webhook: %v", err)
		}
		tampered := tamper(body, pl.Ref, p.LinkID)
		if string(tampered) == string(body) {
			t.Fatal("the webhook names neither the checkout nor the link")
		}
		if err := parse(h, tampered); !errors.Is(err, payments.ErrBadSignature) {
			t.Fatalf("a tampered webhook: %v, want ErrBadSignature", err)
		}
		if !tg.Timestamped {
			t.Log("the signature covers no time: stale and future webhooks are not the provider's to refuse")
			return
		}
		for name, off := range map[string]time.Duration{
			"stale": -tg.Tolerance - time.Minute, "future": tg.Tolerance + time.Minute,
		} {
			h, body := tg.PaidWebhook(t, pl, p.LinkID, tg.Now.Add(off))
			if err := parse(h, body); !errors.Is(err, payments.ErrBadSignature) {
				t.Errorf("a %s webhook (%s off): %v, want ErrBadSignature", name, off, err)
			}
		}
		for _, off := range []time.Duration{-tg.Tolerance + time.Minute, tg.Tolerance - time.Minute} {
			h, body := tg.PaidWebhook(t, pl, p.LinkID, tg.Now.Add(off))
			if err := parse(h, body); err != nil {
				t.Errorf("a webhook %s off, within the tolerance: %v", off, err)
			}
		}
	})

	t.Run("ParseIntoEvents", func(t *testing.T) {
		tg := newTarget(t)
		p := params()
		pl := create(t, tg, p)
		if tg.Pay != nil {
			tg.Pay(t, pl, p.LinkID)
		}
		names := func(ev payments.ProviderEvent) bool {
			return (ev.ProviderRef != "" && ev.ProviderRef == pl.Ref) || (ev.ProviderRef == "" && ev.LinkID == p.LinkID)
		}
		h, body := tg.PaidWebhook(t, pl, p.LinkID, tg.Now)
		paid, err := tg.Provider.ParseWebhook(h, body)
		if err != nil || paid.ID == "" || paid.Status != payments.StatusPaid || !names(paid) || paid.Mode != tg.Mode {
			t.Fatalf("paid webhook parsed as %+v, %v", paid, err)
		}
		again, err := tg.Provider.ParseWebhook(h, body)
		if err != nil || again.ID != paid.ID {
			t.Fatalf("the same webhook again: id %q then %q (%v): the receiver could not drop the repeat", paid.ID, again.ID, err)
		}
		h, body = tg.RefundWebhook(t, pl, p.LinkID, 1000, tg.Now)
		refund, err := tg.Provider.ParseWebhook(h, body)
		if err != nil || refund.ID == "" || refund.ID == paid.ID || !names(refund) || refund.Mode != tg.Mode ||
			refund.Status != payments.StatusPartiallyRefunded || refund.RefundedAmount != 1000 {
			t.Fatalf("refund webhook (1000 of 2500) parsed as %+v, %v", refund, err)
		}
	})
}

// tamper changes one character of every occurrence of the checkout's
// reference and the link's id in body: what an attacker redirecting a
// real payment to another link would have to do.
func tamper(body []byte, ref, linkID string) []byte {
	s := string(body)
	for _, id := range []string{ref, linkID} {
		if len(id) < 2 {
			continue
		}
		i := len(id) - 1
		c := byte('x')
		if id[i] == 'x' {
			c = 'y'
		}
		s = strings.ReplaceAll(s, id, id[:i]+string(c))
	}
	return []byte(s)
}
