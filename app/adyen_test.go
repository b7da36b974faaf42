package app_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"guidecall/internal/config"
	"guidecall/payments/adyen"
	"guidecall/payments/adyen/adyentest"
	"guidecall/protocol"
)

const adyenHMAC = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"

// POST /webhooks/adyen exists only when Adyen is configured; it refuses
// unsigned and badly signed notifications with 400 and answers a good one
// [accepted]. With Stripe first in the route and its API down, the guide's
// link comes from Adyen, and its notification pays it.
func TestAdyenLinkAndWebhookRoute(t *testing.T) {
	t.Parallel()
	plain := startApp(t, nil)
	if r := do(t, "POST", plain.URL()+"/webhooks/adyen", "", strings.NewReader(`{}`), nil); r.status != http.StatusNotFound {
		t.Fatalf("without Adyen configured: %d %s, want 404", r.status, r.body)
	}

	key, _ := hex.DecodeString(adyenHMAC)
	fake := adyentest.New(t, "AQE_app", "GuidecallApp", key)
	node := startAppConfig(t, func(c *config.Serve) {
		c.Stripe = config.Stripe{SecretKey: "sk_test_app", WebhookSecret: "whsec_app", APIURL: "http://127.0.0.1:1"}
		c.Adyen = config.Adyen{APIKey: "AQE_app", MerchantAccount: "GuidecallApp", HMACKey: adyenHMAC, APIURL: fake.URL()}
		c.PaymentRoutes = "EUR=stripe,adyen;*=sandbox"
	}, nil)

	_, guideTok := accountToken(t, node, "guide@adyen.test", protocol.RoleGuide)
	g := dialWS(t, node, guideTok)
	g.Send(protocol.TypePresence, "", protocol.SetPresence{Status: "available"})
	shopper := join(t, node)
	s := dialWS(t, node, shopper.Token)
	var od protocol.Offer
	g.AwaitInto(protocol.TypeOffer, "", &od)
	g.Send(protocol.TypeOfferAccept, "", protocol.OfferReply{OfferID: od.OfferID})
	callID := g.Await(protocol.TypeCallMatched, "").CallID
	s.Await(protocol.TypeCallMatched, "")
	g.Send(protocol.TypeCallConnected, callID, protocol.CallConnected{})
	g.Await(protocol.TypeCallState, "")

	r := doJSON(t, "POST", node.URL()+"/api/v1/calls/"+callID+"/payment-links", guideTok,
		map[string]any{"amount": 4999, "currency": "EUR", "description": "Shoes"}, map[string]string{"Idempotency-Key": "k1"})
	if r.status != http.StatusCreated && r.status != http.StatusOK {
		t.Fatalf("create link: %d %s", r.status, r.body)
	}
	var link struct {
		ID, Provider, Status string
		CheckoutURL          string `json:"checkout_url"`
	}
	if err := json.Unmarshal(r.body, &link); err != nil {
		t.Fatal(err)
	}
	if link.Provider != adyen.Name || !strings.HasPrefix(link.CheckoutURL, "https://test.adyen.link/") {
		t.Fatalf("link %+v: want an Adyen link after Stripe failed", link)
	}

	url := node.URL() + "/webhooks/adyen"
	paid := fake.Pay(link.ID)
	it, _, err := adyen.ParseNotification(paid)
	if err != nil {
		t.Fatal(err)
	}
	wrong := adyentest.Notification(bytes.Repeat([]byte{7}, 32), false, it)
	unsigned := adyentest.Notification(nil, false, it)
	tampered := bytes.Replace(paid, []byte(`"value":4999`), []byte(`"value":1`), 1)
	for name, body := range map[string][]byte{"unsigned": unsigned, "wrong key": wrong, "tampered": tampered} {
		if r := do(t, "POST", url, "", bytes.NewReader(body), nil); r.status != http.StatusBadRequest {
			t.Fatalf("%s: %d %s, want 400", name, r.status, r.body)
		}
	}
	for range 2 { // Adyen's retry of the same notification
		if r := do(t, "POST", url, "", bytes.NewReader(paid), nil); r.status != http.StatusOK || string(r.body) != "[accepted]" {
			t.Fatalf("signed AUTHORISATION: %d %q, want 200 [accepted]", r.status, r.body)
		}
	}
	// The guide hears of the link twice: issued, then paid.
	for f := g.Await(protocol.TypePaymentLink, callID); !strings.Contains(string(f.Data), `"status":"paid"`); {
		f = g.Await(protocol.TypePaymentLink, callID)
	}
	r = do(t, "GET", node.URL()+"/api/v1/calls/"+callID+"/payment-links", guideTok, nil, nil)
	if !strings.Contains(string(r.body), `"status":"paid"`) {
		t.Fatalf("links after payment: %s", r.body)
	}
}
