package payments_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"guidecall/payments"
	"guidecall/payments/sandbox"
)

// flaky is a second provider: it refuses or hangs its creates as told and
// counts them; everything else is the sandbox's.
type flaky struct {
	payments.Provider
	name  string
	mu    sync.Mutex
	mode  string // "down", "hang" or "" (delegate)
	calls int
}

func (p *flaky) Name() string { return p.name }

func (p *flaky) set(mode string) { p.mu.Lock(); p.mode = mode; p.mu.Unlock() }

func (p *flaky) count() int { p.mu.Lock(); defer p.mu.Unlock(); return p.calls }

func (p *flaky) CreateLink(ctx context.Context, lp payments.ProviderLinkParams) (payments.ProviderLink, error) {
	p.mu.Lock()
	p.calls++
	mode := p.mode
	p.mu.Unlock()
	switch mode {
	case "down":
		return payments.ProviderLink{}, errors.New("503 from upstream")
	case "hang":
		<-ctx.Done()
		return payments.ProviderLink{}, ctx.Err()
	}
	return p.Provider.CreateLink(ctx, lp)
}

func newRoutedService(t *testing.T, f *fixture, primary *flaky) *payments.Service {
	t.Helper()
	svc, err := payments.NewService(payments.Config{
		Store: f.store, Providers: []payments.Provider{primary, f.sb}, Now: f.clock,
		Routing: payments.RoutingConfig{
			Routes:          map[string][]string{"EUR": {primary.name, sandbox.Name}, "*": {sandbox.Name}},
			BreakerCoolDown: time.Minute, CreateTimeout: 200 * time.Millisecond,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestFailoverBeforeIssue(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	primary := &flaky{Provider: f.sb, name: "primary"}
	svc := newRoutedService(t, f, primary)
	ctx := context.Background()
	params := func(key string) payments.CreateLinkParams {
		p := validParams()
		p.IdempotencyKey = key
		return p
	}

	// Up: the primary issues it.
	l, _, err := svc.CreateLink(ctx, params("up"))
	if err != nil || l.Provider != "primary" {
		t.Fatalf("primary up: %+v %v", l, err)
	}

	// Down: the link comes from the sandbox, and the breaker opens.
	primary.set("down")
	l, created, err := svc.CreateLink(ctx, params("down"))
	if err != nil || !created || l.Provider != sandbox.Name || l.ProviderRef == "" || l.Status != payments.StatusOpen {
		t.Fatalf("failover: %+v %v", l, err)
	}
	if got, _ := f.store.LinkGet(ctx, l.ID); got.Provider != sandbox.Name {
		t.Fatalf("stored provider %q", got.Provider)
	}
	calls := primary.count()
	l2, _, err := svc.CreateLink(ctx, params("while-open"))
	if err != nil || l2.Provider != sandbox.Name || primary.count() != calls {
		t.Fatalf("breaker open: provider %s, primary asked %d more times", l2.Provider, primary.count()-calls)
	}
	// A replay of an issued link never re-creates it anywhere.
	again, created, err := svc.CreateLink(ctx, params("down"))
	if err != nil || created || again.ID != l.ID || again.ProviderRef != l.ProviderRef || primary.count() != calls {
		t.Fatalf("replay: %+v created=%v %v", again, created, err)
	}
	// Other currencies never went to the primary.
	jp := params("jpy")
	jp.Currency, jp.Amount, jp.Items = "JPY", 4200, nil
	if l, _, err := svc.CreateLink(ctx, jp); err != nil || l.Provider != sandbox.Name {
		t.Fatalf("JPY: %+v %v", l, err)
	}

	// After the cool-down the primary is tried first again; it hangs, and
	// the create timeout hands the link to the sandbox.
	f.advance(time.Minute + time.Second)
	primary.set("hang")
	start := time.Now()
	l, _, err = svc.CreateLink(ctx, params("hang"))
	if err != nil || l.Provider != sandbox.Name || primary.count() != calls+1 {
		t.Fatalf("hanging primary: %+v %v (primary asked %d more)", l, err, primary.count()-calls)
	}
	t.Logf("failover from a hanging provider took %d ms (create timeout 200 ms)", time.Since(start).Milliseconds())

	// Everyone down: the link fails, as before.
	f.sb.FailNextCreate(errors.New("sandbox down too"))
	f.advance(2 * time.Minute)
	primary.set("down")
	_, _, err = svc.CreateLink(ctx, params("all-down"))
	if !errors.Is(err, payments.ErrProvider) {
		t.Fatalf("all down: %v", err)
	}
	if got, _ := f.store.LinkByIdempotencyKey(ctx, "call-1", "all-down"); got.Status != payments.StatusFailed {
		t.Fatalf("all down: link %s", got.Status)
	}
}

func TestRoutesValidate(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	if _, err := payments.NewService(payments.Config{Store: f.store, Providers: []payments.Provider{f.sb},
		Routing: payments.RoutingConfig{Routes: map[string][]string{"EUR": {"stripe"}}}}); err == nil {
		t.Fatal("a route to an unconfigured provider was accepted")
	}
	r, err := payments.ParseRoutes("eur=stripe, sandbox; *=sandbox")
	if err != nil || len(r["EUR"]) != 2 || r["EUR"][1] != "sandbox" || r["*"][0] != "sandbox" {
		t.Fatalf("ParseRoutes: %v %v", r, err)
	}
	for _, bad := range []string{"EURO=x", "EUR=", "=x", "EUR"} {
		if _, err := payments.ParseRoutes(bad); err == nil {
			t.Errorf("ParseRoutes(%q) accepted", bad)
		}
	}
}
