package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"guidecall/internal/db/dbtest"
	"guidecall/protocol/client/clienttest"
	"guidecall/webhook"
)

// stripeMock is stripe-mock's URL, or a skip (a failure with
// GUIDECALL_REQUIRE_STRIPE_MOCK=1).
func stripeMock(t *testing.T) string {
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
		t.Fatalf("stripe-mock required but not answering at %s: %v", u, err)
	}
	t.Skipf("stripe-mock not answering at %s: %v", u, err)
	return ""
}

// TestStripeLinkOnTheRealBinary: a node started with --stripe-* (env
// twins) on PostgreSQL makes the guide's link a Checkout Session at
// stripe-mock, takes Stripe's signed events at /webhooks/stripe (konbini:
// completed unpaid, then the asynchronous success), refuses a bad
// signature, and tells the merchant payment.succeeded once.
func TestStripeLinkOnTheRealBinary(t *testing.T) {
	mock := stripeMock(t)
	_, url := dbtest.NewSchema(t)
	const whsec = "whsec_e2e_stripe"
	n := startPayNode(t, payNodeConfig{name: "stripe", databaseURL: url, env: []string{
		"GUIDECALL_STRIPE_SECRET_KEY=sk_test_e2e", "GUIDECALL_STRIPE_WEBHOOK_SECRET=" + whsec, "GUIDECALL_STRIPE_API_URL=" + mock,
		"GUIDECALL_TEST_MERCHANT_RETRY_SCHEDULE=200ms,500ms,1s",
	}})
	recv := newMerchantReceiver(t)
	n.subscribe(t, recv, "", "payment.succeeded")
	call := n.connectCall(t)
	callID, guideToken, guideWS, shopWS := call.id, call.guideToken, call.guideWS, call.shopWS
	link := n.sendLink(t, call, 4200, "EUR", "Konbini test")
	if link.Provider != "stripe" || !strings.HasPrefix(link.ProviderRef, "cs_test_") || !strings.HasPrefix(link.CheckoutURL, "https://") || link.Mode != "test" {
		t.Fatalf("link %+v: want a Stripe test-mode Checkout Session", link)
	}

	post := func(body string, sig string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, n.url+"/webhooks/stripe", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if sig != "" {
			req.Header.Set("Stripe-Signature", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	event := func(id, typ, paymentStatus string) string {
		return fmt.Sprintf(`{"id":%q,"object":"event","api_version":"2025-08-27.basil","created":%d,"livemode":false,"type":%q,`+
			`"data":{"object":{"id":%q,"object":"checkout.session","payment_status":%q,"metadata":{"link_id":%q}}}}`,
			id, time.Now().Unix(), typ, link.ProviderRef, paymentStatus, link.ID)
	}
	sign := func(body string) string { return webhook.Sign([]byte(whsec), time.Now(), []byte(body)) }

	completed := event("evt_e2e_completed", "checkout.session.completed", "unpaid")
	if code := post(completed, ""); code != http.StatusBadRequest {
		t.Fatalf("unsigned: %d, want 400", code)
	}
	if code := post(completed, webhook.Sign([]byte("whsec_other"), time.Now(), []byte(completed))); code != http.StatusBadRequest {
		t.Fatalf("other secret: %d, want 400", code)
	}
	if code := post(completed, webhook.Sign([]byte(whsec), time.Now().Add(6*time.Minute), []byte(completed))); code != http.StatusBadRequest {
		t.Fatalf("6 minutes ahead: %d, want 400", code)
	}
	if code := post(completed, sign(completed)); code != http.StatusOK {
		t.Fatalf("completed: %d", code)
	}
	for _, ws := range []*clienttest.Conn{guideWS, shopWS} {
		if st := paymentStatus(ws, callID); st != "open" { // the payment.link of the creation
			t.Fatalf("%s: %s", ws.Name, st)
		}
		if st := paymentStatus(ws, callID); st != "processing" {
			t.Fatalf("%s: payment.link %s after completed/unpaid, want processing", ws.Name, st)
		}
	}
	succeeded := event("evt_e2e_async_ok", "checkout.session.async_payment_succeeded", "paid")
	for range 3 { // Stripe may deliver an event more than once
		if code := post(succeeded, sign(succeeded)); code != http.StatusOK {
			t.Fatalf("async succeeded: %d", code)
		}
	}
	if st := paymentStatus(guideWS, callID); st != "paid" {
		t.Fatalf("payment.link %s after the async success, want paid", st)
	}
	recv.await(t, "payment.succeeded", 20*time.Second)
	// A late failure of the same session changes nothing.
	failed := event("evt_e2e_async_failed", "checkout.session.async_payment_failed", "unpaid")
	if code := post(failed, sign(failed)); code != http.StatusOK {
		t.Fatalf("late failure: %d", code)
	}
	if st := linkStatus(t, n.url, callID, guideToken); st != "paid" {
		t.Fatalf("link %s after a late failure, want paid", st)
	}
	// The node's own account of it: three refusals, two repeats dropped,
	// the late failure ignored as stale.
	logs := n.log()
	for msg, want := range map[string]int{`msg="webhook refused" component=payments provider=stripe`: 3, `msg="duplicate webhook ignored"`: 2, `msg="stale webhook ignored"`: 1} {
		if got := strings.Count(logs, msg); got != want {
			t.Errorf("node logged %s %d times, want %d", msg, got, want)
		}
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if len(recv.received) != 1 || recv.bad != 0 {
		t.Fatalf("merchant received %v (%d bad), want payment.succeeded once", recv.received, recv.bad)
	}
}
