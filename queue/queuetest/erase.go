package queuetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"guidecall/queue"
)

// entryData names the fields of an entry that could still name its shopper.
func entryData(e queue.Entry) []string {
	var held []string
	for field, v := range map[string]string{"name": e.Name, "page_url": e.PageURL, "transfer_note": e.TransferNote, "customer_id": e.CustomerID} {
		if v != "" {
			held = append(held, field)
		}
	}
	return held
}

func callbackData(c queue.Callback) []string {
	var held []string
	for field, v := range map[string]string{"name": c.Name, "phone": c.Phone, "email": c.Email, "message": c.Message, "note": c.Note, "customer_id": c.CustomerID} {
		if v != "" {
			held = append(held, field)
		}
	}
	return held
}

// erasableEntry is an entry holding every kind of shopper data.
func erasableEntry(id, customer string, joined time.Duration) queue.Entry {
	e := entry(id, "q", joined)
	e.CustomerID, e.TransferNote = customer, "wants size 38"
	return e
}

func mustCreateCallback(t *testing.T, s queue.Store, cb queue.Callback) {
	t.Helper()
	if _, err := s.CallbackCreate(context.Background(), cb); err != nil {
		t.Fatalf("CallbackCreate(%s): %v", cb.ID, err)
	}
}

func doneCallback(id, customer, entryID string, done time.Duration) queue.Callback {
	cb := callback(id, "q", 0)
	cb.CustomerID, cb.EntryID = customer, entryID
	cb.State, cb.ClaimedBy, cb.ClaimedAt, cb.Outcome, cb.Note, cb.DoneAt = queue.CallbackDone, "g_1", ptr(at(done-time.Minute)), queue.OutcomeReached, "reached her", ptr(at(done))
	return cb
}

func openCallback(id, customer, entryID string) queue.Callback {
	cb := callback(id, "q", 0)
	cb.CustomerID, cb.EntryID = customer, entryID
	return cb
}

// endedCall is a declined offer of entryID's, ended at ended, with a note.
func endedCall(id, entryID string, ended time.Duration) queue.Call {
	c := call(id, entryID, "g_1", "q", 0)
	c.State, c.EndedAt, c.EndReason, c.DeclineNote = queue.CallEnded, ptr(at(ended)), queue.ReasonDeclined, "she asked for a colleague"
	return c
}

