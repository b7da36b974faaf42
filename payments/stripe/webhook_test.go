package stripe_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	stripewebhook "github.com/stripe/stripe-go/v82/webhook"

	"guidecall/payments"
	"guidecall/payments/stripe"
	"guidecall/webhook"
)

// fixture is testdata/name.json with the session and link ids filled in.
func fixture(t testing.TB, name, sessionID, linkID string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "{{SESSION_ID}}", sessionID)
	return []byte(strings.ReplaceAll(s, "{{LINK_ID}}", linkID))
}

// signedByStripe signs body with stripe-go's own test signer, so that our
// verification is checked against Stripe's scheme and not only against
// itself.
func signedByStripe(body []byte, at time.Time) http.Header {
	sp := stripewebhook.GenerateTestSignedPayload(&stripewebhook.UnsignedPayload{Payload: body, Secret: webhookSecret, Timestamp: at})
	return http.Header{stripe.SignatureHeader: {sp.Header}}
}

func offlineProvider(t testing.TB, key string, now time.Time) *stripe.Provider {
	t.Helper()
	p, err := stripe.New(stripe.Config{SecretKey: key, WebhookSecret: webhookSecret, APIURL: "http://127.0.0.1:1",
		SuccessURL: "https://s/", CancelURL: "https://c/", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseWebhookFixtures(t *testing.T) {
	p := offlineProvider(t, testKey, fixtureTime)
	cases := []struct {
		fixture    string
		wantStatus payments.LinkStatus
		byLink     bool
		wantErr    error
	}{
		{"session_completed_paid", payments.StatusPaid, false, nil},
		// konbini and other asynchronous methods complete the session unpaid.
		{"session_completed_unpaid", payments.StatusProcessing, false, nil},
		{"session_async_succeeded", payments.StatusPaid, false, nil},
		{"session_async_failed", payments.StatusFailed, false, nil},
		{"session_expired", payments.StatusExpired, false, nil},
		{"charge_refunded_partial", payments.StatusPartiallyRefunded, true, nil},
		{"charge_refunded_full", payments.StatusRefunded, true, nil},
		{"charge_refunded_foreign", "", false, payments.ErrIgnoredEvent},
		{"customer_created", "", false, payments.ErrIgnoredEvent},
		{"live_session_completed", "", false, payments.ErrBadWebhook},
		{"old_api_version", "", false, payments.ErrBadWebhook},
	}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			body := fixture(t, c.fixture, "cs_test_fixture", "pl_fixture")
			ev, err := p.ParseWebhook(signedByStripe(body, fixtureTime), body)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("got %+v, %v; want %v", ev, err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ev.Status != c.wantStatus || ev.ID != "evt_"+c.fixture || !ev.OccurredAt.Equal(fixtureTime) {
				t.Fatalf("got %+v, want status %s", ev, c.wantStatus)
			}
			if c.byLink && (ev.LinkID != "pl_fixture" || ev.ProviderRef != "") {
				t.Fatalf("refund event %+v should find its link by id", ev)
			}
			if !c.byLink && ev.ProviderRef != "cs_test_fixture" {
				t.Fatalf("session event %+v should name its session", ev)
			}
		})
	}
}

func TestParseWebhookSignatures(t *testing.T) {
	p := offlineProvider(t, testKey, fixtureTime)
	body := fixture(t, "session_completed_paid", "cs_test_sig", "pl_sig")
	good := signedByStripe(body, fixtureTime).Get(stripe.SignatureHeader)
	other := webhook.Sign([]byte("whsec_other"), fixtureTime, body)
	_, otherV1, _ := strings.Cut(other, ",")
	cases := []struct {
		name   string
		header string
		body   []byte
		ok     bool
	}{
		{"stripe's own signature", good, body, true},
		{"ours, same scheme", webhook.Sign([]byte(webhookSecret), fixtureTime, body), body, true},
		// Rotation: Stripe sends a v1 per active secret; one must match.
		{"one of two v1", other + "," + strings.Split(good, ",")[1], body, true},
		{"4 min old", webhook.Sign([]byte(webhookSecret), fixtureTime.Add(-4*time.Minute), body), body, true},
		{"4 min ahead", webhook.Sign([]byte(webhookSecret), fixtureTime.Add(4*time.Minute), body), body, true},
		{"6 min old", webhook.Sign([]byte(webhookSecret), fixtureTime.Add(-6*time.Minute), body), body, false},
		// stripe-go accepts this one; we do not.
		{"6 min ahead", webhook.Sign([]byte(webhookSecret), fixtureTime.Add(6*time.Minute), body), body, false},
		{"tampered body", good, []byte(strings.Replace(string(body), `"paid"`, `"unpaid"`, 1)), false},
		{"other secret", other, body, false},
		{"v0 only", "t=1767225600,v0=" + strings.TrimPrefix(otherV1, "v1="), body, false},
		{"missing", "", body, false},
		{"garbage", "nonsense", body, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := p.ParseWebhook(http.Header{stripe.SignatureHeader: {c.header}}, c.body)
			if c.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !c.ok && !errors.Is(err, payments.ErrBadSignature) {
				t.Fatalf("got %v, want ErrBadSignature", err)
			}
		})
	}
	// stripe-go itself lets the far-future one through: the reason we verify ourselves.
	future := webhook.Sign([]byte(webhookSecret), time.Now().Add(6*time.Minute), body)
	if err := stripewebhook.ValidatePayload(body, future, webhookSecret); err != nil {
		t.Logf("stripe-go now refuses far-future timestamps too: %v", err)
	}
}

