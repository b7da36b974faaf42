package payments_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"guidecall/internal/db/dbtest"
	"guidecall/payments"
	"guidecall/payments/sandbox"
)

// scriptFixture counts the sandbox's webhooks by checkout and answer.
type scriptFixture struct {
	*fixture
	mu      sync.Mutex
	answers map[string][]int // provider ref -> status of each webhook
	arrived chan string      // provider ref of each webhook answered
}

func newScriptFixture(t *testing.T) *scriptFixture {
	t.Helper()
	return newScriptFixtureOn(t, nil)
}

// newScriptFixtureOn is newScriptFixture with the service on store (the
// fixture's memory store if nil).
func newScriptFixtureOn(t *testing.T, store payments.Store) *scriptFixture {
	t.Helper()
	sf := &scriptFixture{answers: map[string][]int{}, arrived: make(chan string, 100)}
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/webhooks/") {
			handler.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var ev sandbox.Event
		_ = json.Unmarshal(body, &ev)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		sf.mu.Lock()
		sf.answers[ev.Ref] = append(sf.answers[ev.Ref], rec.Code)
		sf.mu.Unlock()
		sf.arrived <- ev.Ref
	}))
	t.Cleanup(srv.Close)
	sf.fixture = newFixture(t, sandbox.Config{CheckoutBaseURL: srv.URL + "/pay/sandbox", WebhookURL: srv.URL + "/webhooks/sandbox"})
	if store != nil {
		serviceOn(t, sf.fixture, store, sf.sb)
	}
	r := chi.NewRouter()
	r.Mount("/webhooks", sf.svc.WebhookRoutes())
	r.Mount("/pay/sandbox", sf.sb.CheckoutRoutes())
	r.Mount("/script", sf.sb.ScriptRoutes())
	handler = r
	if err := sf.outbox.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return sf
}

func (sf *scriptFixture) awaitWebhook(t *testing.T, ref string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case got := <-sf.arrived:
			if got == ref {
				return
			}
		case <-timeout:
			t.Fatalf("no webhook for %s within 5s", ref)
		}
	}
}

