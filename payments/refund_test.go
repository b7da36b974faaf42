package payments_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"guidecall/payments"
	"guidecall/payments/sandbox"
)

// refundFixture is a sandbox whose webhooks reach the service over
// loopback, with the guide API and the admin API mounted.
type refundFixture struct {
	*fixture
	h   http.Handler
	srv *httptest.Server
}

func newRefundFixture(t *testing.T) *refundFixture {
	t.Helper()
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	f := newFixture(t, sandbox.Config{CheckoutBaseURL: srv.URL + "/pay/sandbox", WebhookURL: srv.URL + "/webhooks/sandbox"})
	r := newRouter(f, f.sb).(interface {
		http.Handler
		Mount(string, http.Handler)
	})
	r.Mount("/api/v1/admin/payment-links", f.svc.AdminRoutes())
	handler = r
	if err := f.outbox.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &refundFixture{fixture: f, h: r, srv: srv}
}

// paidLink creates a link on call and pays it at the sandbox checkout.
func (f *refundFixture) paidLink(t *testing.T, call string, amount int64) payments.Link {
	t.Helper()
	ctx := context.Background()
	p := validParams()
	p.CallID, p.Amount, p.Items, p.IdempotencyKey = call, amount, nil, "k-"+call
	l, _, err := f.svc.CreateLink(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(l.CheckoutURL+"/pay", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return f.awaitLink(t, l.ID, func(l payments.Link) bool { return l.Status == payments.StatusPaid })
}

func (f *refundFixture) awaitLink(t *testing.T, id string, cond func(payments.Link) bool) payments.Link {
	t.Helper()
	var l payments.Link
	waitFor(t, func() bool {
		var err error
		l, err = f.store.LinkGet(context.Background(), id)
		return err == nil && cond(l)
	})
	return l
}

type refundAnswer struct {
	Refund payments.Refund `json:"refund"`
	Link   payments.Link   `json:"link"`
}

func (f *refundFixture) refund(t *testing.T, path, token, key, body string, want int) refundAnswer {
	t.Helper()
	hdr := map[string]string{"Idempotency-Key": key}
	if token != "" {
		hdr["Authorization"] = "Bearer " + token
	}
	rec := do(t, f.h, http.MethodPost, path, body, hdr)
	if rec.Code != want {
		t.Fatalf("POST %s %s: %d %s, want %d", path, body, rec.Code, rec.Body, want)
	}
	var a refundAnswer
	if want < 300 {
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

func TestRefundsPartialFullIdempotentAndCapped(t *testing.T) {
	f := newRefundFixture(t)
	ctx := context.Background()
	p := validParams()
	p.CallID, p.IdempotencyKey = "call-open", "k-open"
	open, _, err := f.svc.CreateLink(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	f.refund(t, "/api/v1/calls/call-open/payment-links/"+open.ID+"/refunds", "guide-1", "r0", `{"amount":100}`, http.StatusConflict)

	l := f.paidLink(t, "call-r", 2500)
	path := "/api/v1/calls/call-r/payment-links/" + l.ID + "/refunds"
	f.refund(t, path, "", "r1", `{"amount":500}`, http.StatusUnauthorized)
	f.refund(t, path, "guide-1", "", `{"amount":500}`, http.StatusBadRequest)
	f.refund(t, "/api/v1/calls/other-call/payment-links/"+l.ID+"/refunds", "guide-1", "r1", `{"amount":500}`, http.StatusNotFound)

	a := f.refund(t, path, "guide-1", "r1", `{"amount":500}`, http.StatusCreated)
	if a.Refund.Seq != 1 || a.Refund.Status != payments.RefundAccepted || a.Refund.RequestedBy != "guide-1" {
		t.Fatalf("first refund %+v", a.Refund)
	}
	got := f.awaitLink(t, l.ID, func(l payments.Link) bool { return l.Status == payments.StatusPartiallyRefunded })
	if got.RefundedAmount != 500 {
		t.Fatalf("refunded %d after the provider's event, want 500", got.RefundedAmount)
	}
	// The same request again is the same refund, and the provider is not
	// asked twice.
	a = f.refund(t, path, "guide-1", "r1", `{"amount":500}`, http.StatusOK)
	if a.Refund.Seq != 1 || len(a.Link.Refunds) != 1 {
		t.Fatalf("replay %+v", a)
	}
	f.refund(t, path, "guide-1", "r1", `{"amount":600}`, http.StatusConflict)
	f.refund(t, path, "guide-1", "r2", `{"amount":2001}`, http.StatusUnprocessableEntity)
	f.refund(t, path, "guide-1", "r2", `{"amount":-5}`, http.StatusUnprocessableEntity)

	// 50 concurrent refunds of 100 each for the 2000 left: exactly 20 fit.
	var wg sync.WaitGroup
	codes := make(chan int, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := do(t, f.h, http.MethodPost, path, `{"amount":100}`, map[string]string{
				"Authorization": "Bearer guide-1", "Idempotency-Key": fmt.Sprintf("c%d", i)})
			codes <- rec.Code
		}()
	}
	wg.Wait()
	close(codes)
	byCode := map[int]int{}
	for c := range codes {
		byCode[c]++
	}
	if byCode[http.StatusCreated] != 20 || byCode[http.StatusUnprocessableEntity] != 30 {
		t.Fatalf("concurrent refunds answered %v, want 20 created and 30 refused", byCode)
	}
	got = f.awaitLink(t, l.ID, func(l payments.Link) bool { return l.Status == payments.StatusRefunded })
	if got.RefundedAmount != 2500 || len(got.Refunds) != 21 {
		t.Fatalf("after the refunds: refunded %d with %d refunds, want 2500 with 21", got.RefundedAmount, len(got.Refunds))
	}
	f.refund(t, path, "guide-1", "r3", `{}`, http.StatusUnprocessableEntity) // nothing left
}

func TestRefundWindowAndAdmin(t *testing.T) {
	f := newRefundFixture(t)
	l := f.paidLink(t, "call-w", 4000)
	path := "/api/v1/calls/call-w/payment-links/" + l.ID + "/refunds"
	f.advance(payments.DefaultGuideRefundWindow + time.Minute)
	rec := do(t, f.h, http.MethodPost, path, `{"amount":1000}`, map[string]string{"Authorization": "Bearer guide-1", "Idempotency-Key": "late"})
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "refund window") {
		t.Fatalf("guide refund past the window: %d %s", rec.Code, rec.Body)
	}
	// An admin may; an empty body refunds everything left.
	a := f.refund(t, "/api/v1/admin/payment-links/"+l.ID+"/refunds", "", "admin-1", ``, http.StatusCreated)
	if a.Refund.Amount != 4000 || a.Refund.RequestedBy != "admin" {
		t.Fatalf("admin refund %+v", a.Refund)
	}
	got := f.awaitLink(t, l.ID, func(l payments.Link) bool { return l.Status == payments.StatusRefunded })
	if got.RefundedAmount != 4000 {
		t.Fatalf("refunded %d, want 4000", got.RefundedAmount)
	}
	rec = do(t, f.h, http.MethodGet, "/api/v1/admin/payment-links/"+l.ID, "", nil)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"refunded_amount":4000`) {
		t.Fatalf("admin read: %d %s", rec.Code, rec.Body)
	}
}

// A refund the provider refuses is failed, frees its amount, and a retry
// of its key asks the provider again with the same sequence number.
func TestRefundRefusedByProviderIsRetriedWithTheSameSeq(t *testing.T) {
	f := newRefundFixture(t)
	l := f.paidLink(t, "call-f", 1000)
	prov := &refusingProvider{Provider: f.sb, refuse: 1}
	svc, err := payments.NewService(payments.Config{Store: f.store, Providers: []payments.Provider{prov}, Now: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rf, _, err := svc.Refund(ctx, payments.RequestRefund{LinkID: l.ID, Amount: 1000, IdempotencyKey: "x", RequestedBy: "guide-1"})
	if err == nil || rf.Status != payments.RefundFailed {
		t.Fatalf("refused refund: %+v %v", rf, err)
	}
	rf, created, err := svc.Refund(ctx, payments.RequestRefund{LinkID: l.ID, IdempotencyKey: "x", RequestedBy: "guide-1"})
	if err != nil || created || rf.Status != payments.RefundAccepted || rf.Seq != 1 {
		t.Fatalf("retry: %+v created=%v %v", rf, created, err)
	}
	if fmt.Sprint(prov.seqs) != "[1 1]" {
		t.Fatalf("provider asked with seqs %v, want [1 1]", prov.seqs)
	}
	f.awaitLink(t, l.ID, func(l payments.Link) bool { return l.Status == payments.StatusRefunded && l.RefundedAmount == 1000 })
}

type refusingProvider struct {
	payments.Provider
	mu     sync.Mutex
	refuse int
	seqs   []int
}

func (p *refusingProvider) Refund(ctx context.Context, rp payments.RefundParams) error {
	p.mu.Lock()
	p.seqs = append(p.seqs, rp.Seq)
	refuse := p.refuse > 0
	p.refuse--
	p.mu.Unlock()
	if refuse {
		return fmt.Errorf("scripted refusal")
	}
	return p.Provider.Refund(ctx, rp)
}

// guideLinkAnswer is a link as the guide's API answers it.
type guideLinkAnswer struct {
	ID              string     `json:"id"`
	Status          string     `json:"status"`
	PaidAt          *time.Time `json:"paid_at"`
	Refundable      *int64     `json:"refundable"`
	RefundableUntil *time.Time `json:"refundable_until"`
}

// TestGuideLinksSayWhatIsRefundable: the guide's link data carries what
// it may still refund and until when, by the same rule Refund applies: an
// open link nothing; a paid one all of it until the window ends; less
// after a refund, and nothing once all is asked back. Past the window the
// time is in the past and Refund refuses, as the console then shows.
func TestGuideLinksSayWhatIsRefundable(t *testing.T) {
	f := newRefundFixture(t)
	get := func(path string) guideLinkAnswer {
		t.Helper()
		rec := do(t, f.h, http.MethodGet, path, "", map[string]string{"Authorization": "Bearer guide-1"})
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		var a guideLinkAnswer
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	ctx := context.Background()
	p := validParams()
	p.CallID, p.Amount, p.Items, p.IdempotencyKey = "call-g", 4000, nil, "k-open"
	open, _, err := f.svc.CreateLink(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if a := get("/api/v1/calls/call-g/payment-links/" + open.ID); a.Refundable == nil || *a.Refundable != 0 || a.RefundableUntil != nil {
		t.Fatalf("open link: refundable %v until %v; want 0 and no window", a.Refundable, a.RefundableUntil)
	}

	l := f.paidLink(t, "call-r", 4000)
	base := "/api/v1/calls/call-r/payment-links/"
	a := get(base + l.ID)
	if a.Refundable == nil || *a.Refundable != 4000 || a.RefundableUntil == nil || a.PaidAt == nil ||
		!a.RefundableUntil.Equal(a.PaidAt.Add(payments.DefaultGuideRefundWindow)) {
		t.Fatalf("paid link: refundable %v until %v paid %v; want 4000 until paid + %s", a.Refundable, a.RefundableUntil, a.PaidAt, payments.DefaultGuideRefundWindow)
	}
	var r struct {
		Link guideLinkAnswer `json:"link"`
	}
	rec := do(t, f.h, http.MethodPost, base+l.ID+"/refunds", `{"amount":1000}`, map[string]string{"Authorization": "Bearer guide-1", "Idempotency-Key": "g1"})
	if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &r) != nil || r.Link.Refundable == nil || *r.Link.Refundable != 3000 {
		t.Fatalf("refund 1000: %d %s; want the link with 3000 refundable", rec.Code, rec.Body)
	}
	rec = do(t, f.h, http.MethodGet, base, "", map[string]string{"Authorization": "Bearer guide-1"})
	var list struct {
		Links []guideLinkAnswer `json:"links"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &list) != nil || len(list.Links) != 1 || list.Links[0].Refundable == nil || *list.Links[0].Refundable != 3000 {
		t.Fatalf("list: %d %s; want one link with 3000 refundable", rec.Code, rec.Body)
	}
	f.refund(t, base+l.ID+"/refunds", "guide-1", "g2", `{}`, http.StatusCreated)
	if a := get(base + l.ID); a.Refundable == nil || *a.Refundable != 0 {
		t.Fatalf("all asked back: refundable %v, want 0", a.Refundable)
	}

	// Past the window: the time given is behind the clock, and Refund
	// refuses the guide, the same rule.
	late := f.paidLink(t, "call-late", 2000)
	f.advance(payments.DefaultGuideRefundWindow + time.Second)
	a = get("/api/v1/calls/call-late/payment-links/" + late.ID)
	if a.RefundableUntil == nil || !a.RefundableUntil.Before(f.clock()) || *a.Refundable != 2000 {
		t.Fatalf("late link: until %v (now %v) refundable %v", a.RefundableUntil, f.clock(), a.Refundable)
	}
	rec = do(t, f.h, http.MethodPost, "/api/v1/calls/call-late/payment-links/"+late.ID+"/refunds", `{}`, map[string]string{"Authorization": "Bearer guide-1", "Idempotency-Key": "late"})
	if rec.Code != http.StatusForbidden {
		t.Fatalf("refund past the window: %d %s", rec.Code, rec.Body)
	}
	// One second before its end it is still open.
	f.advance(-2 * time.Second)
	if got := f.svc.GuideRefundOf(mustLink(t, f, late.ID)); got.RefundableUntil == nil || !got.RefundableUntil.After(f.clock()) {
		t.Fatalf("a second before the end: until %v now %v", got.RefundableUntil, f.clock())
	}
	f.refund(t, "/api/v1/calls/call-late/payment-links/"+late.ID+"/refunds", "guide-1", "in-time", `{}`, http.StatusCreated)
}

func mustLink(t *testing.T, f *refundFixture, id string) payments.Link {
	t.Helper()
	l, err := f.store.LinkGet(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
