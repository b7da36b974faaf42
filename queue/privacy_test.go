package queue_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"guidecall/internal/db/dbtest"
	"guidecall/queue"
)

var privacySuite = []struct {
	name string
	run  func(*testing.T, storeFunc)
}{
	{"EraseCustomerTakesEntriesAndCallbacksOfOneCustomer", testEraseCustomer},
	{"RetentionPurgeTakesCallbacksButKeepsTheirCount", testPurgeCallbacks},
	{"RoutingTextIsCleaned", testRoutingTextCleaned},
}

func TestPrivacyMemory(t *testing.T) {
	for _, tt := range privacySuite {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, memoryStore) })
	}
}

func TestPrivacyPostgres(t *testing.T) {
	t.Parallel()
	dbtest.URL(t)
	for _, tt := range privacySuite {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, postgresStore)
		})
	}
}

// callbackEvents drains sub and returns the ids and states of the
// callbacks it announced.
func callbackEvents(sub *queue.Subscription) map[string]queue.CallbackState {
	out := map[string]queue.CallbackState{}
	for {
		select {
		case ev := <-sub.Events():
			if cb, ok := ev.(queue.CallbackChanged); ok {
				out[cb.Callback.ID] = cb.Callback.State
			}
		default:
			return out
		}
	}
}

func testEraseCustomer(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	// Customer A waits and leaves the line for a callback (which takes the
	// entry's customer id), and asks for another one from a closed page
	// with its token only; customer B and an anonymous shopper do the same.
	a := h.joinWith(queue.JoinParams{Queue: "shoes", Name: "Ana", PageURL: "https://shop.example/order/1", CustomerID: "cust-a"})
	b := h.joinWith(queue.JoinParams{Queue: "shoes", Name: "Bea", CustomerID: "cust-b"})
	anon := h.joinWith(queue.JoinParams{Queue: "shoes", Name: "Cy"})
	cbEntry, err := h.svc.RequestCallback(h.ctx, "shoes", queue.CallbackParams{Name: "Ana", Phone: "+49 30 1234567", EntryID: a.ID})
	if err != nil {
		t.Fatal(err)
	}
	if cbEntry.CustomerID != "cust-a" {
		t.Fatalf("callback left from an entry of cust-a carries customer %q", cbEntry.CustomerID)
	}
	cbToken, err := h.svc.RequestCallback(h.ctx, "hats", queue.CallbackParams{Name: "Ana", Email: "ana@shop.example", Message: "hat for my son", CustomerID: "cust-a"})
	if err != nil {
		t.Fatal(err)
	}
	cbB, err := h.svc.RequestCallback(h.ctx, "shoes", queue.CallbackParams{Name: "Bea", Phone: "+351 21 000 0000", CustomerID: "cust-b"})
	if err != nil {
		t.Fatal(err)
	}
	cbAnon, err := h.svc.RequestCallback(h.ctx, "shoes", queue.CallbackParams{Name: "Cy", Phone: "+351 21 000 0001", EntryID: anon.ID})
	if err != nil {
		t.Fatal(err)
	}
	sub := h.svc.Subscribe("privacy-test", 64)
	defer sub.Close()

	n, err := h.svc.EraseCustomer(h.ctx, "cust-a")
	if err != nil || n.Entries != 1 || n.Callbacks != 2 {
		t.Fatalf("EraseCustomer = %+v, %v; want 1 entry, 2 callbacks", n, err)
	}
	// Both of A's callbacks were open: closed, and the guides told.
	if got := callbackEvents(sub); len(got) != 2 || got[cbEntry.ID] != queue.CallbackDone || got[cbToken.ID] != queue.CallbackDone {
		t.Errorf("callback.changed after the erasure: %v; want %s and %s done", got, cbEntry.ID, cbToken.ID)
	}
	if e := h.entry(a.ID); e.Name != "" || e.PageURL != "" || e.CustomerID != "" || e.State != queue.EntryCanceled {
		t.Errorf("entry of cust-a after its erasure: %+v", e)
	}
	for _, id := range []string{cbEntry.ID, cbToken.ID} {
		cb, err := h.store.CallbackGet(h.ctx, id)
		if err != nil || cb.Name != "" || cb.Phone != "" || cb.Email != "" || cb.Message != "" || cb.CustomerID != "" || cb.Outcome != queue.OutcomeErased {
			t.Errorf("callback %s of cust-a after its erasure: %+v, %v", id, cb, err)
		}
	}
	list, err := h.svc.Callbacks(h.ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, cb := range list {
		listed = append(listed, cb.ID)
	}
	slices.Sort(listed)
	want := []string{cbB.ID, cbAnon.ID}
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Errorf("guides' callbacks after the erasure: %v, want only %v", listed, want)
	}
	if e := h.entry(b.ID); e.Name != "Bea" || e.CustomerID != "cust-b" {
		t.Errorf("erasing cust-a touched cust-b's entry: %+v", e)
	}
	if e := h.entry(anon.ID); e.Name != "Cy" {
		t.Errorf("erasing cust-a touched the anonymous entry: %+v", e)
	}
	for _, id := range []string{cbB.ID, cbAnon.ID} {
		if cb, _ := h.store.CallbackGet(h.ctx, id); cb.Name == "" || cb.Phone == "" || cb.State != queue.CallbackOpen {
			t.Errorf("erasing cust-a touched callback %s: %+v", id, cb)
		}
	}
	if _, err := h.svc.EraseCustomer(h.ctx, ""); !errors.Is(err, queue.ErrInvalid) {
		t.Errorf("EraseCustomer(\"\") = %v, want ErrInvalid", err)
	}
}

