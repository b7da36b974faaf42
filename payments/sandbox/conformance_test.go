package sandbox_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"guidecall/payments"
	"guidecall/payments/providertest"
	"guidecall/payments/sandbox"
	"guidecall/webhook"
)

// The sandbox passes the provider conformance suite, its checkout paid
// through its own page.
func TestProviderConformance(t *testing.T) {
	secret := []byte("conformance-secret")
	now := time.Now()
	providertest.Run(t, func(t *testing.T) providertest.Target {
		outbox := webhook.NewMemoryOutbox(webhook.MemoryConfig{})
		t.Cleanup(outbox.Stop)
		r := chi.NewRouter()
		srv := httptest.NewServer(r)
		t.Cleanup(srv.Close)
		sb, err := sandbox.New(sandbox.Config{
			Secret: secret, CheckoutBaseURL: srv.URL + "/pay/sandbox", WebhookURL: "http://127.0.0.1:1/webhooks/sandbox",
			Now: func() time.Time { return now }, Store: sandbox.NewMemoryStore(outbox), Outbox: outbox,
		})
		if err != nil {
			t.Fatal(err)
		}
		r.Mount("/pay/sandbox", sb.CheckoutRoutes())
		event := func(typ, ref string, refunded int64, at time.Time) (http.Header, []byte) {
			body := []byte(`{"id":"evt_` + typ + `_` + ref + `","type":"` + typ + `","ref":"` + ref + `","created":` +
				strconv.FormatInt(at.Unix(), 10) + `,"refunded":` + strconv.FormatInt(refunded, 10) + `,"livemode":false}`)
			return http.Header{sandbox.SignatureHeader: {webhook.Sign(secret, at, body)}}, body
		}
		return providertest.Target{
			Provider: sb, Now: now, Mode: payments.ModeTest,
			Pay: func(t *testing.T, pl payments.ProviderLink, _ string) {
				resp, err := http.Post(pl.CheckoutURL+"/pay", "application/x-www-form-urlencoded", nil)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("pay: %d", resp.StatusCode)
				}
			},
			PaidWebhook: func(t *testing.T, pl payments.ProviderLink, _ string, at time.Time) (http.Header, []byte) {
				return event(sandbox.PaymentSucceeded, pl.Ref, 0, at)
			},
			RefundWebhook: func(t *testing.T, pl payments.ProviderLink, _ string, refunded int64, at time.Time) (http.Header, []byte) {
				return event(sandbox.PaymentPartiallyRefunded, pl.Ref, refunded, at)
			},
			Timestamped: true, Tolerance: webhook.DefaultTolerance,
		}
	})
}
