package queue

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

func (m *MemoryStore) CallsHandled(ctx context.Context, queue string, since time.Time) ([]Call, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.CallsHandled(ctx, queue, since)
}

func (m *MemoryStore) EntriesGaveUp(ctx context.Context, queue string, since time.Time) ([]Entry, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.EntriesGaveUp(ctx, queue, since)
}

func (m *MemoryStore) QueueCreate(ctx context.Context, q Queue) (Queue, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.QueueCreate(ctx, q)
}

func (m *MemoryStore) QueueGet(ctx context.Context, name string) (Queue, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.QueueGet(ctx, name)
}

func (m *MemoryStore) QueueUpdate(ctx context.Context, name string, fn func(*Queue) error) (Queue, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.QueueUpdate(ctx, name, fn)
}

func (m *MemoryStore) QueuesList(ctx context.Context) ([]Queue, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.QueuesList(ctx)
}

func (m *MemoryStore) PresenceAppend(ctx context.Context, r PresenceRecord) error {
	tx, unlock := m.single()
	defer unlock()
	return tx.PresenceAppend(ctx, r)
}

func (m *MemoryStore) PresenceHistory(ctx context.Context, guideID string, limit int) ([]PresenceRecord, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.PresenceHistory(ctx, guideID, limit)
}

func (m *MemoryStore) CallbackCreate(ctx context.Context, cb Callback) (Callback, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.CallbackCreate(ctx, cb)
}

func (m *MemoryStore) CallbackGet(ctx context.Context, id string) (Callback, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.CallbackGet(ctx, id)
}

func (m *MemoryStore) CallbackUpdate(ctx context.Context, id string, fn func(*Callback) error) (Callback, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.CallbackUpdate(ctx, id, fn)
}

func (m *MemoryStore) CallbacksList(ctx context.Context, queue string, withClosed bool) ([]Callback, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.CallbacksList(ctx, queue, withClosed)
}

