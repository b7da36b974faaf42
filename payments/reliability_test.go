package payments_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"guidecall/payments"
	"guidecall/payments/sandbox"
)

// flakyStore fails the next link write when armed, as a database that
// drops out between two statements would.
type flakyStore struct {
	*payments.MemoryStore
	failNext atomic.Bool
}

var errStoreDown = errors.New("store down")

func (s *flakyStore) LinkUpdate(ctx context.Context, id string, fn func(*payments.Link) ([]payments.Event, error)) (payments.Link, error) {
	if s.failNext.CompareAndSwap(true, false) {
		return payments.Link{}, errStoreDown
	}
	return s.MemoryStore.LinkUpdate(ctx, id, fn)
}

func (s *flakyStore) EventApply(ctx context.Context, e payments.ProviderEvent, id string, fn func(*payments.Link) ([]payments.Event, error)) (payments.Link, bool, error) {
	if s.failNext.CompareAndSwap(true, false) {
		return payments.Link{}, false, errStoreDown
	}
	return s.MemoryStore.EventApply(ctx, e, id, fn)
}

// serviceOn builds a Service over store and prov with the fixture's clock,
// its recorder subscribed, and makes it the fixture's service (whose
// events settle waits for).
func serviceOn(t *testing.T, f *fixture, store payments.Store, prov payments.Provider) *payments.Service {
	t.Helper()
	svc, err := payments.NewService(payments.Config{
		Store: store, Providers: []payments.Provider{prov}, Now: f.clock, LinkTTL: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Subscribe(payments.SubscribeConfig{Name: "test"}, f.rec.add))
	f.svc = svc
	return svc
}

// A webhook whose apply failed is applied when the provider retries it.
func TestWebhookRetryAfterFailedApply(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, sandbox.Config{})
	fs := &flakyStore{MemoryStore: f.store}
	svc := serviceOn(t, f, fs, f.sb)
	l, _, err := svc.CreateLink(ctx, validParams())
	if err != nil {
		t.Fatal(err)
	}
	f.reset(t)
	h, body := signed(f.secret, f.now, "evt_1", sandbox.PaymentSucceeded, l.ProviderRef)
	fs.failNext.Store(true)
	if err := svc.HandleWebhook(ctx, "sandbox", h, body); err == nil {
		t.Fatal("apply failed but the webhook was acknowledged")
	}
	if got, _ := f.store.LinkGet(ctx, l.ID); got.Status != payments.StatusOpen {
		t.Fatalf("after failed apply: %s", got.Status)
	}
	// The provider retries the same event: now it applies, once.
	for range 2 {
		if err := svc.HandleWebhook(ctx, "sandbox", h, body); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := f.store.LinkGet(ctx, l.ID); got.Status != payments.StatusPaid {
		t.Fatalf("retry after failed apply left the link %s", got.Status)
	}
	if s := f.statuses(t); len(s) != 1 || s[0] != payments.StatusPaid {
		t.Fatalf("notifications = %v, want one paid", s)
	}
	// A canceled request context is the same kind of failure.
	h, body = signed(f.secret, f.now, "evt_2", sandbox.PaymentPartiallyRefunded, l.ProviderRef)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := svc.HandleWebhook(cctx, "sandbox", h, body); err == nil {
		t.Fatal("canceled webhook acknowledged")
	}
	for range 2 {
		if err := svc.HandleWebhook(ctx, "sandbox", h, body); err != nil {
			t.Fatal(err)
		}
	}
	if s := f.statuses(t); len(s) != 2 || s[1] != payments.StatusPartiallyRefunded {
		t.Fatalf("notifications = %v, want paid then one partially_refunded", s)
	}
}

// A refund reported before the payment implies the payment; the late
// payment event then changes nothing.
func TestWebhookRefundBeforePaid(t *testing.T) {
	ctx := context.Background()
	for _, refund := range []string{sandbox.PaymentRefunded, sandbox.PaymentPartiallyRefunded} {
		t.Run(refund, func(t *testing.T) {
			f := newFixture(t, sandbox.Config{})
			l, _, err := f.svc.CreateLink(ctx, validParams())
			if err != nil {
				t.Fatal(err)
			}
			f.reset(t)
			want := payments.LinkStatus(refund[len("payment."):])
			refundAt := f.now.Add(time.Minute)
			h, body := signed(f.secret, refundAt, "evt_refund", refund, l.ProviderRef)
			if err := f.svc.HandleWebhook(ctx, "sandbox", h, body); err != nil {
				t.Fatal(err)
			}
			got, _ := f.store.LinkGet(ctx, l.ID)
			if got.Status != want || got.PaidAt == nil {
				t.Fatalf("after early refund: status %s paid_at %v, want %s with paid_at", got.Status, got.PaidAt, want)
			}
			h, body = signed(f.secret, f.now, "evt_paid", sandbox.PaymentSucceeded, l.ProviderRef)
			if err := f.svc.HandleWebhook(ctx, "sandbox", h, body); err != nil {
				t.Fatal(err)
			}
			if got, _ := f.store.LinkGet(ctx, l.ID); got.Status != want {
				t.Fatalf("late paid moved the link to %s, want %s", got.Status, want)
			}
			if s := f.statuses(t); len(s) != 1 || s[0] != want {
				t.Fatalf("notifications = %v, want one %s", s, want)
			}
		})
	}
}

// cancelingProvider cancels the request context once the checkout exists,
// as a client that hangs up during the provider call does.
type cancelingProvider struct {
	payments.Provider
	cancel func()
}

func (p cancelingProvider) CreateLink(ctx context.Context, lp payments.ProviderLinkParams) (payments.ProviderLink, error) {
	pl, err := p.Provider.CreateLink(ctx, lp)
	p.cancel()
	return pl, err
}

// The provider reference is stored even if the caller went away, and a
// link whose reference could not be stored gets its checkout on replay.
func TestCreateLinkKeepsProviderRef(t *testing.T) {
	t.Run("CallerGone", func(t *testing.T) {
		f := newFixture(t, sandbox.Config{})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		svc := serviceOn(t, f, f.store, cancelingProvider{f.sb, cancel})
		_, _, _ = svc.CreateLink(ctx, validParams())
		l, err := f.store.LinkByIdempotencyKey(context.Background(), "call-1", "k1")
		if err != nil || l.ProviderRef == "" || l.CheckoutURL == "" {
			t.Fatalf("link after the caller hung up: %+v %v", l, err)
		}
	})
	t.Run("StoreFailedThenReplay", func(t *testing.T) {
		ctx := context.Background()
		f := newFixture(t, sandbox.Config{})
		fs := &flakyStore{MemoryStore: f.store}
		svc := serviceOn(t, f, fs, f.sb)
		fs.failNext.Store(true)
		if _, _, err := svc.CreateLink(ctx, validParams()); err == nil {
			t.Fatal("reference not stored, yet CreateLink succeeded")
		}
		l, created, err := svc.CreateLink(ctx, validParams())
		if err != nil || created || l.Status != payments.StatusOpen || l.ProviderRef == "" || l.CheckoutURL == "" {
			t.Fatalf("replay of an orphaned link: %+v created=%v err=%v", l, created, err)
		}
		again, _, err := svc.CreateLink(ctx, validParams())
		if err != nil || again.ProviderRef != l.ProviderRef || again.CheckoutURL != l.CheckoutURL {
			t.Fatalf("second replay: %+v %v", again, err)
		}
		// The checkout the replay made is paid and the webhook finds the link.
		h, body := signed(f.secret, f.now, "evt_1", sandbox.PaymentSucceeded, l.ProviderRef)
		if err := svc.HandleWebhook(ctx, "sandbox", h, body); err != nil {
			t.Fatal(err)
		}
		if got, _ := f.store.LinkGet(ctx, l.ID); got.Status != payments.StatusPaid {
			t.Fatalf("after paid: %s", got.Status)
		}
	})
	t.Run("UnknownRefIsRetried", func(t *testing.T) {
		f := newFixture(t, sandbox.Config{})
		h, body := signed(f.secret, f.now, "evt_1", sandbox.PaymentSucceeded, "sbx_nope")
		req := httptest.NewRequest(http.MethodPost, "/sandbox", bytes.NewReader(body))
		req.Header = h
		rec := httptest.NewRecorder()
		f.svc.WebhookRoutes().ServeHTTP(rec, req)
		if rec.Code < 500 {
			t.Fatalf("webhook for an unknown reference answered %d, want a 5xx so the provider retries", rec.Code)
		}
	})
}
