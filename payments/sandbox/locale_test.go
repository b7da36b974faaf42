package sandbox_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"guidecall/payments"
)

// The checkout speaks the language the browser asks for in every locale of
// the widget, right to left for Arabic and Hebrew, and falls back to
// English.
func TestCheckoutLocalized(t *testing.T) {
	t.Parallel()
	n := newSandboxNode(t, &memoryCluster{}, []byte("locale-secret"))
	pl, err := n.sb.CreateLink(context.Background(), payments.ProviderLinkParams{
		LinkID: "pl_1", CallID: "call-1", Amount: 2500, Currency: "USD",
		Description: "blue scarf", ExpiresAt: time.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	fetch := func(method, url, lang string) string {
		t.Helper()
		req, _ := http.NewRequest(method, url, nil)
		if lang != "" {
			req.Header.Set("Accept-Language", lang)
		}
		resp, err := n.checkout.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	for _, tc := range []struct{ accept, lang, dir, pay string }{
		{"", "en", "ltr", "Pay 25.00 USD"},
		{"ar-EG", "ar", "rtl", "ادفع 25.00 USD"},
		{"he-IL", "he", "rtl", "לתשלום 25.00 USD"},
		{"pt-BR", "pt", "ltr", "Pagar 25,00 USD"},
		{"zh-CN,zh;q=0.9", "zh", "ltr", "支付 25.00 USD"},
		{"ko", "ko", "ltr", "25.00 USD 결제"},
		{"th", "th", "ltr", "ชำระ 25.00 USD"},
		{"id", "id", "ltr", "Bayar 25,00 USD"},
		{"vi", "vi", "ltr", "Thanh toán 25,00 USD"},
		{"nl-BE", "nl", "ltr", "25,00 USD betalen"},
		{"sw", "en", "ltr", "Pay 25.00 USD"},
	} {
		page := fetch(http.MethodGet, pl.CheckoutURL, tc.accept)
		if !strings.Contains(page, `lang="`+tc.lang+`" dir="`+tc.dir+`"`) || !strings.Contains(page, tc.pay) {
			t.Errorf("Accept-Language %q: want lang %s dir %s and %q in\n%s", tc.accept, tc.lang, tc.dir, tc.pay, page)
		}
	}
}
