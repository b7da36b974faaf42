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
