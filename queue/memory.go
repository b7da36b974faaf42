package queue

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// MemoryStore is the zero-setup Store: everything in one process, gone on
// exit. Safe for concurrent use. Finished entries and calls are kept for
// MemoryRetention and then dropped, so a node left running for weeks does
// not grow without bound or scan its whole past on every matcher tick.
type MemoryStore struct {
	mu        sync.Mutex
	entries   map[string]*Entry
	guides    map[string]*Guide
	calls     map[string]*Call
	nextRank  int64
	lastPrune time.Time
}

// MemoryRetention is how long the memory store keeps finished entries and
// calls; PostgreSQL keeps them for good.
const MemoryRetention = 24 * time.Hour

// pruneEvery bounds how often a create pays for a sweep.
const pruneEvery = 10 * time.Minute

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		entries: make(map[string]*Entry),
		guides:  make(map[string]*Guide),
		calls:   make(map[string]*Call),
	}
}

var _ Store = (*MemoryStore)(nil)

func (m *MemoryStore) EntryCreate(_ context.Context, e Entry) (Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.entries[e.ID]; ok {
		return Entry{}, fmt.Errorf("entry %s: %w", e.ID, ErrBadState)
	}
	m.prune(e.JoinedAt)
	m.nextRank++
	e.Rank = m.nextRank
	c := cloneEntry(e)
	m.entries[e.ID] = &c
	return cloneEntry(c), nil
}

// prune drops what finished before now-MemoryRetention. The store has no
// clock of its own; the join time of the entry being created stands in.
func (m *MemoryStore) prune(now time.Time) {
	if now.Sub(m.lastPrune) < pruneEvery {
		return
	}
	m.lastPrune = now
	cutoff := now.Add(-MemoryRetention)
	for id, e := range m.entries {
		if !e.State.Queued() && e.State != EntryInCall && e.LeftAt != nil && e.LeftAt.Before(cutoff) {
			delete(m.entries, id)
		}
	}
	for id, c := range m.calls {
		if !c.State.Live() && c.EndedAt != nil && c.EndedAt.Before(cutoff) {
			delete(m.calls, id)
		}
	}
}

func (m *MemoryStore) EntryGet(_ context.Context, id string) (Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[id]
	if !ok {
		return Entry{}, fmt.Errorf("entry %s: %w", id, ErrNotFound)
	}
	return cloneEntry(*e), nil
}

func (m *MemoryStore) EntryUpdate(_ context.Context, id string, fn func(*Entry) error) (Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[id]
	if !ok {
		return Entry{}, fmt.Errorf("entry %s: %w", id, ErrNotFound)
	}
	work := cloneEntry(*e)
	if err := fn(&work); err != nil {
		return Entry{}, err
	}
	work.ID, work.Rank = e.ID, e.Rank
	*e = cloneEntry(work)
	return cloneEntry(work), nil
}

func (m *MemoryStore) EntryRequeue(_ context.Context, id string) (Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[id]
	if !ok {
		return Entry{}, fmt.Errorf("entry %s: %w", id, ErrNotFound)
	}
	head := e.Rank
	for _, o := range m.entries {
		if o.Queue == e.Queue && o.State.Queued() && o.Rank < head {
			head = o.Rank
		}
	}
	e.Rank = head - 1
	e.State = EntryWaiting
	e.CallID = ""
	return cloneEntry(*e), nil
}

func (m *MemoryStore) EntriesQueued(_ context.Context, queue string) ([]Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Entry
	for _, e := range m.entries {
		if e.State.Queued() && (queue == "" || e.Queue == queue) {
			out = append(out, cloneEntry(*e))
		}
	}
	slices.SortFunc(out, func(a, b Entry) int {
		if a.Queue != b.Queue {
			if a.Queue < b.Queue {
				return -1
			}
			return 1
		}
		return int(a.Rank - b.Rank)
	})
	return out, nil
}

func (m *MemoryStore) GuideUpsert(_ context.Context, g Guide) (Guide, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.guides[g.ID]; ok {
		cur.Name = g.Name
		return cloneGuide(*cur), nil
	}
	c := cloneGuide(g)
	m.guides[g.ID] = &c
	return cloneGuide(c), nil
}

func (m *MemoryStore) GuideGet(_ context.Context, id string) (Guide, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.guides[id]
	if !ok {
		return Guide{}, fmt.Errorf("guide %s: %w", id, ErrNotFound)
	}
	return cloneGuide(*g), nil
}

