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
// exit. Safe for concurrent use: one mutex guards everything, and a
// transaction holds it from start to end, so transactions run one after
// another. Finished entries, calls and callbacks are kept for
// MemoryRetention and then dropped (the presence history keeps its last
// presenceKeep changes), so a node left running for weeks does not grow without
// bound or scan its whole past on every matcher tick.
type MemoryStore struct {
	mu        sync.Mutex
	entries   map[string]*Entry
	guides    map[string]*Guide
	calls     map[string]*Call
	items     map[string]*itemList // by call id
	queues    map[string]*Queue
	callbacks map[string]*Callback
	presence  []PresenceRecord
	quality   map[string][]QualityReport // by call id, pruned with the call
	// lines holds each queue's queued entries in rank order, kept as
	// entries change, so that reading a line neither scans the entries
	// kept for MemoryRetention nor sorts.
	lines map[string][]lineSlot
	// snap is every queue's line as QueuedLine hands it out, when snapOK.
	// Readers share it, so nothing is ever written within its length: the
	// head leaving shortens it from the front, a join at the back appends
	// past it, and any other change of a queued entry drops it, to be
	// read again from lines at the next QueuedLine.
	snap   []Entry
	snapOK bool
	// tallies counts each queue's queued entries by kind (tally.go).
	tallies map[string]tally
	// version counts writes of entries, guides and calls (ChangeCounter).
	version   int64
	nextRank  int64
	lastPrune time.Time
}

// itemList is a call's items; replaced on every append, never changed in
// place, so the undo log can keep the old one.
type itemList struct{ items []CallItem }

// MemoryRetention is how long the memory store keeps finished entries,
// calls and callbacks; PostgreSQL keeps them for good.
const MemoryRetention = 24 * time.Hour

// pruneEvery bounds how often a create pays for a sweep.
const pruneEvery = 10 * time.Minute

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		entries:   make(map[string]*Entry),
		guides:    make(map[string]*Guide),
		calls:     make(map[string]*Call),
		queues:    make(map[string]*Queue),
		callbacks: make(map[string]*Callback),
		items:     make(map[string]*itemList),
		lines:     make(map[string][]lineSlot),
		tallies:   make(map[string]tally),
	}
}

// lineSlot is one queued entry in its queue's line.
type lineSlot struct {
	rank int64
	id   string
}

// relink moves entry id in the lines from where old put it to where cur
// does (nil: absent). Only a queued entry has a place.
func (m *MemoryStore) relink(id string, old, cur *Entry) {
	oldIn := old != nil && old.State.Queued()
	curIn := cur != nil && cur.State.Queued()
	if oldIn && curIn && old.Queue == cur.Queue && old.Rank == cur.Rank {
		return
	}
	if oldIn {
		line := m.lines[old.Queue]
		if i, ok := slices.BinarySearchFunc(line, old.Rank, func(s lineSlot, r int64) int { return cmpRank(s.rank, r) }); ok && line[i].id == id {
			line = slices.Delete(line, i, i+1)
			if len(line) == 0 {
				delete(m.lines, old.Queue)
			} else {
				m.lines[old.Queue] = line
			}
		}
	}
	if curIn {
		line := m.lines[cur.Queue]
		// Joins come at the tail and requeues at the head: both ends are
		// cheap, and only a middle insert moves the slice.
		i, _ := slices.BinarySearchFunc(line, cur.Rank, func(s lineSlot, r int64) int { return cmpRank(s.rank, r) })
		m.lines[cur.Queue] = slices.Insert(line, i, lineSlot{rank: cur.Rank, id: id})
	}
}

