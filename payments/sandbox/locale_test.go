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

// The checkout page speaks the language the browser asks for, right to
// left for Arabic and Hebrew, and falls back to English.
func TestCheckoutLocalized(t *testing.T) {
	t.Parallel()
	n := newSandboxNode(t, &memoryCluster{}, []byte("locale-secret"))
	pl, err := n.sb.CreateLink(context.Background(), payments.ProviderLinkParams{
		LinkID: "pl_1", CallID: "call-1", Amount: 2500, Currency: "EUR",
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
		{"", "en", "ltr", "Pay 25.00 EUR"},
		{"de-AT,de;q=0.9,en;q=0.5", "de", "ltr", "25.00 EUR bezahlen"},
		{"ar-EG", "ar", "rtl", "ادفع 25.00 EUR"},
		{"he-IL", "he", "rtl", "לתשלום 25.00 EUR"},
		{"pt-BR", "pt-BR", "ltr", "Pagar 25.00 EUR"},
		{"zh-CN,zh;q=0.9", "zh-CN", "ltr", "支付 25.00 EUR"},
		{"sw", "en", "ltr", "Pay 25.00 EUR"},
	} {
		page := fetch(http.MethodGet, pl.CheckoutURL, tc.accept)
		if !strings.Contains(page, `lang="`+tc.lang+`" dir="`+tc.dir+`"`) || !strings.Contains(page, tc.pay) {
			t.Errorf("Accept-Language %q: want lang %s dir %s and %q in\n%s", tc.accept, tc.lang, tc.dir, tc.pay, page)
		}
	}
	base := pl.CheckoutURL[:strings.LastIndex(pl.CheckoutURL, "/")]
	if page := fetch(http.MethodGet, base+"/sbx_nope", "fr"); !strings.Contains(page, "n’existe pas") {
		t.Errorf("unknown checkout in French: %q", page)
	}
	if page := fetch(http.MethodPost, pl.CheckoutURL+"/pay", "ja"); !strings.Contains(page, "お支払いを受け付けました") || !strings.Contains(page, "支払い済み") {
		t.Errorf("paid page in Japanese:\n%s", page)
	}
}
