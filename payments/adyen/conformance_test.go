package adyen_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"guidecall/payments"
	"guidecall/payments/adyen"
	"guidecall/payments/adyen/adyentest"
	"guidecall/payments/providertest"
)

// Adyen passes the provider conformance suite against its fake, which
// keeps links and replays answers by Idempotency-Key as Adyen does.
func TestProviderConformance(t *testing.T) {
	providertest.Run(t, func(t *testing.T) providertest.Target {
		fake := adyentest.New(t, apiKey, merchant, keyBytes(t))
		p := newProvider(t, fake.URL())
		keys := func(match func(adyentest.Request) bool) func() []string {
			return func() []string {
				var out []string
				for _, r := range fake.Requests() {
					if r.Method == http.MethodPost && match(r) {
						out = append(out, r.IdempotencyKey)
					}
				}
				return out
			}
		}
		authorisation := func(pl payments.ProviderLink, linkID string, at time.Time) []byte {
			psp := "PSPCONFORMANCE01"
			if l, ok := fake.Link(linkID); ok && l.PaymentPSP != "" {
				psp = l.PaymentPSP
			}
			return adyentest.Notification(keyBytes(t), false, adyen.NotificationItem{
				PSPReference: psp, MerchantAccountCode: merchant, MerchantReference: linkID,
				Amount: adyen.Amount{Value: 2500, Currency: "EUR"}, EventCode: adyen.EventAuthorisation, Success: "true",
				EventDate: at.UTC().Format(time.RFC3339), AdditionalData: map[string]string{"paymentLinkId": pl.Ref},
			})
		}
		return providertest.Target{
			Provider: p, Now: time.Now(), Mode: payments.ModeTest,
			CreateKeys: keys(func(r adyentest.Request) bool { return r.Path == "/v71/paymentLinks" }),
			RefundKeys: keys(func(r adyentest.Request) bool { return strings.HasSuffix(r.Path, "/refunds") }),
			Pay: func(t *testing.T, pl payments.ProviderLink, linkID string) {
				// The shopper pays; the notification tells the provider
				// which payment to refund later.
				if _, err := p.ParseWebhook(nil, fake.Pay(linkID)); err != nil {
					t.Fatal(err)
				}
			},
			PaidWebhook: func(t *testing.T, pl payments.ProviderLink, linkID string, at time.Time) (http.Header, []byte) {
				return nil, authorisation(pl, linkID, at)
			},
			RefundWebhook: func(t *testing.T, pl payments.ProviderLink, linkID string, refunded int64, at time.Time) (http.Header, []byte) {
				l, _ := fake.Link(linkID)
				return nil, adyentest.Notification(keyBytes(t), false, adyen.NotificationItem{
					PSPReference: "RFCONFORMANCE01", OriginalReference: l.PaymentPSP, MerchantAccountCode: merchant, MerchantReference: linkID,
					Amount: adyen.Amount{Value: refunded, Currency: "EUR"}, EventCode: adyen.EventRefund, Success: "true",
					EventDate: at.UTC().Format(time.RFC3339),
				})
			},
			// Adyen's HMAC covers no time: a replayed notification is
			// dropped by its event id instead.
			Timestamped: false,
		}
	})
}
