package queuetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"guidecall/queue"
)

func routingQueue(name string) queue.Queue {
	return queue.Queue{
		Name: name, DisplayName: "Queue " + name, TimeZone: "Europe/Lisbon",
		Hours:          map[string][]queue.Span{"mon": {{Open: "09:00", Close: "17:00"}}, "sat": {}},
		ClosedDates:    []string{"2026-12-25"},
		MaxWaitSeconds: 300, WrapUpSeconds: 20, OfferTimeoutSeconds: 10,
		Relax:     []queue.RelaxStep{{AfterSeconds: 60, Action: queue.RelaxDropSkill}, {AfterSeconds: 120, Action: queue.RelaxOverflow, Queue: "other"}},
		CreatedAt: at(0), UpdatedAt: at(time.Second),
	}
}

func normQueue(q queue.Queue) queue.Queue {
	q.CreatedAt, q.UpdatedAt = normTime(q.CreatedAt), normTime(q.UpdatedAt)
	return q
}

func sameQueue(t *testing.T, what string, got, want queue.Queue) {
	t.Helper()
	if g, w := normQueue(got), normQueue(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

func normCallback(c queue.Callback) queue.Callback {
	c.CreatedAt = normTime(c.CreatedAt)
	c.WindowFrom, c.WindowTo = normTimePtr(c.WindowFrom), normTimePtr(c.WindowTo)
	c.ClaimedAt, c.DoneAt, c.ErasedAt = normTimePtr(c.ClaimedAt), normTimePtr(c.DoneAt), normTimePtr(c.ErasedAt)
	return c
}

func callback(id, q string, created time.Duration) queue.Callback {
	return queue.Callback{
		ID: id, Queue: q, Name: "Shopper " + id, Phone: "+351 21 000 0000", Email: id + "@shop.example",
		Locale: "pt-PT", Message: "call me", WindowFrom: ptr(at(time.Hour)), WindowTo: ptr(at(2 * time.Hour)),
		State: queue.CallbackOpen, CreatedAt: at(created), CustomerID: "cust_" + id,
	}
}

func runRoutingTests(t *testing.T, newStore func(t *testing.T) queue.Store) {
	ctx := context.Background()

	t.Run("EntryRoutingFieldsRoundTrip", func(t *testing.T) {
		s := newStore(t)
		e := entry("e_1", "shoes", 0)
		e.Language, e.Language2, e.Skill, e.Priority, e.CustomerID = "pt", "en", "running", 20, "cust_9"
		e.TransferGuide, e.TransferNote = "g_2", "wants size 38"
		got := mustCreateEntry(t, s, e)
		e.Rank = got.Rank
		sameEntry(t, "EntryCreate", got, e)
		e.Steps = []string{queue.RelaxDropSkill, "overflow:hats"}
		up, err := s.EntryUpdate(ctx, "e_1", func(cur *queue.Entry) error { cur.Steps = e.Steps; return nil })
		if err != nil {
			t.Fatal(err)
		}
		sameEntry(t, "EntryUpdate", up, e)
		read, _ := s.EntryGet(ctx, "e_1")
		sameEntry(t, "EntryGet", read, e)
	})

	t.Run("GuideProfileRoundTrip", func(t *testing.T) {
		s := newStore(t)
		unconfigured := mustUpsertGuide(t, s, guide("g_0", 0))
		if unconfigured.Queues != nil {
			t.Errorf("a new guide serves %v, want nil (every queue)", unconfigured.Queues)
		}
		g := guide("g_1", 0)
		g.Queues, g.Languages, g.Skills, g.Capacity = []string{"shoes", "hats"}, []string{"en", "pt-BR"}, []string{"running"}, 1
		g.Status, g.StatusReason, g.StatusSince, g.WrapUpUntil = queue.GuideWrapUp, queue.PresenceCallEnded, at(3*time.Second), ptr(at(33*time.Second))
		got := mustSetGuide(t, s, g)
		sameGuide(t, "GuideUpdate", got, g)
		read, _ := s.GuideGet(ctx, "g_1")
		sameGuide(t, "GuideGet", read, g)
		// Upsert (a console connecting) keeps the profile.
		again := guide("g_1", time.Hour)
		again.Name = "Renamed"
		g.Name = "Renamed"
		sameGuide(t, "GuideUpsert keeps the profile", mustUpsertGuide(t, s, again), g)
	})

	t.Run("Queues", func(t *testing.T) {
		s := newStore(t)
		q := routingQueue("sales")
		got, err := s.QueueCreate(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		sameQueue(t, "QueueCreate", got, q)
		read, err := s.QueueGet(ctx, "sales")
		if err != nil {
			t.Fatal(err)
		}
		sameQueue(t, "QueueGet", read, q)
		if _, err := s.QueueCreate(ctx, routingQueue("sales")); !errors.Is(err, queue.ErrBadState) {
			t.Errorf("duplicate QueueCreate: %v, want ErrBadState", err)
		}
		if _, err := s.QueueGet(ctx, "nosuch"); !errors.Is(err, queue.ErrNotFound) {
			t.Errorf("QueueGet(missing): %v", err)
		}
		if _, err := s.QueueUpdate(ctx, "nosuch", func(*queue.Queue) error { return nil }); !errors.Is(err, queue.ErrNotFound) {
			t.Errorf("QueueUpdate(missing): %v", err)
		}
		if _, err := s.QueueUpdate(ctx, "sales", func(q *queue.Queue) error { q.TimeZone = "UTC"; return errAbort }); !errors.Is(err, errAbort) {
			t.Errorf("QueueUpdate with a failing fn: %v", err)
		}
		read, _ = s.QueueGet(ctx, "sales")
		sameQueue(t, "after failed update", read, q)
		q.Hours, q.Relax, q.ClosedDates, q.UpdatedAt = nil, nil, nil, at(time.Minute)
		up, err := s.QueueUpdate(ctx, "sales", func(cur *queue.Queue) error { *cur = q; return nil })
		if err != nil {
			t.Fatal(err)
		}
		sameQueue(t, "QueueUpdate to around the clock", up, q)
		read, _ = s.QueueGet(ctx, "sales")
		sameQueue(t, "QueueGet after update", read, q)
		if _, err := s.QueueCreate(ctx, routingQueue("assist")); err != nil {
			t.Fatal(err)
		}
		list, err := s.QueuesList(ctx)
		if err != nil || len(list) != 2 || list[0].Name != "assist" || list[1].Name != "sales" {
			t.Errorf("QueuesList = %v, %v", list, err)
		}
	})

	t.Run("PresenceHistory", func(t *testing.T) {
		s := newStore(t)
		for i, st := range []queue.Presence{queue.PresenceAway, queue.PresenceAvailable, queue.PresenceBusy, queue.PresenceWrapUp} {
			if err := s.PresenceAppend(ctx, queue.PresenceRecord{GuideID: "g_1", State: st, Reason: fmt.Sprint("r", i), At: at(time.Duration(i) * time.Second)}); err != nil {
				t.Fatal(err)
			}
			if err := s.PresenceAppend(ctx, queue.PresenceRecord{GuideID: "g_2", State: st, Reason: "other", At: at(0)}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.PresenceHistory(ctx, "g_1", 3)
		if err != nil {
			t.Fatal(err)
		}
		want := []queue.PresenceRecord{
			{GuideID: "g_1", State: queue.PresenceWrapUp, Reason: "r3", At: at(3 * time.Second)},
			{GuideID: "g_1", State: queue.PresenceBusy, Reason: "r2", At: at(2 * time.Second)},
			{GuideID: "g_1", State: queue.PresenceAvailable, Reason: "r1", At: at(time.Second)},
		}
		for i := range got {
			got[i].At = normTime(got[i].At)
		}
		for i := range want {
			want[i].At = normTime(want[i].At)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("PresenceHistory = %+v, want %+v", got, want)
		}
	})

	t.Run("Callbacks", func(t *testing.T) {
		s := newStore(t)
		cb := callback("cb_1", "shoes", 0)
		got, err := s.CallbackCreate(ctx, cb)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(normCallback(got), normCallback(cb)) {
			t.Errorf("CallbackCreate = %+v, want %+v", got, cb)
		}
		if _, err := s.CallbackCreate(ctx, cb); !errors.Is(err, queue.ErrBadState) {
			t.Errorf("duplicate CallbackCreate: %v", err)
		}
		if _, err := s.CallbackCreate(ctx, callback("cb_2", "hats", time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CallbackCreate(ctx, callback("cb_3", "shoes", 2*time.Second)); err != nil {
			t.Fatal(err)
		}
		cb.State, cb.ClaimedBy, cb.ClaimedAt, cb.Outcome, cb.Note, cb.DoneAt = queue.CallbackDone, "g_1", ptr(at(time.Minute)), queue.OutcomeReached, "done", ptr(at(2*time.Minute))
		if _, err := s.CallbackUpdate(ctx, "cb_1", func(cur *queue.Callback) error { *cur = cb; return nil }); err != nil {
			t.Fatal(err)
		}
		read, err := s.CallbackGet(ctx, "cb_1")
		if err != nil || !reflect.DeepEqual(normCallback(read), normCallback(cb)) {
			t.Errorf("CallbackGet after update = %+v, %v; want %+v", read, err, cb)
		}
		cbIDs := func(cs []queue.Callback) []string { return ids(cs, func(c queue.Callback) string { return c.ID }) }
		open, _ := s.CallbacksList(ctx, "shoes", false)
		wantIDs(t, "CallbacksList(shoes, open)", cbIDs(open), []string{"cb_3"})
		all, _ := s.CallbacksList(ctx, "", true)
		wantIDs(t, "CallbacksList(all)", cbIDs(all), []string{"cb_1", "cb_2", "cb_3"})
		if _, err := s.CallbackGet(ctx, "cb_missing"); !errors.Is(err, queue.ErrNotFound) {
			t.Errorf("CallbackGet(missing): %v", err)
		}
	})

	// Concurrent claims of one callback: the record is claimed from read
	// to write, so exactly one sees it open.
	t.Run("CallbackClaimOnce", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.CallbackCreate(ctx, callback("cb_1", "shoes", 0)); err != nil {
			t.Fatal(err)
		}
		errs := make([]error, parallelUpdates)
		concurrently(parallelUpdates, func(i int) {
			_, errs[i] = s.CallbackUpdate(ctx, "cb_1", func(cb *queue.Callback) error {
				if cb.State != queue.CallbackOpen {
					return queue.ErrBadState
				}
				cb.State, cb.ClaimedBy = queue.CallbackClaimed, fmt.Sprintf("g_%d", i)
				return nil
			})
		})
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, queue.ErrBadState):
				t.Errorf("claim: %v", err)
			}
		}
		if won != 1 {
			t.Errorf("%d claims won, want exactly 1", won)
		}
	})

	t.Run("CallsHandled", func(t *testing.T) {
		s := newStore(t)
		callFixture(t, s, 3)
		for i, spec := range []struct {
			q         string
			connected bool
			ended     time.Duration
		}{{"shoes", true, time.Minute}, {"shoes", false, 2 * time.Minute}, {"hats", true, 3 * time.Minute}} {
			c := call(fmt.Sprintf("c_%d", i), fmt.Sprintf("e_%d", i+1), fmt.Sprintf("g_%d", i+1), spec.q, 0)
			c.State, c.AcceptedAt, c.EndedAt = queue.CallEnded, ptr(at(time.Second)), ptr(at(spec.ended))
			if spec.connected {
				c.ConnectedAt = ptr(at(2 * time.Second))
			}
			mustCreateCall(t, s, c)
		}
		got, _ := s.CallsHandled(ctx, "shoes", at(0))
		wantIDs(t, "CallsHandled(shoes)", callIDs(got), []string{"c_0"})
		got, _ = s.CallsHandled(ctx, "", at(0))
		wantIDs(t, "CallsHandled(all)", callIDs(got), []string{"c_0", "c_2"})
		got, _ = s.CallsHandled(ctx, "", at(2*time.Minute))
		wantIDs(t, "CallsHandled(since 2m)", callIDs(got), []string{"c_2"})
	})

	t.Run("EntriesGaveUp", func(t *testing.T) {
		s := newStore(t)
		for i, spec := range []struct {
			q     string
			state queue.EntryState
			left  time.Duration
		}{
			{"shoes", queue.EntryCanceled, 2 * time.Minute}, {"shoes", queue.EntryAbandoned, time.Minute},
			{"shoes", queue.EntryDone, time.Minute}, {"hats", queue.EntryCanceled, 3 * time.Minute}, {"shoes", queue.EntryWaiting, 0},
		} {
			e := entry(fmt.Sprintf("e_%d", i), spec.q, 0)
			e.State = spec.state
			if spec.left > 0 {
				e.LeftAt, e.LeftReason = ptr(at(spec.left)), "canceled"
			}
			mustCreateEntry(t, s, e)
		}
		got, _ := s.EntriesGaveUp(ctx, "shoes", at(0))
		wantIDs(t, "EntriesGaveUp(shoes)", entryIDs(got), []string{"e_1", "e_0"})
		got, _ = s.EntriesGaveUp(ctx, "", at(90*time.Second))
		wantIDs(t, "EntriesGaveUp(all, since 90s)", entryIDs(got), []string{"e_0", "e_3"})
	})

	t.Run("TxRollsBackRoutingWrites", func(t *testing.T) {
		s := newStore(t)
		err := s.Tx(ctx, func(ctx context.Context, tx queue.StoreTx) error {
			if _, err := tx.QueueCreate(ctx, routingQueue("sales")); err != nil {
				return err
			}
			if _, err := tx.CallbackCreate(ctx, callback("cb_1", "sales", 0)); err != nil {
				return err
			}
			if err := tx.PresenceAppend(ctx, queue.PresenceRecord{GuideID: "g_1", State: queue.PresenceAway, Reason: "x", At: at(0)}); err != nil {
				return err
			}
			return errAbort
		})
		if !errors.Is(err, errAbort) {
			t.Fatalf("Tx: %v", err)
		}
		if _, err := s.QueueGet(ctx, "sales"); !errors.Is(err, queue.ErrNotFound) {
			t.Errorf("queue survived a rollback: %v", err)
		}
		if _, err := s.CallbackGet(ctx, "cb_1"); !errors.Is(err, queue.ErrNotFound) {
			t.Errorf("callback survived a rollback: %v", err)
		}
		if h, _ := s.PresenceHistory(ctx, "g_1", 10); len(h) != 0 {
			t.Errorf("presence record survived a rollback: %v", h)
		}
	})
}
