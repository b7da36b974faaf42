// Package adyentest is a local fake of the parts of Adyen's Checkout API
// the adyen provider speaks (POST /paymentLinks, GET /paymentLinks/{id},
// POST /payments/{pspReference}/refunds), for tests. It checks the shape
// of every request (X-API-Key, Idempotency-Key, JSON body fields), keeps
// payment links, replays an answer for a repeated idempotency key, and
// makes signed standard notifications the way Adyen does.
package adyentest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"guidecall/payments/adyen"
)

// Request is one request as the fake saw it.
type Request struct {
	Method, Path   string
	Header         http.Header
	Body           map[string]any
	Status         int
	IdempotencyKey string
}

// Link is a payment link the fake keeps.
type Link struct {
	ID, Reference, Status, URL string
	Amount                     adyen.Amount
	ExpiresAt                  string
	PaymentPSP                 string
}

// Fake is the fake Checkout API.
type Fake struct {
	APIKey, MerchantAccount string
	HMACKey                 []byte // hex-decoded

	srv *httptest.Server
	mu  sync.Mutex
	// Fail makes the next n requests answer 500 (after recording them).
	fail     int
	seq      int
	links    map[string]*Link
	byKey    map[string]idem
	requests []Request
	problems []string
}

type idem struct {
	body   string
	status int
	answer []byte
}

// New starts a fake; it stops with the test.
func New(t testing.TB, apiKey, merchantAccount string, hmacKey []byte) *Fake {
	f := &Fake{APIKey: apiKey, MerchantAccount: merchantAccount, HMACKey: hmacKey,
		links: map[string]*Link{}, byKey: map[string]idem{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() {
		for _, p := range f.Problems() {
			t.Errorf("adyen fake: %s", p)
		}
	})
	return f
}

// URL is the base URL to give the provider (APIURL).
func (f *Fake) URL() string { return f.srv.URL + "/v71" }

// FailNext makes the next n requests answer 500.
func (f *Fake) FailNext(n int) { f.mu.Lock(); f.fail = n; f.mu.Unlock() }

// Requests returns every request so far.
func (f *Fake) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.requests...)
}

// Problems lists every request that did not have Adyen's shape; the fake
// answers them 4xx too, and fails the test at its end.
func (f *Fake) Problems() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.problems...)
}

// Link returns the payment link of our reference (the guidecall link id).
func (f *Fake) Link(reference string) (Link, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range f.links {
		if l.Reference == reference {
			return *l, true
		}
	}
	return Link{}, false
}

// SetStatus sets a payment link's status (active, paymentPending,
// completed, expired).
func (f *Fake) SetStatus(id, status string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if l := f.links[id]; l != nil {
		l.Status = status
	}
}

// Pay completes the link of reference and returns the signed AUTHORISATION
// notification Adyen would send.
func (f *Fake) Pay(reference string) []byte {
	f.mu.Lock()
	var l *Link
	for _, x := range f.links {
		if x.Reference == reference {
			l = x
		}
	}
	if l == nil {
		f.mu.Unlock()
		panic("adyentest: no payment link for " + reference)
	}
	f.seq++
	l.Status, l.PaymentPSP = "completed", fmt.Sprintf("PSP%016d", f.seq)
	it := adyen.NotificationItem{
		PSPReference: l.PaymentPSP, MerchantAccountCode: f.MerchantAccount, MerchantReference: l.Reference,
		Amount: l.Amount, EventCode: adyen.EventAuthorisation, Success: "true",
		EventDate:      time.Now().UTC().Format(time.RFC3339),
		AdditionalData: map[string]string{"paymentLinkId": l.ID},
	}
	f.mu.Unlock()
	return Notification(f.HMACKey, false, it)
}

// Notification is a standard notification body of one item, signed with
// key (nil: unsigned).
func Notification(key []byte, live bool, it adyen.NotificationItem) []byte {
	if it.AdditionalData == nil {
		it.AdditionalData = map[string]string{}
	}
	if key != nil {
		it.AdditionalData["hmacSignature"] = adyen.Sign(key, it)
	}
	b, err := json.Marshal(map[string]any{
		"live":              strconv.FormatBool(live),
		"notificationItems": []any{map[string]any{"NotificationRequestItem": it}},
	})
	if err != nil {
		panic(err)
	}
	return b
}

var (
	createKey = regexp.MustCompile(`^create-[A-Za-z0-9_-]+$`)
	refundKey = regexp.MustCompile(`^refund-[A-Za-z0-9_-]+-[1-9][0-9]*$`)
)

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &body)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rec := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body, IdempotencyKey: r.Header.Get("Idempotency-Key")}
	status, answer := f.route(r, raw, body)
	rec.Status = status
	f.requests = append(f.requests, rec)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(answer)
}

func (f *Fake) problem(status int, code, format string, args ...any) (int, []byte) {
	msg := fmt.Sprintf(format, args...)
	f.problems = append(f.problems, msg)
	return errorBody(status, code, msg)
}

func errorBody(status int, code, msg string) (int, []byte) {
	b, _ := json.Marshal(map[string]any{"status": status, "errorCode": code, "message": msg, "errorType": "validation"})
	return status, b
}

