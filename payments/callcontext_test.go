package payments_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"guidecall/payments"
	"guidecall/payments/sandbox"
)

// seeing is a provider that keeps what each create was asked.
type seeing struct {
	payments.Provider
	name string
	mu   sync.Mutex
	got  []payments.ProviderLinkParams
}

func (p *seeing) Name() string { return p.name }

func (p *seeing) CreateLink(ctx context.Context, lp payments.ProviderLinkParams) (payments.ProviderLink, error) {
	p.mu.Lock()
	p.got = append(p.got, lp)
	p.mu.Unlock()
	return p.Provider.CreateLink(ctx, lp)
}

func (p *seeing) last() payments.ProviderLinkParams {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.got[len(p.got)-1]
}

func TestParseRoutesByCountry(t *testing.T) {
	r, err := payments.ParseRoutes("eur/nl=adyen,stripe; EUR=stripe ;*=sandbox")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(r) != "map[*:[sandbox] EUR:[stripe] EUR/NL:[adyen stripe]]" {
		t.Fatalf("routes %v", r)
	}
	for _, bad := range []string{"EUR/NLD=stripe", "EUR/1X=stripe", "EURO/NL=stripe", "EUR/=stripe", "EUR/NL="} {
		if _, err := payments.ParseRoutes(bad); err == nil {
			t.Errorf("ParseRoutes(%q) accepted", bad)
		}
	}
}

// The call's context (the shopper's page and country) reaches the
// provider; the country picks the route; without a context (or when it
// fails) the link is still made, on the currency's route.
func TestCallContextRoutesAndReturns(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	nl := &seeing{Provider: f.sb, name: "for-nl"}
	eur := &seeing{Provider: f.sb, name: "for-eur"}
	contexts := map[string]payments.CallContext{
		"call-nl": {ReturnURL: "https://shop.example/p/scarf", Country: "NL"},
		"call-de": {ReturnURL: "", Country: "DE"},
	}
	svc, err := payments.NewService(payments.Config{
		Store: f.store, Providers: []payments.Provider{nl, eur, f.sb}, Now: f.clock,
		Routing: payments.RoutingConfig{Routes: map[string][]string{"EUR/NL": {"for-nl"}, "EUR": {"for-eur"}, "*": {sandbox.Name}}},
		CallContext: func(_ context.Context, callID string) (payments.CallContext, error) {
			if cc, ok := contexts[callID]; ok {
				return cc, nil
			}
			return payments.CallContext{}, errors.New("queue unavailable")
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	create := func(call string) payments.Link {
		t.Helper()
		p := validParams()
		p.CallID, p.IdempotencyKey = call, "k-"+call
		l, _, err := svc.CreateLink(ctx, p)
		if err != nil {
			t.Fatalf("%s: %v", call, err)
		}
		return l
	}
	if l := create("call-nl"); l.Provider != "for-nl" || nl.last().ReturnURL != "https://shop.example/p/scarf" || nl.last().Country != "NL" {
		t.Fatalf("NL link on %s with %+v", l.Provider, nl.last())
	}
	if l := create("call-de"); l.Provider != "for-eur" || eur.last().ReturnURL != "" || eur.last().Country != "DE" {
		t.Fatalf("DE link on %s with %+v", l.Provider, eur.last())
	}
	if l := create("call-unknown"); l.Provider != "for-eur" || eur.last().Country != "" || l.ProviderRef == "" {
		t.Fatalf("link without a call context on %s with %+v", l.Provider, eur.last())
	}
}
