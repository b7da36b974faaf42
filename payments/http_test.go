package payments_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"guidecall/payments"
	"guidecall/payments/sandbox"
	"guidecall/webhook"
)

func authAs(guide string) payments.CallAuthorizer {
	return func(r *http.Request, callID string) (string, error) {
		switch r.Header.Get("Authorization") {
		case "":
			return "", payments.ErrUnauthorized
		case "Bearer " + guide:
			return guide, nil
		}
		return "", payments.ErrForbidden
	}
}

func newRouter(f *fixture, sb *sandbox.Sandbox) http.Handler {
	r := chi.NewRouter()
	r.Mount("/api/v1/calls/{callID}/payment-links", f.svc.APIRoutes(authAs("guide-1")))
	r.Mount("/webhooks", f.svc.WebhookRoutes())
	r.Mount("/pay/sandbox", sb.CheckoutRoutes())
	return r
}

func do(t *testing.T, h http.Handler, method, path, body string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func errCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var b struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || b.Error.Code == "" {
		t.Fatalf("error body %q: %v", rec.Body.String(), err)
	}
	return b.Error.Code
}

func TestAPIRoutes(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	h := newRouter(f, f.sb)
	const path = "/api/v1/calls/call-1/payment-links"
	body := `{"amount":2500,"currency":"EUR","items":[{"name":"Scarf","quantity":2,"unit_amount":1000},{"name":"Pin","quantity":1,"unit_amount":500}],"description":"for you"}`
	auth := map[string]string{"Authorization": "Bearer guide-1", "Idempotency-Key": "k1"}

	for name, tc := range map[string]struct {
		body   string
		hdr    map[string]string
		status int
		code   string
	}{
		"no token":       {body, map[string]string{"Idempotency-Key": "k1"}, 401, "unauthorized"},
		"other guide":    {body, map[string]string{"Authorization": "Bearer guide-2", "Idempotency-Key": "k1"}, 403, "forbidden"},
		"no key":         {body, map[string]string{"Authorization": "Bearer guide-1"}, 400, "idempotency_key_required"},
		"bad json":       {`{"amount":`, auth, 400, "bad_request"},
		"float amount":   {`{"amount":12.5,"currency":"EUR"}`, auth, 400, "bad_request"},
		"unknown field":  {`{"amount":1,"currency":"EUR","x":1}`, auth, 400, "bad_request"},
		"trailing data":  {`{"amount":1,"currency":"EUR"} {}`, auth, 400, "bad_request"},
		"null body":      {`null`, auth, 400, "bad_request"},
		"array body":     {`[{"amount":1}]`, auth, 400, "bad_request"},
		"NUL":            {`{"amount":1,"currency":"EUR","description":"a\u0000b"}`, auth, 400, "bad_request"},
		"bad currency":   {`{"amount":1,"currency":"EURO"}`, auth, 422, "unknown_currency"},
		"zero amount":    {`{"amount":0,"currency":"EUR"}`, auth, 422, "invalid_payment_link"},
		"items mismatch": {`{"amount":3,"currency":"EUR","items":[{"name":"a","quantity":1,"unit_amount":2}]}`, auth, 422, "invalid_payment_link"},
	} {
		t.Run(name, func(t *testing.T) {
			rec := do(t, h, "POST", path, tc.body, tc.hdr)
			if rec.Code != tc.status || errCode(t, rec) != tc.code {
				t.Fatalf("%d %s, want %d %s", rec.Code, rec.Body, tc.status, tc.code)
			}
		})
	}

	rec := do(t, h, "POST", path, body, auth)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	var l payments.Link
	if err := json.Unmarshal(rec.Body.Bytes(), &l); err != nil || l.CallID != "call-1" || l.CreatedBy != "guide-1" || l.Amount != 2500 {
		t.Fatalf("created: %+v %v", l, err)
	}
	if rec = do(t, h, "POST", path, body, auth); rec.Code != http.StatusOK {
		t.Fatalf("replay: %d %s", rec.Code, rec.Body)
	}
	rec = do(t, h, "POST", path, `{"amount":1,"currency":"EUR"}`, auth)
	if rec.Code != http.StatusConflict || errCode(t, rec) != "idempotency_conflict" {
		t.Fatalf("conflict: %d %s", rec.Code, rec.Body)
	}
	rec = do(t, h, "GET", path, "", auth)
	var list struct{ Links []payments.Link }
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &list) != nil || len(list.Links) != 1 || list.Links[0].ID != l.ID {
		t.Fatalf("list: %d %s", rec.Code, rec.Body)
	}
	if rec = do(t, h, "GET", path+"/"+l.ID, "", auth); rec.Code != 200 {
		t.Fatalf("get: %d %s", rec.Code, rec.Body)
	}
	if rec = do(t, h, "GET", "/api/v1/calls/call-2/payment-links/"+l.ID, "", auth); rec.Code != 404 {
		t.Fatalf("get through another call: %d %s", rec.Code, rec.Body)
	}
	big := `{"amount":1,"currency":"EUR","description":"` + strings.Repeat("x", 70<<10) + `"}`
	if rec = do(t, h, "POST", path, big, map[string]string{"Authorization": "Bearer guide-1", "Idempotency-Key": "big"}); rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("big body: %d", rec.Code)
	}
}

