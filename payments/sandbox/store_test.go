package sandbox_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"guidecall/internal/db"
	"guidecall/internal/db/dbtest"
	"guidecall/payments"
	"guidecall/payments/sandbox"
	"guidecall/payments/sandbox/sandboxtest"
	"guidecall/webhook"
)

// recordingOutbox is an outbox that only records, for the store suite.
type recordingOutbox struct {
	mu sync.Mutex
	ds []webhook.Delivery
}

func (o *recordingOutbox) Enqueue(_ context.Context, d webhook.Delivery) error {
	o.mu.Lock()
	o.ds = append(o.ds, d)
	o.mu.Unlock()
	return nil
}

func (o *recordingOutbox) SetKey(string, webhook.Key) {}

func TestMemoryStore(t *testing.T) {
	sandboxtest.RunStoreSuite(t, func(t *testing.T) (sandbox.Store, sandboxtest.Enqueued) {
		o := &recordingOutbox{}
		return sandbox.NewMemoryStore(o), func(*testing.T) []webhook.Delivery {
			o.mu.Lock()
			defer o.mu.Unlock()
			return append([]webhook.Delivery(nil), o.ds...)
		}
	})
}

func TestPostgresStore(t *testing.T) {
	t.Parallel()
	dbtest.URL(t)
	sandboxtest.RunStoreSuite(t, func(t *testing.T) (sandbox.Store, sandboxtest.Enqueued) {
		pool, _ := dbtest.NewSchema(t)
		o, err := webhook.NewRiverOutbox(pool, dbtest.SchemaName(t, pool), webhook.Config{})
		if err != nil {
			t.Fatal(err)
		}
		// Nothing works the jobs: the committed ones stay in river_job.
		return sandbox.NewPostgresStore(pool, o), func(t *testing.T) []webhook.Delivery {
			rows, err := pool.Query(context.Background(), `SELECT args->>'id' FROM river_job WHERE kind = $1 ORDER BY id`, webhook.DeliveryKind)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var out []webhook.Delivery
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					t.Fatal(err)
				}
				out = append(out, webhook.Delivery{ID: id})
			}
			return out
		}
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// webhookSink records the webhooks posted to one node.
type webhookSink struct {
	mu     sync.Mutex
	events []payments.ProviderEvent
	errs   []error
	parse  func(http.Header, []byte) (payments.ProviderEvent, error)
}

func (s *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ev, err := s.parse(r.Header, body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.errs = append(s.errs, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.events = append(s.events, ev)
}

func (s *webhookSink) got() ([]payments.ProviderEvent, []error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]payments.ProviderEvent(nil), s.events...), append([]error(nil), s.errs...)
}

// sandboxNode is one guidecall node's sandbox: its checkout pages and its
// own webhook endpoint.
type sandboxNode struct {
	sb       *sandbox.Sandbox
	checkout *httptest.Server
	hooks    *webhookSink
}

// cluster is what sandbox nodes share: a memory store and outbox for a
// one-process "cluster", or a database.
type cluster interface {
	// node returns a store and outbox for one more node.
	node(t *testing.T) (sandbox.Store, webhook.Outbox)
}

type memoryCluster struct {
	once   sync.Once
	store  *sandbox.MemoryStore
	outbox *webhook.MemoryOutbox
}

func (c *memoryCluster) node(t *testing.T) (sandbox.Store, webhook.Outbox) {
	c.once.Do(func() {
		c.outbox = webhook.NewMemoryOutbox(webhook.MemoryConfig{Config: webhook.Config{Schedule: []time.Duration{10 * time.Millisecond}}})
		if err := c.outbox.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.outbox.Stop)
		c.store = sandbox.NewMemoryStore(c.outbox)
	})
	return c.store, c.outbox
}

type postgresCluster struct{ url string }

