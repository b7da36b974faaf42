package stripe_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"guidecall/payments"
	"guidecall/payments/stripe"
)

const (
	testKey       = "sk_test_guidecall"
	liveKey       = "sk_live_guidecall"
	webhookSecret = "whsec_guidecall_test"
)

// fixtureTime is the "created" of every fixture, and the clock the
// webhook tests verify at.
var fixtureTime = time.Unix(1767225600, 0)

// stripeMockURL is where stripe-mock listens (.ci/run starts it). Without
// it the tests that need it skip, unless GUIDECALL_REQUIRE_STRIPE_MOCK=1.
func stripeMockURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("STRIPE_MOCK_URL")
	if u == "" {
		u = "http://127.0.0.1:12111"
	}
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(u + "/v1/charges")
	if err == nil {
		resp.Body.Close()
		return u
	}
	if os.Getenv("GUIDECALL_REQUIRE_STRIPE_MOCK") == "1" {
		t.Fatalf("stripe-mock is required (GUIDECALL_REQUIRE_STRIPE_MOCK=1) but does not answer at %s: %v", u, err)
	}
	t.Skipf("stripe-mock does not answer at %s (%v): run `stripe-mock -http-addr 127.0.0.1:12111 -https-addr 127.0.0.1:12112` or set STRIPE_MOCK_URL", u, err)
	return ""
}

// recorded is one request as the recording proxy saw it.
type recorded struct {
	Method, Path string
	Header       http.Header
	Form         url.Values
	Status       int
}

// recorder sits between the provider and stripe-mock: it keeps every
// request, and can drop the connection of the first few to make stripe-go
// retry.
type recorder struct {
	mu       sync.Mutex
	requests []recorded
	failNext int
}

// formList is the indexed form list name[0], name[1]… of a request.
func (r recorded) formList(name string) []string {
	var out []string
	for i := 0; r.Form.Has(fmt.Sprintf("%s[%d]", name, i)); i++ {
		out = append(out, r.Form.Get(fmt.Sprintf("%s[%d]", name, i)))
	}
	return out
}

func (r *recorder) all() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.requests...)
}

