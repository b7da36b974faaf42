package merchant_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"guidecall/merchant"
)

// shopperStore is what both stores offer for shopper data in events.
type shopperStore interface {
	PurgeShopperData(ctx context.Context, cutoff time.Time) (int, error)
	EraseShopper(ctx context.Context, m merchant.Match) (int, error)
	EventBody(ctx context.Context, id string) ([]byte, error)
}

func callbackEvent(id, name, phone, email, entryID, customerID string, at time.Time) merchant.Event {
	data, _ := json.Marshal(map[string]any{"callback": map[string]string{
		"callback_id": "cb_" + id, "queue": "default", "name": name, "phone": phone, "email": email,
		"message": name + " asks about size 38", "entry_id": entryID, "customer_id": customerID,
	}})
	return merchant.Event{ID: id, Type: merchant.CallbackRequested, CreatedAt: at, Data: data}
}

// TestShopperDataLeavesEventBodies: erasure by customer id and by entry id
// blanks the shopper's fields in the stored callback.requested bodies and
// nobody else's; the retention purge blanks delivered events recorded
// before its cutoff. Ids, types and delivery logs stay.
func TestShopperDataLeavesEventBodies(t *testing.T) {
	eachStore(t, []time.Duration{20 * time.Millisecond}, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		store := f.svc.(shopperStore)
		r := newReceiver(t)
		ep := f.endpoint(t, r)
		now := time.Now()
		evs := []merchant.Event{
			callbackEvent("evt_cb_ana_token", "Ana", "+49 30 1234567", "ana@shop.example", "", "cust-a", now),
			callbackEvent("evt_cb_ana_entry", "Ana", "+49 30 7654321", "", "e_ana", "", now),
			callbackEvent("evt_cb_bea", "Bea", "+351 21 000 0000", "bea@shop.example", "e_bea", "cust-b", now),
			callbackEvent("evt_cb_old", "Olga", "+33 1 00 00 00 00", "olga@shop.example", "e_olga", "", now.Add(-2*time.Hour)),
		}
		f.recordTx(t, true, evs...)
		for _, e := range evs {
			f.awaitStatus(t, e.ID, ep.ID, merchant.StatusSucceeded)
		}
		body := func(id string) string {
			t.Helper()
			b, err := store.EventBody(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		mustHold := func(id string, want ...string) {
			t.Helper()
			b := body(id)
			for _, w := range want {
				if !strings.Contains(b, w) {
					t.Errorf("event %s lost %q: %s", id, w, b)
				}
			}
		}
		mustNotHold := func(id string, gone ...string) {
			t.Helper()
			b := body(id)
			for _, g := range gone {
				if strings.Contains(b, g) {
					t.Errorf("event %s still holds %q: %s", id, g, b)
				}
			}
			for _, keep := range []string{id, merchant.CallbackRequested, "cb_" + id} {
				if !strings.Contains(b, keep) {
					t.Errorf("event %s lost %q: %s", id, keep, b)
				}
			}
		}

		if n, err := store.EraseShopper(ctx, merchant.Match{Field: "customer_id", Value: "cust-a"}); err != nil || n != 1 {
			t.Fatalf("erase cust-a: %d %v, want 1 event", n, err)
		}
		mustNotHold("evt_cb_ana_token", "Ana", "1234567", "ana@shop.example", "cust-a")
		mustHold("evt_cb_ana_entry", "Ana", "7654321")
		if n, err := store.EraseShopper(ctx, merchant.Match{Field: "entry_id", Value: "e_ana"}); err != nil || n != 1 {
			t.Fatalf("erase e_ana: %d %v, want 1 event", n, err)
		}
		mustNotHold("evt_cb_ana_entry", "Ana", "7654321")
		mustHold("evt_cb_bea", "Bea", "bea@shop.example", "cust-b")
		mustHold("evt_cb_old", "Olga")

		if n, err := store.PurgeShopperData(ctx, now.Add(-time.Hour)); err != nil || n != 1 {
			t.Fatalf("purge: %d %v, want the one old event", n, err)
		}
		mustNotHold("evt_cb_old", "Olga", "olga@shop.example")
		mustHold("evt_cb_bea", "Bea", "bea@shop.example")
		if d := f.delivery(t, "evt_cb_old", ep.ID); d.Status != merchant.StatusSucceeded || len(d.AttemptLog) != 1 {
			t.Errorf("purge touched the delivery log: %+v", d)
		}
		if n, err := store.EraseShopper(ctx, merchant.Match{Field: "customer_id", Value: "cust-a"}); err != nil || n != 0 {
			t.Errorf("second erasure: %d %v, want nothing left", n, err)
		}
	})
}

func ratedEvent(id, entryID, customerID, comment string, at time.Time) merchant.Event {
	data, _ := json.Marshal(map[string]any{
		"call": map[string]string{"id": "c_" + id, "entry_id": entryID, "state": "ended"},
		"rating": map[string]any{"call_id": "c_" + id, "entry_id": entryID, "customer_id": customerID,
			"score": 4, "comment": comment},
	})
	return merchant.Event{ID: id, Type: merchant.CallRated, CreatedAt: at, Data: data}
}

// TestRatingCommentLeavesEventBodies: a call.rated body keeps the score
// and ids but loses the shopper's comment and customer id to an erasure
// by entry or customer and to the retention purge, like a callback.
func TestRatingCommentLeavesEventBodies(t *testing.T) {
	eachStore(t, []time.Duration{20 * time.Millisecond}, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		store := f.svc.(shopperStore)
		r := newReceiver(t)
		ep := f.endpoint(t, r)
		now := time.Now()
		evs := []merchant.Event{
			ratedEvent("evt_rated_ana", "e_ana", "cust-a", "Ana liked the scarf", now),
			ratedEvent("evt_rated_bea", "e_bea", "", "Bea wants size 38", now),
			ratedEvent("evt_rated_cem", "e_cem", "cust-c", "Cem says thanks", now),
			ratedEvent("evt_rated_old", "e_olga", "", "Olga was in a hurry", now.Add(-2*time.Hour)),
		}
		f.recordTx(t, true, evs...)
		for _, e := range evs {
			f.awaitStatus(t, e.ID, ep.ID, merchant.StatusSucceeded)
		}
		check := func(id string, gone bool, words ...string) {
			t.Helper()
			b, err := store.EventBody(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range words {
				if strings.Contains(string(b), w) == gone {
					t.Errorf("event %s: holds %q is %v, want %v: %s", id, w, !gone, !gone, b)
				}
			}
			for _, keep := range []string{id, merchant.CallRated, `"score":4`, "c_" + id} {
				if !strings.Contains(string(b), keep) {
					t.Errorf("event %s lost %q: %s", id, keep, b)
				}
			}
		}
		if n, err := store.EraseShopper(ctx, merchant.Match{Field: "customer_id", Value: "cust-a"}); err != nil || n != 1 {
			t.Fatalf("erase cust-a: %d %v, want 1 event", n, err)
		}
		check("evt_rated_ana", true, "Ana liked", "cust-a")
		if n, err := store.EraseShopper(ctx, merchant.Match{Field: "entry_id", Value: "e_bea"}); err != nil || n != 1 {
			t.Fatalf("erase e_bea: %d %v, want 1 event", n, err)
		}
		check("evt_rated_bea", true, "Bea wants")
		check("evt_rated_cem", false, "Cem says thanks", "cust-c")
		if n, err := store.PurgeShopperData(ctx, now.Add(-time.Hour)); err != nil || n != 1 {
			t.Fatalf("purge: %d %v, want the one old event", n, err)
		}
		check("evt_rated_old", true, "Olga was")
		check("evt_rated_cem", false, "Cem says thanks")
	})
}
