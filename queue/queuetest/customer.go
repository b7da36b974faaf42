package queuetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"guidecall/queue"
)

func runCustomerTests(t *testing.T, newStore func(t *testing.T) queue.Store) {
	ctx := context.Background()

	t.Run("DeviceRoundTrip", func(t *testing.T) {
		s := newStore(t)
		e := entry("e_1", "shoes", 0)
		e.Device = queue.DevicePhone
		mustCreateEntry(t, s, e)
		got, err := s.EntryUpdate(ctx, "e_1", func(e *queue.Entry) error { e.Device = queue.DeviceTablet; return nil })
		if err != nil || got.Device != queue.DeviceTablet {
			t.Fatalf("EntryUpdate: %+v, %v", got, err)
		}
		if read, err := s.EntryGet(ctx, "e_1"); err != nil || read.Device != queue.DeviceTablet {
			t.Fatalf("EntryGet: device %q, %v; want tablet", read.Device, err)
		}
	})

	t.Run("CartValueRoundTrip", func(t *testing.T) {
		s := newStore(t)
		none := entry("e_none", "shoes", 0)
		mustCreateEntry(t, s, none)
		if read, err := s.EntryGet(ctx, "e_none"); err != nil || read.CartValue != nil {
			t.Fatalf("EntryGet without a cart: %v, %v; want none", read.CartValue, err)
		}
		e := entry("e_1", "shoes", 0)
		v := int64(12900)
		e.CartValue = &v
		mustCreateEntry(t, s, e)
		v = 1 // the store kept its own copy
		if read, err := s.EntryGet(ctx, "e_1"); err != nil || read.CartValue == nil || *read.CartValue != 12900 {
			t.Fatalf("EntryGet: cart %v, %v; want 12900", read.CartValue, err)
		}
		got, err := s.EntryUpdate(ctx, "e_1", func(e *queue.Entry) error { *e.CartValue = 0; return nil })
		if err != nil || got.CartValue == nil || *got.CartValue != 0 {
			t.Fatalf("EntryUpdate: %+v, %v", got, err)
		}
		queued, err := s.EntriesQueued(ctx, "shoes")
		if err != nil {
			t.Fatal(err)
		}
		carts := map[string]string{}
		for _, q := range queued {
			carts[q.ID] = "none"
			if q.CartValue != nil {
				carts[q.ID] = fmt.Sprint(*q.CartValue)
			}
		}
		if carts["e_1"] != "0" || carts["e_none"] != "none" {
			t.Fatalf("EntriesQueued carts %v; want e_1 0 and e_none none", carts)
		}
	})

	t.Run("CallsOfCustomer", func(t *testing.T) {
		s := newStore(t)
		mustUpsertGuide(t, s, guide("g_1", 0))
		for _, e := range []struct{ id, customer string }{{"e_1", "cust-a"}, {"e_2", "cust-a"}, {"e_3", "cust-b"}, {"e_4", ""}} {
			en := entry(e.id, "shoes", 0)
			en.CustomerID = e.customer
			mustCreateEntry(t, s, en)
		}
		// Each call ends before the next, so the guide and entries hold
		// one live call at a time; c_3 was offered but never accepted.
		for _, c := range []struct {
			id, entry string
			offered   time.Duration
			accepted  bool
		}{
			{"c_1", "e_1", 1 * time.Minute, true},
			{"c_2", "e_2", 3 * time.Minute, true},
			{"c_3", "e_2", 2 * time.Minute, false},
			{"c_4", "e_3", 4 * time.Minute, true},
			{"c_5", "e_4", 5 * time.Minute, true},
		} {
			cl := call(c.id, c.entry, "g_1", "shoes", c.offered)
			if c.accepted {
				cl.AcceptedAt = ptr(at(c.offered + time.Second))
			}
			mustCreateCall(t, s, cl)
			if _, err := s.CallUpdate(ctx, c.id, func(cc *queue.Call) error {
				cc.State, cc.EndedAt = queue.CallEnded, ptr(at(c.offered+time.Minute))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.CallsOfCustomer(ctx, "cust-a", 10)
		if err != nil {
			t.Fatal(err)
		}
		wantIDs(t, "CallsOfCustomer(cust-a)", callIDs(got), []string{"c_2", "c_1"})
		if len(got) == 2 && (got[0].EndedAt == nil || got[0].AcceptedAt == nil) {
			t.Errorf("calls come back without their times: %+v", got[0])
		}
		got, _ = s.CallsOfCustomer(ctx, "cust-a", 1)
		wantIDs(t, "CallsOfCustomer(cust-a, 1)", callIDs(got), []string{"c_2"})
		got, _ = s.CallsOfCustomer(ctx, "cust-b", 10)
		wantIDs(t, "CallsOfCustomer(cust-b)", callIDs(got), []string{"c_4"})
		// Anonymous shoppers are nobody's history.
		got, _ = s.CallsOfCustomer(ctx, "", 10)
		wantIDs(t, "CallsOfCustomer(\"\")", callIDs(got), nil)
	})
}
