package payments_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"guidecall/payments"
)

// flakyStore fails the next link write when armed, as a database that
// drops out between two statements would.
type flakyStore struct {
	*payments.MemoryStore
	failNext atomic.Bool
}

var errStoreDown = errors.New("store down")

func (s *flakyStore) LinkUpdate(ctx context.Context, id string, fn func(*payments.Link) error) (payments.Link, error) {
	if s.failNext.CompareAndSwap(true, false) {
		return payments.Link{}, errStoreDown
	}
	return s.MemoryStore.LinkUpdate(ctx, id, fn)
}

func (s *flakyStore) EventApply(ctx context.Context, e payments.Event, id string, fn func(*payments.Link) error) (payments.Link, bool, error) {
	if s.failNext.CompareAndSwap(true, false) {
		return payments.Link{}, false, errStoreDown
	}
	return s.MemoryStore.EventApply(ctx, e, id, fn)
}

// serviceOn builds a Service over store and prov with the fixture's clock
// and notifier.
func serviceOn(t *testing.T, f *fixture, store payments.Store, prov payments.Provider) *payments.Service {
	t.Helper()
	svc, err := payments.NewService(payments.Config{
		Store: store, Providers: []payments.Provider{prov}, Notifier: f.notes, Now: f.clock, LinkTTL: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// A webhook whose apply failed is applied when the provider retries it.
func TestWebhookRetryAfterFailedApply(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, payments.SandboxConfig{})
	fs := &flakyStore{MemoryStore: f.store}
	svc := serviceOn(t, f, fs, f.sb)
	l, _, err := svc.CreateLink(ctx, validParams())
	if err != nil {
		t.Fatal(err)
	}
	f.notes.links = nil
	h, body := signed(f.secret, f.now, "evt_1", payments.SandboxPaymentSucceeded, l.ProviderRef)
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
	if s := f.notes.statuses(); len(s) != 1 || s[0] != payments.StatusPaid {
		t.Fatalf("notifications = %v, want one paid", s)
	}
	// A canceled request context is the same kind of failure.
	h, body = signed(f.secret, f.now, "evt_2", payments.SandboxPaymentPartiallyRefunded, l.ProviderRef)
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
	if s := f.notes.statuses(); len(s) != 2 || s[1] != payments.StatusPartiallyRefunded {
		t.Fatalf("notifications = %v, want paid then one partially_refunded", s)
	}
}

// A refund reported before the payment implies the payment; the late
// payment event then changes nothing.
func TestWebhookRefundBeforePaid(t *testing.T) {
	ctx := context.Background()
	for _, refund := range []string{payments.SandboxPaymentRefunded, payments.SandboxPaymentPartiallyRefunded} {
		t.Run(refund, func(t *testing.T) {
			f := newFixture(t, payments.SandboxConfig{})
			l, _, err := f.svc.CreateLink(ctx, validParams())
			if err != nil {
				t.Fatal(err)
			}
			f.notes.links = nil
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
			h, body = signed(f.secret, f.now, "evt_paid", payments.SandboxPaymentSucceeded, l.ProviderRef)
			if err := f.svc.HandleWebhook(ctx, "sandbox", h, body); err != nil {
				t.Fatal(err)
			}
			if got, _ := f.store.LinkGet(ctx, l.ID); got.Status != want {
				t.Fatalf("late paid moved the link to %s, want %s", got.Status, want)
			}
			if s := f.notes.statuses(); len(s) != 1 || s[0] != want {
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
		f := newFixture(t, payments.SandboxConfig{})
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
		f := newFixture(t, payments.SandboxConfig{})
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
		h, body := signed(f.secret, f.now, "evt_1", payments.SandboxPaymentSucceeded, l.ProviderRef)
		if err := svc.HandleWebhook(ctx, "sandbox", h, body); err != nil {
			t.Fatal(err)
		}
		if got, _ := f.store.LinkGet(ctx, l.ID); got.Status != payments.StatusPaid {
			t.Fatalf("after paid: %s", got.Status)
		}
	})
	t.Run("UnknownRefIsRetried", func(t *testing.T) {
		f := newFixture(t, payments.SandboxConfig{})
		h, body := signed(f.secret, f.now, "evt_1", payments.SandboxPaymentSucceeded, "sbx_nope")
		req := httptest.NewRequest(http.MethodPost, "/sandbox", bytes.NewReader(body))
		req.Header = h
		rec := httptest.NewRecorder()
		f.svc.WebhookRoutes().ServeHTTP(rec, req)
		if rec.Code < 500 {
			t.Fatalf("webhook for an unknown reference answered %d, want a 5xx so the provider retries", rec.Code)
		}
	})
}

// hookServer answers 503 to the refs in down and records the rest.
type hookServer struct {
	sb   *payments.Sandbox
	mu   sync.Mutex
	down map[string]int // ref -> failures left (-1: always)
	got  map[string]int
	hits map[string]int // attempts, failed or not
}

func (h *hookServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := make([]byte, 4096)
	n, _ := r.Body.Read(body)
	ev, err := h.sb.ParseWebhook(r.Header, body[:n])
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hits[ev.ProviderRef]++
	if left := h.down[ev.ProviderRef]; left != 0 {
		h.down[ev.ProviderRef] = left - 1
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	h.got[ev.ProviderRef]++
}

func (h *hookServer) delivered(ref string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.got[ref]
}

// newCheckout creates a sandbox checkout; pay records the shopper's payment,
// which queues the webhook.
func newCheckout(t *testing.T, sb *payments.Sandbox, linkID string) string {
	t.Helper()
	pl, err := sb.CreateLink(context.Background(), payments.ProviderLinkParams{LinkID: linkID, CallID: "call-1", Amount: 100, Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	return pl.Ref
}

func pay(t *testing.T, sb *payments.Sandbox, ref string) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/"+ref+"/pay", nil)
	req.Header.Set("Accept", "application/json")
	sb.CheckoutRoutes().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("pay: %d %s", rec.Code, rec.Body)
	}
}

func startHookedSandbox(t *testing.T, cfg payments.SandboxConfig) (*payments.Sandbox, *hookServer) {
	t.Helper()
	hooks := &hookServer{down: map[string]int{}, got: map[string]int{}, hits: map[string]int{}}
	srv := httptest.NewServer(hooks)
	t.Cleanup(srv.Close)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	cfg.Secret, cfg.WebhookURL, cfg.HTTPClient = []byte("s"), srv.URL, client
	sb := payments.NewSandbox(cfg)
	hooks.sb = sb
	if err := sb.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Stop)
	return sb, hooks
}

// Sandbox delivery outlasts a receiver that answers 503 for more than a
// handful of attempts.
func TestSandboxDeliveryOutlastsOutage(t *testing.T) {
	sb, hooks := startHookedSandbox(t, payments.SandboxConfig{RetryBackoff: time.Millisecond})
	ref := newCheckout(t, sb, "pl_1")
	hooks.mu.Lock()
	hooks.down[ref] = 10 // more than the six attempts delivery used to make
	hooks.mu.Unlock()
	pay(t, sb, ref)
	waitFor(t, func() bool { return hooks.delivered(ref) == 1 })
}

// One event that keeps failing does not hold up the others behind it.
func TestSandboxDeliveryFailingEventDoesNotBlock(t *testing.T) {
	sb, hooks := startHookedSandbox(t, payments.SandboxConfig{RetryBackoff: 500 * time.Millisecond})
	stuck, fine := newCheckout(t, sb, "pl_1"), newCheckout(t, sb, "pl_2")
	hooks.mu.Lock()
	hooks.down[stuck] = -1
	hooks.mu.Unlock()
	pay(t, sb, stuck)
	pay(t, sb, fine)
	deadline := time.Now().Add(2 * time.Second)
	for hooks.delivered(fine) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("an event behind a failing one was not delivered within 2s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Retries end after RetryFor: the schedule does not keep an event forever.
func TestSandboxDeliveryGivesUp(t *testing.T) {
	sb, hooks := startHookedSandbox(t, payments.SandboxConfig{RetryBackoff: 5 * time.Millisecond, RetryFor: 100 * time.Millisecond})
	ref := newCheckout(t, sb, "pl_1")
	hooks.mu.Lock()
	hooks.down[ref] = -1
	hooks.mu.Unlock()
	pay(t, sb, ref)
	hits := func() int { hooks.mu.Lock(); defer hooks.mu.Unlock(); return hooks.hits[ref] }
	waitFor(t, func() bool { return hits() >= 3 })
	time.Sleep(300 * time.Millisecond)
	n := hits()
	time.Sleep(300 * time.Millisecond)
	if hits() != n || n > 10 {
		t.Fatalf("attempts went on past RetryFor: %d then %d", n, hits())
	}
}