func (t *memTx) EntriesGaveUp(_ context.Context, queue string, since time.Time) ([]Entry, error) {
	var out []Entry
	for _, e := range t.m.entries {
		if gaveUp(e.State) && e.LeftAt != nil && !e.LeftAt.Before(since) && (queue == "" || e.Queue == queue) {
			out = append(out, cloneEntry(*e))
		}
	}
	slices.SortFunc(out, func(a, b Entry) int {
		if c := a.LeftAt.Compare(*b.LeftAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

func gaveUp(s EntryState) bool { return s == EntryCanceled || s == EntryAbandoned }

func (t *memTx) CallsHandled(_ context.Context, queue string, since time.Time) ([]Call, error) {
	var out []Call
	for _, c := range t.m.calls {
		if c.ConnectedAt != nil && c.EndedAt != nil && !c.EndedAt.Before(since) && (queue == "" || c.Queue == queue) {
			out = append(out, cloneCall(*c))
		}
	}
	slices.SortFunc(out, func(a, b Call) int {
		if c := a.EndedAt.Compare(*b.EndedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

func (m *MemoryStore) CallsDeclined(ctx context.Context, guideID string, limit int) ([]Call, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.CallsDeclined(ctx, guideID, limit)
}

func (t *memTx) CallsDeclined(_ context.Context, guideID string, limit int) ([]Call, error) {
	var out []Call
	for _, c := range t.m.calls {
		if c.GuideID == guideID && c.EndReason == ReasonDeclined && c.EndedAt != nil {
			out = append(out, cloneCall(*c))
		}
	}
	slices.SortFunc(out, func(a, b Call) int {
		if c := b.EndedAt.Compare(*a.EndedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	if len(out) > limit {
		out = out[:max(limit, 0)]
	}
	return out, nil
}

func (t *memTx) putQueue(q Queue) {
	if t.undo != nil {
		save(t.undo.queues, t.m.queues, q.Name)
	}
	c := cloneQueue(q)
	t.m.queues[q.Name] = &c
}

func (t *memTx) QueueCreate(_ context.Context, q Queue) (Queue, error) {
	if _, ok := t.m.queues[q.Name]; ok {
		return Queue{}, fmt.Errorf("queue %s already exists: %w", q.Name, ErrBadState)
	}
	t.putQueue(q)
	return cloneQueue(q), nil
}

func (t *memTx) QueueGet(_ context.Context, name string) (Queue, error) {
	q, ok := t.m.queues[name]
	if !ok {
		return Queue{}, fmt.Errorf("queue %s: %w", name, ErrNotFound)
	}
	return cloneQueue(*q), nil
}

func (t *memTx) QueueUpdate(_ context.Context, name string, fn func(*Queue) error) (Queue, error) {
	q, ok := t.m.queues[name]
	if !ok {
		return Queue{}, fmt.Errorf("queue %s: %w", name, ErrNotFound)
	}
	work := cloneQueue(*q)
	if err := fn(&work); err != nil {
		return Queue{}, err
	}
	work.Name = q.Name
	t.putQueue(work)
	return cloneQueue(work), nil
}

func (t *memTx) QueuesList(_ context.Context) ([]Queue, error) {
	out := make([]Queue, 0, len(t.m.queues))
	for _, q := range t.m.queues {
		out = append(out, cloneQueue(*q))
	}
	slices.SortFunc(out, func(a, b Queue) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// presenceKeep bounds the memory store's presence history: it forgets
// on exit anyway, and the console shows the latest few.
const presenceKeep = 1000

// trimPresence runs outside any transaction's undo window (at the start
// of Tx), so rolling back by length stays right.
func (m *MemoryStore) trimPresence() {
	if len(m.presence) >= 2*presenceKeep {
		m.presence = slices.Clone(m.presence[len(m.presence)-presenceKeep:])
	}
}

func (t *memTx) PresenceAppend(_ context.Context, r PresenceRecord) error {
	t.m.presence = append(t.m.presence, r)
	return nil
}

func (t *memTx) PresenceHistory(_ context.Context, guideID string, limit int) ([]PresenceRecord, error) {
	var out []PresenceRecord
	for i := len(t.m.presence) - 1; i >= 0 && len(out) < limit; i-- {
		if r := t.m.presence[i]; r.GuideID == guideID {
			out = append(out, r)
		}
	}
	return out, nil
}

func (t *memTx) putCallback(cb Callback) {
	if t.undo != nil {
		save(t.undo.callbacks, t.m.callbacks, cb.ID)
	}
	c := cloneCallback(cb)
	t.m.callbacks[cb.ID] = &c
}

func (t *memTx) CallbackCreate(_ context.Context, cb Callback) (Callback, error) {
	if _, ok := t.m.callbacks[cb.ID]; ok {
		return Callback{}, fmt.Errorf("callback %s: %w", cb.ID, ErrBadState)
	}
	t.putCallback(cb)
	return cloneCallback(cb), nil
}

func (t *memTx) CallbackGet(_ context.Context, id string) (Callback, error) {
	cb, ok := t.m.callbacks[id]
	if !ok {
		return Callback{}, fmt.Errorf("callback %s: %w", id, ErrNotFound)
	}
	return cloneCallback(*cb), nil
}

func (t *memTx) CallbackUpdate(_ context.Context, id string, fn func(*Callback) error) (Callback, error) {
	cb, ok := t.m.callbacks[id]
	if !ok {
		return Callback{}, fmt.Errorf("callback %s: %w", id, ErrNotFound)
	}
	work := cloneCallback(*cb)
	if err := fn(&work); err != nil {
		return Callback{}, err
	}
	work.ID = cb.ID
	t.putCallback(work)
	return cloneCallback(work), nil
}

func (t *memTx) CallbacksList(_ context.Context, queue string, withClosed bool) ([]Callback, error) {
	var out []Callback
	for _, cb := range t.m.callbacks {
		if (queue == "" || cb.Queue == queue) && (withClosed || cb.State != CallbackDone) {
			out = append(out, cloneCallback(*cb))
		}
	}
	slices.SortFunc(out, func(a, b Callback) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

func (m *MemoryStore) CallsOfGuide(ctx context.Context, q GuideCallsQuery) ([]GuideCall, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.CallsOfGuide(ctx, q)
}

func (t *memTx) CallsOfGuide(_ context.Context, q GuideCallsQuery) ([]GuideCall, error) {
	var out []GuideCall
	for _, c := range t.m.calls {
		if c.GuideID != q.GuideID || c.AcceptedAt == nil || c.State != CallEnded {
			continue
		}
		if !q.From.IsZero() && c.AcceptedAt.Before(q.From) || !q.To.IsZero() && !c.AcceptedAt.Before(q.To) {
			continue
		}
		gc := GuideCall{Call: cloneCall(*c)}
		if e, ok := t.m.entries[c.EntryID]; ok {
			gc.Shopper = CallShopper{Name: e.Name, Locale: e.Locale, Currency: e.Currency, PageURL: e.PageURL}
		}
		if gc.matches(q.Text) {
			out = append(out, gc)
		}
	}
	slices.SortFunc(out, func(a, b GuideCall) int {
		if c := b.AcceptedAt.Compare(*a.AcceptedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	if len(out) > q.Limit {
		out = out[:max(q.Limit, 0)]
	}
	return out, nil
}
