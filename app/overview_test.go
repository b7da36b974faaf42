package app_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"guidecall/app"
	"guidecall/internal/config"
	"guidecall/internal/db/dbtest"
	"guidecall/protocol"
)

// TestGuideQueueCartValue: on both stores, the cart value a shopper
// joins with (the widget's sum, or the customer token's cart_value claim,
// which goes first) is kept on the entry and answered in the guide's queue
// overview in minor units beside the entry's currency; a shopper whose
// page said nothing has none, and values out of range are refused.
func TestGuideQueueCartValue(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, stores app.Stores) {
		node := startAppConfig(t, func(c *config.Serve) { c.CustomerTokenSecret = customerSecret }, func(s *app.Stores) { *s = stores })
		api := node.URL() + "/api/v1"
		_, guide := accountToken(t, node, "guide-cart@test.local", protocol.RoleGuide)
		exp := time.Now().Add(time.Hour).Unix()
		joinWith := func(body map[string]any) string {
			t.Helper()
			r := doJSON(t, "POST", api+"/queue", "", body, nil)
			var j joined
			if r.status != http.StatusCreated || json.Unmarshal(r.body, &j) != nil {
				t.Fatalf("join %v: %d %s", body, r.status, r.body)
			}
			return j.EntryID
		}
		widget := joinWith(map[string]any{"currency": "EUR", "name": "Widget", "cart_value": 25800})
		signed := joinWith(map[string]any{"currency": "JPY", "name": "Signed", "cart_value": 100,
			"customer_token": customerToken(t, customerSecret, jwt.MapClaims{"sub": "cust-7", "cart_value": 19800, "exp": exp})})
		signedNoCart := joinWith(map[string]any{"currency": "CHF", "name": "Token without cart", "cart_value": 4500,
			"customer_token": customerToken(t, customerSecret, jwt.MapClaims{"sub": "cust-8", "exp": exp})})
		empty := joinWith(map[string]any{"currency": "EUR", "name": "Empty cart", "cart_value": 0})
		none := joinWith(map[string]any{"currency": "EUR", "name": "No cart"})

		wantError(t, doJSON(t, "POST", api+"/queue", "", map[string]any{"currency": "EUR", "cart_value": -1}, nil),
			http.StatusBadRequest, "bad_request", "cart_value")
		wantError(t, doJSON(t, "POST", api+"/queue", "", map[string]any{"currency": "EUR", "cart_value": 1_000_000_000_001}, nil),
			http.StatusBadRequest, "bad_request", "cart_value")
		wantError(t, doJSON(t, "POST", api+"/queue", "", map[string]any{"currency": "EUR",
			"customer_token": customerToken(t, customerSecret, jwt.MapClaims{"sub": "c9", "cart_value": -5, "exp": exp})}, nil),
			http.StatusBadRequest, "bad_customer_token", "cart_value")

		r := do(t, "GET", api+"/guide/queue", guide, nil, nil)
		if r.status != http.StatusOK {
			t.Fatalf("overview: %d %s", r.status, r.body)
		}
		var got struct {
			Queues []struct {
				Entries []struct {
					EntryID   string          `json:"entry_id"`
					Currency  string          `json:"currency"`
					CartValue json.RawMessage `json:"cart_value"`
				} `json:"entries"`
			} `json:"queues"`
		}
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatal(err)
		}
		seen := map[string]string{}
		for _, q := range got.Queues {
			for _, e := range q.Entries {
				seen[e.EntryID] = e.Currency + " " + string(e.CartValue)
			}
		}
		for id, want := range map[string]string{widget: "EUR 25800", signed: "JPY 19800", signedNoCart: "CHF 4500", empty: "EUR 0", none: "EUR "} {
			if seen[id] != want {
				t.Errorf("entry %s: cart %q, want %q (overview %s)", id, seen[id], want, r.body)
			}
		}
		// Kept on the entry itself, as a reloaded node reads it.
		for id, want := range map[string]int64{widget: 25800, signed: 19800, empty: 0} {
			e, err := node.Queue.Entry(context.Background(), id)
			if err != nil || e.CartValue == nil || *e.CartValue != want {
				t.Errorf("stored entry %s: cart %v, %v; want %d", id, e.CartValue, err, want)
			}
		}
		if e, err := node.Queue.Entry(context.Background(), none); err != nil || e.CartValue != nil {
			t.Errorf("stored entry without a cart: %v, %v; want none", e.CartValue, err)
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
