package sandbox_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"guidecall/payments"
)

// The checkout's "Back to the shop" leads to the shopper's page with the
// link and the outcome, and a checkout that cannot be paid (unknown,
// expired, paid already, failed) says why in the shopper's language.
func TestCheckoutBackLinkAndClosedPages(t *testing.T) {
	t.Parallel()
	n := newSandboxNode(t, &memoryCluster{}, []byte("return-secret"))
	ctx := context.Background()
	create := func(id, returnURL string, expires time.Time) payments.ProviderLink {
		t.Helper()
		pl, err := n.sb.CreateLink(ctx, payments.ProviderLinkParams{
			LinkID: id, CallID: "call-1", Amount: 4900, Currency: "EUR", Description: "scarf",
			ExpiresAt: expires, ReturnURL: returnURL,
		})
		if err != nil {
			t.Fatal(err)
		}
		return pl
	}
	fetch := func(method, url, lang string, wantStatus int) string {
		t.Helper()
		req, _ := http.NewRequest(method, url, nil)
		req.Header.Set("Accept-Language", lang)
		resp, err := n.checkout.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != wantStatus {
			t.Fatalf("%s %s: %d, want %d\n%s", method, url, resp.StatusCode, wantStatus, b)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Fatalf("%s %s: Content-Type %q, want the page", method, url, ct)
		}
		return html.UnescapeString(string(b))
	}
	has := func(page string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(page, w) {
				t.Errorf("page lacks %q:\n%s", w, page)
			}
		}
	}

	hour := time.Now().Add(time.Hour)
	open := create("pl_back", "https://shop.example/p/scarf?size=42#reviews", hour)
	has(fetch(http.MethodGet, open.CheckoutURL, "en", http.StatusOK),
		`href="https://shop.example/p/scarf?payment=canceled&payment_link=pl_back&size=42"`, "Back to the shop")
	has(fetch(http.MethodPost, open.CheckoutURL+"/pay", "en", http.StatusOK),
		"Thank you: payment received.", `href="https://shop.example/p/scarf?payment=success&payment_link=pl_back&size=42"`)
	has(fetch(http.MethodPost, open.CheckoutURL+"/pay", "de-DE", http.StatusConflict),
		`lang="de"`, "Diese Zahlung ist bereits erfolgt.", "Zurück zum Shop", "payment=success")
	has(fetch(http.MethodGet, open.CheckoutURL, "nl", http.StatusOK), "Deze betaling is al gedaan.")

	expired := create("pl_expired", "https://shop.example/p/scarf", time.Now().Add(-time.Minute))
	has(fetch(http.MethodGet, expired.CheckoutURL, "ja", http.StatusOK), `lang="ja"`, "有効期限が切れています", "payment=canceled")
	has(fetch(http.MethodPost, expired.CheckoutURL+"/pay", "es", http.StatusConflict), "Este enlace de pago ha caducado.")

	failed := create("pl_failed", "", hour)
	has(fetch(http.MethodPost, failed.CheckoutURL+"/fail", "fr", http.StatusOK), "Paiement refusé.")
	page := fetch(http.MethodGet, failed.CheckoutURL, "fr", http.StatusOK)
	has(page, "Ce paiement a échoué.")
	if strings.Contains(page, `id="back"`) {
		t.Errorf("a link without a page, on a sandbox without a return page, shows a way back:\n%s", page)
	}

	base := strings.TrimSuffix(open.CheckoutURL, "/"+strings.TrimPrefix(open.Ref, "/"))
	for _, tc := range []struct{ accept, lang, dir, words string }{
		{"ar-EG", "ar", "rtl", "رابط الدفع هذا غير موجود."},
		{"he", "he", "rtl", "קישור התשלום הזה לא קיים."},
		{"zh-CN", "zh", "ltr", "此付款链接不存在。"},
		{"", "en", "ltr", "This payment link does not exist."},
	} {
		has(fetch(http.MethodGet, base+"/sbx_nope", tc.accept, http.StatusNotFound),
			`lang="`+tc.lang+`" dir="`+tc.dir+`"`, tc.words)
		has(fetch(http.MethodPost, base+"/sbx_nope/pay", tc.accept, http.StatusNotFound), tc.words)
	}
}