// A test-mode key refuses live events and live sessions, and the reverse.
func TestParseWebhookModes(t *testing.T) {
	live := offlineProvider(t, liveKey, fixtureTime)
	body := fixture(t, "live_session_completed", "cs_live_x", "pl_live")
	if ev, err := live.ParseWebhook(signedByStripe(body, fixtureTime), body); err != nil || ev.Status != payments.StatusPaid {
		t.Fatalf("live event on a live key: %+v, %v", ev, err)
	}
	body = fixture(t, "live_session_completed", "cs_test_x", "pl_live")
	if _, err := live.ParseWebhook(signedByStripe(body, fixtureTime), body); !errors.Is(err, payments.ErrBadWebhook) {
		t.Fatalf("live event naming a test session: %v", err)
	}
	body = fixture(t, "session_completed_paid", "cs_test_x", "pl")
	if _, err := live.ParseWebhook(signedByStripe(body, fixtureTime), body); !errors.Is(err, payments.ErrBadWebhook) {
		t.Fatalf("test event on a live key: %v", err)
	}
}

// The whole path through payments.Service: a konbini link completes
// unpaid (processing), then its asynchronous success arrives (paid), then
// a partial refund; duplicates, concurrent copies and stale events change
// nothing.
func TestServiceAppliesStripeEvents(t *testing.T) {
	_, api := newRecorder(t, stripeMockURL(t))
	now := time.Now()
	p := newProvider(t, testKey, api, now)
	svc, err := payments.NewService(payments.Config{Store: payments.NewMemoryStore(), Providers: []payments.Provider{p}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var mu sync.Mutex
	var seen []payments.Event
	done := make(chan struct{}, 16)
	unsub := svc.Subscribe(payments.SubscribeConfig{Name: "test"}, func(_ context.Context, e payments.Event) {
		mu.Lock()
		seen = append(seen, e)
		mu.Unlock()
		done <- struct{}{}
	})
	defer unsub()
	l, created, err := svc.CreateLink(ctx, payments.CreateLinkParams{CallID: "call_k", Amount: 4200, Currency: "JPY", IdempotencyKey: "k1", CreatedBy: "g"})
	if err != nil || !created || !strings.HasPrefix(l.ProviderRef, "cs_test_") || l.Mode != payments.ModeTest {
		t.Fatalf("CreateLink: %+v %v %v", l, created, err)
	}
	send := func(name string) error {
		body := fixture(t, name, l.ProviderRef, l.ID)
		return svc.HandleWebhook(ctx, stripe.Name, signedByStripe(body, time.Now()), body)
	}
	status := func() payments.LinkStatus {
		got, err := svc.Link(ctx, l.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Status
	}
	if err := send("session_completed_unpaid"); err != nil {
		t.Fatal(err)
	}
	if st := status(); st != payments.StatusProcessing {
		t.Fatalf("after completed/unpaid: %s, want processing", st)
	}
	// 100 concurrent copies of the async success apply once.
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- send("session_async_succeeded")
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if st := status(); st != payments.StatusPaid {
		t.Fatalf("after async success: %s, want paid", st)
	}
	// Late and out of order: a failure after the success changes nothing.
	if err := send("session_async_failed"); err != nil {
		t.Fatal(err)
	}
	if err := send("charge_refunded_partial"); err != nil {
		t.Fatal(err)
	}
	if st := status(); st != payments.StatusPartiallyRefunded {
		t.Fatalf("after partial refund: %s", st)
	}
	if err := send("customer_created"); err != nil {
		t.Fatalf("an ignored type must be answered 200: %v", err)
	}
	for range 4 { // created, processing, paid, partially refunded
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatal("events did not arrive")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	var kinds []string
	for _, e := range seen {
		switch e := e.(type) {
		case payments.LinkCreated:
			kinds = append(kinds, "created")
		case payments.LinkStatusChanged:
			kinds = append(kinds, string(e.To))
		case payments.RefundRecorded:
			kinds = append(kinds, string(e.To))
		}
	}
	if got := strings.Join(kinds, ","); got != "created,processing,paid,partially_refunded" {
		t.Fatalf("events %s, want each change once", got)
	}
}

// A refund event naming a link of another provider moves nothing.
func TestRefundEventCannotMoveAnotherProvidersLink(t *testing.T) {
	store := payments.NewMemoryStore()
	p := offlineProvider(t, testKey, time.Now())
	svc, err := payments.NewService(payments.Config{Store: store, Providers: []payments.Provider{p}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now().UTC()
	other := payments.Link{ID: "pl_other", CallID: "c", Provider: "sandbox", ProviderRef: "sbx_1", Amount: 4200, Currency: "JPY",
		Status: payments.StatusPaid, IdempotencyKey: "k", CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if _, err := store.LinkCreate(ctx, other); err != nil {
		t.Fatal(err)
	}
	body := fixture(t, "charge_refunded_full", "", "pl_other")
	err = svc.HandleWebhook(ctx, stripe.Name, signedByStripe(body, time.Now()), body)
	if !errors.Is(err, payments.ErrUnknownReference) {
		t.Fatalf("got %v, want ErrUnknownReference", err)
	}
	if l, _ := store.LinkGet(ctx, "pl_other"); l.Status != payments.StatusPaid {
		t.Fatalf("sandbox link moved to %s by a Stripe event", l.Status)
	}
}

func FuzzParseWebhook(f *testing.F) {
	for _, name := range []string{"session_completed_paid", "charge_refunded_partial", "customer_created"} {
		f.Add(fixture(f, name, "cs_test_f", "pl_f"))
	}
	f.Add([]byte(`{"id":"evt","type":"checkout.session.completed","api_version":"2025-08-27.basil","data":{"object":null}}`))
	p := offlineProvider(f, testKey, fixtureTime)
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := p.ParseWebhook(signedByStripe(body, fixtureTime), body)
		if err != nil {
			if !errors.Is(err, payments.ErrBadWebhook) && !errors.Is(err, payments.ErrIgnoredEvent) {
				t.Fatalf("signed body refused with %v, want ErrBadWebhook or ErrIgnoredEvent", err)
			}
			return
		}
		if ev.ID == "" || !ev.Status.Valid() || (ev.ProviderRef == "") == (ev.LinkID == "") {
			t.Fatalf("accepted an event without id, status or exactly one of ref and link: %+v", ev)
		}
		if ev.ProviderRef != "" && !strings.HasPrefix(ev.ProviderRef, "cs_test_") {
			t.Fatalf("accepted a session of another mode: %q", ev.ProviderRef)
		}
	})
}

// Amounts Stripe cannot take exactly are refused before any request (the
// provider's API URL here answers nothing).
func TestInexpressibleAmountsAreRefused(t *testing.T) {
	p := offlineProvider(t, testKey, time.Now())
	for _, c := range []struct {
		cur    string
		amount int64
		want   error
	}{
		{"KWD", 1001, payments.ErrInvalidLink}, // three decimals, last digit must be 0
		{"BHD", 5, payments.ErrInvalidLink},
		{"CLF", 10001, payments.ErrInvalidLink}, // four decimals in ISO, two at Stripe
		{"XYZ", 100, payments.ErrUnknownCurrency},
		{"XXX", 100, payments.ErrUnknownCurrency}, // not money
	} {
		_, err := p.CreateLink(context.Background(), payments.ProviderLinkParams{LinkID: "pl", CallID: "c", Amount: c.amount, Currency: c.cur})
		if !errors.Is(err, c.want) {
			t.Errorf("%s %d: got %v, want %v", c.cur, c.amount, err, c.want)
		}
	}
}

// The keys changed from test to live: a live refund event naming, by its
// metadata, a link made in test mode is refused (400) and moves nothing,
// while a live event for a live link applies. A live session event for a
// test session is refused before any link is looked up.
func TestLiveEventForATestLinkIsRefused(t *testing.T) {
	store := payments.NewMemoryStore()
	live := offlineProvider(t, liveKey, time.Now())
	svc, err := payments.NewService(payments.Config{Store: store, Providers: []payments.Provider{live}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now().UTC()
	mk := func(id, ref string, mode payments.Mode, st payments.LinkStatus) {
		t.Helper()
		l := payments.Link{ID: id, CallID: "c", Provider: stripe.Name, ProviderRef: ref, Mode: mode, Amount: 4200, Currency: "JPY",
			Status: st, IdempotencyKey: id, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if _, err := store.LinkCreate(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	mk("pl_test", "cs_test_old", payments.ModeTest, payments.StatusPaid)
	mk("pl_live", "cs_live_new", payments.ModeLive, payments.StatusOpen)
	liveBody := func(name, session, link string) []byte {
		return []byte(strings.Replace(string(fixture(t, name, session, link)), `"livemode": false`, `"livemode": true`, 1))
	}
	body := liveBody("charge_refunded_full", "", "pl_test")
	if err := svc.HandleWebhook(ctx, stripe.Name, signedByStripe(body, time.Now()), body); !errors.Is(err, payments.ErrBadWebhook) {
		t.Fatalf("live refund for a test link: %v, want ErrBadWebhook", err)
	}
	if l, _ := store.LinkGet(ctx, "pl_test"); l.Status != payments.StatusPaid || l.RefundedAmount != 0 {
		t.Fatalf("test link moved to %s (refunded %d) by a live event", l.Status, l.RefundedAmount)
	}
	body = liveBody("live_session_completed", "cs_test_old", "pl_test")
	if err := svc.HandleWebhook(ctx, stripe.Name, signedByStripe(body, time.Now()), body); !errors.Is(err, payments.ErrBadWebhook) {
		t.Fatalf("live session event for a test session: %v, want ErrBadWebhook", err)
	}
	body = liveBody("live_session_completed", "cs_live_new", "pl_live")
	if err := svc.HandleWebhook(ctx, stripe.Name, signedByStripe(body, time.Now()), body); err != nil {
		t.Fatalf("live event for a live link: %v", err)
	}
	if l, _ := store.LinkGet(ctx, "pl_live"); l.Status != payments.StatusPaid {
		t.Fatalf("live link %s, want paid", l.Status)
	}
}