func (sf *scriptFixture) pay(t *testing.T, key string) payments.Link {
	t.Helper()
	p := validParams()
	p.IdempotencyKey = key
	l, _, err := sf.svc.CreateLink(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(l.CheckoutURL+"/pay", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return l
}

func TestSandboxScript(t *testing.T) {
	sf := newScriptFixture(t)
	ctx := context.Background()
	if err := sf.sb.SetScript(sandbox.Script{Duplicates: 11}); err == nil {
		t.Fatal("11 duplicates accepted")
	}

	// A bad signature: refused with 400, the link stays open until
	// reconciliation asks the sandbox.
	if err := sf.sb.SetScript(sandbox.Script{BadSignature: true}); err != nil {
		t.Fatal(err)
	}
	bad := sf.pay(t, "bad-sig")
	sf.awaitWebhook(t, bad.ProviderRef)
	sf.mu.Lock()
	first := sf.answers[bad.ProviderRef][0]
	sf.mu.Unlock()
	if first != http.StatusBadRequest {
		t.Fatalf("badly signed webhook answered %d, want 400", first)
	}
	if got, _ := sf.store.LinkGet(ctx, bad.ID); got.Status != payments.StatusOpen {
		t.Fatalf("a badly signed webhook moved the link to %s", got.Status)
	}
	if got, err := sf.svc.SyncLink(ctx, bad.ID); err != nil || got.Status != payments.StatusPaid {
		t.Fatalf("reconciled: %s %v", got.Status, err)
	}

	// Dropped: never sent; a later webhook arrives and the dropped one has not.
	if err := sf.sb.SetScript(sandbox.Script{DropWebhooks: true}); err != nil {
		t.Fatal(err)
	}
	dropped := sf.pay(t, "dropped")
	if err := sf.sb.SetScript(sandbox.Script{Duplicates: 2}); err != nil {
		t.Fatal(err)
	}
	duped := sf.pay(t, "duped")
	for range 3 {
		sf.awaitWebhook(t, duped.ProviderRef)
	}
	sf.mu.Lock()
	droppedN, dupAnswers := len(sf.answers[dropped.ProviderRef]), sf.answers[duped.ProviderRef]
	sf.mu.Unlock()
	if droppedN != 0 {
		t.Fatalf("a dropped webhook was sent %d times", droppedN)
	}
	if len(dupAnswers) != 3 {
		t.Fatalf("duplicated webhook sent %d times, want 3", len(dupAnswers))
	}
	if got, _ := sf.store.LinkGet(ctx, duped.ID); got.Status != payments.StatusPaid {
		t.Fatalf("duplicated webhook: %s", got.Status)
	}
	if got, _ := sf.store.LinkGet(ctx, dropped.ID); got.Status != payments.StatusOpen {
		t.Fatalf("dropped webhook: %s", got.Status)
	}
	if got, _ := sf.svc.SyncLink(ctx, dropped.ID); got.Status != payments.StatusPaid {
		t.Fatalf("dropped then reconciled: %s", got.Status)
	}

	// A failing create, through the admin route.
	h := chi.NewRouter()
	h.Mount("/script", sf.sb.ScriptRoutes())
	rec := do(t, h, http.MethodPut, "/script", `{"fail_next_create":true}`, nil)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"fail_next_create":true`) {
		t.Fatalf("PUT script: %d %s", rec.Code, rec.Body)
	}
	p := validParams()
	p.IdempotencyKey = "fails"
	if _, _, err := sf.svc.CreateLink(ctx, p); err == nil {
		t.Fatal("scripted create failure did not fail")
	}
	if rec := do(t, h, http.MethodPut, "/script", `{"nonsense":1}`, nil); rec.Code != http.StatusBadRequest {
		t.Fatalf("unknown field: %d", rec.Code)
	}
}

// release sends the newest (or oldest) held webhook through the admin
// route and waits until it has been answered.
func (sf *scriptFixture) release(t *testing.T, h http.Handler, order, ref string) {
	t.Helper()
	rec := do(t, h, http.MethodPost, "/script/release", `{"count":1,"order":"`+order+`"}`, nil)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"released":1`) {
		t.Fatalf("release %s: %d %s", order, rec.Code, rec.Body)
	}
	sf.awaitWebhook(t, ref)
}

func (sf *scriptFixture) linkNow(t *testing.T, id string) payments.Link {
	t.Helper()
	l, err := sf.store.LinkGet(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// changesOf is the status after each change of link id told to the
// subscriber (its creation left out), once every earlier event arrived.
func (sf *scriptFixture) changesOf(t *testing.T, id string) []payments.LinkStatus {
	t.Helper()
	var out []payments.LinkStatus
	for _, e := range sf.settle(t) {
		if _, created := e.(payments.LinkCreated); !created && e.EventLink().ID == id {
			out = append(out, e.EventLink().Status)
		}
	}
	return out
}

func scriptRouter(sb *sandbox.Sandbox) http.Handler {
	h := chi.NewRouter()
	h.Mount("/script", sb.ScriptRoutes())
	return h
}

// "Let it expire": the checkout expires on the script's time, its
// payment.expired webhook moves the link to expired once, and the
// checkout then refuses payment with a page in the shopper's language.
func TestSandboxScriptExpiry(t *testing.T) {
	sf := newScriptFixture(t)
	ctx := context.Background()
	h := scriptRouter(sf.sb)
	if rec := do(t, h, http.MethodPut, "/script", `{"expire_after_ms":1}`, nil); rec.Code != http.StatusOK ||
		!strings.Contains(rec.Body.String(), `"expire_after_ms":1`) {
		t.Fatalf("PUT script: %d %s", rec.Code, rec.Body)
	}
	if rec := do(t, h, http.MethodPut, "/script", `{"expire_after_ms":-1}`, nil); rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("negative expiry: %d", rec.Code)
	}
	if err := sf.sb.SetScript(sandbox.Script{ExpireAfterMS: 1}); err != nil {
		t.Fatal(err)
	}
	l, _, err := sf.svc.CreateLink(ctx, validParams())
	if err != nil {
		t.Fatal(err)
	}
	sf.awaitWebhook(t, l.ProviderRef)
	if got := sf.linkNow(t, l.ID); got.Status != payments.StatusExpired {
		t.Fatalf("after the scripted expiry: %s, want expired", got.Status)
	}
	sf.advance(time.Second) // the checkout's own clock passes its expiry too
	resp, err := http.Get(l.CheckoutURL + "?lang=de")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Dieser Zahlungslink ist abgelaufen.") ||
		strings.Contains(string(page), `id="pay"`) {
		t.Fatalf("expired checkout page (%d) offers payment or does not say why:\n%s", resp.StatusCode, page)
	}
	req, _ := http.NewRequest(http.MethodPost, l.CheckoutURL+"/pay", strings.NewReader("method=card"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept-Language", "fr-FR,fr;q=0.9")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict || !strings.Contains(string(page), `lang="fr"`) || strings.Contains(string(page), `id="pay"`) {
		t.Fatalf("pay on an expired checkout: %d\n%s", resp.StatusCode, page)
	}
	if got := sf.linkNow(t, l.ID); got.Status != payments.StatusExpired || got.PaidAt != nil {
		t.Fatalf("after a refused payment: %s paid_at %v", got.Status, got.PaidAt)
	}
	if st, err := sf.sb.FetchStatus(ctx, l.ProviderRef); err != nil || st != payments.StatusExpired {
		t.Fatalf("the sandbox reports %s %v", st, err)
	}
	if s := sf.changesOf(t, l.ID); len(s) != 1 || s[0] != payments.StatusExpired {
		t.Fatalf("events %v, want one expired", s)
	}
}

// True out-of-order delivery: webhooks held by the script and released
// one at a time, each after the previous one was answered, so the order
// they arrive in is the one asked for. Each case asserts the final status,
// the refunded total and that every change was told once.
func TestSandboxScriptOutOfOrder(t *testing.T) {
	ctx := context.Background()
	hold := func(t *testing.T, sf *scriptFixture, expireMS int) {
		t.Helper()
		if err := sf.sb.SetScript(sandbox.Script{HoldWebhooks: true, ExpireAfterMS: expireMS}); err != nil {
			t.Fatal(err)
		}
	}

	// Paid, refunded 1000, refunded the other 1500: delivered refund 2,
	// refund 1, then the payment. Ends refunded 2500, told once.
	t.Run("RefundsBeforePayment", func(t *testing.T) {
		sf := newScriptFixture(t)
		h := scriptRouter(sf.sb)
		hold(t, sf, 0)
		l := sf.pay(t, "ooo-refund")
		sf.reset(t)
		for _, amount := range []int64{1000, 1500} {
			if err := sf.sb.Refund(ctx, payments.RefundParams{Ref: l.ProviderRef, LinkID: l.ID, Amount: amount, Currency: "EUR"}); err != nil {
				t.Fatal(err)
			}
		}
		sf.release(t, h, "newest", l.ProviderRef) // refund 2: the total, 2500
		if got := sf.linkNow(t, l.ID); got.Status != payments.StatusRefunded || got.RefundedAmount != 2500 || got.PaidAt == nil {
			t.Fatalf("after the last refund first: %s refunded %d paid_at %v", got.Status, got.RefundedAmount, got.PaidAt)
		}
		sf.release(t, h, "newest", l.ProviderRef) // refund 1: 1000 so far
		sf.release(t, h, "newest", l.ProviderRef) // the payment
		if got := sf.linkNow(t, l.ID); got.Status != payments.StatusRefunded || got.RefundedAmount != 2500 {
			t.Fatalf("after the older refund and the payment: %s refunded %d", got.Status, got.RefundedAmount)
		}
		if rec := do(t, h, http.MethodPost, "/script/release", `{}`, nil); !strings.Contains(rec.Body.String(), `"released":0,"held":0`) {
			t.Fatalf("nothing left to release: %s", rec.Body)
		}
		if s := sf.statuses(t); len(s) != 1 || s[0] != payments.StatusRefunded {
			t.Fatalf("events %v, want one refunded", s)
		}
	})

	// Paid, then a failed attempt: the failure arrives first (the link
	// fails), the payment after it (the link is paid after all), each
	// told once; the sandbox agrees.
	t.Run("PaidAfterALaterFailure", func(t *testing.T) {
		sf := newScriptFixture(t)
		h := scriptRouter(sf.sb)
		hold(t, sf, 0)
		l := sf.pay(t, "ooo-failed")
		sf.reset(t)
		resp, err := http.Post(l.CheckoutURL+"/fail", "application/x-www-form-urlencoded", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		sf.release(t, h, "newest", l.ProviderRef)
		if got := sf.linkNow(t, l.ID); got.Status != payments.StatusFailed {
			t.Fatalf("after the failure first: %s", got.Status)
		}
		sf.release(t, h, "newest", l.ProviderRef)
		if got := sf.linkNow(t, l.ID); got.Status != payments.StatusPaid || got.PaidAt == nil {
			t.Fatalf("after the late payment: %s paid_at %v", got.Status, got.PaidAt)
		}
		if st, _ := sf.sb.FetchStatus(ctx, l.ProviderRef); st != payments.StatusPaid {
			t.Fatalf("the sandbox says %s", st)
		}
		if s := sf.statuses(t); len(s) != 2 || s[0] != payments.StatusFailed || s[1] != payments.StatusPaid {
			t.Fatalf("events %v, want failed then paid, once each", s)
		}
	})

	// Paid in time, but the expiry's webhook arrives first: the link
	// expires, then is paid.
	t.Run("PaidAfterTheExpiry", func(t *testing.T) {
		sf := newScriptFixture(t)
		h := scriptRouter(sf.sb)
		hold(t, sf, 1)
		l := sf.pay(t, "ooo-expired") // the fake clock has not moved: in time
		sf.reset(t)
		sf.release(t, h, "oldest", l.ProviderRef) // the expiry, scheduled at create
		if got := sf.linkNow(t, l.ID); got.Status != payments.StatusExpired {
			t.Fatalf("after the expiry first: %s", got.Status)
		}
		sf.release(t, h, "oldest", l.ProviderRef)
		if got := sf.linkNow(t, l.ID); got.Status != payments.StatusPaid {
			t.Fatalf("after the payment made in time: %s", got.Status)
		}
		if s := sf.statuses(t); len(s) != 2 || s[0] != payments.StatusExpired || s[1] != payments.StatusPaid {
			t.Fatalf("events %v, want expired then paid, once each", s)
		}
	})
}

// The scripted sandbox closes a link here while its payment's webhook is
// lost (held and never released): the scripted expiry's webhook, or a
// decline after the payment, is the only one delivered. Reconciliation
// then makes the link paid, once, with one event; on both stores.
func TestSandboxScriptReconcileClosedLinks(t *testing.T) {
	for name, newStore := range map[string]func(t *testing.T) payments.Store{
		"memory": func(*testing.T) payments.Store { return payments.NewMemoryStore() },
		"postgres": func(t *testing.T) payments.Store {
			pool, _ := dbtest.NewSchema(t)
			return payments.NewPostgresStore(pool)
		},
	} {
		for _, closedBy := range []payments.LinkStatus{payments.StatusExpired, payments.StatusFailed} {
			t.Run(name+"/"+string(closedBy), func(t *testing.T) {
				ctx := context.Background()
				store := newStore(t)
				sf := newScriptFixtureOn(t, store)
				h := scriptRouter(sf.sb)
				script := sandbox.Script{HoldWebhooks: true}
				if closedBy == payments.StatusExpired {
					// The checkout expires 1ms after it is made (on the
					// fake clock, which does not move before the payment,
					// so the payment is in time), its webhook due then.
					script.ExpireAfterMS = 1
				}
				if err := sf.sb.SetScript(script); err != nil {
					t.Fatal(err)
				}
				l := sf.pay(t, "k-"+string(closedBy)) // the payment's webhook is held
				if closedBy == payments.StatusFailed {
					// A decline after the payment: the sandbox reports it,
					// late, as payment.failed.
					resp, err := http.Post(l.CheckoutURL+"/fail", "application/x-www-form-urlencoded", nil)
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					sf.release(t, h, "newest", l.ProviderRef) // the failure's
				} else {
					sf.release(t, h, "oldest", l.ProviderRef) // the expiry's
				}
				// The rest of the test's links (the fixture's barriers)
				// neither expire nor are held.
				if err := sf.sb.SetScript(sandbox.Script{}); err != nil {
					t.Fatal(err)
				}
				cur, _ := store.LinkGet(ctx, l.ID)
				if cur.Status != closedBy {
					t.Fatalf("after the delivered webhook: %s, want %s", cur.Status, closedBy)
				}
				if s := sf.changesOf(t, l.ID); len(s) != 1 || s[0] != closedBy {
					t.Fatalf("events %v, want one %s", s, closedBy)
				}
				sf.reset(t)
				// The payment's webhook is never released: lost.
				sf.advance(payments.DefaultReconcileAfter + time.Second)
				fixes, err := sf.svc.Reconcile(ctx)
				want := payments.Fix{LinkID: l.ID, CallID: l.CallID, Provider: sandbox.Name, From: closedBy, To: payments.StatusPaid}
				if err != nil || len(fixes) != 1 || fixes[0] != want {
					t.Fatalf("reconcile = %+v, %v; want [%+v]", fixes, err, want)
				}
				if cur, _ := store.LinkGet(ctx, l.ID); cur.Status != payments.StatusPaid || cur.PaidAt == nil || !cur.PaidAt.Before(cur.ExpiresAt) {
					t.Fatalf("after reconcile: %s paid at %v (expires %v)", cur.Status, cur.PaidAt, cur.ExpiresAt)
				}
				if s := sf.changesOf(t, l.ID); len(s) != 1 || s[0] != payments.StatusPaid {
					t.Fatalf("events %v, want one paid", s)
				}
				sf.reset(t)
				sf.advance(payments.DefaultReconcileAfter + time.Second)
				if fixes, err := sf.svc.Reconcile(ctx); err != nil || len(fixes) != 0 {
					t.Fatalf("second pass = %+v, %v; want nothing", fixes, err)
				}
				if s := sf.changesOf(t, l.ID); len(s) != 0 {
					t.Fatalf("events after the second pass: %v", s)
				}
			})
		}
	}
}