func testPurgeCallbacks(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	h.profile("g1", queue.Profile{Queues: []string{"shoes"}})
	old, err := h.svc.RequestCallback(h.ctx, "shoes", queue.CallbackParams{Name: "Ana", Phone: "+49 30 1234567", Message: "size 38?", CustomerID: "cust-a"})
	if err != nil {
		t.Fatal(err)
	}
	open, err := h.svc.RequestCallback(h.ctx, "shoes", queue.CallbackParams{Name: "Bea", Email: "bea@shop.example"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.ClaimCallback(h.ctx, "g1", old.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.CallbackOutcome(h.ctx, "g1", old.ID, queue.OutcomeReached, "ordered size 38"); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(2 * time.Hour)
	recent, err := h.svc.RequestCallback(h.ctx, "shoes", queue.CallbackParams{Name: "Cy", Phone: "+351 21 000 0001"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.ClaimCallback(h.ctx, "g1", recent.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.CallbackOutcome(h.ctx, "g1", recent.ID, queue.OutcomeNoAnswer, "voicemail"); err != nil {
		t.Fatal(err)
	}

	n, err := h.svc.PurgeShopperData(h.ctx, time.Hour)
	if err != nil || n.Callbacks != 1 {
		t.Fatalf("PurgeShopperData = %+v, %v; want the one callback done 2 h ago", n, err)
	}
	cb, _ := h.store.CallbackGet(h.ctx, old.ID)
	if cb.Name != "" || cb.Phone != "" || cb.Message != "" || cb.Note != "" || cb.CustomerID != "" || cb.ErasedAt == nil {
		t.Errorf("callback past its retention keeps shopper data: %+v", cb)
	}
	if cb.Outcome != queue.OutcomeReached || cb.DoneAt == nil || cb.ClaimedAt == nil || !cb.CreatedAt.Equal(old.CreatedAt) || cb.ClaimedBy != "g1" {
		t.Errorf("purge lost what statistics read: %+v", cb)
	}
	// Statistics still count every callback and its outcome.
	all, err := h.store.CallbacksList(h.ctx, "shoes", true)
	if err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]int{}
	for _, c := range all {
		outcomes[c.Outcome]++
	}
	if len(all) != 3 || outcomes[queue.OutcomeReached] != 1 || outcomes[queue.OutcomeNoAnswer] != 1 || outcomes[""] != 1 {
		t.Errorf("after the purge %d callbacks, outcomes %v; want 3: reached, no_answer and one open", len(all), outcomes)
	}
	if cb, _ := h.store.CallbackGet(h.ctx, recent.ID); cb.Name != "Cy" || cb.Note != "voicemail" {
		t.Errorf("recent callback purged before its time: %+v", cb)
	}
	if cb, _ := h.store.CallbackGet(h.ctx, open.ID); cb.Email != "bea@shop.example" {
		t.Errorf("open callback purged while still to be called: %+v", cb)
	}
}

// testRoutingTextCleaned covers the text routing shows to people: a NUL
// is refused, invisible and bidi characters go, the rest is NFC.
func testRoutingTextCleaned(t *testing.T, newStore storeFunc) {
	h := newHarness(t, newStore)
	const dirty, clean = "\u202eSam\u200b O\u0308zil\u2069\u0007", "Sam Özil"
	if _, err := h.svc.RequestCallback(h.ctx, "shoes", queue.CallbackParams{Name: "Ana\x00", Phone: "+49 30 1234567"}); !errors.Is(err, queue.ErrInvalid) || !strings.Contains(err.Error(), "name") {
		t.Errorf("callback name with a NUL: %v", err)
	}
	if _, err := h.svc.RequestCallback(h.ctx, "shoes", queue.CallbackParams{Name: "Ana", Phone: "+49 30 1234567", Message: "hi\x00"}); !errors.Is(err, queue.ErrInvalid) || !strings.Contains(err.Error(), "message") {
		t.Errorf("callback message with a NUL: %v", err)
	}
	if _, err := h.svc.RequestCallback(h.ctx, "shoes", queue.CallbackParams{Name: "Ana", Phone: "+49 30 1234567", EntryID: "e_\x00"}); !errors.Is(err, queue.ErrInvalid) {
		t.Errorf("callback entry_id with a NUL: %v", err)
	}
	if list, _ := h.store.CallbacksList(h.ctx, "", true); len(list) != 0 {
		t.Fatalf("refused callbacks were stored: %v", list)
	}
	cb, err := h.svc.RequestCallback(h.ctx, "shoes", queue.CallbackParams{Name: dirty, Phone: "+49 30 1234567", Message: "line one\r\n" + dirty})
	if err != nil {
		t.Fatal(err)
	}
	if read, _ := h.store.CallbackGet(h.ctx, cb.ID); read.Name != clean || read.Message != "line one\n"+clean {
		t.Errorf("stored callback name %q message %q; want %q and %q", read.Name, read.Message, clean, "line one\n"+clean)
	}
	h.profile("g1", queue.Profile{Queues: []string{"shoes"}})
	if _, err := h.svc.ClaimCallback(h.ctx, "g1", cb.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.CallbackOutcome(h.ctx, "g1", cb.ID, queue.OutcomeReached, "ok\x00"); !errors.Is(err, queue.ErrInvalid) {
		t.Errorf("outcome note with a NUL: %v", err)
	}
	if done, err := h.svc.CallbackOutcome(h.ctx, "g1", cb.ID, queue.OutcomeReached, dirty); err != nil || done.Note != clean {
		t.Errorf("outcome note %q, %v; want %q", done.Note, err, clean)
	}

	if _, err := h.svc.CreateQueue(h.ctx, queue.Queue{Name: "nul", DisplayName: "Shoes\x00"}); !errors.Is(err, queue.ErrInvalid) {
		t.Errorf("display name with a NUL: %v", err)
	}
	if q, err := h.svc.CreateQueue(h.ctx, queue.Queue{Name: "bidi", DisplayName: dirty}); err != nil || q.DisplayName != clean {
		t.Errorf("display name %q, %v; want %q", q.DisplayName, err, clean)
	}
	if q, err := h.svc.UpdateQueue(h.ctx, "bidi", func(q *queue.Queue) error { q.DisplayName = "\u200bHats"; return nil }); err != nil || q.DisplayName != "Hats" {
		t.Errorf("updated display name %q, %v; want Hats", q.DisplayName, err)
	}

	// Decline reason and transfer note, as the console sends them.
	h.guideOnline("g1")
	e := h.join("shoes")
	c := h.offerOne(e.ID, "g1")
	if err := h.svc.Decline(h.ctx, "g1", c, "busy\x00"); !errors.Is(err, queue.ErrInvalid) {
		t.Errorf("decline reason with a NUL: %v", err)
	}
	if err := h.svc.Decline(h.ctx, "g1", c, dirty); err != nil {
		t.Fatal(err)
	}
	if got := h.call(c); got.DeclineNote != clean {
		t.Errorf("decline note %q, want %q", got.DeclineNote, clean)
	}
	h.guideOnline("g2")
	call := h.accept("g1", h.offerOne(e.ID, "g1"))
	h.connectCall(call)
	if err := h.svc.Transfer(h.ctx, "g1", call.ID, queue.TransferTo{GuideID: "g2", Note: "x\x00"}); !errors.Is(err, queue.ErrInvalid) {
		t.Errorf("transfer note with a NUL: %v", err)
	}
	if err := h.svc.Transfer(h.ctx, "g1", call.ID, queue.TransferTo{GuideID: "g2", Note: dirty}); err != nil {
		t.Fatal(err)
	}
	if got := h.entry(e.ID); got.TransferNote != clean {
		t.Errorf("transfer note %q, want %q", got.TransferNote, clean)
	}
}
