package payments_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"guidecall/internal/db"
	"guidecall/internal/db/dbtest"
	"guidecall/payments"
	"guidecall/payments/sandbox"
	"guidecall/webhook"
)

// payOnCheckout presses Pay on the sandbox checkout: the sandbox records
// the payment and enqueues its webhook, which the fixture's outbox (not
// started) never sends: the lost webhook.
func payOnCheckout(t *testing.T, sb *sandbox.Sandbox, ref string) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/"+ref+"/pay", nil)
	req.Header.Set("Accept", "application/json")
	sb.CheckoutRoutes().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("pay: %d %s", rec.Code, rec.Body)
	}
}

// A webhook that never arrives: reconciliation brings the link to the
// provider's status, once, and the webhook arriving afterwards changes
// nothing.
func TestReconcileLostWebhook(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, sandbox.Config{})
	l, _, err := f.svc.CreateLink(ctx, validParams())
	if err != nil {
		t.Fatal(err)
	}
	payOnCheckout(t, f.sb, l.ProviderRef)
	f.reset(t)

	// Too recent: a webhook may still be on its way.
	f.advance(payments.DefaultReconcileAfter / 2)
	if fixes, err := f.svc.Reconcile(ctx); err != nil || len(fixes) != 0 {
		t.Fatalf("reconcile of a fresh link = %v, %v; want nothing", fixes, err)
	}
	f.advance(payments.DefaultReconcileAfter)
	fixes, err := f.svc.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := payments.Fix{LinkID: l.ID, CallID: l.CallID, Provider: sandbox.Name, From: payments.StatusOpen, To: payments.StatusPaid}
	if len(fixes) != 1 || fixes[0] != want {
		t.Fatalf("fixes = %+v, want [%+v]", fixes, want)
	}
	got, _ := f.store.LinkGet(ctx, l.ID)
	if got.Status != payments.StatusPaid || got.PaidAt == nil {
		t.Fatalf("after reconcile: %+v", got)
	}
	if s := f.statuses(t); len(s) != 1 || s[0] != payments.StatusPaid {
		t.Fatalf("events = %v, want one paid", s)
	}
	// A second pass finds nothing to fix: the sandbox agrees now.
	f.advance(payments.DefaultReconcileAfter * 2)
	if fixes, err := f.svc.Reconcile(ctx); err != nil || len(fixes) != 0 {
		t.Fatalf("second pass = %v, %v; want nothing", fixes, err)
	}

	// The webhook arrives after all: acknowledged, nothing changes.
	f.reset(t)
	h, body := signed(f.secret, f.clock(), "evt_late", sandbox.PaymentSucceeded, l.ProviderRef)
	if err := f.svc.HandleWebhook(ctx, sandbox.Name, h, body); err != nil {
		t.Fatal(err)
	}
	again, _ := f.store.LinkGet(ctx, l.ID)
	if again.Status != payments.StatusPaid || !again.PaidAt.Equal(*got.PaidAt) || !again.UpdatedAt.Equal(got.UpdatedAt) {
		t.Fatalf("late webhook changed the link: %+v, was %+v", again, got)
	}
	if s := f.statuses(t); len(s) != 0 {
		t.Fatalf("events after the late webhook: %v", s)
	}
}

// A refund whose webhook was lost is reconciled too, and a checkout the
// shopper never paid stays open.
func TestReconcileRefundAndOpen(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, sandbox.Config{})
	paid, _, err := f.svc.CreateLink(ctx, validParams())
	if err != nil {
		t.Fatal(err)
	}
	p := validParams()
	p.IdempotencyKey = "k2"
	open, _, err := f.svc.CreateLink(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	payOnCheckout(t, f.sb, paid.ProviderRef)
	f.advance(time.Minute)
	if fixes, err := f.svc.Reconcile(ctx); err != nil || len(fixes) != 1 || fixes[0].LinkID != paid.ID {
		t.Fatalf("first pass = %+v, %v", fixes, err)
	}
	if err := f.sb.Refund(ctx, payments.RefundParams{Ref: paid.ProviderRef, Amount: 500, Seq: 1}); err != nil {
		t.Fatal(err)
	}
	f.advance(time.Minute)
	fixes, err := f.svc.Reconcile(ctx)
	if err != nil || len(fixes) != 1 || fixes[0].From != payments.StatusPaid || fixes[0].To != payments.StatusPartiallyRefunded {
		t.Fatalf("refund pass = %+v, %v", fixes, err)
	}
	if got, _ := f.store.LinkGet(ctx, open.ID); got.Status != payments.StatusOpen {
		t.Fatalf("unpaid link reconciled to %s", got.Status)
	}
}