func runEraseTests(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Run("PurgeErasesOnlyEndedBeforeTheCutoff", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), context.Background()
		mustUpsertGuide(t, s, guide("g_1", 0))
		old, recent, live := erasableEntry("e_old", "cust_old", 0), erasableEntry("e_recent", "cust_recent", time.Second), erasableEntry("e_live", "cust_live", 2*time.Second)
		old.State, old.LeftAt, old.LeftReason = queue.EntryDone, ptr(at(time.Hour)), "hangup"
		recent.State, recent.LeftAt, recent.LeftReason = queue.EntryCanceled, ptr(at(3*time.Hour)), "canceled"
		for _, e := range []queue.Entry{old, recent, live} {
			mustCreateEntry(t, s, e)
		}
		mustCreateCall(t, s, endedCall("c_old", "e_old", time.Hour))
		mustCreateCall(t, s, endedCall("c_recent", "e_recent", 3*time.Hour))
		oldCB := doneCallback("cb_old", "cust_old", "", time.Hour)
		mustCreateCallback(t, s, oldCB)
		mustCreateCallback(t, s, doneCallback("cb_recent", "cust_recent", "", 3*time.Hour))
		mustCreateCallback(t, s, openCallback("cb_open", "cust_old", "")) // still to be called: stays

		n, err := s.ShopperDataPurge(ctx, at(2*time.Hour), at(4*time.Hour))
		if err != nil || n.Entries != 1 || n.Callbacks != 1 || len(n.Closed) != 0 {
			t.Fatalf("ShopperDataPurge = %+v, %v; want 1 entry, 1 callback, none closed", n, err)
		}
		got, err := s.EntryGet(ctx, "e_old")
		if err != nil {
			t.Fatalf("a purged entry is still counted, so it must still exist: %v", err)
		}
		if held := entryData(got); len(held) > 0 {
			t.Errorf("purged entry keeps %v: %+v", held, got)
		}
		if got.State != queue.EntryDone || !got.JoinedAt.Equal(old.JoinedAt) || got.LeftAt == nil || got.Locale != old.Locale {
			t.Errorf("purge changed what statistics read: %+v", got)
		}
		if c, err := s.CallGet(ctx, "c_old"); err != nil || c.DeclineNote != "" || c.EndedAt == nil || c.EndReason != queue.ReasonDeclined {
			t.Errorf("call of a purged entry = %+v, %v; want its note gone and its end kept", c, err)
		}
		cb, err := s.CallbackGet(ctx, "cb_old")
		if err != nil {
			t.Fatalf("a purged callback is still counted, so it must still exist: %v", err)
		}
		if held := callbackData(cb); len(held) > 0 || cb.ErasedAt == nil || !cb.ErasedAt.Equal(at(4*time.Hour)) {
			t.Errorf("purged callback keeps %v (erased at %v): %+v", held, cb.ErasedAt, cb)
		}
		if cb.State != queue.CallbackDone || cb.Outcome != queue.OutcomeReached || !cb.CreatedAt.Equal(oldCB.CreatedAt) ||
			cb.DoneAt == nil || !cb.DoneAt.Equal(*oldCB.DoneAt) || cb.ClaimedBy != "g_1" || cb.Queue != "q" {
			t.Errorf("purge changed what statistics read of a callback: %+v", cb)
		}
		for _, id := range []string{"e_recent", "e_live"} {
			if e, _ := s.EntryGet(ctx, id); len(entryData(e)) != 4 {
				t.Errorf("%s erased before its time: %+v", id, e)
			}
		}
		if c, _ := s.CallGet(ctx, "c_recent"); c.DeclineNote == "" {
			t.Errorf("note of a recent call erased before its time")
		}
		for _, id := range []string{"cb_recent", "cb_open"} {
			if cb, _ := s.CallbackGet(ctx, id); len(callbackData(cb)) == 0 || cb.ErasedAt != nil {
				t.Errorf("callback %s erased before its time: %+v", id, cb)
			}
		}
		if n, err := s.ShopperDataPurge(ctx, at(2*time.Hour), at(5*time.Hour)); err != nil || n.Entries != 0 || n.Callbacks != 0 {
			t.Errorf("second purge = %+v, %v; want nothing", n, err)
		}
	})

	t.Run("EraseOneEntry", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), context.Background()
		mustUpsertGuide(t, s, guide("g_1", 0))
		mustCreateEntry(t, s, erasableEntry("e_a", "cust_a", 0))
		mustCreateEntry(t, s, erasableEntry("e_b", "cust_b", time.Second))
		mustCreateCall(t, s, endedCall("c_a", "e_a", time.Minute))
		mustCreateCall(t, s, endedCall("c_b", "e_b", time.Minute))
		mustCreateCallback(t, s, openCallback("cb_a", "", "e_a"))
		mustCreateCallback(t, s, openCallback("cb_b", "", "e_b"))
		n, err := s.EntryErase(ctx, "e_a", at(time.Hour))
		if err != nil || n.Entries != 1 || n.Callbacks != 1 || len(n.Closed) != 1 || n.Closed[0].ID != "cb_a" {
			t.Fatalf("EntryErase = %+v, %v; want 1 entry and cb_a closed", n, err)
		}
		a, _ := s.EntryGet(ctx, "e_a")
		if held := entryData(a); len(held) > 0 || a.State != queue.EntryWaiting {
			t.Errorf("erased entry keeps %v: %+v", held, a)
		}
		if c, _ := s.CallGet(ctx, "c_a"); c.DeclineNote != "" {
			t.Errorf("erased entry's call keeps its note %q", c.DeclineNote)
		}
		cb, _ := s.CallbackGet(ctx, "cb_a")
		if held := callbackData(cb); len(held) > 0 || cb.State != queue.CallbackDone || cb.Outcome != queue.OutcomeErased ||
			cb.DoneAt == nil || !cb.DoneAt.Equal(at(time.Hour)) {
			t.Errorf("callback of an erased entry = %+v; want blank, done, outcome erased at the erasure", cb)
		}
		if b, _ := s.EntryGet(ctx, "e_b"); len(entryData(b)) != 4 {
			t.Errorf("erasing e_a touched e_b: %+v", b)
		}
		if c, _ := s.CallGet(ctx, "c_b"); c.DeclineNote == "" {
			t.Errorf("erasing e_a touched e_b's call")
		}
		if cb, _ := s.CallbackGet(ctx, "cb_b"); len(callbackData(cb)) == 0 || cb.State != queue.CallbackOpen {
			t.Errorf("erasing e_a touched e_b's callback: %+v", cb)
		}
		if _, err := s.EntryErase(ctx, "e_missing", at(time.Minute)); !errors.Is(err, queue.ErrNotFound) {
			t.Errorf("erase of a missing entry: err = %v, want ErrNotFound", err)
		}
	})

	// One customer with two entries and callbacks of both kinds (by its
	// customer id, and by an entry of its that carries none); another
	// customer and an anonymous shopper in the same queue stay whole.
	t.Run("EraseOneCustomer", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), context.Background()
		mustUpsertGuide(t, s, guide("g_1", 0))
		first := erasableEntry("e_a1", "cust_a", 0)
		first.State, first.LeftAt, first.LeftReason = queue.EntryDone, ptr(at(time.Hour)), "hangup"
		mustCreateEntry(t, s, first)
		mustCreateEntry(t, s, erasableEntry("e_a2", "cust_a", time.Second))
		mustCreateEntry(t, s, erasableEntry("e_b", "cust_b", 2*time.Second))
		anon := erasableEntry("e_anon", "", 3*time.Second)
		mustCreateEntry(t, s, anon)
		mustCreateCall(t, s, endedCall("c_a1", "e_a1", time.Hour))
		mustCreateCall(t, s, endedCall("c_b", "e_b", time.Hour))
		mustCreateCallback(t, s, doneCallback("cb_a_done", "cust_a", "", 2*time.Hour))
		mustCreateCallback(t, s, openCallback("cb_a_entry", "", "e_a2"))
		mustCreateCallback(t, s, openCallback("cb_b", "cust_b", "e_b"))
		mustCreateCallback(t, s, openCallback("cb_anon", "", ""))

		n, err := s.CustomerErase(ctx, "cust_a", at(3*time.Hour))
		if err != nil || n.Entries != 2 || n.Callbacks != 2 || len(n.Closed) != 1 || n.Closed[0].ID != "cb_a_entry" {
			t.Fatalf("CustomerErase(cust_a) = %+v, %v; want 2 entries, 2 callbacks, cb_a_entry closed", n, err)
		}
		for _, id := range []string{"e_a1", "e_a2"} {
			if e, _ := s.EntryGet(ctx, id); len(entryData(e)) > 0 {
				t.Errorf("entry %s of the erased customer keeps %v", id, entryData(e))
			}
		}
		if e, _ := s.EntryGet(ctx, "e_a1"); e.State != queue.EntryDone || e.LeftAt == nil || !e.JoinedAt.Equal(first.JoinedAt) {
			t.Errorf("erasure changed what statistics read: %+v", e)
		}
		if c, _ := s.CallGet(ctx, "c_a1"); c.DeclineNote != "" || c.EndedAt == nil {
			t.Errorf("call of the erased customer = %+v", c)
		}
		done, _ := s.CallbackGet(ctx, "cb_a_done")
		if len(callbackData(done)) > 0 || done.Outcome != queue.OutcomeReached || done.DoneAt == nil || !done.DoneAt.Equal(at(2*time.Hour)) || done.ErasedAt == nil {
			t.Errorf("done callback of the erased customer = %+v; want blank with its outcome and times", done)
		}
		if cb, _ := s.CallbackGet(ctx, "cb_a_entry"); len(callbackData(cb)) > 0 || cb.Outcome != queue.OutcomeErased || cb.State != queue.CallbackDone {
			t.Errorf("open callback of the erased customer's entry = %+v", cb)
		}
		for _, id := range []string{"e_b", "e_anon"} {
			want := 4
			if id == "e_anon" {
				want = 3
			}
			if e, _ := s.EntryGet(ctx, id); len(entryData(e)) != want {
				t.Errorf("erasing cust_a touched %s: %+v", id, e)
			}
		}
		if c, _ := s.CallGet(ctx, "c_b"); c.DeclineNote == "" {
			t.Errorf("erasing cust_a touched cust_b's call")
		}
		for _, id := range []string{"cb_b", "cb_anon"} {
			if cb, _ := s.CallbackGet(ctx, id); len(callbackData(cb)) == 0 || cb.State != queue.CallbackOpen || cb.ErasedAt != nil {
				t.Errorf("erasing cust_a touched callback %s: %+v", id, cb)
			}
		}
		if n, err := s.CustomerErase(ctx, "cust_a", at(4*time.Hour)); err != nil || n.Entries != 0 || n.Callbacks != 0 {
			t.Errorf("second erasure of cust_a = %+v, %v; want nothing left", n, err)
		}
		if n, err := s.CustomerErase(ctx, "cust_nobody", at(4*time.Hour)); err != nil || n.Entries != 0 || n.Callbacks != 0 {
			t.Errorf("erasure of an unknown customer = %+v, %v; want zero counts", n, err)
		}
		if _, err := s.CustomerErase(ctx, "", at(4*time.Hour)); !errors.Is(err, queue.ErrInvalid) {
			t.Errorf("erasure of customer \"\": %v, want ErrInvalid (it would match every anonymous shopper)", err)
		}
	})
}
