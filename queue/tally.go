package queue

import (
	"context"
	"errors"
	"slices"
	"strconv"
)

// A socket that opens is told its position at once (positions.go). Done
// from the whole line, that costs a read of every queued entry per batch
// of sockets, so join → first position grew with the line. The memory
// store therefore keeps, as entries change, a tally of its queued entries
// by queue, eligibility and priority, and can say where a few entries
// stand from their places in the line and that tally: the cost is the
// number of kinds of entry times the guides, plus the entries behind the
// one asked about (a shopper who just joined has none), not the line.
//
// Only a line of one queue is answered this way: there the matcher takes
// the priority bands highest first and, within a band, the line's order,
// so the entries ahead of e are those of a higher band and those of its
// band before it. With several queues the order interleaves them by join
// time, and positionsOf reads the whole line as before.

// placeTeller is a store that can say where queued entries stand.
type placeTeller interface {
	// LinePlaces returns, for each id queued in a line that is the only
	// non-empty one, its place; ok is false when more than one queue has
	// entries (nothing is returned then).
	LinePlaces(ctx context.Context, ids []string) (places []linePlace, ok bool, err error)
}

// linePlace is where a queued entry stands: its place in its queue
// (from 1) and the entries the matcher takes before it, by kind.
type linePlace struct {
	entry Entry
	pos   int
	ahead []kindCount
}

// kindCount is how many queued entries of one eligibility (rep stands for
// all of them) are ahead.
type kindCount struct {
	rep   Entry
	count int
}

// tallyKey groups entries by what decides their eligibility and their band.
func tallyKey(e Entry) string {
	return eligibilityKey(e) + "\x00" + strconv.Itoa(e.Priority)
}

// tally counts one queue's entries by tallyKey.
type tally map[string]*kindTally

type kindTally struct {
	rep   Entry
	count int
}

// tallyNote moves an entry written from old to cur (nil: absent) in the
// tallies.
func (m *MemoryStore) tallyNote(old, cur *Entry) {
	if old != nil && old.State.Queued() {
		k, t := tallyKey(*old), m.tallies[old.Queue]
		if kt := t[k]; kt != nil {
			if kt.count--; kt.count == 0 {
				delete(t, k)
			}
		}
		if len(t) == 0 {
			delete(m.tallies, old.Queue)
		}
	}
	if cur != nil && cur.State.Queued() {
		t := m.tallies[cur.Queue]
		if t == nil {
			t = tally{}
			m.tallies[cur.Queue] = t
		}
		k := tallyKey(*cur)
		kt := t[k]
		if kt == nil {
			kt = &kindTally{rep: cloneEntry(*cur)}
			t[k] = kt
		}
		kt.count++
	}
}

// LinePlaces implements placeTeller.
func (m *MemoryStore) LinePlaces(ctx context.Context, ids []string) ([]linePlace, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.lines) > 1 {
		return nil, false, nil
	}
	var out []linePlace
	for _, id := range ids {
		e, ok := m.entries[id]
		if !ok || !e.State.Queued() {
			continue
		}
		line := m.lines[e.Queue]
		i, found := slices.BinarySearchFunc(line, e.Rank, func(s lineSlot, r int64) int { return cmpRank(s.rank, r) })
		if !found || line[i].id != id {
			return nil, false, errors.New("queue: memory store: line and entries disagree")
		}
		// Every entry of a band at least e's, less e and those of its own
		// band behind it.
		less := map[string]int{tallyKey(*e): 1}
		for _, s := range line[i+1:] {
			if o := m.entries[s.id]; o.Priority == e.Priority {
				less[tallyKey(*o)]++
			}
		}
		p := linePlace{entry: cloneEntry(*e), pos: i + 1}
		for k, kt := range m.tallies[e.Queue] {
			if kt.rep.Priority < e.Priority {
				continue
			}
			if n := kt.count - less[k]; n > 0 {
				p.ahead = append(p.ahead, kindCount{rep: kt.rep, count: n})
			}
		}
		out = append(out, p)
	}
	return out, true, nil
}

// aheadOf counts the entries of ahead that compete with e for a working
// guide, as competition does.
func aheadOf(e Entry, ahead []kindCount, guides []Guide) int {
	n := 0
	for _, kc := range ahead {
		if slices.ContainsFunc(guides, func(g Guide) bool { return working(g) && eligible(e, g) && eligible(kc.rep, g) }) {
			n += kc.count
		}
	}
	return n
}