func cmpRank(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

var _ Store = (*MemoryStore)(nil)

// Tx runs fn under the store's mutex. Writes go straight to the maps, and
// the first write of each record saves what it replaced; if fn fails (or
// panics) those saved records are put back before the mutex is released,
// so nobody ever sees a half-made change.
func (m *MemoryStore) Tx(ctx context.Context, fn func(ctx context.Context, tx StoreTx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.trimPresence()
	tx := &memTx{m: m, undo: &memUndo{
		entries: map[string]*Entry{}, guides: map[string]*Guide{}, calls: map[string]*Call{},
		queues: map[string]*Queue{}, callbacks: map[string]*Callback{}, items: map[string]*itemList{},
		presenceLen: len(m.presence), nextRank: m.nextRank, lastPrune: m.lastPrune,
	}}
	committed := false
	defer func() {
		if !committed {
			tx.undo.restore(m)
		}
	}()
	if err := fn(ctx, tx); err != nil {
		return err
	}
	committed = true
	return nil
}

// single runs one method as its own transaction. No undo is kept: each
// method changes at most one record, after every check has passed.
func (m *MemoryStore) single() (*memTx, func()) {
	m.mu.Lock()
	return &memTx{m: m}, m.mu.Unlock
}

func (m *MemoryStore) EntryCreate(ctx context.Context, e Entry) (Entry, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.EntryCreate(ctx, e)
}

func (m *MemoryStore) EntryGet(ctx context.Context, id string) (Entry, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.EntryGet(ctx, id)
}

func (m *MemoryStore) EntryUpdate(ctx context.Context, id string, fn func(*Entry) error) (Entry, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.EntryUpdate(ctx, id, fn)
}

func (m *MemoryStore) EntryRequeue(ctx context.Context, id string) (Entry, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.EntryRequeue(ctx, id)
}

func (m *MemoryStore) EntriesQueued(ctx context.Context, queue string) ([]Entry, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.EntriesQueued(ctx, queue)
}

func (m *MemoryStore) GuideUpsert(ctx context.Context, g Guide) (Guide, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.GuideUpsert(ctx, g)
}

func (m *MemoryStore) GuideGet(ctx context.Context, id string) (Guide, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.GuideGet(ctx, id)
}

func (m *MemoryStore) GuideUpdate(ctx context.Context, id string, fn func(*Guide) error) (Guide, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.GuideUpdate(ctx, id, fn)
}

func (m *MemoryStore) GuidesAvailable(ctx context.Context) ([]Guide, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.GuidesAvailable(ctx)
}

func (m *MemoryStore) GuidesOnline(ctx context.Context) ([]Guide, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.GuidesOnline(ctx)
}

func (m *MemoryStore) CallCreate(ctx context.Context, c Call) (Call, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.CallCreate(ctx, c)
}

func (m *MemoryStore) CallGet(ctx context.Context, id string) (Call, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.CallGet(ctx, id)
}

func (m *MemoryStore) CallUpdate(ctx context.Context, id string, fn func(*Call) error) (Call, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.CallUpdate(ctx, id, fn)
}

func (m *MemoryStore) CallsLive(ctx context.Context) ([]Call, error) {
	tx, unlock := m.single()
	defer unlock()
	return tx.CallsLive(ctx)
}

// ChangeVersion counts the writes of entries, guides and calls.
func (m *MemoryStore) ChangeVersion(context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.version, nil
}

// QueuedLine returns the line, shared (callers must not change it), and
// always settled: a write counts and shows in one step under the store's
// lock.
func (m *MemoryStore) QueuedLine(ctx context.Context) ([]Entry, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.snapOK {
		line, err := (&memTx{m: m}).EntriesQueued(ctx, "")
		if err != nil {
			return nil, false, err
		}
		m.snap, m.snapOK = line, true
	}
	return m.snap, true, nil
}

// snapNote keeps snap in step with a write of an entry from old to cur
// (nil: absent), or drops it.
func (m *MemoryStore) snapNote(old, cur *Entry) {
	oldIn := old != nil && old.State.Queued()
	curIn := cur != nil && cur.State.Queued()
	switch {
	case !m.snapOK || (!oldIn && !curIn):
	case oldIn && !curIn && len(m.snap) > 0 && m.snap[0].ID == old.ID:
		m.snap = m.snap[1:]
	case !oldIn && curIn && (len(m.snap) == 0 || lineBefore(m.snap[len(m.snap)-1], *cur)):
		m.snap = append(m.snap, cloneEntry(*cur))
	default:
		m.snap, m.snapOK = nil, false
	}
}

func (m *MemoryStore) Touch(_ context.Context, entries, guides []Held, at time.Time) (reclaimedEntries, reclaimedGuides []string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	// SeenAt alone does not count as a change (ChangeVersion), as on
	// PostgreSQL (migration 00120): only a reclaim moves the version. The
	// line kept in snap is dropped (it is shared with whoever read it, so
	// it is not patched) and read afresh by the next QueuedLine.
	m.snap, m.snapOK = nil, false
	reclaimed := false
	defer func() {
		if reclaimed {
			m.version++
		}
	}()
	for _, h := range entries {
		e, ok := m.entries[h.ID]
		if !ok {
			continue
		}
		if (e.State.Queued() || e.State == EntryInCall) && e.SocketID == SocketGivenUp {
			e.SocketID, e.DisconnectedAt = h.SocketID, nil
			reclaimedEntries = append(reclaimedEntries, e.ID)
			reclaimed = true
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
			reclaimed = true
		}
		if g.SocketID == h.SocketID {
			g.SeenAt = at
		}
	}
	return reclaimedEntries, reclaimedGuides, nil
}

// memUndo holds, for each record a transaction wrote, what it was before
// (nil: it did not exist).
type memUndo struct {
	entries     map[string]*Entry
	guides      map[string]*Guide
	calls       map[string]*Call
	queues      map[string]*Queue
	callbacks   map[string]*Callback
	items       map[string]*itemList
	presenceLen int
	nextRank    int64
	lastPrune   time.Time
	quality     []string // call ids of the reports appended, in order
}

func (u *memUndo) restore(m *MemoryStore) {
	m.version++
	m.snap, m.snapOK = nil, false
	for id, old := range u.entries {
		m.relink(id, m.entries[id], old)
		m.tallyNote(m.entries[id], old)
		if old == nil {
			delete(m.entries, id)
		} else {
			m.entries[id] = old
		}
	}
	restore(m.guides, u.guides)
	restore(m.calls, u.calls)
	restore(m.items, u.items)
	restore(m.queues, u.queues)
	restore(m.callbacks, u.callbacks)
	m.presence = m.presence[:u.presenceLen]
	u.undoQuality(m)
	m.nextRank, m.lastPrune = u.nextRank, u.lastPrune
}

func restore[T any](live, saved map[string]*T) {
	for id, old := range saved {
		if old == nil {
			delete(live, id)
		} else {
			live[id] = old
		}
	}
}

// memTx works on the store's maps with its mutex held. Records are
// replaced, never changed in place, so the undo log can keep the old
// pointer.
type memTx struct {
	m    *MemoryStore
	undo *memUndo // nil outside Tx
}

func save[T any](saved map[string]*T, live map[string]*T, id string) {
	if _, done := saved[id]; done {
		return
	}
	saved[id] = live[id]
}

func (t *memTx) putEntry(e Entry) {
	if t.undo != nil {
		save(t.undo.entries, t.m.entries, e.ID)
	}
	c := cloneEntry(e)
	old := t.m.entries[e.ID]
	t.m.entries[e.ID] = &c
	t.m.relink(e.ID, old, &c)
	t.m.snapNote(old, &c)
	t.m.tallyNote(old, &c)
	t.m.version++
}

func (t *memTx) putGuide(g Guide) {
	if t.undo != nil {
		save(t.undo.guides, t.m.guides, g.ID)
	}
	c := cloneGuide(g)
	t.m.guides[g.ID] = &c
	t.m.version++
}

func (t *memTx) putCall(c Call) {
	if t.undo != nil {
		save(t.undo.calls, t.m.calls, c.ID)
	}
	cc := cloneCall(c)
	t.m.calls[c.ID] = &cc
	t.m.version++
}

func (t *memTx) EntryCreate(_ context.Context, e Entry) (Entry, error) {
	if _, ok := t.m.entries[e.ID]; ok {
		return Entry{}, fmt.Errorf("entry %s: %w", e.ID, ErrBadState)
	}
	t.prune(e.JoinedAt)
	t.m.nextRank++
	e.Rank = t.m.nextRank
	t.putEntry(e)
	return cloneEntry(e), nil
}

// prune drops what finished before now-MemoryRetention. The store has no
// clock of its own; the join time of the entry being created stands in.
func (t *memTx) prune(now time.Time) {
	m := t.m
	if now.Sub(m.lastPrune) < pruneEvery {
		return
	}
	m.lastPrune = now
	cutoff := now.Add(-MemoryRetention)
	// Reports of calls an earlier, committed prune dropped: unreachable,
	// so dropping them here needs no undo even if this transaction fails.
	for id := range m.quality {
		if m.calls[id] == nil {
			delete(m.quality, id)
		}
	}
	for id, e := range m.entries {
		if !e.State.Queued() && e.State != EntryInCall && e.LeftAt != nil && e.LeftAt.Before(cutoff) {
			if t.undo != nil {
				save(t.undo.entries, m.entries, id)
			}
			delete(m.entries, id)
		}
	}
	for id, cb := range m.callbacks {
		if cb.State == CallbackDone && cb.DoneAt != nil && cb.DoneAt.Before(cutoff) {
			if t.undo != nil {
				save(t.undo.callbacks, m.callbacks, id)
			}
			delete(m.callbacks, id)
		}
	}
	for id, c := range m.calls {
		if !c.State.Live() && c.EndedAt != nil && c.EndedAt.Before(cutoff) {
			if t.undo != nil {
				save(t.undo.calls, m.calls, id)
				save(t.undo.items, m.items, id)
			}
			delete(m.calls, id)
			delete(m.items, id)
		}
	}
}

func (t *memTx) EntryGet(_ context.Context, id string) (Entry, error) {
	e, ok := t.m.entries[id]
	if !ok {
		return Entry{}, fmt.Errorf("entry %s: %w", id, ErrNotFound)
	}
	return cloneEntry(*e), nil
}

func (t *memTx) EntryUpdate(_ context.Context, id string, fn func(*Entry) error) (Entry, error) {
	e, ok := t.m.entries[id]
	if !ok {
		return Entry{}, fmt.Errorf("entry %s: %w", id, ErrNotFound)
	}
	work := cloneEntry(*e)
	if err := fn(&work); err != nil {
		return Entry{}, err
	}
	work.ID, work.Rank = e.ID, e.Rank
	t.putEntry(work)
	return cloneEntry(work), nil
}

func (t *memTx) EntryRequeue(_ context.Context, id string) (Entry, error) {
	e, ok := t.m.entries[id]
	if !ok {
		return Entry{}, fmt.Errorf("entry %s: %w", id, ErrNotFound)
	}
	head := e.Rank
	if line := t.m.lines[e.Queue]; len(line) > 0 && line[0].rank < head {
		head = line[0].rank
	}
	work := cloneEntry(*e)
	work.Rank, work.State, work.CallID = head-1, EntryWaiting, ""
	t.putEntry(work)
	return cloneEntry(work), nil
}

func (t *memTx) EntriesQueued(_ context.Context, queue string) ([]Entry, error) {
	names := []string{queue}
	n := len(t.m.lines[queue])
	if queue == "" {
		names, n = names[:0], 0
		for name, line := range t.m.lines {
			names = append(names, name)
			n += len(line)
		}
		slices.Sort(names)
	}
	if n == 0 {
		return nil, nil
	}
	out := make([]Entry, 0, n)
	for _, name := range names {
		for _, s := range t.m.lines[name] {
			out = append(out, cloneEntry(*t.m.entries[s.id]))
		}
	}
	return out, nil
}

func (t *memTx) GuideUpsert(_ context.Context, g Guide) (Guide, error) {
	if cur, ok := t.m.guides[g.ID]; ok {
		work := cloneGuide(*cur)
		work.Name = g.Name
		t.putGuide(work)
		return cloneGuide(work), nil
	}
	t.putGuide(g)
	return cloneGuide(g), nil
}

func (t *memTx) GuideGet(_ context.Context, id string) (Guide, error) {
	g, ok := t.m.guides[id]
	if !ok {
		return Guide{}, fmt.Errorf("guide %s: %w", id, ErrNotFound)
	}
	return cloneGuide(*g), nil
}

func (t *memTx) GuideUpdate(_ context.Context, id string, fn func(*Guide) error) (Guide, error) {
	g, ok := t.m.guides[id]
	if !ok {
		return Guide{}, fmt.Errorf("guide %s: %w", id, ErrNotFound)
	}
	work := cloneGuide(*g)
	if err := fn(&work); err != nil {
		return Guide{}, err
	}
	work.ID = g.ID
	t.putGuide(work)
	return cloneGuide(work), nil
}

func (t *memTx) GuidesAvailable(_ context.Context) ([]Guide, error) {
	var out []Guide
	for _, g := range t.m.guides {
		if g.Online && g.Status == GuideAvailable && g.HasRoom() {
			out = append(out, cloneGuide(*g))
		}
	}
	slices.SortFunc(out, func(a, b Guide) int {
		if c := a.IdleSince.Compare(b.IdleSince); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

func (t *memTx) GuidesOnline(_ context.Context) ([]Guide, error) {
	var out []Guide
	for _, g := range t.m.guides {
		if g.Online {
			out = append(out, cloneGuide(*g))
		}
	}
	slices.SortFunc(out, func(a, b Guide) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (t *memTx) CallCreate(_ context.Context, c Call) (Call, error) {
	if _, ok := t.m.calls[c.ID]; ok {
		return Call{}, fmt.Errorf("call %s: %w", c.ID, ErrBadState)
	}
	if c.State.Live() {
		slots, held := 1, 0
		if g, ok := t.m.guides[c.GuideID]; ok {
			slots = g.Slots()
		}
		for _, o := range t.m.calls {
			if !o.State.Live() {
				continue
			}
			if o.EntryID == c.EntryID {
				return Call{}, fmt.Errorf("call %s: entry %s already in live call %s: %w", c.ID, c.EntryID, o.ID, ErrBadState)
			}
			if o.GuideID == c.GuideID {
				held++
			}
		}
		if held >= slots {
			return Call{}, fmt.Errorf("call %s: guide %s already holds %d live calls (capacity %d): %w", c.ID, c.GuideID, held, slots, ErrBadState)
		}
	}
	t.putCall(c)
	return cloneCall(c), nil
}

func (t *memTx) CallGet(_ context.Context, id string) (Call, error) {
	c, ok := t.m.calls[id]
	if !ok {
		return Call{}, fmt.Errorf("call %s: %w", id, ErrNotFound)
	}
	return cloneCall(*c), nil
}

func (t *memTx) CallUpdate(_ context.Context, id string, fn func(*Call) error) (Call, error) {
	c, ok := t.m.calls[id]
	if !ok {
		return Call{}, fmt.Errorf("call %s: %w", id, ErrNotFound)
	}
	work := cloneCall(*c)
	if err := fn(&work); err != nil {
		return Call{}, err
	}
	work.ID = c.ID
	t.putCall(work)
	return cloneCall(work), nil
}

func (t *memTx) CallsLive(_ context.Context) ([]Call, error) {
	var out []Call
	for _, c := range t.m.calls {
		if c.State.Live() {
			out = append(out, cloneCall(*c))
		}
	}
	slices.SortFunc(out, func(a, b Call) int {
		if c := a.OfferedAt.Compare(b.OfferedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
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
	e.Steps = slices.Clone(e.Steps)
	if e.CartValue != nil {
		v := *e.CartValue
		e.CartValue = &v
	}
	return e
}

func cloneGuide(g Guide) Guide {
	g.DisconnectedAt = cloneTime(g.DisconnectedAt)
	g.WrapUpUntil = cloneTime(g.WrapUpUntil)
	g.Queues, g.Languages, g.Skills = slices.Clone(g.Queues), slices.Clone(g.Languages), slices.Clone(g.Skills)
	g.CallIDs = slices.Clone(g.CallIDs)
	return g
}

func cloneCall(c Call) Call {
	c.AcceptedAt = cloneTime(c.AcceptedAt)
	c.ConnectedAt = cloneTime(c.ConnectedAt)
	c.EndedAt = cloneTime(c.EndedAt)
	c.RatedAt = cloneTime(c.RatedAt)
	c.WrappedUpAt = cloneTime(c.WrappedUpAt)
	return c
}

func cloneItem(it CallItem) CallItem {
	it.Body = slices.Clone(it.Body)
	return it
}

func (m *MemoryStore) CallItemAdd(ctx context.Context, it CallItem) (CallItem, error) {
	tx, done := m.single()
	defer done()
	return tx.CallItemAdd(ctx, it)
}

func (m *MemoryStore) CallItems(ctx context.Context, callID string) ([]CallItem, error) {
	tx, done := m.single()
	defer done()
	return tx.CallItems(ctx, callID)
}

func (t *memTx) CallItemAdd(_ context.Context, it CallItem) (CallItem, error) {
	if _, ok := t.m.calls[it.CallID]; !ok {
		return CallItem{}, fmt.Errorf("call %s: %w", it.CallID, ErrNotFound)
	}
	var old []CallItem
	if l := t.m.items[it.CallID]; l != nil {
		old = l.items
	}
	it = cloneItem(it)
	it.Seq = len(old) + 1
	if t.undo != nil {
		save(t.undo.items, t.m.items, it.CallID)
	}
	t.m.items[it.CallID] = &itemList{items: append(slices.Clip(old), it)}
	return cloneItem(it), nil
}

func (t *memTx) CallItems(_ context.Context, callID string) ([]CallItem, error) {
	l := t.m.items[callID]
	if l == nil {
		return nil, nil
	}
	out := make([]CallItem, len(l.items))
	for i, it := range l.items {
		out[i] = cloneItem(it)
	}
	return out, nil
}

// EntriesUnseen returns the entries waiting, offered or in a call whose
// socket is not known to be gone and whose SeenAt is set and before
// cutoff, by id. It looks at every entry the store keeps; the matcher
// asks once per TouchEvery.
func (m *MemoryStore) EntriesUnseen(_ context.Context, cutoff time.Time) ([]Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Entry
	for _, e := range m.entries {
		if (e.State.Queued() || e.State == EntryInCall) && e.DisconnectedAt == nil &&
			!e.SeenAt.IsZero() && e.SeenAt.Before(cutoff) {
			out = append(out, cloneEntry(*e))
		}
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}
