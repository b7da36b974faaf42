package payments_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"guidecall/payments"
)

func TestRiskLimits(t *testing.T) {
	f := newRefundFixture(t)
	ctx := context.Background()
	if _, err := f.svc.SetRiskLimits(ctx, payments.RiskLimits{MaxAmount: map[string]int64{"EURO": 1}}, "t"); !errors.Is(err, payments.ErrUnknownCurrency) {
		t.Fatalf("bad currency in limits: %v", err)
	}
	if _, err := f.svc.SetRiskLimits(ctx, payments.RiskLimits{MaxAmount: map[string]int64{"EUR": 0}}, "t"); !errors.Is(err, payments.ErrInvalidLink) {
		t.Fatalf("zero limit: %v", err)
	}
	if _, err := f.svc.SetRiskLimits(ctx, payments.RiskLimits{MaxAmount: map[string]int64{"eur": 5000}, MaxLinksPerCall: 2,
		RefundAdminAbove: map[string]int64{"EUR": 1000}}, "t"); err != nil {
		t.Fatal(err)
	}
	const path = "/api/v1/calls/call-risk/payment-links"
	create := func(key, body string) (int, string) {
		rec := do(t, f.h, http.MethodPost, path, body, map[string]string{"Authorization": "Bearer guide-1", "Idempotency-Key": key})
		return rec.Code, rec.Body.String()
	}
	if code, body := create("a", `{"amount":5001,"currency":"EUR"}`); code != http.StatusUnprocessableEntity || !strings.Contains(body, `"risk_limit"`) ||
		!strings.Contains(body, "50.00 EUR") {
		t.Fatalf("over the amount limit: %d %s", code, body)
	}
	// Other currencies are not limited.
	if code, body := create("b", `{"amount":900000,"currency":"JPY"}`); code != http.StatusCreated {
		t.Fatalf("JPY link: %d %s", code, body)
	}
	if code, body := create("c", `{"amount":5000,"currency":"EUR"}`); code != http.StatusCreated {
		t.Fatalf("at the limit: %d %s", code, body)
	}
	if code, body := create("d", `{"amount":100,"currency":"EUR"}`); code != http.StatusUnprocessableEntity || !strings.Contains(body, "2 payment links") {
		t.Fatalf("third link of the call: %d %s", code, body)
	}
	// A replay of an earlier key is still answered.
	if code, body := create("c", `{"amount":5000,"currency":"EUR"}`); code != http.StatusOK {
		t.Fatalf("replay over the count: %d %s", code, body)
	}

	l := f.paidLink(t, "call-risk-refund", 3000)
	rpath := "/api/v1/calls/call-risk-refund/payment-links/" + l.ID + "/refunds"
	rec := do(t, f.h, http.MethodPost, rpath, `{"amount":1500}`, map[string]string{"Authorization": "Bearer guide-1", "Idempotency-Key": "big"})
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "needs an admin") {
		t.Fatalf("guide refund above the admin threshold: %d %s", rec.Code, rec.Body)
	}
	f.refund(t, rpath, "guide-1", "small", `{"amount":1000}`, http.StatusCreated)
	f.refund(t, "/api/v1/admin/payment-links/"+l.ID+"/refunds", "", "admin-big", `{"amount":1500}`, http.StatusCreated)
}

// The links-per-call limit holds under concurrent creates through the
// service: the store counts and inserts in one step.
func TestLinksPerCallLimitConcurrently(t *testing.T) {
	f := newRefundFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := f.svc.SetRiskLimits(ctx, payments.RiskLimits{MaxLinksPerCall: 3}, "t"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	created, refused := 0, 0
	var other []error
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := validParams()
			p.CallID, p.Items, p.IdempotencyKey = "call-race", nil, fmt.Sprintf("race-%d", i)
			_, _, err := f.svc.CreateLink(ctx, p)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				created++
			case errors.Is(err, payments.ErrRiskLimit):
				refused++
			default:
				other = append(other, err)
			}
		}()
	}
	wg.Wait()
	links, err := f.svc.LinksByCall(ctx, "call-race")
	if created != 3 || refused != 17 || len(other) != 0 || err != nil || len(links) != 3 {
		t.Fatalf("20 concurrent links under a limit of 3: %d created, %d refused, %d stored (%v), other errors %v",
			created, refused, len(links), err, other)
	}
}