func (c *postgresCluster) node(t *testing.T) (sandbox.Store, webhook.Outbox) {
	ctx := context.Background()
	pool, err := db.Open(ctx, c.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	o, err := webhook.NewRiverOutbox(pool, dbtest.SchemaName(t, pool), webhook.Config{Schedule: []time.Duration{10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	workers := river.NewWorkers()
	o.AddWorker(workers)
	jobs, err := db.NewJobs(ctx, pool, db.JobsConfig{Workers: workers, FetchPollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := jobs.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(jobs.Stop)
	return sandbox.NewPostgresStore(pool, o), o
}

// newSandboxNode is one node's sandbox. Its webhooks go to its own sink
// (the URL travels with the delivery), whichever node's outbox sends them.
func newSandboxNode(t *testing.T, c cluster, secret []byte) *sandboxNode {
	t.Helper()
	n := &sandboxNode{hooks: &webhookSink{}}
	hookSrv := httptest.NewServer(n.hooks)
	t.Cleanup(hookSrv.Close)
	n.checkout = httptest.NewUnstartedServer(nil)
	store, outbox := c.node(t)
	var err error
	n.sb, err = sandbox.New(sandbox.Config{
		Secret:          secret,
		CheckoutBaseURL: "http://" + n.checkout.Listener.Addr().String() + "/pay/sandbox",
		WebhookURL:      hookSrv.URL,
		Store:           store,
		Outbox:          outbox,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Any node can apply a webhook: this one checks them with its own
	// Sandbox, which shares nothing with the sender but the secret.
	n.hooks.parse = n.sb.ParseWebhook
	n.checkout.Config.Handler = http.StripPrefix("/pay/sandbox", n.sb.CheckoutRoutes())
	n.checkout.Start()
	t.Cleanup(n.checkout.Close)
	return n
}

// A checkout created on one node is rendered and paid on another, as a
// load balancer without sticky sessions would have it; the node that took
// the payment delivers the signed webhook, and every node then sees the
// checkout as paid. A refund made on the first node is delivered by it.
func TestSandboxSharedStoreAcrossNodes(t *testing.T) {
	t.Parallel()
	for name, newCluster := range map[string]func(t *testing.T) cluster{
		"memory": func(*testing.T) cluster { return &memoryCluster{} },
		"postgres": func(t *testing.T) cluster {
			_, url := dbtest.NewSchema(t)
			return &postgresCluster{url: url}
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t)
			secret := []byte("cluster-secret")
			a, b := newSandboxNode(t, c, secret), newSandboxNode(t, c, secret)
			ctx := context.Background()

			pl, err := a.sb.CreateLink(ctx, payments.ProviderLinkParams{
				LinkID: "pl_1", CallID: "call-1", Amount: 2500, Currency: "EUR",
				Items:       []payments.Item{{Name: "Scarf", Quantity: 2, UnitAmount: 1250}},
				Description: "blue scarf", ExpiresAt: time.Now().Add(time.Hour),
			})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(pl.CheckoutURL, a.checkout.URL+"/") {
				t.Fatalf("checkout URL %s is not node A's (%s)", pl.CheckoutURL, a.checkout.URL)
			}
			onB := b.checkout.URL + strings.TrimPrefix(pl.CheckoutURL, a.checkout.URL)

			resp, err := b.checkout.Client().Get(onB)
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `id="pay"`) ||
				!strings.Contains(string(page), "Scarf") {
				t.Fatalf("GET %s on node B: %d\n%s", onB, resp.StatusCode, page)
			}

			req, _ := http.NewRequest(http.MethodPost, onB+"/pay", nil)
			req.Header.Set("Accept", "application/json")
			resp, err = b.checkout.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"status":"paid"`) {
				t.Fatalf("POST pay on node B: %d %s", resp.StatusCode, body)
			}

			waitFor(t, func() bool { evs, _ := b.hooks.got(); return len(evs) == 1 })
			evs, errs := b.hooks.got()
			if len(errs) != 0 {
				t.Fatalf("node B's webhooks refused: %v", errs)
			}
			if ev := evs[0]; ev.ProviderRef != pl.Ref || ev.Status != payments.StatusPaid || ev.Provider != sandbox.Name {
				t.Fatalf("webhook from node B = %+v, want %s paid", ev, pl.Ref)
			}
			for _, n := range []*sandboxNode{a, b} {
				if st, err := n.sb.FetchStatus(ctx, pl.Ref); err != nil || st != payments.StatusPaid {
					t.Fatalf("FetchStatus = %s, %v; want paid on every node", st, err)
				}
			}
			// Paying twice, on the node that made the checkout, is refused.
			req, _ = http.NewRequest(http.MethodPost, pl.CheckoutURL+"/pay", nil)
			req.Header.Set("Accept", "application/json")
			resp, err = a.checkout.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusConflict {
				t.Fatalf("second pay on node A: %d, want 409", resp.StatusCode)
			}

			if err := a.sb.Refund(ctx, payments.RefundParams{Ref: pl.Ref, Amount: 1000, Seq: 1}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool { evs, _ := a.hooks.got(); return len(evs) == 1 })
			evs, _ = a.hooks.got()
			if evs[0].Status != payments.StatusPartiallyRefunded {
				t.Fatalf("refund webhook from node A = %+v", evs[0])
			}
			if err := b.sb.Refund(ctx, payments.RefundParams{Ref: pl.Ref, Amount: 1501, Seq: 2}); !errors.Is(err, payments.ErrInvalidLink) {
				t.Fatalf("over-refund on node B: %v, want ErrInvalidLink", err)
			}
			if err := b.sb.Refund(ctx, payments.RefundParams{Ref: pl.Ref, Amount: 1500, Seq: 2}); err != nil {
				t.Fatal(err)
			}
			if st, err := a.sb.FetchStatus(ctx, pl.Ref); err != nil || st != payments.StatusRefunded {
				t.Fatalf("FetchStatus on node A after node B's refund = %s, %v", st, err)
			}
			waitFor(t, func() bool { evs, _ := b.hooks.got(); return len(evs) == 2 })
			if evs, _ := a.hooks.got(); len(evs) != 1 {
				t.Fatalf("node A delivered %d webhooks, want 1 (its own refund)", len(evs))
			}
		})
	}
}

// Checkouts unknown to the shared store are 404 on every node, and the
// scripted failures stay with the node they were set on.
func TestSandboxScriptsStayPerNode(t *testing.T) {
	store := sandbox.NewMemoryStore(&recordingOutbox{})
	a, _ := sandbox.New(sandbox.Config{Secret: []byte("s"), Store: store})
	b, _ := sandbox.New(sandbox.Config{Secret: []byte("s"), Store: store})
	ctx := context.Background()
	boom := errors.New("boom")
	a.FailNextCreate(boom)
	p := payments.ProviderLinkParams{LinkID: "pl_1", Amount: 100, Currency: "EUR"}
	if _, err := b.CreateLink(ctx, p); err != nil {
		t.Fatalf("node B failed with node A's script: %v", err)
	}
	if _, err := a.CreateLink(ctx, p); !errors.Is(err, boom) {
		t.Fatalf("node A: %v, want its scripted failure", err)
	}
	if _, err := b.FetchStatus(ctx, "sbx_nope"); !errors.Is(err, payments.ErrNotFound) {
		t.Fatalf("unknown ref: %v, want ErrNotFound", err)
	}
}
