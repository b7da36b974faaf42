package adyen_test

import (
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"guidecall/payments"
	"guidecall/payments/adyen"
	"guidecall/payments/adyen/adyentest"
	"guidecall/payments/stripe"
)

// The keys the testdata fixtures are signed with (written by a script
// independent of this package's signer).
const (
	hmacKey         = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
	hmacKeyPrevious = "0D1E2F3A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F6"
	apiKey          = "AQE_test_key"
	merchant        = "GuidecallTest"
)

func keyBytes(t testing.TB) []byte {
	b, err := hex.DecodeString(hmacKey)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newProvider(t testing.TB, apiURL string, mut ...func(*adyen.Config)) *adyen.Provider {
	t.Helper()
	cfg := adyen.Config{
		APIKey: apiKey, MerchantAccount: merchant, HMACKey: hmacKey, APIURL: apiURL,
		ReturnURL: "https://shop.example/shop/?payment_link={LINK_ID}",
	}
	for _, m := range mut {
		m(&cfg)
	}
	p, err := adyen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCreateLinkRequestShape(t *testing.T) {
	fake := adyentest.New(t, apiKey, merchant, keyBytes(t))
	p := newProvider(t, fake.URL())
	exp := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	pl, err := p.CreateLink(context.Background(), payments.ProviderLinkParams{
		LinkID: "lnk_1", CallID: "call_1", Amount: 4990, Currency: "eur", Description: "Sneakers",
		Items: []payments.Item{{Name: "Sneakers", Quantity: 1, UnitAmount: 4990}}, ExpiresAt: exp,
		Locale: "nl-NL", Country: "NL",
	})
	if err != nil {
		t.Fatal(err)
	}
	l, ok := fake.Link("lnk_1")
	if !ok || pl.Ref != l.ID || pl.CheckoutURL != l.URL {
		t.Fatalf("link %+v, fake has %+v", pl, l)
	}
	reqs := fake.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/v71/paymentLinks" || r.IdempotencyKey != "create-lnk_1" || r.Header.Get("X-API-Key") != apiKey {
		t.Fatalf("request %s %s key %q", r.Method, r.Path, r.IdempotencyKey)
	}
	want := map[string]any{
		"reference": "lnk_1", "merchantAccount": merchant, "returnUrl": "https://shop.example/shop/?payment_link=lnk_1",
		"expiresAt": "2026-01-02T15:04:05Z", "shopperLocale": "nl-NL", "countryCode": "NL", "description": "Sneakers",
	}
	for k, v := range want {
		if r.Body[k] != v {
			t.Errorf("body %s = %v, want %v", k, r.Body[k], v)
		}
	}
	amount := r.Body["amount"].(map[string]any)
	if amount["value"] != float64(4990) || amount["currency"] != "EUR" {
		t.Errorf("amount %v", amount)
	}
	if md := r.Body["metadata"].(map[string]any); md["link_id"] != "lnk_1" || md["call_id"] != "call_1" {
		t.Errorf("metadata %v", md)
	}

	// The same link again (another node, a replayed request): the same
	// payment link, not a second one.
	again, err := p.CreateLink(context.Background(), payments.ProviderLinkParams{
		LinkID: "lnk_1", CallID: "call_1", Amount: 4990, Currency: "eur", Description: "Sneakers",
		Items: []payments.Item{{Name: "Sneakers", Quantity: 1, UnitAmount: 4990}}, ExpiresAt: exp,
		Locale: "nl-NL", Country: "NL",
	})
	if err != nil || again != pl {
		t.Fatalf("replay: %+v %v, want %+v", again, err, pl)
	}
}

func TestRetriesKeepTheIdempotencyKey(t *testing.T) {
	fake := adyentest.New(t, apiKey, merchant, keyBytes(t))
	p := newProvider(t, fake.URL())
	fake.FailNext(2)
	if _, err := p.CreateLink(context.Background(), payments.ProviderLinkParams{LinkID: "lnk_r", Amount: 100, Currency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	reqs := fake.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 (two 500s, then created)", len(reqs))
	}
	for _, r := range reqs {
		if r.IdempotencyKey != "create-lnk_r" {
			t.Fatalf("key %q", r.IdempotencyKey)
		}
	}

	fake.FailNext(5)
	_, err := p.CreateLink(context.Background(), payments.ProviderLinkParams{LinkID: "lnk_down", Amount: 100, Currency: "EUR"})
	var ae *adyen.APIError
	if !errors.Is(err, payments.ErrProvider) || !errors.As(err, &ae) || ae.HTTPStatus != 500 || ae.ErrorCode != "905" {
		t.Fatalf("down: %v", err)
	}
}

func TestFetchStatusAndRefund(t *testing.T) {
	fake := adyentest.New(t, apiKey, merchant, keyBytes(t))
	p := newProvider(t, fake.URL())
	ctx := context.Background()
	pl, err := p.CreateLink(ctx, payments.ProviderLinkParams{LinkID: "lnk_f", Amount: 2500, Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	for status, want := range map[string]payments.LinkStatus{
		"active": payments.StatusOpen, "paymentPending": payments.StatusProcessing,
		"completed": payments.StatusPaid, "expired": payments.StatusExpired,
	} {
		fake.SetStatus(pl.Ref, status)
		if got, err := p.FetchStatus(ctx, pl.Ref); err != nil || got != want {
			t.Errorf("%s: %s %v, want %s", status, got, err, want)
		}
	}
	fake.SetStatus(pl.Ref, "active")
	// Before the AUTHORISATION notification there is no payment to refund.
	err = p.Refund(ctx, payments.RefundParams{Ref: pl.Ref, LinkID: "lnk_f", Amount: 500, Currency: "EUR", Seq: 1})
	if !errors.Is(err, payments.ErrInvalidTransition) {
		t.Fatalf("refund before payment: %v", err)
	}
	if _, err := p.ParseWebhook(nil, fake.Pay("lnk_f")); err != nil {
		t.Fatal(err)
	}
	for range 2 { // a retry of the same refund is the same refund
		if err := p.Refund(ctx, payments.RefundParams{Ref: pl.Ref, LinkID: "lnk_f", Amount: 500, Currency: "EUR", Seq: 1}); err != nil {
			t.Fatal(err)
		}
	}
	l, _ := fake.Link("lnk_f")
	var refunds []adyentest.Request
	for _, r := range fake.Requests() {
		if r.Method == "POST" && r.Path == "/v71/payments/"+l.PaymentPSP+"/refunds" {
			refunds = append(refunds, r)
		}
	}
	if len(refunds) != 2 || refunds[0].IdempotencyKey != "refund-lnk_f-1" || refunds[1].IdempotencyKey != "refund-lnk_f-1" {
		t.Fatalf("refund requests %+v", refunds)
	}
	b := refunds[0].Body
	if b["merchantAccount"] != merchant || b["reference"] != "lnk_f" || b["amount"].(map[string]any)["value"] != float64(500) {
		t.Fatalf("refund body %v", b)
	}
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseWebhookFixtures(t *testing.T) {
	p := newProvider(t, "http://127.0.0.1:1")
	rotating := newProvider(t, "http://127.0.0.1:1", func(c *adyen.Config) { c.HMACKeyPrevious = hmacKeyPrevious })
	live := newProvider(t, "https://1797a841fbb37ca7-AdyenDemo-checkout-live.adyenpayments.com/checkout/v71")
	cases := []struct {
		name    string
		p       *adyen.Provider
		want    payments.ProviderEvent
		wantErr error
	}{
		{"authorisation", p, payments.ProviderEvent{ID: "AUTHORISATION:7914073381342284:true", ProviderRef: "PLFIXTURE0001", Status: payments.StatusPaid, Mode: payments.ModeTest}, nil},
		{"authorisation_previous_key", rotating, payments.ProviderEvent{ID: "AUTHORISATION:7914073381342284:true", ProviderRef: "PLFIXTURE0001", Status: payments.StatusPaid, Mode: payments.ModeTest}, nil},
		{"authorisation", rotating, payments.ProviderEvent{ID: "AUTHORISATION:7914073381342284:true", ProviderRef: "PLFIXTURE0001", Status: payments.StatusPaid, Mode: payments.ModeTest}, nil},
		{"authorisation_previous_key", p, payments.ProviderEvent{}, payments.ErrBadSignature},
		{"authorisation_wrong_key", rotating, payments.ProviderEvent{}, payments.ErrBadSignature},
		{"authorisation_unsigned", p, payments.ProviderEvent{}, payments.ErrBadSignature},
		{"authorisation_tampered_value", p, payments.ProviderEvent{}, payments.ErrBadSignature},
		{"authorisation_tampered_reference", p, payments.ProviderEvent{}, payments.ErrBadSignature},
		// A live notification reaches a test-mode provider, or the reverse.
		{"authorisation_live", p, payments.ProviderEvent{}, payments.ErrBadWebhook},
		{"authorisation", live, payments.ProviderEvent{}, payments.ErrBadWebhook},
		{"authorisation_live", live, payments.ProviderEvent{ID: "AUTHORISATION:7914073381342284:true", ProviderRef: "PLFIXTURE0001", Status: payments.StatusPaid, Mode: payments.ModeLive}, nil},
		{"authorisation_other_merchant", p, payments.ProviderEvent{}, payments.ErrBadWebhook},
		{"refund_partial", p, payments.ProviderEvent{ID: "REFUND:8815073381342299:true", LinkID: "lnk_fixture1", Status: payments.StatusPartiallyRefunded, RefundedAmount: 1000, Mode: payments.ModeTest}, nil},
		{"authorisation_refused", p, payments.ProviderEvent{}, payments.ErrIgnoredEvent},
		{"report_available", p, payments.ProviderEvent{}, payments.ErrIgnoredEvent},
	}
	for _, c := range cases {
		ev, err := c.p.ParseWebhook(nil, fixture(t, c.name))
		if c.wantErr != nil {
			if !errors.Is(err, c.wantErr) {
				t.Errorf("%s (%s): %v, want %v", c.name, c.p.Mode(), err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		c.want.Provider = adyen.Name
		c.want.OccurredAt = time.Date(2025, 12, 31, 23, 0, 0, 0, time.UTC)
		if ev != c.want {
			t.Errorf("%s: %+v\nwant %+v", c.name, ev, c.want)
		}
	}
}

// The signer in this package agrees with the fixtures' independent one.
func TestSignMatchesFixture(t *testing.T) {
	it, _, err := adyen.ParseNotification(fixture(t, "authorisation"))
	if err != nil {
		t.Fatal(err)
	}
	if got := adyen.Sign(keyBytes(t), it); got != it.AdditionalData["hmacSignature"] {
		t.Fatalf("Sign = %s, fixture has %s", got, it.AdditionalData["hmacSignature"])
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for name, mut := range map[string]func(*adyen.Config){
		"no key":          func(c *adyen.Config) { c.APIKey = "" },
		"no merchant":     func(c *adyen.Config) { c.MerchantAccount = "" },
		"no hmac":         func(c *adyen.Config) { c.HMACKey = "" },
		"hmac not hex":    func(c *adyen.Config) { c.HMACKey = "not-hex" },
		"previous bad":    func(c *adyen.Config) { c.HMACKeyPrevious = "zz" },
		"no return url":   func(c *adyen.Config) { c.ReturnURL = "" },
		"relative apiurl": func(c *adyen.Config) { c.APIURL = "/v71" },
	} {
		cfg := adyen.Config{APIKey: apiKey, MerchantAccount: merchant, HMACKey: hmacKey, ReturnURL: "https://s/"}
		mut(&cfg)
		if _, err := adyen.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// newService is payments over a memory store with the given providers,
// the first preferred for EUR.
func newService(t *testing.T, providers ...payments.Provider) *payments.Service {
	t.Helper()
	var names []string
	for _, p := range providers {
		names = append(names, p.Name())
	}
	svc, err := payments.NewService(payments.Config{
		Store: payments.NewMemoryStore(), Providers: providers,
		Routing: payments.RoutingConfig{Routes: map[string][]string{"EUR": names}, CreateTimeout: 3 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// The whole path through payments: a link, its AUTHORISATION twice and out
// of order with a refund, a refund from the guide, and reconciliation.
func TestServiceAppliesAdyenNotifications(t *testing.T) {
	fake := adyentest.New(t, apiKey, merchant, keyBytes(t))
	p := newProvider(t, fake.URL())
	svc := newService(t, p)
	ctx := context.Background()
	l, _, err := svc.CreateLink(ctx, payments.CreateLinkParams{CallID: "call_1", Amount: 3000, Currency: "EUR", IdempotencyKey: "k1", CreatedBy: "guide"})
	if err != nil {
		t.Fatal(err)
	}
	if l.Provider != adyen.Name {
		t.Fatalf("provider %s", l.Provider)
	}
	auth := fake.Pay(l.ID)
	// 20 copies at once apply once.
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- svc.HandleWebhook(ctx, adyen.Name, nil, auth) }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := svc.Link(ctx, l.ID)
	if err != nil || got.Status != payments.StatusPaid {
		t.Fatalf("after AUTHORISATION: %+v %v", got, err)
	}
	if _, _, err := svc.Refund(ctx, payments.RequestRefund{LinkID: l.ID, Amount: 1000, IdempotencyKey: "r1", RequestedBy: "guide"}); err != nil {
		t.Fatal(err)
	}
	psp, _ := fake.Link(l.ID)
	refund := func(ref string, value int64) []byte {
		return adyentest.Notification(keyBytes(t), false, adyen.NotificationItem{
			PSPReference: ref, OriginalReference: psp.PaymentPSP, MerchantAccountCode: merchant, MerchantReference: l.ID,
			Amount: adyen.Amount{Value: value, Currency: "EUR"}, EventCode: adyen.EventRefund, Success: "true",
		})
	}
	for range 2 {
		if err := svc.HandleWebhook(ctx, adyen.Name, nil, refund("RF1", 1000)); err != nil {
			t.Fatal(err)
		}
	}
	got, _ = svc.Link(ctx, l.ID)
	if got.Status != payments.StatusPartiallyRefunded || got.RefundedAmount != 1000 {
		t.Fatalf("after one refund: %s %d", got.Status, got.RefundedAmount)
	}
	if err := svc.HandleWebhook(ctx, adyen.Name, nil, refund("RF2", 2000)); err != nil {
		t.Fatal(err)
	}
	// The late AUTHORISATION again changes nothing.
	if err := svc.HandleWebhook(ctx, adyen.Name, nil, auth); err != nil {
		t.Fatal(err)
	}
	got, _ = svc.Link(ctx, l.ID)
	if got.Status != payments.StatusRefunded || got.RefundedAmount != 3000 {
		t.Fatalf("after both refunds: %s %d", got.Status, got.RefundedAmount)
	}
	if err := svc.HandleWebhook(ctx, adyen.Name, nil, fixture(t, "authorisation_wrong_key")); !errors.Is(err, payments.ErrBadSignature) {
		t.Fatalf("wrong key: %v", err)
	}
}

// A refund notification that arrives before the payment's still ends the
// link refunded.
func TestRefundBeforeAuthorisation(t *testing.T) {
	fake := adyentest.New(t, apiKey, merchant, keyBytes(t))
	p := newProvider(t, fake.URL())
	svc := newService(t, p)
	ctx := context.Background()
	l, _, err := svc.CreateLink(ctx, payments.CreateLinkParams{CallID: "c", Amount: 700, Currency: "EUR", IdempotencyKey: "k", CreatedBy: "g"})
	if err != nil {
		t.Fatal(err)
	}
	auth := fake.Pay(l.ID)
	full := adyentest.Notification(keyBytes(t), false, adyen.NotificationItem{
		PSPReference: "RF9", OriginalReference: "x", MerchantAccountCode: merchant, MerchantReference: l.ID,
		Amount: adyen.Amount{Value: 700, Currency: "EUR"}, EventCode: adyen.EventRefund, Success: "true",
	})
	for _, b := range [][]byte{full, auth} {
		if err := svc.HandleWebhook(ctx, adyen.Name, nil, b); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := svc.Link(ctx, l.ID)
	if got.Status != payments.StatusRefunded || got.PaidAt == nil {
		t.Fatalf("%s paid_at %v", got.Status, got.PaidAt)
	}
}

// Failover: the first provider (Stripe, whose API does not answer) fails
// its create; Adyen (the fake) issues the link, and the next link skips
// Stripe while its breaker is open.
func TestFailoverToAdyen(t *testing.T) {
	fake := adyentest.New(t, apiKey, merchant, keyBytes(t))
	st, err := stripe.New(stripe.Config{SecretKey: "sk_test_down", WebhookSecret: "whsec_x", APIURL: "http://127.0.0.1:1",
		SuccessURL: "https://s/", CancelURL: "https://c/", MaxNetworkRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	svc := newService(t, st, newProvider(t, fake.URL()))
	ctx := context.Background()
	start := time.Now()
	l, _, err := svc.CreateLink(ctx, payments.CreateLinkParams{CallID: "c", Amount: 1500, Currency: "EUR", IdempotencyKey: "k", CreatedBy: "g"})
	if err != nil {
		t.Fatal(err)
	}
	if l.Provider != adyen.Name || l.CheckoutURL == "" {
		t.Fatalf("link %+v", l)
	}
	t.Logf("failed over to adyen in %s", time.Since(start))
	if _, ok := fake.Link(l.ID); !ok {
		t.Fatal("the fake has no payment link for it")
	}
	l2, _, err := svc.CreateLink(ctx, payments.CreateLinkParams{CallID: "c", Amount: 1600, Currency: "EUR", IdempotencyKey: "k2", CreatedBy: "g"})
	if err != nil || l2.Provider != adyen.Name {
		t.Fatalf("second link %+v %v", l2, err)
	}
}

func TestReconcileHealsALostNotification(t *testing.T) {
	fake := adyentest.New(t, apiKey, merchant, keyBytes(t))
	p := newProvider(t, fake.URL())
	now := time.Now()
	clock := func() time.Time { return now }
	svc, err := payments.NewService(payments.Config{Store: payments.NewMemoryStore(), Providers: []payments.Provider{p}, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l, _, err := svc.CreateLink(ctx, payments.CreateLinkParams{CallID: "c", Amount: 900, Currency: "EUR", IdempotencyKey: "k", CreatedBy: "g"})
	if err != nil {
		t.Fatal(err)
	}
	fake.Pay(l.ID) // the notification is lost
	now = now.Add(time.Hour)
	fixes, err := svc.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := svc.Link(ctx, l.ID)
	if len(fixes) != 1 || got.Status != payments.StatusPaid {
		t.Fatalf("fixes %+v, link %s", fixes, got.Status)
	}
}

func FuzzParseNotification(f *testing.F) {
	for _, name := range []string{"authorisation", "refund_partial", "authorisation_live", "report_available", "authorisation_unsigned"} {
		f.Add(fixture(f, name))
	}
	f.Add([]byte(`{"live":"false","notificationItems":[]}`))
	p := newProvider(f, "http://127.0.0.1:1")
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := p.ParseWebhook(nil, body)
		if err != nil {
			if !errors.Is(err, payments.ErrBadSignature) && !errors.Is(err, payments.ErrBadWebhook) && !errors.Is(err, payments.ErrIgnoredEvent) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if ev.ID == "" || !ev.Status.Valid() || (ev.ProviderRef == "" && ev.LinkID == "") {
			t.Fatalf("accepted an event without id, status or reference: %+v", ev)
		}
		// Whatever was accepted was signed with our key.
		it, _, perr := adyen.ParseNotification(body)
		if perr != nil || adyen.Sign(keyBytes(t), it) != it.AdditionalData["hmacSignature"] {
			t.Fatalf("accepted a body not signed with the key: %v", perr)
		}
	})
}

// Adyen's minor unit differs from ISO 4217 for CLP, CVE, IDR and ISK; an
// amount its unit cannot hold is refused, not rounded.
func TestAdyenCurrencyUnits(t *testing.T) {
	fake := adyentest.New(t, apiKey, merchant, keyBytes(t))
	p := newProvider(t, fake.URL())
	ctx := context.Background()
	for i, c := range []struct {
		currency   string
		iso, adyen int64
	}{{"EUR", 1999, 1999}, {"JPY", 1500, 1500}, {"ISK", 1500, 150000}, {"CLP", 990, 99000}, {"IDR", 1500000, 15000}, {"CVE", 2500, 25}, {"KWD", 1250, 1250}} {
		id := "lnk_u" + string(rune('a'+i))
		if _, err := p.CreateLink(ctx, payments.ProviderLinkParams{LinkID: id, Amount: c.iso, Currency: c.currency}); err != nil {
			t.Fatalf("%s: %v", c.currency, err)
		}
		if l, _ := fake.Link(id); l.Amount.Value != c.adyen || l.Amount.Currency != c.currency {
			t.Errorf("%s %d: Adyen got %+v, want %d", c.currency, c.iso, l.Amount, c.adyen)
		}
	}
	for _, c := range []struct {
		currency string
		iso      int64
	}{{"IDR", 150001}, {"CVE", 2501}} {
		_, err := p.CreateLink(ctx, payments.ProviderLinkParams{LinkID: "lnk_bad", Amount: c.iso, Currency: c.currency})
		if !errors.Is(err, payments.ErrInvalidLink) {
			t.Errorf("%s %d: %v, want ErrInvalidLink", c.currency, c.iso, err)
		}
	}
	// A REFUND notification in ISK (Adyen's hundredths) is counted in ISO units.
	ev, err := p.ParseWebhook(nil, adyentest.Notification(keyBytes(t), false, adyen.NotificationItem{
		PSPReference: "RFISK", MerchantAccountCode: merchant, MerchantReference: "lnk_isk",
		Amount: adyen.Amount{Value: 50000, Currency: "ISK"}, EventCode: adyen.EventRefund, Success: "true",
	}))
	if err != nil || ev.RefundedAmount != 500 {
		t.Fatalf("ISK refund: %+v %v, want 500", ev, err)
	}
}

// The environment changed from test to live: a live AUTHORISATION for a
// link made in test mode is refused (400) and moves nothing; the same
// for a live link applies. Links made against the fake are test links.
func TestLiveNotificationForATestLinkIsRefused(t *testing.T) {
	fake := adyentest.New(t, apiKey, merchant, keyBytes(t))
	l, _, err := newService(t, newProvider(t, fake.URL())).CreateLink(context.Background(),
		payments.CreateLinkParams{CallID: "c", Amount: 700, Currency: "EUR", IdempotencyKey: "k", CreatedBy: "g"})
	if err != nil || l.Mode != payments.ModeTest {
		t.Fatalf("link on the test fake: mode %q, %v", l.Mode, err)
	}
	store := payments.NewMemoryStore()
	live := newProvider(t, "https://guidecall-checkout-live.adyenpayments.com/checkout/v71")
	svc, err := payments.NewService(payments.Config{Store: store, Providers: []payments.Provider{live}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now().UTC()
	for id, mode := range map[string]payments.Mode{"pl_test": payments.ModeTest, "pl_live": payments.ModeLive} {
		if _, err := store.LinkCreate(ctx, payments.Link{ID: id, CallID: "c", Provider: adyen.Name, ProviderRef: "PL_" + id, Mode: mode,
			Amount: 700, Currency: "EUR", Status: payments.StatusOpen, IdempotencyKey: id, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	auth := func(link string) []byte {
		return adyentest.Notification(keyBytes(t), true, adyen.NotificationItem{
			PSPReference: "PSP_" + link, MerchantAccountCode: merchant, MerchantReference: link,
			Amount: adyen.Amount{Value: 700, Currency: "EUR"}, EventCode: adyen.EventAuthorisation, Success: "true",
			AdditionalData: map[string]string{"paymentLinkId": "PL_" + link},
		})
	}
	if err := svc.HandleWebhook(ctx, adyen.Name, nil, auth("pl_test")); !errors.Is(err, payments.ErrBadWebhook) {
		t.Fatalf("live notification for a test link: %v, want ErrBadWebhook", err)
	}
	if got, _ := store.LinkGet(ctx, "pl_test"); got.Status != payments.StatusOpen {
		t.Fatalf("test link moved to %s", got.Status)
	}
	if err := svc.HandleWebhook(ctx, adyen.Name, nil, auth("pl_live")); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.LinkGet(ctx, "pl_live"); got.Status != payments.StatusPaid {
		t.Fatalf("live link %s, want paid", got.Status)
	}
}

// Each link carries its own shopper's locale and country (from their
// join), not one for the whole node; unknown, neither is sent.
func TestShopperLocaleAndCountryPerLink(t *testing.T) {
	fake := adyentest.New(t, apiKey, merchant, keyBytes(t))
	p := newProvider(t, fake.URL())
	for _, c := range []struct{ link, locale, country string }{
		{"lnk_nl", "nl-NL", "NL"}, {"lnk_jp", "ja-JP", "JP"}, {"lnk_none", "", ""},
	} {
		if _, err := p.CreateLink(context.Background(), payments.ProviderLinkParams{
			LinkID: c.link, CallID: "call_" + c.link, Amount: 1000, Currency: "EUR", Locale: c.locale, Country: c.country,
		}); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string][2]any{}
	for _, r := range fake.Requests() {
		got[r.Body["reference"].(string)] = [2]any{r.Body["shopperLocale"], r.Body["countryCode"]}
	}
	want := map[string][2]any{"lnk_nl": {"nl-NL", "NL"}, "lnk_jp": {"ja-JP", "JP"}, "lnk_none": {nil, nil}}
	for link, w := range want {
		if got[link] != w {
			t.Errorf("%s: shopperLocale, countryCode = %v, want %v", link, got[link], w)
		}
	}
}

// The shopper comes back to the page they joined from (its own query
// kept, the link and payment=return added, its fragment dropped); a link
// without one, or with a page that is not an absolute http(s) URL, uses
// the configured template.
func TestReturnURLIsTheShoppersPage(t *testing.T) {
	fake := adyentest.New(t, apiKey, merchant, keyBytes(t))
	p := newProvider(t, fake.URL())
	want := map[string]string{
		"lnk_page": "https://shop.example/products/scarf?color=blue&payment=return&payment_link=lnk_page",
		"lnk_none": "https://shop.example/shop/?payment_link=lnk_none",
		"lnk_bad":  "https://shop.example/shop/?payment_link=lnk_bad",
	}
	for link, page := range map[string]string{
		"lnk_page": "https://shop.example/products/scarf?color=blue#reviews",
		"lnk_none": "",
		"lnk_bad":  "javascript:alert(1)",
	} {
		if _, err := p.CreateLink(context.Background(), payments.ProviderLinkParams{
			LinkID: link, CallID: "call_" + link, Amount: 1000, Currency: "EUR", ReturnURL: page,
		}); err != nil {
			t.Fatal(err)
		}
	}
	reqs := fake.Requests()
	if len(reqs) != len(want) {
		t.Fatalf("%d requests, want %d", len(reqs), len(want))
	}
	for _, r := range reqs {
		link := r.Body["reference"].(string)
		if got := r.Body["returnUrl"]; got != want[link] {
			t.Errorf("%s: returnUrl = %v, want %s", link, got, want[link])
		}
	}
}
