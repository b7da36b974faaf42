package payments

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"sync"
	"time"
)

// MemoryStore is the zero-setup Store: everything in maps behind one mutex.
// It is lost on restart and does not span nodes.
type MemoryStore struct {
	mu     sync.Mutex
	links  map[string]*Link     // by ID
	order  []string             // IDs in creation order
	byKey  map[[2]string]string // (call, idempotency key) -> ID
	byRef  map[[2]string]string // (provider, ref) -> ID
	events map[[2]string]struct{}
	outbox []*outboxEntry // unpublished events, oldest first

	limitsMu sync.Mutex
	limits   RiskLimits
	rollouts map[string]Rollout
}

// maxMemoryOutbox bounds the unpublished events a MemoryStore keeps.
const maxMemoryOutbox = 10_000

type outboxEntry struct {
	e            Event
	claimedUntil time.Time
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		links:  make(map[string]*Link),
		byKey:  make(map[[2]string]string),
		byRef:  make(map[[2]string]string),
		events: make(map[[2]string]struct{}),
	}
}

// LinkCreate implements Store.
func (m *MemoryStore) LinkCreate(ctx context.Context, l Link) (Link, error) {
	return m.LinkCreateWithin(ctx, l, 0)
}

// LinkCreateWithin implements Store: the count and the insert hold the
// store's lock together.
func (m *MemoryStore) LinkCreateWithin(ctx context.Context, l Link, maxPerCall int) (Link, error) {
	if err := ctx.Err(); err != nil {
		return Link{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if maxPerCall > 0 {
		n := 0
		for _, x := range m.links {
			if x.CallID == l.CallID && x.Status != StatusFailed {
				n++
			}
		}
		if n >= maxPerCall {
			return Link{}, fmt.Errorf("%w: this call has %d payment links, the most allowed", ErrRiskLimit, n)
		}
	}
	if _, ok := m.links[l.ID]; ok {
		return Link{}, fmt.Errorf("%w: link id %q", ErrDuplicate, l.ID)
	}
	key := [2]string{l.CallID, l.IdempotencyKey}
	if _, ok := m.byKey[key]; ok {
		return Link{}, fmt.Errorf("%w: idempotency key for call %q", ErrDuplicate, l.CallID)
	}
	ref := [2]string{l.Provider, l.ProviderRef}
	if l.ProviderRef != "" {
		if _, ok := m.byRef[ref]; ok {
			return Link{}, fmt.Errorf("%w: provider ref %q", ErrDuplicate, l.ProviderRef)
		}
		m.byRef[ref] = l.ID
	}
	c := l.Clone()
	m.links[l.ID] = &c
	m.order = append(m.order, l.ID)
	m.byKey[key] = l.ID
	return l.Clone(), nil
}

// LinkGet implements Store.
func (m *MemoryStore) LinkGet(ctx context.Context, id string) (Link, error) {
	if err := ctx.Err(); err != nil {
		return Link{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.getLocked(id)
}

func (m *MemoryStore) getLocked(id string) (Link, error) {
	l, ok := m.links[id]
	if !ok {
		return Link{}, fmt.Errorf("%w: link %q", ErrNotFound, id)
	}
	return l.Clone(), nil
}

// LinkByIdempotencyKey implements Store.
func (m *MemoryStore) LinkByIdempotencyKey(ctx context.Context, callID, key string) (Link, error) {
	if err := ctx.Err(); err != nil {
		return Link{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.byKey[[2]string{callID, key}]
	if !ok {
		return Link{}, fmt.Errorf("%w: idempotency key for call %q", ErrNotFound, callID)
	}
	return m.getLocked(id)
}

// LinkByProviderRef implements Store.
func (m *MemoryStore) LinkByProviderRef(ctx context.Context, provider, ref string) (Link, error) {
	if err := ctx.Err(); err != nil {
		return Link{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.byRef[[2]string{provider, ref}]
	if !ok || ref == "" {
		return Link{}, fmt.Errorf("%w: %s ref %q", ErrNotFound, provider, ref)
	}
	return m.getLocked(id)
}

// LinksByCall implements Store.
func (m *MemoryStore) LinksByCall(ctx context.Context, callID string) ([]Link, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Link{}
	for _, id := range m.order {
		if l := m.links[id]; l.CallID == callID {
			out = append(out, l.Clone())
		}
	}
	return out, nil
}

// LinksByCalls implements Store.
func (m *MemoryStore) LinksByCalls(ctx context.Context, callIDs []string) (map[string][]Link, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	want := make(map[string]bool, len(callIDs))
	for _, id := range callIDs {
		want[id] = true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]Link{}
	for _, id := range m.order {
		if l := m.links[id]; want[l.CallID] {
			out[l.CallID] = append(out[l.CallID], l.Clone())
		}
	}
	return out, nil
}

// LinksUnsettled implements Store.
func (m *MemoryStore) LinksUnsettled(ctx context.Context, updatedBefore, createdAfter, closedAfter time.Time, limit int) ([]Link, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []Link{}
	for _, id := range m.order {
		l := m.links[id]
		if !l.UpdatedAt.Before(updatedBefore) {
			continue
		}
		if (unsettled(l.Status) && l.CreatedAt.After(createdAfter)) || (reopenable(l.Status) && l.UpdatedAt.After(closedAfter)) {
			out = append(out, l.Clone())
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].UpdatedAt.Before(out[j].UpdatedAt) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// OutboxPublished implements Store: published events are forgotten, as
// nothing outlives the process anyway.
func (m *MemoryStore) OutboxPublished(ctx context.Context, ids []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(map[string]bool, len(ids))
	for _, id := range ids {
		done[id] = true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	kept := m.outbox[:0]
	for _, o := range m.outbox {
		if !done[o.e.EventID()] {
			kept = append(kept, o)
		}
	}
	clear(m.outbox[len(kept):])
	m.outbox = kept
	return nil
}

// OutboxClaim implements Store.
func (m *MemoryStore) OutboxClaim(ctx context.Context, before time.Time, lease time.Duration, limit int) ([]Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Event
	for _, o := range m.outbox {
		if len(out) >= limit {
			break
		}
		if o.e.EventTime().Before(before) && !o.claimedUntil.After(now) {
			o.claimedUntil = now.Add(lease)
			out = append(out, o.e)
		}
	}
	return out, nil
}

// LinkUpdate implements Store. The mutex is held while fn runs, so fn must
// not call back into the store.
func (m *MemoryStore) LinkUpdate(ctx context.Context, id string, fn func(*Link) ([]Event, error)) (Link, error) {
	if err := ctx.Err(); err != nil {
		return Link{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.updateLocked(id, fn)
}

func (m *MemoryStore) updateLocked(id string, fn func(*Link) ([]Event, error)) (Link, error) {
	cur, ok := m.links[id]
	if !ok {
		return Link{}, fmt.Errorf("%w: link %q", ErrNotFound, id)
	}
	next := cur.Clone()
	events, err := fn(&next)
	if err != nil {
		return Link{}, err
	}
	if next.ID != cur.ID || next.CallID != cur.CallID || next.IdempotencyKey != cur.IdempotencyKey {
		return Link{}, errors.New("payments: LinkUpdate must not change id, call id or idempotency key")
	}
	oldRef := [2]string{cur.Provider, cur.ProviderRef}
	newRef := [2]string{next.Provider, next.ProviderRef}
	if newRef != oldRef {
		if next.ProviderRef != "" {
			if other, ok := m.byRef[newRef]; ok && other != id {
				return Link{}, fmt.Errorf("%w: provider ref %q", ErrDuplicate, next.ProviderRef)
			}
			m.byRef[newRef] = id
		}
		if cur.ProviderRef != "" {
			delete(m.byRef, oldRef)
		}
	}
	*cur = next
	for _, e := range events {
		m.outbox = append(m.outbox, &outboxEntry{e: e})
	}
	if over := len(m.outbox) - maxMemoryOutbox; over > 0 {
		// Nobody is publishing (no subscriber in this process): keep the
		// newest rather than grow without bound.
		clear(m.outbox[:over])
		m.outbox = m.outbox[over:]
	}
	return next.Clone(), nil
}

// EventApply implements Store: the event check, the link update and the
// event record happen under one hold of the mutex.
func (m *MemoryStore) EventApply(ctx context.Context, e ProviderEvent, id string, fn func(*Link) ([]Event, error)) (Link, bool, error) {
	if err := ctx.Err(); err != nil {
		return Link{}, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{e.Provider, e.ID}
	if _, ok := m.events[k]; ok {
		return Link{}, false, nil
	}
	l, err := m.updateLocked(id, fn)
	if err != nil {
		return Link{}, false, err
	}
	m.events[k] = struct{}{}
	return l, true, nil
}

// RiskLimits implements Store.
func (m *MemoryStore) RiskLimits(ctx context.Context) (RiskLimits, error) {
	m.limitsMu.Lock()
	defer m.limitsMu.Unlock()
	return RiskLimits{MaxAmount: maps.Clone(m.limits.MaxAmount), MaxLinksPerCall: m.limits.MaxLinksPerCall,
		RefundAdminAbove: maps.Clone(m.limits.RefundAdminAbove)}, nil
}

// SetRiskLimits implements Store.
func (m *MemoryStore) SetRiskLimits(ctx context.Context, l RiskLimits) error {
	m.limitsMu.Lock()
	defer m.limitsMu.Unlock()
	m.limits = RiskLimits{MaxAmount: maps.Clone(l.MaxAmount), MaxLinksPerCall: l.MaxLinksPerCall,
		RefundAdminAbove: maps.Clone(l.RefundAdminAbove)}
	return nil
}

// LinksCreatedSince implements Store.
func (m *MemoryStore) LinksCreatedSince(ctx context.Context, since time.Time, currency string) ([]Link, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Link
	for _, l := range m.links {
		if l.CreatedAt.After(since) && (currency == "" || l.Currency == currency) {
			out = append(out, l.Clone())
		}
	}
	return out, nil
}

// Rollouts implements Store.
func (m *MemoryStore) Rollouts(ctx context.Context) (map[string]Rollout, error) {
	m.limitsMu.Lock()
	defer m.limitsMu.Unlock()
	out := maps.Clone(m.rollouts)
	if out == nil {
		out = map[string]Rollout{}
	}
	return out, nil
}

// SetRollouts implements Store.
func (m *MemoryStore) SetRollouts(ctx context.Context, r map[string]Rollout) error {
	m.limitsMu.Lock()
	defer m.limitsMu.Unlock()
	m.rollouts = maps.Clone(r)
	return nil
}
