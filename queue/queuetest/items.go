package queuetest

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"guidecall/queue"
)

func item(id, callID string, kind queue.CallItemKind, from queue.Party, body string, when time.Duration) queue.CallItem {
	return queue.CallItem{ID: id, CallID: callID, Kind: kind, From: from, Body: json.RawMessage(body), At: at(when)}
}

// sameBody compares JSON bodies by meaning: PostgreSQL's jsonb does not
// keep spacing or key order.
func sameBody(t *testing.T, what string, got, want json.RawMessage) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: body %s: %v", what, got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s: body %s, want %s", what, got, want)
	}
}

func runItemTests(t *testing.T, newStore func(t *testing.T) queue.Store) {
	ctx := context.Background()

	t.Run("AddInOrderAndList", func(t *testing.T) {
		s := newStore(t)
		callFixture(t, s, 2)
		mustCreateCall(t, s, call("c_1", "e_1", "g_1", "shoes", 0))
		mustCreateCall(t, s, call("c_2", "e_2", "g_2", "shoes", 0))
		want := []queue.CallItem{
			item("it_1", "c_1", queue.ItemChat, queue.PartyShopper, `{"text":"Hi, does it run small?"}`, time.Second),
			item("it_2", "c_1", queue.ItemProduct, queue.PartyGuide, `{"name":"Merino sneaker","price":12900,"currency":"EUR"}`, 2*time.Second),
			item("it_3", "c_1", queue.ItemCart, queue.PartyShopper, `{"items":[]}`, 3*time.Second),
		}
		for i, it := range want {
			got, err := s.CallItemAdd(ctx, it)
			if err != nil {
				t.Fatalf("CallItemAdd %s: %v", it.ID, err)
			}
			if got.Seq != i+1 {
				t.Errorf("%s: seq %d, want %d", it.ID, got.Seq, i+1)
			}
			want[i].Seq = i + 1
		}
		if _, err := s.CallItemAdd(ctx, item("it_other", "c_2", queue.ItemChat, queue.PartyGuide, `{"text":"x"}`, time.Second)); err != nil {
			t.Fatal(err)
		}
		got, err := s.CallItems(ctx, "c_1")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("CallItems: %d items, want %d", len(got), len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			sameBody(t, w.ID, g.Body, w.Body)
			g.Body, w.Body = nil, nil
			g.At, w.At = normTime(g.At), normTime(w.At)
			if !reflect.DeepEqual(g, w) {
				t.Errorf("item %d: %+v, want %+v", i, g, w)
			}
		}
		if other, err := s.CallItems(ctx, "c_2"); err != nil || len(other) != 1 || other[0].Seq != 1 {
			t.Errorf("the other call's items: %+v, %v; want its own one with seq 1", other, err)
		}
		if none, err := s.CallItems(ctx, "c_nope"); err != nil || len(none) != 0 {
			t.Errorf("items of an unknown call: %+v, %v", none, err)
		}
	})

	t.Run("AddToMissingCall", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.CallItemAdd(ctx, item("it_1", "c_nope", queue.ItemChat, queue.PartyGuide, `{"text":"x"}`, 0)); !errors.Is(err, queue.ErrNotFound) {
			t.Fatalf("CallItemAdd to a missing call: %v, want ErrNotFound", err)
		}
	})

	t.Run("RolledBackWithItsTransaction", func(t *testing.T) {
		s := newStore(t)
		callFixture(t, s, 1)
		mustCreateCall(t, s, call("c_1", "e_1", "g_1", "shoes", 0))
		boom := errors.New("boom")
		err := s.Tx(ctx, func(ctx context.Context, tx queue.StoreTx) error {
			if _, err := tx.CallItemAdd(ctx, item("it_1", "c_1", queue.ItemChat, queue.PartyGuide, `{"text":"x"}`, 0)); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Tx: %v", err)
		}
		if got, err := s.CallItems(ctx, "c_1"); err != nil || len(got) != 0 {
			t.Fatalf("after the rollback: %+v, %v; want no items", got, err)
		}
		it, err := s.CallItemAdd(ctx, item("it_2", "c_1", queue.ItemChat, queue.PartyGuide, `{"text":"y"}`, 0))
		if err != nil || it.Seq != 1 {
			t.Fatalf("after the rollback the next item: %+v, %v; want seq 1", it, err)
		}
	})

	t.Run("EntryCustomerIDRoundTrip", func(t *testing.T) {
		s := newStore(t)
		e := entry("e_1", "shoes", 0)
		e.CustomerID = "customer-42"
		got := mustCreateEntry(t, s, e)
		if got.CustomerID != "customer-42" {
			t.Fatalf("EntryCreate customer id %q", got.CustomerID)
		}
		if _, err := s.EntryUpdate(ctx, "e_1", func(e *queue.Entry) error { e.Name = "Sam"; return nil }); err != nil {
			t.Fatal(err)
		}
		read, err := s.EntryGet(ctx, "e_1")
		if err != nil || read.CustomerID != "customer-42" || read.Name != "Sam" {
			t.Fatalf("EntryGet after an update: %+v, %v", read, err)
		}
	})

	t.Run("ErasureTakesCustomerItemsAndComment", func(t *testing.T) {
		for _, purge := range []bool{false, true} {
			s := newStore(t)
			e := entry("e_1", "shoes", 0)
			e.CustomerID, e.Name = "customer-42", "Sam"
			mustCreateEntry(t, s, e)
			mustUpsertGuide(t, s, guide("g_1", 0))
			mustCreateCall(t, s, call("c_1", "e_1", "g_1", "shoes", time.Second))
			if _, err := s.CallItemAdd(ctx, item("it_1", "c_1", queue.ItemChat, queue.PartyShopper, `{"text":"I am Sam, order 1234"}`, time.Second)); err != nil {
				t.Fatal(err)
			}
			if _, err := s.CallUpdate(ctx, "c_1", func(c *queue.Call) error {
				c.State, c.EndedAt = queue.CallEnded, ptr(at(time.Minute))
				c.Rating, c.RatingComment, c.RatedAt = 5, "Thanks, Sam here", ptr(at(time.Minute))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if purge {
				if _, err := s.EntryUpdate(ctx, "e_1", func(e *queue.Entry) error {
					e.State, e.LeftAt = queue.EntryDone, ptr(at(time.Minute))
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				if n, err := s.ShopperDataPurge(ctx, at(time.Hour), at(2*time.Hour)); err != nil || n.Entries != 1 {
					t.Fatalf("ShopperDataPurge = %+v, %v", n, err)
				}
			} else if _, err := s.EntryErase(ctx, "e_1", at(time.Hour)); err != nil {
				t.Fatal(err)
			}
			got, err := s.EntryGet(ctx, "e_1")
			if err != nil || got.CustomerID != "" || got.Name != "" {
				t.Errorf("purge=%v: entry after erasure %+v, %v", purge, got, err)
			}
			if items, err := s.CallItems(ctx, "c_1"); err != nil || len(items) != 0 {
				t.Errorf("purge=%v: items after erasure %+v, %v", purge, items, err)
			}
			c, err := s.CallGet(ctx, "c_1")
			if err != nil || c.RatingComment != "" || c.Rating != 5 {
				t.Errorf("purge=%v: call after erasure: rating %d comment %q, %v; want 5 and no comment", purge, c.Rating, c.RatingComment, err)
			}
		}
	})

	t.Run("RatingRoundTrip", func(t *testing.T) {
		s := newStore(t)
		callFixture(t, s, 1)
		want := mustCreateCall(t, s, call("c_1", "e_1", "g_1", "shoes", 0))
		got, err := s.CallUpdate(ctx, "c_1", func(c *queue.Call) error {
			c.State, c.EndedAt = queue.CallEnded, ptr(at(time.Minute))
			c.Rating, c.RatingComment, c.RatedAt = 4, "Helpful, the size advice was right.", ptr(at(2*time.Minute))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want.State, want.EndedAt = queue.CallEnded, ptr(at(time.Minute))
		want.Rating, want.RatingComment, want.RatedAt = 4, "Helpful, the size advice was right.", ptr(at(2*time.Minute))
		sameCall(t, "CallUpdate", got, want)
		read, err := s.CallGet(ctx, "c_1")
		if err != nil {
			t.Fatal(err)
		}
		sameCall(t, "CallGet", read, want)
	})
}
