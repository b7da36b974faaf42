package payments_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"guidecall/payments"
	"guidecall/payments/sandbox"
)

func TestRolloutStopsItselfWhenTheNewProviderDoesWorse(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	newpay := &flaky{Provider: f.sb, name: "newpay"}
	svc, err := payments.NewService(payments.Config{
		Store: f.store, Providers: []payments.Provider{f.sb, newpay}, Now: f.clock,
		Routing: payments.RoutingConfig{Routes: map[string][]string{"EUR": {sandbox.Name}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := svc.SetRollout(ctx, payments.Rollout{Currency: "EUR", Provider: "newpay", Incumbent: "nosuch", Percent: 50}); err == nil {
		t.Fatal("a rollout against an unknown incumbent was accepted")
	}
	if _, err := svc.SetRollout(ctx, payments.Rollout{Currency: "eur", Provider: "newpay", Incumbent: sandbox.Name, Percent: 50,
		MinSample: 10, Margin: 0.2, WindowSec: 3600}); err != nil {
		t.Fatal(err)
	}
	n := 0
	create := func() payments.Link {
		t.Helper()
		n++
		p := validParams()
		p.IdempotencyKey = fmt.Sprintf("ro-%d", n)
		l, _, err := svc.CreateLink(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	// The shopper's outcome, as the provider would report it.
	settle := func(l payments.Link, paid bool) {
		t.Helper()
		if _, err := f.store.LinkUpdate(ctx, l.ID, func(x *payments.Link) ([]payments.Event, error) {
			x.Status = payments.StatusFailed
			if paid {
				at := x.CreatedAt.Add(90 * time.Second)
				x.Status, x.PaidAt = payments.StatusPaid, &at
			}
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	by := map[string][]payments.Link{}
	for range 60 {
		l := create()
		by[l.Provider] = append(by[l.Provider], l)
	}
	if len(by["newpay"]) < 15 || len(by[sandbox.Name]) < 15 {
		t.Fatalf("a 50%% rollout gave newpay %d and the sandbox %d of 60 links", len(by["newpay"]), len(by[sandbox.Name]))
	}
	// The incumbent converts 9 in 10, the new provider 1 in 2: but below
	// the minimum sample nothing stops.
	for i, l := range by[sandbox.Name] {
		settle(l, i%10 != 0)
	}
	for i, l := range by["newpay"][:9] {
		settle(l, i%2 == 0)
	}
	create()
	if ro := rolloutOf(t, svc); ro.Stopped {
		t.Fatalf("stopped below the minimum sample: %+v", ro)
	}
	for i, l := range by["newpay"][9:] {
		settle(l, i%2 == 0)
	}
	create() // routing a link checks the rollout
	ro := rolloutOf(t, svc)
	if !ro.Stopped || !strings.Contains(ro.StopReason, "newpay success rate") {
		t.Fatalf("rollout %+v should have stopped itself", ro)
	}
	t.Logf("stop reason: %s", ro.StopReason)
	for range 20 {
		if l := create(); l.Provider != sandbox.Name {
			t.Fatalf("a link went to newpay after the rollout stopped")
		}
	}

	// The admin's view: per provider figures and the stopped rollout.
	r := chi.NewRouter()
	r.Mount("/providers", svc.ProviderRoutes())
	rec := do(t, r, http.MethodGet, "/providers?currency=EUR", "", nil)
	var view struct {
		Providers []payments.ProviderStats    `json:"providers"`
		Rollouts  map[string]payments.Rollout `json:"rollouts"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &view); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("admin view: %d %s", rec.Code, rec.Body)
	}
	for _, st := range view.Providers {
		t.Logf("%s: %d links, %d final, success %.2f, median %.0f s to paid", st.Provider, st.Links, st.Final, st.SuccessRate, st.MedianSecondsToPaid)
		if st.Provider == sandbox.Name && (st.SuccessRate < 0.85 || st.MedianSecondsToPaid != 90) {
			t.Fatalf("sandbox stats %+v", st)
		}
	}
	if !view.Rollouts["EUR"].Stopped {
		t.Fatalf("admin view rollouts %+v", view.Rollouts)
	}
}

func rolloutOf(t *testing.T, svc *payments.Service) payments.Rollout {
	t.Helper()
	r := chi.NewRouter()
	r.Mount("/providers", svc.ProviderRoutes())
	rec := do(t, r, http.MethodGet, "/providers", "", nil)
	var view struct {
		Rollouts map[string]payments.Rollout `json:"rollouts"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &view); err != nil {
		t.Fatal(err)
	}
	return view.Rollouts["EUR"]
}