func newRecorder(t *testing.T, upstream string) (*recorder, string) {
	t.Helper()
	target, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		form, _ := url.ParseQuery(string(body))
		req.Body = io.NopCloser(strings.NewReader(string(body)))
		req.ContentLength = int64(len(body))
		rec.mu.Lock()
		fail := rec.failNext > 0
		if fail {
			rec.failNext--
		}
		rec.requests = append(rec.requests, recorded{Method: req.Method, Path: req.URL.Path, Header: req.Header.Clone(), Form: form, Status: map[bool]int{true: 0, false: 200}[fail]})
		rec.mu.Unlock()
		if fail {
			// The request reached "Stripe" and the answer was lost: the
			// case an idempotency key exists for.
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return rec, srv.URL
}

func newProvider(t *testing.T, key, apiURL string, now time.Time) *stripe.Provider {
	t.Helper()
	p, err := stripe.New(stripe.Config{
		SecretKey: key, WebhookSecret: webhookSecret, APIURL: apiURL,
		SuccessURL:         "https://shop.example/?paid={LINK_ID}&session={CHECKOUT_SESSION_ID}",
		CancelURL:          "https://shop.example/?canceled={LINK_ID}",
		PaymentMethodTypes: map[string][]string{"EUR": {"card", "ideal"}, "JPY": {"card", "konbini"}, "*": {"card"}},
		Now:                func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCreateLinkRequestShape(t *testing.T) {
	rec, api := newRecorder(t, stripeMockURL(t))
	now := time.Now()
	p := newProvider(t, testKey, api, now)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pl, err := p.CreateLink(ctx, payments.ProviderLinkParams{
		LinkID: "pl_shape", CallID: "call_shape", Amount: 2500, Currency: "EUR",
		Items:       []payments.Item{{Name: "Scarf", Quantity: 2, UnitAmount: 1000}, {Name: "Gift wrap", Quantity: 1, UnitAmount: 500}},
		Description: "blue scarf", ExpiresAt: now.Add(2 * time.Hour),
	})
	if err != nil {
		t.Fatalf("CreateLink against stripe-mock: %v", err)
	}
	if !strings.HasPrefix(pl.Ref, "cs_test_") || !strings.HasPrefix(pl.CheckoutURL, "https://") {
		t.Fatalf("got ref %q url %q, want a test-mode session and its URL", pl.Ref, pl.CheckoutURL)
	}
	reqs := rec.all()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1: %+v", len(reqs), reqs)
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != "/v1/checkout/sessions" {
		t.Fatalf("got %s %s, want POST /v1/checkout/sessions", r.Method, r.Path)
	}
	if got := r.Header.Get("Idempotency-Key"); got != "create-pl_shape" {
		t.Errorf("Idempotency-Key = %q, want create-pl_shape", got)
	}
	want := map[string]string{
		"mode":                                          "payment",
		"client_reference_id":                           "pl_shape",
		"metadata[link_id]":                             "pl_shape",
		"metadata[call_id]":                             "call_shape",
		"payment_intent_data[metadata][link_id]":        "pl_shape",
		"payment_intent_data[description]":              "blue scarf",
		"adaptive_pricing[enabled]":                     "false",
		"success_url":                                   "https://shop.example/?paid=pl_shape&session={CHECKOUT_SESSION_ID}",
		"cancel_url":                                    "https://shop.example/?canceled=pl_shape",
		"line_items[0][quantity]":                       "2",
		"line_items[0][price_data][currency]":           "eur",
		"line_items[0][price_data][unit_amount]":        "1000",
		"line_items[0][price_data][product_data][name]": "Scarf",
		"line_items[1][price_data][unit_amount]":        "500",
		"payment_method_types[0]":                       "card",
		"payment_method_types[1]":                       "ideal",
		"expires_at":                                    strconv.FormatInt(now.Add(2*time.Hour).Unix(), 10),
	}
	for k, v := range want {
		if got := r.Form.Get(k); got != v {
			t.Errorf("form %s = %q, want %q", k, got, v)
		}
	}
	if r.Form.Has("payment_link") || strings.Contains(r.Path, "payment_links") {
		t.Error("a Payment Link was requested; links must be Checkout Sessions")
	}
}

// The shopper comes back to the page they joined from, with the link and
// the outcome in its query (its own query kept, its fragment dropped).
func TestCreateLinkReturnsToTheShoppersPage(t *testing.T) {
	rec, api := newRecorder(t, stripeMockURL(t))
	now := time.Now()
	p := newProvider(t, testKey, api, now)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := p.CreateLink(ctx, payments.ProviderLinkParams{
		LinkID: "pl_page", CallID: "call_page", Amount: 1200, Currency: "EUR", ExpiresAt: now.Add(time.Hour),
		ReturnURL: "https://shop.example/products/scarf?color=blue#reviews",
	}); err != nil {
		t.Fatalf("CreateLink against stripe-mock: %v", err)
	}
	reqs := rec.all()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	for k, v := range map[string]string{
		"success_url": "https://shop.example/products/scarf?color=blue&payment=success&payment_link=pl_page",
		"cancel_url":  "https://shop.example/products/scarf?color=blue&payment=canceled&payment_link=pl_page",
	} {
		if got := reqs[0].Form.Get(k); got != v {
			t.Errorf("form %s = %q, want %q", k, got, v)
		}
	}
}

// The checkout page speaks the shopper's language: their locale, mapped
// to Stripe's list, reaches the session; one Stripe lacks is "auto", and
// stripe-mock (which checks the enum) takes every one.
func TestCreateLinkPassesTheShoppersLocale(t *testing.T) {
	rec, api := newRecorder(t, stripeMockURL(t))
	now := time.Now()
	p := newProvider(t, testKey, api, now)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i, c := range []struct{ locale, want string }{{"nl-NL", "nl"}, {"es-MX", "es-419"}, {"ar", "auto"}, {"", "auto"}} {
		if _, err := p.CreateLink(ctx, payments.ProviderLinkParams{LinkID: fmt.Sprintf("pl_loc_%d", i), CallID: "c", Amount: 1000,
			Currency: "EUR", Locale: c.locale, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatalf("CreateLink %q: %v", c.locale, err)
		}
		reqs := rec.all()
		if got := reqs[len(reqs)-1].Form.Get("locale"); got != c.want {
			t.Errorf("locale %q: form locale %q, want %q", c.locale, got, c.want)
		}
	}
}

// Payment method types follow the shopper's country within a currency,
// then the currency, then the default.
func TestPaymentMethodsByCountry(t *testing.T) {
	rec, api := newRecorder(t, stripeMockURL(t))
	now := time.Now()
	p, err := stripe.New(stripe.Config{
		SecretKey: testKey, WebhookSecret: webhookSecret, APIURL: api,
		SuccessURL: "https://shop.example/ok", CancelURL: "https://shop.example/no",
		PaymentMethodTypes: map[string][]string{"EUR/NL": {"ideal", "card"}, "EUR": {"card"}, "*": {"card"}},
		Now:                func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, c := range []struct{ country, want string }{{"NL", "[ideal card]"}, {"DE", "[card]"}, {"", "[card]"}} {
		if _, err := p.CreateLink(ctx, payments.ProviderLinkParams{LinkID: "pl_m_" + c.country, CallID: "c", Amount: 1000,
			Currency: "EUR", Country: c.country, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatalf("CreateLink %s: %v", c.country, err)
		}
		reqs := rec.all()
		if got := fmt.Sprint(reqs[len(reqs)-1].formList("payment_method_types")); got != c.want {
			t.Errorf("country %q: payment_method_types %s, want %s", c.country, got, c.want)
		}
	}
}

func TestCreateLinkClampsExpiryAndConvertsUnits(t *testing.T) {
	rec, api := newRecorder(t, stripeMockURL(t))
	now := time.Now()
	p := newProvider(t, testKey, api, now)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cases := []struct {
		currency   string
		amount     int64
		expires    time.Duration
		wantUnit   string
		wantExpiry time.Duration
		wantMethod string
	}{
		// Stripe's window is 30 min to 24 h.
		{"JPY", 4200, 10 * time.Minute, "4200", 31 * time.Minute, "konbini"},
		{"USD", 1999, 48 * time.Hour, "1999", 24*time.Hour - 2*time.Minute, ""},
		// ISK is 0-decimal in ISO, counted in hundredths by Stripe.
		{"ISK", 500, time.Hour, "50000", time.Hour, ""},
		{"KWD", 12340, time.Hour, "12340", time.Hour, ""},
	}
	for i, c := range cases {
		if _, err := p.CreateLink(ctx, payments.ProviderLinkParams{
			LinkID: fmt.Sprintf("pl_unit_%d", i), CallID: "call_unit", Amount: c.amount, Currency: c.currency,
			ExpiresAt: now.Add(c.expires),
		}); err != nil {
			t.Fatalf("%s: %v", c.currency, err)
		}
		r := rec.all()[i]
		if got := r.Form.Get("line_items[0][price_data][unit_amount]"); got != c.wantUnit {
			t.Errorf("%s %d: unit_amount %s, want %s", c.currency, c.amount, got, c.wantUnit)
		}
		if got, want := r.Form.Get("expires_at"), strconv.FormatInt(now.Add(c.wantExpiry).Unix(), 10); got != want {
			t.Errorf("%s: expires_at %s, want %s", c.currency, got, want)
		}
		if c.wantMethod != "" && r.Form.Get("payment_method_types[1]") != c.wantMethod {
			t.Errorf("%s: payment_method_types %v, want card and %s", c.currency, r.Form["payment_method_types[1]"], c.wantMethod)
		}
	}
	// A three-decimal amount Stripe cannot take exactly is refused, not rounded.
	_, err := p.CreateLink(ctx, payments.ProviderLinkParams{LinkID: "pl_kwd", CallID: "c", Amount: 12345, Currency: "KWD"})
	if !errors.Is(err, payments.ErrInvalidLink) {
		t.Fatalf("KWD 12.345: got %v, want ErrInvalidLink", err)
	}
	if n := len(rec.all()); n != len(cases) {
		t.Fatalf("a refused amount reached Stripe: %d requests", n)
	}
}

// stripe-go retries a request whose answer was lost; the retry must carry
// the same key, so that Stripe answers it with the first session.
func TestRetriesKeepTheIdempotencyKey(t *testing.T) {
	rec, api := newRecorder(t, stripeMockURL(t))
	rec.failNext = 1
	p := newProvider(t, testKey, api, time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := p.CreateLink(ctx, payments.ProviderLinkParams{LinkID: "pl_retry", CallID: "c", Amount: 100, Currency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	reqs := rec.all()
	if len(reqs) != 2 || reqs[0].Status != 0 {
		t.Fatalf("got %d requests, want a failed one and its retry", len(reqs))
	}
	for _, r := range reqs {
		if got := r.Header.Get("Idempotency-Key"); got != "create-pl_retry" {
			t.Fatalf("attempt with Idempotency-Key %q, want create-pl_retry", got)
		}
	}
}

func TestProviderErrorIsReturned(t *testing.T) {
	rec, api := newRecorder(t, stripeMockURL(t))
	rec.failNext = 10
	p, err := stripe.New(stripe.Config{SecretKey: testKey, WebhookSecret: webhookSecret, APIURL: api,
		SuccessURL: "https://s/", CancelURL: "https://c/", MaxNetworkRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := p.CreateLink(ctx, payments.ProviderLinkParams{LinkID: "pl_down", CallID: "c", Amount: 100, Currency: "EUR"}); err == nil {
		t.Fatal("CreateLink succeeded while Stripe never answered")
	}
	if n := len(rec.all()); n != 1 {
		t.Fatalf("%d attempts with retries off, want 1", n)
	}
}

func TestRefundAndFetchStatus(t *testing.T) {
	rec, api := newRecorder(t, stripeMockURL(t))
	p := newProvider(t, testKey, api, time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Refund(ctx, payments.RefundParams{Ref: "cs_test_refund", LinkID: "pl_ref", CallID: "call_ref", Amount: 700, Currency: "EUR", Seq: 2}); err != nil {
		t.Fatalf("Refund against stripe-mock: %v", err)
	}
	reqs := rec.all()
	if len(reqs) != 2 {
		t.Fatalf("got %d requests, want the session read and the refund", len(reqs))
	}
	if r := reqs[0]; r.Method != http.MethodGet || r.Path != "/v1/checkout/sessions/cs_test_refund" {
		t.Fatalf("first request %s %s", r.Method, r.Path)
	}
	r := reqs[1]
	if r.Method != http.MethodPost || r.Path != "/v1/refunds" {
		t.Fatalf("second request %s %s, want POST /v1/refunds", r.Method, r.Path)
	}
	if got := r.Header.Get("Idempotency-Key"); got != "refund-pl_ref-2" {
		t.Errorf("Idempotency-Key %q, want refund-pl_ref-2", got)
	}
	if r.Form.Get("payment_intent") == "" || r.Form.Get("metadata[link_id]") != "pl_ref" {
		t.Errorf("refund form %v lacks payment_intent or link metadata", r.Form)
	}
	st, err := p.FetchStatus(ctx, "cs_test_status")
	if err != nil || !st.Valid() {
		t.Fatalf("FetchStatus: %q, %v", st, err)
	}
	if got := rec.all()[2].Form; got == nil {
		t.Fatal("no FetchStatus request")
	}
	if q := rec.all()[2]; q.Path != "/v1/checkout/sessions/cs_test_status" {
		t.Fatalf("FetchStatus asked %s", q.Path)
	}
}

// A key's mode is the only mode it touches: a live provider never reads or
// refunds a test session, whatever a link says.
func TestModesAreNeverMixed(t *testing.T) {
	rec, api := newRecorder(t, stripeMockURL(t))
	live := newProvider(t, liveKey, api, time.Now())
	ctx := context.Background()
	if _, err := live.FetchStatus(ctx, "cs_test_abc"); !errors.Is(err, payments.ErrInvalidLink) {
		t.Fatalf("live FetchStatus of a test session: %v", err)
	}
	if err := live.Refund(ctx, payments.RefundParams{Ref: "cs_test_abc", LinkID: "pl", Amount: 1, Seq: 1}); !errors.Is(err, payments.ErrInvalidLink) {
		t.Fatalf("live Refund of a test session: %v", err)
	}
	if n := len(rec.all()); n != 0 {
		t.Fatalf("%d requests reached Stripe", n)
	}
	if _, err := stripe.New(stripe.Config{SecretKey: "pk_test_x", WebhookSecret: "w", SuccessURL: "s", CancelURL: "c"}); err == nil {
		t.Fatal("a publishable key was accepted")
	}
}

func TestStripeMockOverHTTPS(t *testing.T) {
	stripeMockURL(t)
	u := os.Getenv("STRIPE_MOCK_HTTPS_URL")
	if u == "" {
		u = "https://127.0.0.1:12112"
	}
	// stripe-mock's certificate is self-signed; this checks that the HTTPS
	// port CI binds is the same stripe-mock, not that its certificate is good.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	p, err := stripe.New(stripe.Config{SecretKey: testKey, WebhookSecret: webhookSecret, APIURL: u, HTTPClient: c,
		SuccessURL: "https://s/", CancelURL: "https://c/"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.CreateLink(context.Background(), payments.ProviderLinkParams{LinkID: "pl_tls", CallID: "c", Amount: 100, Currency: "EUR"}); err != nil {
		t.Fatalf("CreateLink over stripe-mock's HTTPS port: %v", err)
	}
}
