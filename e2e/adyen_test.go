package e2e

import (
	"bytes"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"guidecall/internal/db/dbtest"
	"guidecall/payments/adyen"
	"guidecall/payments/adyen/adyentest"
	"guidecall/protocol/client/clienttest"
)

// TestAdyenLinkOnTheRealBinary: a node on PostgreSQL started with
// --adyen-* (env twins), --adyen-api-url at the adyentest fake this test
// serves, makes the guide's link an Adyen payment link carrying the
// shopper's locale and country from their join; Adyen's signed
// AUTHORISATION at /webhooks/adyen (answered [accepted], twice, as Adyen
// retries) pays it, both sockets see paid, and the merchant's endpoint
// gets payment.succeeded once. Tampered and live notifications are
// refused with 400.
func TestAdyenLinkOnTheRealBinary(t *testing.T) {
	_, url := dbtest.NewSchema(t)
	const apiKey, merchant = "AQE_e2e_key", "GuidecallE2E"
	const hmacHex = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
	key, _ := hex.DecodeString(hmacHex)
	fake := adyentest.New(t, apiKey, merchant, key)
	n := startPayNode(t, payNodeConfig{name: "adyen", databaseURL: url, env: []string{
		"GUIDECALL_ADYEN_API_KEY=" + apiKey, "GUIDECALL_ADYEN_MERCHANT_ACCOUNT=" + merchant,
		"GUIDECALL_ADYEN_HMAC_KEY=" + hmacHex, "GUIDECALL_ADYEN_API_URL=" + fake.URL(),
		"GUIDECALL_TEST_MERCHANT_RETRY_SCHEDULE=200ms,500ms,1s",
	}})
	recv := newMerchantReceiver(t)
	n.subscribe(t, recv, "", "payment.succeeded")
	call := n.connectCall(t) // joinQueue joins as de-DE
	link := n.sendLink(t, call, 4900, "EUR", "Silk scarf")
	fl, ok := fake.Link(link.ID)
	if link.Provider != adyen.Name || link.Mode != "test" || !ok || link.ProviderRef != fl.ID || link.CheckoutURL != fl.URL {
		t.Fatalf("link %+v, the fake has %+v: want an Adyen test payment link", link, fl)
	}
	for _, r := range fake.Requests() {
		if r.Path == "/v71/paymentLinks" && (r.Body["shopperLocale"] != "de-DE" || r.Body["countryCode"] != "DE") {
			t.Fatalf("payment link asked with shopperLocale %v, countryCode %v: want the shopper's de-DE, DE", r.Body["shopperLocale"], r.Body["countryCode"])
		}
	}
	for _, ws := range []*clienttest.Conn{call.guideWS, call.shopWS} {
		if st := paymentStatus(ws, call.id); st != "open" {
			t.Fatalf("%s: payment.link %s, want open", ws.Name, st)
		}
	}

	post := func(body []byte) (int, string) {
		t.Helper()
		resp, err := http.Post(n.url+"/webhooks/adyen", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	auth := fake.Pay(link.ID)
	tampered := bytes.Replace(auth, []byte(`"value":4900`), []byte(`"value":1`), 1)
	if bytes.Equal(tampered, auth) {
		t.Fatalf("no amount to tamper with in %s", auth)
	}
	if code, _ := post(tampered); code != http.StatusBadRequest {
		t.Fatalf("tampered notification: %d, want 400", code)
	}
	psp, _ := fake.Link(link.ID)
	live := adyentest.Notification(key, true, adyen.NotificationItem{
		PSPReference: psp.PaymentPSP, MerchantAccountCode: merchant, MerchantReference: link.ID,
		Amount: adyen.Amount{Value: 4900, Currency: "EUR"}, EventCode: adyen.EventAuthorisation, Success: "true",
		AdditionalData: map[string]string{"paymentLinkId": link.ProviderRef},
	})
	if code, _ := post(live); code != http.StatusBadRequest {
		t.Fatalf("live notification at a test node: %d, want 400", code)
	}
	for range 2 { // Adyen sends a notification again until it is accepted
		if code, body := post(auth); code != http.StatusOK || strings.TrimSpace(body) != "[accepted]" {
			t.Fatalf("AUTHORISATION: %d %q, want 200 [accepted]", code, body)
		}
	}
	for _, ws := range []*clienttest.Conn{call.guideWS, call.shopWS} {
		if st := paymentStatus(ws, call.id); st != "paid" {
			t.Fatalf("%s: payment.link %s after AUTHORISATION, want paid", ws.Name, st)
		}
	}
	recv.await(t, "payment.succeeded", 20*time.Second)
	d := awaitDelivery(t, n.url, n.adminToken, "payment.succeeded", 10*time.Second, func(d adminDelivery) bool { return d.Status == "succeeded" })
	if st := linkStatus(t, n.url, call.id, call.guideToken); st != "paid" {
		t.Fatalf("link %s, want paid", st)
	}
	logs := n.log()
	if got := strings.Count(logs, `msg="webhook refused" component=payments provider=adyen`); got != 2 {
		t.Errorf("node logged %d refused Adyen notifications, want 2 (tampered, live)", got)
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if len(recv.received) != 1 || recv.received[d.EventID] != 1 || recv.bad != 0 {
		t.Fatalf("merchant received %v (%d bad), want payment.succeeded %s once", recv.received, recv.bad, d.EventID)
	}
}
