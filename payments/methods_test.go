package payments_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"guidecall/payments"
)

func getPage(t *testing.T, u, lang string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Accept-Language", lang)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func postForm(t *testing.T, u string, form url.Values) int {
	t.Helper()
	resp, err := http.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The sandbox checkout offers the methods of the link's currency, in the
// shopper's language; konbini ends processing, then paid when the store
// payment arrives.
func TestSandboxMethodsAndKonbini(t *testing.T) {
	f := newRefundFixture(t)
	ctx := context.Background()
	eur := validParams()
	eur.CallID, eur.IdempotencyKey, eur.Amount, eur.Items = "call-m", "eur", 123456, nil
	l, _, err := f.svc.CreateLink(ctx, eur)
	if err != nil {
		t.Fatal(err)
	}
	de := getPage(t, l.CheckoutURL, "de-DE,de;q=0.9,en;q=0.5")
	for _, want := range []string{`lang="de"`, "Zahlungsart", "1.234,56 EUR", `value="ideal"`, `value="card"`, "1.234,56 EUR bezahlen"} {
		if !strings.Contains(de, want) {
			t.Errorf("German EUR page lacks %q", want)
		}
	}
	if strings.Contains(de, "konbini") {
		t.Error("konbini offered for EUR")
	}
	if fr := getPage(t, l.CheckoutURL+"?lang=fr", "de"); !strings.Contains(fr, "1\u202f234,56 EUR") || !strings.Contains(fr, "Moyen de paiement") {
		t.Error("?lang=fr is not French with French grouping")
	}
	// A method the currency does not have is refused and nothing is paid.
	if code := postForm(t, l.CheckoutURL+"/pay", url.Values{"method": {"konbini"}}); code != http.StatusConflict {
		t.Fatalf("konbini for EUR: %d, want 409", code)
	}
	if code := postForm(t, l.CheckoutURL+"/pay", url.Values{"method": {"ideal"}}); code != http.StatusOK {
		t.Fatalf("iDEAL: %d", code)
	}
	f.awaitLink(t, l.ID, func(l payments.Link) bool { return l.Status == payments.StatusPaid })

	jpy := validParams()
	jpy.CallID, jpy.IdempotencyKey, jpy.Amount, jpy.Currency, jpy.Items = "call-m", "jpy", 4200, "JPY", nil
	k, _, err := f.svc.CreateLink(ctx, jpy)
	if err != nil {
		t.Fatal(err)
	}
	ja := getPage(t, k.CheckoutURL, "ja-JP")
	for _, want := range []string{`lang="ja"`, "コンビニ払い", "4,200 JPY", `value="konbini"`} {
		if !strings.Contains(ja, want) {
			t.Errorf("Japanese JPY page lacks %q", want)
		}
	}
	if code := postForm(t, k.CheckoutURL+"/complete", nil); code != http.StatusConflict {
		t.Fatalf("complete before paying: %d, want 409", code)
	}
	if code := postForm(t, k.CheckoutURL+"/pay", url.Values{"method": {"konbini"}}); code != http.StatusOK {
		t.Fatalf("konbini: %d", code)
	}
	f.awaitLink(t, k.ID, func(l payments.Link) bool { return l.Status == payments.StatusProcessing })
	if page := getPage(t, k.CheckoutURL, "ja"); !strings.Contains(page, `id="konbini-wait"`) || !strings.Contains(page, "お支払い待ち") {
		t.Fatalf("processing page:\n%s", page)
	}
	if code := postForm(t, k.CheckoutURL+"/complete", nil); code != http.StatusOK {
		t.Fatalf("store payment: %d", code)
	}
	got := f.awaitLink(t, k.ID, func(l payments.Link) bool { return l.Status == payments.StatusPaid })
	if got.PaidAt == nil {
		t.Fatal("paid without paid_at")
	}
	// Reconciliation agrees with the sandbox.
	if st, err := f.sb.FetchStatus(ctx, k.ProviderRef); err != nil || st != payments.StatusPaid {
		t.Fatalf("sandbox status %s %v", st, err)
	}
}
