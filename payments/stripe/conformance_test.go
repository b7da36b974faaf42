package stripe_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"guidecall/payments"
	"guidecall/payments/providertest"
	"guidecall/webhook"
)

// Stripe passes the provider conformance suite against stripe-mock
// (stateless: request shapes and idempotency keys) and signed fixtures
// (verification and parsing).
func TestProviderConformance(t *testing.T) {
	upstream := stripeMockURL(t)
	providertest.Run(t, func(t *testing.T) providertest.Target {
		rec, api := newRecorder(t, upstream)
		now := time.Now()
		keys := func(path string) func() []string {
			return func() []string {
				var out []string
				for _, r := range rec.all() {
					if r.Method == http.MethodPost && r.Path == path {
						out = append(out, r.Header.Get("Idempotency-Key"))
					}
				}
				return out
			}
		}
		return providertest.Target{
			Provider: newProvider(t, testKey, api, now), Now: now, Mode: payments.ModeTest, Stateless: true,
			CreateKeys: keys("/v1/checkout/sessions"), RefundKeys: keys("/v1/refunds"),
			PaidWebhook: func(t *testing.T, pl payments.ProviderLink, linkID string, at time.Time) (http.Header, []byte) {
				body := fixture(t, "session_completed_paid", pl.Ref, linkID)
				return signedByStripe(body, at), body
			},
			RefundWebhook: func(t *testing.T, pl payments.ProviderLink, linkID string, refunded int64, at time.Time) (http.Header, []byte) {
				s := string(fixture(t, "charge_refunded_partial", pl.Ref, linkID))
				s = strings.NewReplacer(`"amount": 4200`, `"amount": 2500`, `"amount_refunded": 1200`,
					`"amount_refunded": `+strconv.FormatInt(refunded, 10), `"currency": "jpy"`, `"currency": "eur"`).Replace(s)
				return signedByStripe([]byte(s), at), []byte(s)
			},
			Timestamped: true, Tolerance: webhook.DefaultTolerance,
		}
	})
}
