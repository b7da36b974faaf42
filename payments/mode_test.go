package payments_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"guidecall/internal/db/dbtest"
	"guidecall/payments"
	"guidecall/payments/sandbox"
	"guidecall/webhook"
)

// syncBuffer is a log sink a test reads while the service writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// sandboxEvent is a sandbox webhook with an explicit livemode, signed at t.
func sandboxEvent(secret []byte, t time.Time, id, typ, ref string, live bool) (http.Header, []byte) {
	body := []byte(`{"id":"` + id + `","type":"` + typ + `","ref":"` + ref + `","created":` +
		strconv.FormatInt(t.Unix(), 10) + `,"livemode":` + strconv.FormatBool(live) + `}`)
	h := http.Header{}
	h.Set(sandbox.SignatureHeader, webhook.Sign(secret, t, body))
	return h, body
}

// A link remembers the mode that made it (the sandbox's is always test);
// a correctly signed live event for it is refused with 400, logged with
// the link's id, and moves nothing; the test event then applies. On both
// stores.
func TestWebhookOfTheOtherModeIsRefused(t *testing.T) {
	stores := map[string]func(t *testing.T) payments.Store{
		"memory": func(t *testing.T) payments.Store { return payments.NewMemoryStore() },
		"postgres": func(t *testing.T) payments.Store {
			pool, _ := dbtest.NewSchema(t)
			return payments.NewPostgresStore(pool)
		},
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, sandbox.Config{})
			store := newStore(t)
			var logs syncBuffer
			svc, err := payments.NewService(payments.Config{
				Store: store, Providers: []payments.Provider{f.sb}, Now: f.clock, LinkTTL: time.Hour,
				Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
			})
			if err != nil {
				t.Fatal(err)
			}
			r := chi.NewRouter()
			r.Mount("/webhooks", svc.WebhookRoutes())
			post := func(h http.Header, body []byte) int {
				req := httptest.NewRequest("POST", "/webhooks/sandbox", bytes.NewReader(body))
				req.Header = h
				rec := httptest.NewRecorder()
				r.ServeHTTP(rec, req)
				return rec.Code
			}
			l, _, err := svc.CreateLink(ctx, validParams())
			if err != nil {
				t.Fatal(err)
			}
			if l.Mode != payments.ModeTest {
				t.Fatalf("sandbox link mode %q, want test", l.Mode)
			}
			if got, _ := store.LinkGet(ctx, l.ID); got.Mode != payments.ModeTest {
				t.Fatalf("stored mode %q, want test", got.Mode)
			}
			h, body := sandboxEvent(f.secret, f.now, "evt_live", sandbox.PaymentSucceeded, l.ProviderRef, true)
			if c := post(h, body); c != http.StatusBadRequest {
				t.Fatalf("live event for a test link: %d, want 400", c)
			}
			if got, _ := store.LinkGet(ctx, l.ID); got.Status != payments.StatusOpen {
				t.Fatalf("a live event moved the test link to %s", got.Status)
			}
			if out := logs.String(); !strings.Contains(out, `"link_id":"`+l.ID+`"`) || !strings.Contains(out, `"event_mode":"live"`) {
				t.Fatalf("refusal not logged with link_id and mode:\n%s", out)
			}
			h, body = sandboxEvent(f.secret, f.now, "evt_test", sandbox.PaymentSucceeded, l.ProviderRef, false)
			if c := post(h, body); c != http.StatusOK {
				t.Fatalf("test event for a test link: %d", c)
			}
			if got, _ := store.LinkGet(ctx, l.ID); got.Status != payments.StatusPaid {
				t.Fatalf("status %s, want paid", got.Status)
			}
		})
	}
}
