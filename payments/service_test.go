package payments_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"guidecall/payments"
	"guidecall/payments/sandbox"
	"guidecall/webhook"
)

// recorder keeps the events a subscriber got.
type recorder struct {
	mu     sync.Mutex
	events []payments.Event
}

func (r *recorder) add(_ context.Context, e payments.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

type fixture struct {
	svc     *payments.Service
	sb      *sandbox.Sandbox
	store   *payments.MemoryStore
	outbox  *webhook.MemoryOutbox
	rec     *recorder
	secret  []byte
	now     time.Time
	mu      sync.Mutex
	barrier int
}

func (f *fixture) clock() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// settle creates a link on a call of its own and waits until the
// subscriber has its LinkCreated: every event published before it has
// been received then, so a test can check that nothing more came.
func (f *fixture) settle(t *testing.T) []payments.Event {
	t.Helper()
	f.mu.Lock()
	f.barrier++
	call := fmt.Sprintf("barrier-%d", f.barrier)
	f.mu.Unlock()
	p := validParams()
	p.CallID = call
	if _, _, err := f.svc.CreateLink(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	var got []payments.Event
	waitFor(t, func() bool {
		f.rec.mu.Lock()
		defer f.rec.mu.Unlock()
		got = got[:0]
		seen := false
		for _, e := range f.rec.events {
			switch l := e.EventLink(); {
			case l.CallID == call:
				seen = true
			case !strings.HasPrefix(l.CallID, "barrier-"):
				got = append(got, e)
			}
		}
		return seen
	})
	return got
}

// statuses is the status of each event's link, in order, once settled.
func (f *fixture) statuses(t *testing.T) []payments.LinkStatus {
	t.Helper()
	var out []payments.LinkStatus
	for _, e := range f.settle(t) {
		out = append(out, e.EventLink().Status)
	}
	return out
}

// reset forgets the events so far.
func (f *fixture) reset(t *testing.T) {
	t.Helper()
	f.settle(t)
	f.rec.mu.Lock()
	f.rec.events = nil
	f.rec.mu.Unlock()
}

func newFixture(t *testing.T, sbCfg sandbox.Config) *fixture {
	t.Helper()
	f := &fixture{store: payments.NewMemoryStore(), rec: &recorder{}, secret: []byte("test-secret"),
		now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	f.outbox = webhook.NewMemoryOutbox(webhook.MemoryConfig{Config: webhook.Config{
		Schedule: []time.Duration{10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond},
		Now:      f.clock,
	}})
	t.Cleanup(f.outbox.Stop)
	sbCfg.Secret = f.secret
	if sbCfg.CheckoutBaseURL == "" {
		sbCfg.CheckoutBaseURL = "http://127.0.0.1:1/pay/sandbox"
	}
	if sbCfg.WebhookURL == "" {
		sbCfg.WebhookURL = "http://127.0.0.1:1/webhooks/sandbox"
	}
	sbCfg.Now = f.clock
	sbCfg.Store = sandbox.NewMemoryStore(f.outbox)
	sbCfg.Outbox = f.outbox
	sb, err := sandbox.New(sbCfg)
	if err != nil {
		t.Fatal(err)
	}
	f.sb = sb
	f.svc = serviceOn(t, f, f.store, f.sb)
	return f
}

func validParams() payments.CreateLinkParams {
	return payments.CreateLinkParams{
		CallID: "call-1", Amount: 2500, Currency: "eur", IdempotencyKey: "k1", CreatedBy: "guide-1",
		Items: []payments.Item{{Name: "Scarf", Quantity: 2, UnitAmount: 1000}, {Name: "Pin", Quantity: 1, UnitAmount: 500}},
	}
}

func TestNewServiceValidates(t *testing.T) {
	if _, err := payments.NewService(payments.Config{}); err == nil {
		t.Fatal("no store accepted")
	}
	if _, err := payments.NewService(payments.Config{Store: payments.NewMemoryStore()}); err == nil {
		t.Fatal("no provider accepted")
	}
}

func TestCreateLinkValidation(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	ctx := context.Background()
	for name, tc := range map[string]struct {
		mod  func(*payments.CreateLinkParams)
		want error
	}{
		"zero amount":      {func(p *payments.CreateLinkParams) { p.Amount = 0; p.Items = nil }, payments.ErrInvalidLink},
		"negative amount":  {func(p *payments.CreateLinkParams) { p.Amount = -5; p.Items = nil }, payments.ErrInvalidLink},
		"huge amount":      {func(p *payments.CreateLinkParams) { p.Amount = payments.MaxAmount + 1; p.Items = nil }, payments.ErrInvalidLink},
		"unknown currency": {func(p *payments.CreateLinkParams) { p.Currency = "XYZ" }, payments.ErrUnknownCurrency},
		"items mismatch":   {func(p *payments.CreateLinkParams) { p.Amount = 2600 }, payments.ErrInvalidLink},
		"zero quantity":    {func(p *payments.CreateLinkParams) { p.Items[1].Quantity = 0 }, payments.ErrInvalidLink},
		"empty item name":  {func(p *payments.CreateLinkParams) { p.Items[0].Name = " " }, payments.ErrInvalidLink},
		"no key":           {func(p *payments.CreateLinkParams) { p.IdempotencyKey = "" }, payments.ErrIdempotencyKeyRequired},
		"long key":         {func(p *payments.CreateLinkParams) { p.IdempotencyKey = strings.Repeat("k", 256) }, payments.ErrIdempotencyKeyRequired},
		"no call":          {func(p *payments.CreateLinkParams) { p.CallID = "" }, payments.ErrInvalidLink},
		"overflowing items": {func(p *payments.CreateLinkParams) {
			p.Items = []payments.Item{{Name: "a", Quantity: payments.MaxItemQuantity, UnitAmount: payments.MaxAmount}}
		}, payments.ErrInvalidLink},
	} {
		t.Run(name, func(t *testing.T) {
			p := validParams()
			tc.mod(&p)
			if _, _, err := f.svc.CreateLink(ctx, p); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if links, _ := f.svc.LinksByCall(ctx, "call-1"); len(links) != 0 {
		t.Fatalf("invalid requests stored links: %+v", links)
	}
	p := validParams()
	p.Items = nil
	p.IdempotencyKey = strings.Repeat("k", 255)
	if _, created, err := f.svc.CreateLink(ctx, p); err != nil || !created {
		t.Fatalf("no items, 255-char key: created=%v err=%v", created, err)
	}
}

func TestCreateLinkIdempotency(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	ctx := context.Background()
	l, created, err := f.svc.CreateLink(ctx, validParams())
	if err != nil || !created {
		t.Fatalf("create: %v created=%v", err, created)
	}
	if l.Status != payments.StatusOpen || l.Currency != "EUR" || l.ProviderRef == "" || l.Provider != "sandbox" ||
		!strings.HasPrefix(l.CheckoutURL, "http://127.0.0.1:1/pay/sandbox/sbx_") || !l.ExpiresAt.Equal(f.now.Add(time.Hour)) {
		t.Fatalf("created link: %+v", l)
	}
	again, created, err := f.svc.CreateLink(ctx, validParams())
	if err != nil || created || again.ID != l.ID || again.CheckoutURL != l.CheckoutURL {
		t.Fatalf("replay: %+v created=%v err=%v", again, created, err)
	}
	p := validParams()
	p.Amount, p.Items = 999, nil
	if _, _, err := f.svc.CreateLink(ctx, p); !errors.Is(err, payments.ErrIdempotencyConflict) {
		t.Fatalf("conflict: %v", err)
	}
	p = validParams()
	p.CallID = "call-2"
	if other, created, err := f.svc.CreateLink(ctx, p); err != nil || !created || other.ID == l.ID {
		t.Fatalf("same key other call: %+v %v %v", other, created, err)
	}
	// Concurrent retries of one request create one link.
	p = validParams()
	p.IdempotencyKey = "race"
	var wg sync.WaitGroup
	ids := make(chan string, 10)
	for range 10 {
		wg.Go(func() {
			l, _, err := f.svc.CreateLink(ctx, p)
			if err != nil {
				t.Error(err)
			}
			ids <- l.ID
		})
	}
	wg.Wait()
	close(ids)
	first := ""
	for id := range ids {
		if first == "" {
			first = id
		}
		if id != first {
			t.Fatalf("concurrent retries created %s and %s", first, id)
		}
	}
}

func TestCreateLinkProviderFailure(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	ctx := context.Background()
	boom := errors.New("provider down")
	f.sb.FailNextCreate(boom)
	_, _, err := f.svc.CreateLink(ctx, validParams())
	if !errors.Is(err, payments.ErrProvider) || !errors.Is(err, boom) {
		t.Fatalf("err = %v, want ErrProvider wrapping the cause", err)
	}
	l, created, err := f.svc.CreateLink(ctx, validParams())
	if err != nil || created || l.Status != payments.StatusFailed {
		t.Fatalf("replay after failure: %+v %v %v", l, created, err)
	}
	p := validParams()
	p.IdempotencyKey = "k2"
	if l, created, err := f.svc.CreateLink(ctx, p); err != nil || !created || l.Status != payments.StatusOpen {
		t.Fatalf("new key after failure: %+v %v %v", l, created, err)
	}
}

// signed builds a sandbox webhook for ref signed at t.
func signed(secret []byte, t time.Time, id, typ, ref string) (http.Header, []byte) {
	body := []byte(`{"id":"` + id + `","type":"` + typ + `","ref":"` + ref + `","created":` + strconv.FormatInt(t.Unix(), 10) + `}`)
	h := http.Header{}
	h.Set(sandbox.SignatureHeader, webhook.Sign(secret, t, body))
	return h, body
}

func TestHandleWebhook(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (*fixture, payments.Link) {
		f := newFixture(t, sandbox.Config{})
		l, _, err := f.svc.CreateLink(ctx, validParams())
		if err != nil {
			t.Fatal(err)
		}
		f.reset(t)
		return f, l
	}
	get := func(t *testing.T, f *fixture, id string) payments.Link {
		l, err := f.store.LinkGet(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}

	t.Run("PaidOnceNotifiedOnce", func(t *testing.T) {
		f, l := setup(t)
		h, body := signed(f.secret, f.now, "evt_1", sandbox.PaymentSucceeded, l.ProviderRef)
		for range 3 {
			if err := f.svc.HandleWebhook(ctx, "sandbox", h, body); err != nil {
				t.Fatal(err)
			}
		}
		got := get(t, f, l.ID)
		if got.Status != payments.StatusPaid || got.PaidAt == nil || !got.PaidAt.Equal(f.now) {
			t.Fatalf("after paid: %+v", got)
		}
		if s := f.statuses(t); len(s) != 1 || s[0] != payments.StatusPaid {
			t.Fatalf("notifications = %v, want one paid", s)
		}
		// A second paid event with a new id is a no-op too.
		h, body = signed(f.secret, f.now, "evt_2", sandbox.PaymentSucceeded, l.ProviderRef)
		if err := f.svc.HandleWebhook(ctx, "sandbox", h, body); err != nil {
			t.Fatal(err)
		}
		if len(f.statuses(t)) != 1 {
			t.Fatal("notified again")
		}
	})

	t.Run("FailedAfterPaidStaysPaid", func(t *testing.T) {
		f, l := setup(t)
		h, body := signed(f.secret, f.now, "evt_1", sandbox.PaymentSucceeded, l.ProviderRef)
		if err := f.svc.HandleWebhook(ctx, "sandbox", h, body); err != nil {
			t.Fatal(err)
		}
		h, body = signed(f.secret, f.now, "evt_0", sandbox.PaymentFailed, l.ProviderRef)
		if err := f.svc.HandleWebhook(ctx, "sandbox", h, body); err != nil {
			t.Fatal(err)
		}
		if got := get(t, f, l.ID); got.Status != payments.StatusPaid {
			t.Fatalf("late failure moved link to %s", got.Status)
		}
		if s := f.statuses(t); len(s) != 1 {
			t.Fatalf("notifications = %v", s)
		}
	})

	t.Run("BadSignature", func(t *testing.T) {
		f, l := setup(t)
		h, body := signed([]byte("wrong"), f.now, "evt_1", sandbox.PaymentSucceeded, l.ProviderRef)
		if err := f.svc.HandleWebhook(ctx, "sandbox", h, body); !errors.Is(err, payments.ErrBadSignature) {
			t.Fatalf("err = %v, want ErrBadSignature", err)
		}
		h, body = signed(f.secret, f.now, "evt_1", sandbox.PaymentSucceeded, l.ProviderRef)
		tampered := []byte(strings.Replace(string(body), "evt_1", "evt_9", 1))
		if err := f.svc.HandleWebhook(ctx, "sandbox", h, tampered); !errors.Is(err, payments.ErrBadSignature) {
			t.Fatalf("tampered body: %v, want ErrBadSignature", err)
		}
		if err := f.svc.HandleWebhook(ctx, "sandbox", http.Header{}, body); !errors.Is(err, payments.ErrBadSignature) {
			t.Fatalf("no header: %v, want ErrBadSignature", err)
		}
		if got := get(t, f, l.ID); got.Status != payments.StatusOpen || len(f.statuses(t)) != 0 {
			t.Fatalf("bad signature changed the link: %+v", got)
		}
		// The refused event id was not recorded: the genuine one still applies.
		if err := f.svc.HandleWebhook(ctx, "sandbox", h, body); err != nil {
			t.Fatal(err)
		}
		if got := get(t, f, l.ID); got.Status != payments.StatusPaid {
			t.Fatalf("genuine event after forgeries: %s", got.Status)
		}
	})

	t.Run("StaleTimestamp", func(t *testing.T) {
		f, l := setup(t)
		for _, at := range []time.Time{f.now.Add(-6 * time.Minute), f.now.Add(6 * time.Minute)} {
			h, body := signed(f.secret, at, "evt_1", sandbox.PaymentSucceeded, l.ProviderRef)
			if err := f.svc.HandleWebhook(ctx, "sandbox", h, body); !errors.Is(err, payments.ErrBadSignature) {
				t.Fatalf("signed at %v: %v, want ErrBadSignature", at, err)
			}
		}
		h, body := signed(f.secret, f.now.Add(-4*time.Minute), "evt_1", sandbox.PaymentSucceeded, l.ProviderRef)
		if err := f.svc.HandleWebhook(ctx, "sandbox", h, body); err != nil {
			t.Fatalf("inside tolerance: %v", err)
		}
	})

	t.Run("UnknownProviderAndLink", func(t *testing.T) {
		f, _ := setup(t)
		h, body := signed(f.secret, f.now, "evt_1", sandbox.PaymentSucceeded, "sbx_nope")
		if err := f.svc.HandleWebhook(ctx, "stripe", h, body); !errors.Is(err, payments.ErrUnknownProvider) {
			t.Fatalf("unknown provider: %v", err)
		}
		if err := f.svc.HandleWebhook(ctx, "sandbox", h, body); !errors.Is(err, payments.ErrUnknownReference) {
			t.Fatalf("unknown link: %v, want ErrUnknownReference so that the provider retries", err)
		}
		h, body = signed(f.secret, f.now, "evt_1", "payment.exploded", "sbx_nope")
		if err := f.svc.HandleWebhook(ctx, "sandbox", h, body); !errors.Is(err, payments.ErrBadWebhook) {
			t.Fatalf("unknown type: %v", err)
		}
	})

	t.Run("ExpiryThenLatePayment", func(t *testing.T) {
		f, l := setup(t)
		f.advance(2 * time.Hour)
		links, err := f.svc.LinksByCall(ctx, l.CallID)
		if err != nil || len(links) != 1 || links[0].Status != payments.StatusExpired {
			t.Fatalf("after TTL: %+v %v", links, err)
		}
		h, body := signed(f.secret, f.clock(), "evt_1", sandbox.PaymentSucceeded, l.ProviderRef)
		if err := f.svc.HandleWebhook(ctx, "sandbox", h, body); err != nil {
			t.Fatal(err)
		}
		if got := get(t, f, l.ID); got.Status != payments.StatusExpired {
			t.Fatalf("expired link moved to %s", got.Status)
		}
	})
}