func (f *Fake) route(r *http.Request, raw []byte, body map[string]any) (int, []byte) {
	if r.Header.Get("X-API-Key") != f.APIKey {
		return f.problem(http.StatusUnauthorized, "000", "X-API-Key %q", r.Header.Get("X-API-Key"))
	}
	if f.fail > 0 {
		f.fail--
		return errorBody(http.StatusInternalServerError, "905", "scripted failure")
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/v71")
	if !ok {
		return f.problem(http.StatusNotFound, "000", "path %s is not under /v71", r.URL.Path)
	}
	key := r.Header.Get("Idempotency-Key")
	if r.Method == http.MethodPost {
		if r.Header.Get("Content-Type") != "application/json" {
			return f.problem(http.StatusUnsupportedMediaType, "000", "Content-Type %q", r.Header.Get("Content-Type"))
		}
		if key == "" {
			return f.problem(http.StatusBadRequest, "000", "POST %s without Idempotency-Key", path)
		}
		if prev, ok := f.byKey[key]; ok {
			if prev.body != string(raw) {
				return f.problem(http.StatusUnprocessableEntity, "704", "Idempotency-Key %s reused with another body", key)
			}
			return prev.status, prev.answer
		}
	}
	var status int
	var answer []byte
	switch {
	case r.Method == http.MethodPost && path == "/paymentLinks":
		status, answer = f.createLink(key, body)
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/paymentLinks/"):
		l := f.links[strings.TrimPrefix(path, "/paymentLinks/")]
		if l == nil {
			return errorBody(http.StatusNotFound, "000", "no such payment link")
		}
		return http.StatusOK, linkJSON(l)
	case r.Method == http.MethodPost && strings.HasPrefix(path, "/payments/") && strings.HasSuffix(path, "/refunds"):
		status, answer = f.refund(key, strings.TrimSuffix(strings.TrimPrefix(path, "/payments/"), "/refunds"), body)
	default:
		return f.problem(http.StatusNotFound, "000", "%s %s is not an endpoint the provider should call", r.Method, path)
	}
	if status/100 == 2 {
		f.byKey[key] = idem{body: string(raw), status: status, answer: answer}
	}
	return status, answer
}

func amountOf(body map[string]any) (adyen.Amount, bool) {
	a, _ := body["amount"].(map[string]any)
	v, vok := a["value"].(float64)
	c, cok := a["currency"].(string)
	return adyen.Amount{Value: int64(v), Currency: c}, vok && cok && v > 0 && len(c) == 3 && len(a) == 2
}

func (f *Fake) createLink(key string, body map[string]any) (int, []byte) {
	ref, _ := body["reference"].(string)
	if ref == "" || key != "create-"+ref || !createKey.MatchString(key) {
		return f.problem(http.StatusBadRequest, "000", "create: reference %q with Idempotency-Key %q", ref, key)
	}
	amount, ok := amountOf(body)
	if !ok {
		return f.problem(http.StatusUnprocessableEntity, "000", "create: amount %v", body["amount"])
	}
	if body["merchantAccount"] != f.MerchantAccount {
		return f.problem(http.StatusForbidden, "000", "create: merchantAccount %v", body["merchantAccount"])
	}
	if u, _ := body["returnUrl"].(string); !strings.HasPrefix(u, "http") {
		return f.problem(http.StatusUnprocessableEntity, "000", "create: returnUrl %q", u)
	}
	exp, _ := body["expiresAt"].(string)
	if exp != "" {
		if _, err := time.Parse(time.RFC3339, exp); err != nil {
			return f.problem(http.StatusUnprocessableEntity, "000", "create: expiresAt %q", exp)
		}
	}
	f.seq++
	l := &Link{ID: fmt.Sprintf("PL%014X", f.seq), Reference: ref, Status: "active", Amount: amount, ExpiresAt: exp}
	l.URL = "https://test.adyen.link/" + l.ID
	f.links[l.ID] = l
	return http.StatusCreated, linkJSON(l)
}

func linkJSON(l *Link) []byte {
	b, _ := json.Marshal(map[string]any{"id": l.ID, "url": l.URL, "status": l.Status, "reference": l.Reference,
		"amount": l.Amount, "expiresAt": l.ExpiresAt, "reusable": false})
	return b
}

func (f *Fake) refund(key, psp string, body map[string]any) (int, []byte) {
	if !refundKey.MatchString(key) {
		return f.problem(http.StatusBadRequest, "000", "refund: Idempotency-Key %q", key)
	}
	var paid *Link
	for _, l := range f.links {
		if l.PaymentPSP == psp {
			paid = l
		}
	}
	if paid == nil {
		return f.problem(http.StatusUnprocessableEntity, "167", "refund: no payment %q", psp)
	}
	amount, ok := amountOf(body)
	if !ok || amount.Currency != paid.Amount.Currency || amount.Value > paid.Amount.Value {
		return f.problem(http.StatusUnprocessableEntity, "000", "refund: amount %v of a %v payment", body["amount"], paid.Amount)
	}
	if body["merchantAccount"] != f.MerchantAccount || body["reference"] == "" || body["reference"] == nil {
		return f.problem(http.StatusUnprocessableEntity, "000", "refund: merchantAccount %v reference %v", body["merchantAccount"], body["reference"])
	}
	f.seq++
	b, _ := json.Marshal(map[string]any{"merchantAccount": f.MerchantAccount, "paymentPspReference": psp,
		"pspReference": fmt.Sprintf("RF%016d", f.seq), "reference": body["reference"], "status": "received", "amount": amount})
	return http.StatusCreated, b
}