// With Loop, the service reconciles by itself.
func TestReconcileLoop(t *testing.T) {
	ctx := context.Background()
	store := payments.NewMemoryStore()
	outbox := webhook.NewMemoryOutbox(webhook.MemoryConfig{}) // never started: the webhook is lost
	sb, err := sandbox.New(sandbox.Config{Secret: []byte("s"), Store: sandbox.NewMemoryStore(outbox), Outbox: outbox,
		WebhookURL: "http://127.0.0.1:1/"})
	if err != nil {
		t.Fatal(err)
	}
	fixed := make(chan payments.Fix, 1)
	svc, err := payments.NewService(payments.Config{Store: store, Providers: []payments.Provider{sb},
		Reconcile: payments.ReconcileConfig{Loop: true, After: time.Millisecond, Every: 10 * time.Millisecond,
			Fixed: func(f payments.Fix) {
				select {
				case fixed <- f:
				default: // a hook must not block; one is all the test needs
				}
			}}})
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := svc.CreateLink(ctx, validParams())
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Stop)
	payOnCheckout(t, sb, l.ProviderRef)
	waitFor(t, func() bool { got, _ := store.LinkGet(ctx, l.ID); return got.Status == payments.StatusPaid })
	// The difference it healed was reported (for metrics).
	select {
	case f := <-fixed:
		if f.LinkID != l.ID || f.To != payments.StatusPaid || f.Provider != "sandbox" {
			t.Fatalf("fix reported %+v", f)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the fix was not reported to ReconcileConfig.Fixed")
	}
}

// Events a process recorded but never handed to a subscriber (it died
// right after the commit) are published by the relay of the next one.
func TestRelayPublishesAfterRestart(t *testing.T) {
	for name, newStore := range map[string]func(t *testing.T) payments.Store{
		"memory": func(*testing.T) payments.Store { return payments.NewMemoryStore() },
		"postgres": func(t *testing.T) payments.Store {
			pool, _ := dbtest.NewSchema(t)
			return payments.NewPostgresStore(pool)
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			store := newStore(t)
			outbox := webhook.NewMemoryOutbox(webhook.MemoryConfig{})
			sb, err := sandbox.New(sandbox.Config{Secret: []byte("s"), Store: sandbox.NewMemoryStore(outbox), Outbox: outbox})
			if err != nil {
				t.Fatal(err)
			}
			cfg := payments.Config{Store: store, Providers: []payments.Provider{sb},
				// After is well above the time between a publish and its
				// mark, so the relay does not repeat the later event.
				Relay: payments.RelayConfig{After: 200 * time.Millisecond, Every: 10 * time.Millisecond}}
			// The first process has no subscriber: like one killed between
			// its commit and its publish, it leaves the events unpublished.
			first, err := payments.NewService(cfg)
			if err != nil {
				t.Fatal(err)
			}
			l, _, err := first.CreateLink(ctx, validParams())
			if err != nil {
				t.Fatal(err)
			}
			h, body := signed([]byte("s"), time.Now(), "evt_1", sandbox.PaymentSucceeded, l.ProviderRef)
			if err := first.HandleWebhook(ctx, sandbox.Name, h, body); err != nil {
				t.Fatal(err)
			}

			second, err := payments.NewService(cfg)
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{}
			t.Cleanup(second.Subscribe(payments.SubscribeConfig{Name: "fan-out"}, rec.add))
			if err := second.Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(second.Stop)
			waitFor(t, func() bool { rec.mu.Lock(); defer rec.mu.Unlock(); return len(rec.events) >= 2 })
			rec.mu.Lock()
			created, okC := rec.events[0].(payments.LinkCreated)
			changed, okS := rec.events[1].(payments.LinkStatusChanged)
			rec.mu.Unlock()
			if !okC || !okS || created.Link.ID != l.ID || changed.To != payments.StatusPaid || changed.From != payments.StatusOpen {
				t.Fatalf("relayed %#v, %#v; want LinkCreated then LinkStatusChanged to paid of %s", rec.events[0], rec.events[1], l.ID)
			}
			// Published now: a later event comes alone, not behind repeats.
			p := validParams()
			p.IdempotencyKey = "k-later"
			later, _, err := second.CreateLink(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool { rec.mu.Lock(); defer rec.mu.Unlock(); return len(rec.events) >= 3 })
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if len(rec.events) != 3 || rec.events[2].EventLink().ID != later.ID {
				var ids []string
				for _, e := range rec.events {
					ids = append(ids, fmt.Sprintf("%T %s", e, e.EventLink().ID))
				}
				t.Fatalf("events after the relay: %v", ids)
			}
		})
	}
}

