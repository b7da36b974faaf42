package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"guidecall/app"
	"guidecall/internal/db/dbtest"
	"guidecall/payments"
	"guidecall/protocol"
	"guidecall/queue"
)

// countedPayments is a real payments store that counts the reads of
// links by call, to see how many a page of history costs.
type countedPayments struct {
	payments.Store
	perCall, batch atomic.Int64
}

// SetEventHook passes the merchant webhooks' hook on to the PostgreSQL
// store (the memory one is never asked).
func (c *countedPayments) SetEventHook(h payments.TxEventHook) {
	c.Store.(interface{ SetEventHook(payments.TxEventHook) }).SetEventHook(h)
}

func (c *countedPayments) LinksByCall(ctx context.Context, callID string) ([]payments.Link, error) {
	c.perCall.Add(1)
	return c.Store.LinksByCall(ctx, callID)
}

func (c *countedPayments) LinksByCalls(ctx context.Context, callIDs []string) (map[string][]payments.Link, error) {
	c.batch.Add(1)
	return c.Store.LinksByCalls(ctx, callIDs)
}

// TestGuideHistoryPaymentsOneRead: a page of the guide's history with
// several calls, each with its own payments (one with none), reads the
// links of the whole page at once and gives each call its own, oldest
// first, open links past their expiry shown expired, on both stores.
func TestGuideHistoryPaymentsOneRead(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, stores app.Stores) {
		counted := &countedPayments{Store: stores.Payments}
		stores.Payments = counted
		node := startApp(t, func(s *app.Stores) { *s = stores })
		guide, token := accountToken(t, node, "guide-history@test.local", protocol.RoleGuide)
		ctx := context.Background()
		base := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
		// call i has i links; newest call first in the answer.
		const calls = 4
		for i := range calls {
			at := base.Add(time.Duration(i) * time.Hour)
			entryID, callID := fmt.Sprintf("e_hist_%d", i), fmt.Sprintf("c_hist_%d", i)
			if _, err := stores.Queue.EntryCreate(ctx, queue.Entry{ID: entryID, Queue: "default", Locale: "de-DE", Language: "de",
				Currency: "EUR", State: queue.EntryWaiting, JoinedAt: at, SeenAt: at}); err != nil {
				t.Fatal(err)
			}
			if _, err := stores.Queue.CallCreate(ctx, queue.Call{ID: callID, EntryID: entryID, GuideID: guide.ID, Queue: "default",
				State: queue.CallOffered, JoinedAt: at, OfferedAt: at, OfferDeadline: at.Add(15 * time.Second)}); err != nil {
				t.Fatal(err)
			}
			accepted, ended := at.Add(5*time.Second), at.Add(10*time.Minute)
			if _, err := stores.Queue.CallUpdate(ctx, callID, func(c *queue.Call) error {
				c.State, c.EndReason, c.AcceptedAt, c.ConnectedAt, c.EndedAt = queue.CallEnded, queue.ReasonHangup, &accepted, &accepted, &ended
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			for j := range i {
				// Even links were left open past their expiry: the read expires them.
				status := payments.StatusCanceled
				if j%2 == 0 {
					status = payments.StatusOpen
				}
				created := accepted.Add(time.Duration(j+1) * time.Minute)
				if _, err := stores.Payments.LinkCreate(ctx, payments.Link{
					ID: fmt.Sprintf("pl_hist_%d_%d", i, j), CallID: callID, Provider: "sandbox", Amount: int64(1000*i + j), Currency: "EUR",
					Description: fmt.Sprintf("call %d link %d", i, j), Status: status, IdempotencyKey: fmt.Sprintf("k%d", j),
					CreatedBy: guide.ID, CreatedAt: created, UpdatedAt: created, ExpiresAt: created.Add(time.Hour),
				}); err != nil {
					t.Fatal(err)
				}
			}
		}
		counted.perCall.Store(0)
		counted.batch.Store(0)
		r := do(t, "GET", node.URL()+"/api/v1/guide/calls", token, nil, nil)
		if r.status != http.StatusOK {
			t.Fatalf("history: %d %s", r.status, r.body)
		}
		var body struct {
			Calls []struct {
				CallID   string `json:"call_id"`
				Payments []struct {
					LinkID      string `json:"link_id"`
					Amount      int64  `json:"amount"`
					Description string `json:"description"`
					Status      string `json:"status"`
				} `json:"payments"`
			} `json:"calls"`
		}
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatal(err)
		}
		if len(body.Calls) != calls {
			t.Fatalf("%d calls in the history, want %d: %s", len(body.Calls), calls, r.body)
		}
		for k, c := range body.Calls {
			i := calls - 1 - k
			if c.CallID != fmt.Sprintf("c_hist_%d", i) || len(c.Payments) != i {
				t.Fatalf("row %d: call %s with %d payments, want c_hist_%d with %d", k, c.CallID, len(c.Payments), i, i)
			}
			for j, p := range c.Payments {
				want := "canceled"
				if j%2 == 0 {
					want = "expired"
				}
				if p.LinkID != fmt.Sprintf("pl_hist_%d_%d", i, j) || p.Amount != int64(1000*i+j) ||
					p.Description != fmt.Sprintf("call %d link %d", i, j) || p.Status != want {
					t.Errorf("call %d payment %d: %+v", i, j, p)
				}
			}
		}
		if per, batch := counted.perCall.Load(), counted.batch.Load(); per != 0 || batch != 1 {
			t.Errorf("a page of %d calls read links %d times one by one and %d times together, want 0 and 1", calls, per, batch)
		}
	}
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		run(t, app.MemoryStores())
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		_, url := dbtest.NewSchema(t)
		stores, err := app.PostgresStores(context.Background(), url, false, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		run(t, stores)
	})
}
