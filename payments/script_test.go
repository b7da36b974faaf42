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