// A subscriber that does not keep up delays nobody: the service goes on,
// and the subscriber gets what its buffer held.
func TestSlowSubscriberNeverBlocksTheService(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, sandbox.Config{})
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	var mu sync.Mutex
	var got []payments.Event
	unsubscribe := f.svc.Subscribe(payments.SubscribeConfig{Name: "slow", Buffer: 2}, func(_ context.Context, e payments.Event) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 10 {
			p := validParams()
			p.IdempotencyKey = fmt.Sprintf("slow-%d", i)
			if _, _, err := f.svc.CreateLink(ctx, p); err != nil {
				t.Error(err)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("CreateLink blocked on a subscriber that does not read")
	}
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the subscriber never got an event")
	}
	close(release)
	unsubscribe()
	mu.Lock()
	defer mu.Unlock()
	// One in the subscriber's hands, two in its buffer; the rest dropped.
	if len(got) < 1 || len(got) > 3 {
		t.Fatalf("slow subscriber got %d events, want 1 to 3", len(got))
	}
}

// On PostgreSQL, reconciliation is a River periodic job: with the webhook
// lost (no node works deliveries here), River's leader runs the pass and
// the link becomes paid.
func TestReconcileRiverJob(t *testing.T) {
	ctx := context.Background()
	pool, _ := dbtest.NewSchema(t)
	outbox, err := webhook.NewRiverOutbox(pool, dbtest.SchemaName(t, pool), webhook.Config{})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := sandbox.New(sandbox.Config{Secret: []byte("s"), Store: sandbox.NewPostgresStore(pool, outbox), Outbox: outbox,
		WebhookURL: "http://127.0.0.1:1/webhooks/sandbox"})
	if err != nil {
		t.Fatal(err)
	}
	store := payments.NewPostgresStore(pool)
	svc, err := payments.NewService(payments.Config{Store: store, Providers: []payments.Provider{sb},
		Reconcile: payments.ReconcileConfig{After: time.Millisecond, Every: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	workers := river.NewWorkers()
	job := svc.AddReconcileJob(workers)
	// Deliveries have no worker: their jobs fail, the webhook is lost.
	jobs, err := db.NewJobs(ctx, pool, db.JobsConfig{Workers: workers, PeriodicJobs: []*river.PeriodicJob{job},
		FetchPollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := svc.CreateLink(ctx, validParams())
	if err != nil {
		t.Fatal(err)
	}
	payOnCheckout(t, sb, l.ProviderRef)
	if err := jobs.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(jobs.Stop)
	waitFor(t, func() bool { got, _ := store.LinkGet(ctx, l.ID); return got.Status == payments.StatusPaid })
}

// Refunds made at the provider whose webhooks were lost: reconciliation
// brings the refunded total to the provider's, pass by pass, even while
// the status stays partially_refunded, on both stores, one event a fix.
func TestReconcileHealsRefundedAmount(t *testing.T) {
	for name, newStore := range map[string]func(t *testing.T) payments.Store{
		"memory": func(*testing.T) payments.Store { return payments.NewMemoryStore() },
		"postgres": func(t *testing.T) payments.Store {
			pool, _ := dbtest.NewSchema(t)
			return payments.NewPostgresStore(pool)
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, sandbox.Config{})
			store := newStore(t)
			f.svc = serviceOn(t, f, store, f.sb)
			l, _, err := f.svc.CreateLink(ctx, validParams())
			if err != nil {
				t.Fatal(err)
			}
			payOnCheckout(t, f.sb, l.ProviderRef)
			f.advance(time.Minute)
			if fixes, err := f.svc.Reconcile(ctx); err != nil || len(fixes) != 1 || fixes[0].To != payments.StatusPaid {
				t.Fatalf("payment pass = %+v, %v", fixes, err)
			}
			f.reset(t)
			for i, step := range []struct {
				refund   int64
				from, to payments.LinkStatus
				was, now int64
			}{
				{500, payments.StatusPaid, payments.StatusPartiallyRefunded, 0, 500},
				{700, payments.StatusPartiallyRefunded, payments.StatusPartiallyRefunded, 500, 1200},
				{1300, payments.StatusPartiallyRefunded, payments.StatusRefunded, 1200, 2500},
			} {
				if err := f.sb.Refund(ctx, payments.RefundParams{Ref: l.ProviderRef, LinkID: l.ID, Amount: step.refund, Currency: "EUR", Seq: i + 1}); err != nil {
					t.Fatal(err)
				}
				f.advance(time.Minute)
				fixes, err := f.svc.Reconcile(ctx)
				want := payments.Fix{LinkID: l.ID, CallID: l.CallID, Provider: sandbox.Name, From: step.from, To: step.to,
					RefundedFrom: step.was, RefundedTo: step.now}
				if err != nil || len(fixes) != 1 || fixes[0] != want {
					t.Fatalf("refund %d: fixes = %+v, %v; want [%+v]", i+1, fixes, err, want)
				}
				got, _ := store.LinkGet(ctx, l.ID)
				if got.Status != step.to || got.RefundedAmount != step.now {
					t.Fatalf("refund %d: link %s refunded %d, want %s %d", i+1, got.Status, got.RefundedAmount, step.to, step.now)
				}
				if s := f.statuses(t); len(s) != 1 || s[0] != step.to {
					t.Fatalf("refund %d: events %v, want one %s", i+1, s, step.to)
				}
				f.reset(t)
				// A second pass finds nothing more: counted once.
				f.advance(time.Minute)
				if fixes, err := f.svc.Reconcile(ctx); err != nil || len(fixes) != 0 {
					t.Fatalf("refund %d: second pass = %+v, %v", i+1, fixes, err)
				}
			}
		})
	}
}

// Links that closed here (failed, expired) while the sandbox took the
// money, its webhook lost: reconciliation asks about them within the
// look-back and makes them paid, once, with one event; a canceled link
// stays canceled, and a link closed longer ago than the look-back is not
// asked about. On both stores.
func TestReconcileClosedLinks(t *testing.T) {
	for name, newStore := range map[string]func(t *testing.T) payments.Store{
		"memory": func(*testing.T) payments.Store { return payments.NewMemoryStore() },
		"postgres": func(t *testing.T) payments.Store {
			pool, _ := dbtest.NewSchema(t)
			return payments.NewPostgresStore(pool)
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, sandbox.Config{})
			store := newStore(t)
			f.svc = serviceOn(t, f, store, f.sb)
			create := func(key string) payments.Link {
				p := validParams()
				p.IdempotencyKey = key
				l, _, err := f.svc.CreateLink(ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				return l
			}
			failed, expired, canceled, old := create("failed"), create("expired"), create("canceled"), create("old")
			// The shopper pays all four; every payment webhook is lost
			// (the fixture's outbox never sends).
			for _, l := range []payments.Link{failed, expired, canceled, old} {
				payOnCheckout(t, f.sb, l.ProviderRef)
			}
			paidAt := f.clock()
			// A failed attempt's webhook arrives for one (a decline after
			// the payment, reported late), which closes it here.
			h, body := signed(f.secret, f.clock(), "evt_failed", sandbox.PaymentFailed, failed.ProviderRef)
			if err := f.svc.HandleWebhook(ctx, sandbox.Name, h, body); err != nil {
				t.Fatal(err)
			}
			if _, err := store.LinkUpdate(ctx, canceled.ID, func(x *payments.Link) ([]payments.Event, error) {
				x.Status = payments.StatusCanceled
				return nil, nil
			}); err != nil {
				t.Fatal(err)
			}
			// Past the links' expiry, with no pass run meanwhile: the
			// others expire here as they are read.
			f.advance(payments.DefaultLinkTTL + time.Minute)
			for _, l := range []payments.Link{expired, old} {
				if got, err := f.svc.Link(ctx, l.ID); err != nil || got.Status != payments.StatusExpired {
					t.Fatalf("link %s = %s, %v; want expired", l.ID, got.Status, err)
				}
			}
			// One closed beyond the look-back: moved back in time as if
			// it had closed then.
			if _, err := store.LinkUpdate(ctx, old.ID, func(x *payments.Link) ([]payments.Event, error) {
				x.UpdatedAt = f.clock().Add(-payments.DefaultReconcileClosedWindow - time.Minute)
				return nil, nil
			}); err != nil {
				t.Fatal(err)
			}
			f.reset(t)

			f.advance(time.Minute)
			fixes, err := f.svc.Reconcile(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]payments.Fix{}
			for _, fx := range fixes {
				got[fx.LinkID] = fx
			}
			wantF := payments.Fix{LinkID: failed.ID, CallID: failed.CallID, Provider: sandbox.Name, From: payments.StatusFailed, To: payments.StatusPaid}
			wantE := payments.Fix{LinkID: expired.ID, CallID: expired.CallID, Provider: sandbox.Name, From: payments.StatusExpired, To: payments.StatusPaid}
			if len(fixes) != 2 || got[failed.ID] != wantF || got[expired.ID] != wantE {
				t.Fatalf("fixes = %+v, want %+v and %+v", fixes, wantF, wantE)
			}
			for _, l := range []payments.Link{failed, expired} {
				cur, _ := store.LinkGet(ctx, l.ID)
				if cur.Status != payments.StatusPaid || cur.PaidAt == nil || !cur.PaidAt.Equal(paidAt) {
					t.Fatalf("link %s after reconcile: %s paid at %v, want paid at %v (the provider's)", l.ID, cur.Status, cur.PaidAt, paidAt)
				}
			}
			for l, want := range map[string]payments.LinkStatus{canceled.ID: payments.StatusCanceled, old.ID: payments.StatusExpired} {
				if cur, _ := store.LinkGet(ctx, l); cur.Status != want {
					t.Fatalf("link %s = %s, want %s", l, cur.Status, want)
				}
			}
			if s := f.statuses(t); len(s) != 2 || s[0] != payments.StatusPaid || s[1] != payments.StatusPaid {
				t.Fatalf("events = %v, want two paid (one a link)", s)
			}
			f.reset(t)
			// The next pass finds nothing: each was fixed once.
			f.advance(time.Minute)
			if fixes, err := f.svc.Reconcile(ctx); err != nil || len(fixes) != 0 {
				t.Fatalf("second pass = %+v, %v; want nothing", fixes, err)
			}
			if s := f.statuses(t); len(s) != 0 {
				t.Fatalf("events after the second pass: %v", s)
			}
		})
	}
}

// An expired link whose provider reports a payment taken after its
// expiry (the provider's checkout outlived the link: Stripe's shortest
// session is 31 minutes) stays expired: the ledger's rule, applied by
// reconciliation as by webhooks.
func TestReconcileExpiredPaidTooLate(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, sandbox.Config{})
	l, _, err := f.svc.CreateLink(ctx, validParams())
	if err != nil {
		t.Fatal(err)
	}
	late := &lateProvider{Sandbox: f.sb, paidAt: l.ExpiresAt.Add(time.Minute)}
	f.svc = serviceOn(t, f, f.store, late)
	f.advance(payments.DefaultLinkTTL + 2*time.Minute)
	if got, _ := f.svc.Link(ctx, l.ID); got.Status != payments.StatusExpired {
		t.Fatalf("link = %s, want expired", got.Status)
	}
	f.advance(time.Minute)
	if fixes, err := f.svc.Reconcile(ctx); err != nil || len(fixes) != 0 {
		t.Fatalf("reconcile = %+v, %v; want nothing", fixes, err)
	}
	if late.asked == 0 {
		t.Fatal("the provider was never asked about the expired link")
	}
	if got, _ := f.store.LinkGet(ctx, l.ID); got.Status != payments.StatusExpired {
		t.Fatalf("link = %s, want expired", got.Status)
	}
}

// lateProvider is the sandbox whose every checkout says it was paid at
// paidAt.
type lateProvider struct {
	*sandbox.Sandbox
	paidAt time.Time
	mu     sync.Mutex
	asked  int
}

func (p *lateProvider) FetchState(ctx context.Context, ref string) (payments.ProviderState, error) {
	p.mu.Lock()
	p.asked++
	p.mu.Unlock()
	return payments.ProviderState{Status: payments.StatusPaid, PaidAt: p.paidAt}, nil
}