func TestWebhookRoutes(t *testing.T) {
	f := newFixture(t, sandbox.Config{})
	h := newRouter(f, f.sb)
	l, _, err := f.svc.CreateLink(context.Background(), validParams())
	if err != nil {
		t.Fatal(err)
	}
	post := func(path string, hdr http.Header, body []byte) int {
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header = hdr
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	hdr, body := signed(f.secret, f.now, "evt_1", sandbox.PaymentSucceeded, l.ProviderRef)
	if c := post("/webhooks/stripe", hdr, body); c != 404 {
		t.Fatalf("unknown provider: %d", c)
	}
	bad := hdr.Clone()
	bad.Set(sandbox.SignatureHeader, webhook.Sign([]byte("nope"), f.now, body))
	if c := post("/webhooks/sandbox", bad, body); c != 400 {
		t.Fatalf("bad signature: %d", c)
	}
	if got, _ := f.store.LinkGet(context.Background(), l.ID); got.Status != payments.StatusOpen {
		t.Fatalf("bad signature changed link to %s", got.Status)
	}
	if c := post("/webhooks/sandbox", hdr, bytes.Repeat([]byte("x"), 65<<10)); c != 413 {
		t.Fatalf("big body: %d", c)
	}
	for range 2 {
		if c := post("/webhooks/sandbox", hdr, body); c != 200 {
			t.Fatalf("good or duplicate: %d", c)
		}
	}
	if got, _ := f.store.LinkGet(context.Background(), l.ID); got.Status != payments.StatusPaid {
		t.Fatalf("status %s, want paid", got.Status)
	}
}

// TestSandboxFullLoop runs the whole path over loopback: create a link, load
// the checkout page, press Pay, the sandbox's outbox delivers a signed
// webhook (three times, after a delay) to a server routing to
// WebhookRoutes, the link is paid and the subscribers told once. Then a
// late Decline arrives out of order and changes nothing.
func TestSandboxFullLoop(t *testing.T) {
	var handler http.Handler
	var mu sync.Mutex
	hooks := map[string]int{} // webhook bodies received, by event type
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/webhooks/") {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var ev sandbox.Event
			_ = json.Unmarshal(body, &ev)
			defer func() { mu.Lock(); hooks[ev.Type]++; mu.Unlock() }()
		}
		handler.ServeHTTP(w, r)
	}))
	defer srv.Close()
	received := func(typ string) int { mu.Lock(); defer mu.Unlock(); return hooks[typ] }
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()

	f := newFixture(t, sandbox.Config{
		CheckoutBaseURL: srv.URL + "/pay/sandbox",
		WebhookURL:      srv.URL + "/webhooks/sandbox",
	})
	// The webhook is signed and verified with the same fixed clock.
	handler = newRouter(f, f.sb)
	ctx := context.Background()
	if err := f.outbox.Start(ctx); err != nil {
		t.Fatal(err)
	}
	f.sb.SetDeliveryDelay(20 * time.Millisecond)
	f.sb.SetDuplicateDeliveries(2)

	l, _, err := f.svc.CreateLink(ctx, validParams())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get(l.CheckoutURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"25.00 EUR", "2 × Scarf", "20.00 EUR", `action="` + l.ProviderRef + `/pay"`, `id="decline"`} {
		if !strings.Contains(string(page), want) {
			t.Fatalf("checkout page lacks %q:\n%s", want, page)
		}
	}

	req, _ := http.NewRequest("POST", l.CheckoutURL+"/pay", nil)
	req.Header.Set("Accept", "application/json")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Ref, Status string }
	_ = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != 200 || out.Status != "paid" || out.Ref != l.ProviderRef {
		t.Fatalf("pay: %d %+v", resp.StatusCode, out)
	}

	// All three deliveries (one and two duplicates) have been answered.
	waitFor(t, func() bool { return received(sandbox.PaymentSucceeded) == 3 })
	if got, _ := f.store.LinkGet(ctx, l.ID); got.Status != payments.StatusPaid {
		t.Fatalf("after three deliveries the link is %s", got.Status)
	}
	if s := f.statuses(t); len(s) != 2 || s[0] != payments.StatusOpen || s[1] != payments.StatusPaid {
		t.Fatalf("events = %v, want [open paid]", s)
	}

	// Out of order: a decline reported after the payment.
	f.reset(t)
	resp, err = client.Post(l.CheckoutURL+"/fail", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitFor(t, func() bool { return received(sandbox.PaymentFailed) == 3 })
	if got, _ := f.store.LinkGet(ctx, l.ID); got.Status != payments.StatusPaid {
		t.Fatalf("late decline moved the link to %s", got.Status)
	}
	if st, err := f.sb.FetchStatus(ctx, l.ProviderRef); err != nil || st != payments.StatusPaid {
		t.Fatalf("sandbox status %s %v", st, err)
	}
	if s := f.statuses(t); len(s) != 0 {
		t.Fatalf("events after the late decline: %v", s)
	}

	// Refund through the provider flows back by webhook.
	if err := f.sb.Refund(ctx, payments.RefundParams{Ref: l.ProviderRef, Amount: 500, Seq: 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		got, _ := f.store.LinkGet(ctx, l.ID)
		return got.Status == payments.StatusPartiallyRefunded
	})
	if err := f.sb.Refund(ctx, payments.RefundParams{Ref: l.ProviderRef, Amount: 5000, Seq: 2}); !errors.Is(err, payments.ErrInvalidLink) {
		t.Fatalf("over-refund: %v", err)
	}
	evs := f.settle(t)
	if len(evs) != 1 {
		t.Fatalf("events after the refund: %v, want one RefundRecorded", evs)
	}
	if r, ok := evs[0].(payments.RefundRecorded); !ok || r.From != payments.StatusPaid || r.To != payments.StatusPartiallyRefunded {
		t.Fatalf("refund event = %#v", evs[0])
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
