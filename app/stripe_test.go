package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"guidecall/internal/config"
	"guidecall/webhook"
)

// POST /webhooks/stripe exists only when Stripe is configured, and then
// refuses anything not signed with the endpoint's secret.
func TestStripeWebhookRoute(t *testing.T) {
	t.Parallel()
	plain := startApp(t, nil)
	body := `{"id":"evt_1","object":"event","type":"customer.created","api_version":"2025-08-27.basil","livemode":false,"data":{"object":{"id":"cus_1","object":"customer"}}}`
	if r := do(t, "POST", plain.URL()+"/webhooks/stripe", "", strings.NewReader(body), nil); r.status != http.StatusNotFound {
		t.Fatalf("without Stripe configured: %d %s, want 404", r.status, r.body)
	}

	const whsec = "whsec_app_test"
	node := startAppConfig(t, func(c *config.Serve) {
		// Webhooks need no API: the URL answers nothing.
		c.Stripe = config.Stripe{SecretKey: "sk_test_app", WebhookSecret: whsec, APIURL: "http://127.0.0.1:1"}
	}, nil)
	url := node.URL() + "/webhooks/stripe"
	for name, hdr := range map[string]map[string]string{
		"unsigned":     nil,
		"other secret": {"Stripe-Signature": webhook.Sign([]byte("whsec_other"), time.Now(), []byte(body))},
		"far future":   {"Stripe-Signature": webhook.Sign([]byte(whsec), time.Now().Add(10*time.Minute), []byte(body))},
	} {
		if r := do(t, "POST", url, "", strings.NewReader(body), hdr); r.status != http.StatusBadRequest {
			t.Fatalf("%s: %d %s, want 400", name, r.status, r.body)
		}
	}
	sig := map[string]string{"Stripe-Signature": webhook.Sign([]byte(whsec), time.Now(), []byte(body))}
	if r := do(t, "POST", url, "", strings.NewReader(body), sig); r.status != http.StatusOK {
		t.Fatalf("signed event of a type we ignore: %d %s, want 200", r.status, r.body)
	}
	// A signed event for a session no link has is answered 5xx, so Stripe retries it.
	unknown := `{"id":"evt_2","object":"event","type":"checkout.session.completed","api_version":"2025-08-27.basil","livemode":false,"data":{"object":{"id":"cs_test_none","object":"checkout.session","payment_status":"paid"}}}`
	sig = map[string]string{"Stripe-Signature": webhook.Sign([]byte(whsec), time.Now(), []byte(unknown))}
	if r := do(t, "POST", url, "", strings.NewReader(unknown), sig); r.status != http.StatusInternalServerError {
		t.Fatalf("unknown session: %d %s, want 500", r.status, r.body)
	}
}