func (m *MemoryStore) GuideUpdate(_ context.Context, id string, fn func(*Guide) error) (Guide, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.guides[id]
	if !ok {
		return Guide{}, fmt.Errorf("guide %s: %w", id, ErrNotFound)
	}
	work := cloneGuide(*g)
	if err := fn(&work); err != nil {
		return Guide{}, err
	}
	work.ID = g.ID
	*g = cloneGuide(work)
	return cloneGuide(work), nil
}

func (m *MemoryStore) GuidesAvailable(_ context.Context) ([]Guide, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Guide
	for _, g := range m.guides {
		if g.Online && g.Status == GuideAvailable && g.CallID == "" {
			out = append(out, cloneGuide(*g))
		}
	}
	slices.SortFunc(out, func(a, b Guide) int {
		if c := a.IdleSince.Compare(b.IdleSince); c != 0 {
			return c
		}
		if a.ID < b.ID {
			return -1
		}
		return 1
	})
	return out, nil
}

func (m *MemoryStore) GuidesOnline(_ context.Context) ([]Guide, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Guide
	for _, g := range m.guides {
		if g.Online {
			out = append(out, cloneGuide(*g))
		}
	}
	slices.SortFunc(out, func(a, b Guide) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (m *MemoryStore) Touch(_ context.Context, entries, guides []Held, at time.Time) (reclaimedEntries, reclaimedGuides []string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, h := range entries {
		e, ok := m.entries[h.ID]
		if !ok {
			continue
		}
		if (e.State.Queued() || e.State == EntryInCall) && e.SocketID == SocketGivenUp {
			e.SocketID, e.DisconnectedAt = h.SocketID, nil
			reclaimedEntries = append(reclaimedEntries, e.ID)
		}
		if e.SocketID == h.SocketID {
			e.SeenAt = at
		}
	}
	for _, h := range guides {
		g, ok := m.guides[h.ID]
		if !ok {
			continue
		}
		if !g.Online && g.SocketID == SocketGivenUp {
			g.Online, g.SocketID, g.DisconnectedAt = true, h.SocketID, nil
			reclaimedGuides = append(reclaimedGuides, g.ID)
		}
		if g.SocketID == h.SocketID {
			g.SeenAt = at
		}
	}
	return reclaimedEntries, reclaimedGuides, nil
}

func (m *MemoryStore) CallCreate(_ context.Context, c Call) (Call, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.calls[c.ID]; ok {
		return Call{}, fmt.Errorf("call %s: %w", c.ID, ErrBadState)
	}
	if c.State.Live() {
		for _, o := range m.calls {
			if o.State.Live() && (o.GuideID == c.GuideID || o.EntryID == c.EntryID) {
				return Call{}, fmt.Errorf("call %s: guide %s or entry %s already in live call %s: %w", c.ID, c.GuideID, c.EntryID, o.ID, ErrBadState)
			}
		}
	}
	cc := cloneCall(c)
	m.calls[c.ID] = &cc
	return cloneCall(cc), nil
}

func (m *MemoryStore) CallGet(_ context.Context, id string) (Call, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.calls[id]
	if !ok {
		return Call{}, fmt.Errorf("call %s: %w", id, ErrNotFound)
	}
	return cloneCall(*c), nil
}

func (m *MemoryStore) CallUpdate(_ context.Context, id string, fn func(*Call) error) (Call, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.calls[id]
	if !ok {
		return Call{}, fmt.Errorf("call %s: %w", id, ErrNotFound)
	}
	work := cloneCall(*c)
	if err := fn(&work); err != nil {
		return Call{}, err
	}
	work.ID = c.ID
	*c = cloneCall(work)
	return cloneCall(work), nil
}

func (m *MemoryStore) CallsLive(_ context.Context) ([]Call, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Call
	for _, c := range m.calls {
		if c.State.Live() {
			out = append(out, cloneCall(*c))
		}
	}
	slices.SortFunc(out, func(a, b Call) int { return a.OfferedAt.Compare(b.OfferedAt) })
	return out, nil
}

func cloneTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := *t
	return &v
}

func cloneEntry(e Entry) Entry {
	e.DisconnectedAt = cloneTime(e.DisconnectedAt)
	e.LeftAt = cloneTime(e.LeftAt)
	return e
}

func cloneGuide(g Guide) Guide {
	g.DisconnectedAt = cloneTime(g.DisconnectedAt)
	return g
}

func cloneCall(c Call) Call {
	c.AcceptedAt = cloneTime(c.AcceptedAt)
	c.ConnectedAt = cloneTime(c.ConnectedAt)
	c.EndedAt = cloneTime(c.EndedAt)
	return c
}
