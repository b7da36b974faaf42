package queue

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"time"
)

// What the matcher last told the line, kept in line order next to the
// entries it was worked out from. A pass walks the new line and the told
// one side by side (both are ordered by queue, then rank), so finding
// what a shopper was told last costs no look-up, and the line is never
// copied into maps.
//
// Most changes leave the front of the line as it was: a join lands at
// the back, a shopper who leaves moves only those behind. When one queue
// and one priority band make up the line (the matcher's order is then
// the line's own), an entry's place and competition depend only on the
// entries before it, so the pass works positions out only from the first
// entry that differs from what was told, as long as the guides, the live
// calls and the queues' records are those of the last pass and the last
// full computation is younger than positionRefresh. Every other pass
// works every position out again, as does any line of several queues or
// bands.

// toldLine is the line the positions were last worked out for.
type toldLine struct {
	entries []Entry
	told    []toldPos // what entries[i] was last told
	guides  []Guide
	live    []Call
	queues  map[string]Queue
	full    time.Time // when every position was last worked out
	known   bool
}

type toldPos struct {
	p  Position
	ok bool // false: never told (it was disconnected throughout)
}

// samePlace reports whether b stands where a stood as far as its
// position goes: the same entry, competing for the same guides.
func samePlace(a, b Entry) bool {
	return a.ID == b.ID && a.Queue == b.Queue && a.Rank == b.Rank && a.Priority == b.Priority &&
		a.State == b.State && a.JoinedAt.Equal(b.JoinedAt) && (a.DisconnectedAt == nil) == (b.DisconnectedAt == nil) &&
		a.Language == b.Language && a.Language2 == b.Language2 && a.Skill == b.Skill &&
		a.TransferGuide == b.TransferGuide && slices.Equal(a.Steps, b.Steps)
}

// lineBefore reports whether a comes before b in the stores' line order.
func lineBefore(a, b Entry) bool {
	return a.Queue < b.Queue || (a.Queue == b.Queue && a.Rank < b.Rank)
}

// oneBand reports whether the line is one queue of one priority: the
// matcher's order is then the line's own.
func oneBand(line []Entry) bool {
	for _, e := range line {
		if e.Queue != line[0].Queue || e.Priority != line[0].Priority {
			return false
		}
	}
	return true
}

// sendPositions tells each queued shopper its position when it changed.
func (s *Service) sendPositions(ctx context.Context) error {
	line, fresh, err := s.passLine(ctx)
	if err != nil {
		return err
	}
	pc := &s.pass
	if !fresh && pc.toldKnown && pc.toldV == pc.v && s.now().Sub(pc.told) < positionRefresh {
		// Nothing was written since the positions were last worked out
		// from a line known to be whole; only the passing time moves the
		// estimates, and slowly.
		return nil
	}
	// A fresh line may still miss a write its version counts (passLine):
	// such positions are worked out again at the next pass.
	now := s.now()
	pc.told, pc.toldV, pc.toldKnown = now, pc.v, pc.known && !fresh
	guides, err := s.store.GuidesOnline(ctx)
	if err != nil {
		return err
	}
	queues, err := s.queueMap(ctx)
	if err != nil {
		return err
	}
	live, err := s.store.CallsLive(ctx)
	if err != nil {
		return err
	}
	old := &s.toldLine
	simple := oneBand(line)
	from := 0
	if old.known && simple && oneBand(old.entries) && now.Sub(old.full) < positionRefresh &&
		reflect.DeepEqual(guides, old.guides) && reflect.DeepEqual(live, old.live) &&
		maps.EqualFunc(queues, old.queues, func(a, b Queue) bool { return reflect.DeepEqual(a, b) }) {
		for from < len(line) && from < len(old.entries) && samePlace(line[from], old.entries[from]) {
			from++
		}
	}
	var ahead []int
	if from < len(line) {
		if simple {
			ahead = competitionInOrder(line, guides)
		} else {
			order := matchOrder(line)
			byOrder := competitionInOrder(order, guides)
			at := make(map[string]int, len(order))
			for i, e := range order {
				at[e.ID] = byOrder[i]
			}
			ahead = make([]int, len(line))
			for i, e := range line {
				ahead[i] = at[e.ID]
			}
		}
	}
	var model *waitModel
	told := make([]toldPos, len(line))
	var changed []EntryPosition
	if from < len(line) {
		changed = make([]EntryPosition, 0, len(line)-from)
	}
	pos, queue, k := 0, "", 0
	for i, e := range line {
		if e.Queue != queue {
			pos, queue = 0, e.Queue
		}
		pos++
		for k < len(old.entries) && lineBefore(old.entries[k], e) {
			k++
		}
		var last toldPos
		if k < len(old.entries) && old.entries[k].ID == e.ID {
			last = old.told[k]
		}
		if i < from {
			told[i] = last
			continue
		}
		if e.DisconnectedAt != nil {
			told[i] = last
			continue
		}
		if model == nil {
			model = s.waitModel(ctx, s.store, guides, live, queues)
		}
		p := s.positionAt(e, pos, ahead[i], model, queues[e.Queue])
		if last.ok && samePosition(last.p, p) {
			told[i] = last
			continue
		}
		told[i] = toldPos{p: p, ok: true}
		changed = append(changed, EntryPosition{EntryID: e.ID, Position: p})
	}
	if from == 0 || !old.known {
		old.full = now
	}
	old.entries, old.told, old.guides, old.live, old.queues, old.known = line, told, guides, live, queues, true
	if len(changed) > 0 {
		s.bus.publish(PositionsChanged{EventMeta: s.meta(), Positions: changed})
	}
	return nil
}

// competitionInOrder is competition's count for each entry of order, by
// index. Consecutive entries of one eligibility share their class without
// building its key again.
func competitionInOrder(order []Entry, guides []Guide) []int {
	var workers []Guide
	for _, g := range guides {
		if working(g) {
			workers = append(workers, g)
		}
	}
	type class struct {
		mask  []bool
		count int
		// shared are the classes, among the first checked of all,
		// that some worker eligible for this one could also take.
		shared  []*class
		checked int
	}
	classes := map[string]*class{}
	var all []*class
	out := make([]int, len(order))
	var c *class
	for i, e := range order {
		if c == nil || !sameEligibility(order[i-1], e) {
			k := eligibilityKey(e)
			var ok bool
			if c, ok = classes[k]; !ok {
				c = &class{mask: make([]bool, len(workers))}
				for j, g := range workers {
					c.mask[j] = eligible(e, g)
				}
				classes[k] = c
				all = append(all, c)
			}
		}
		for _, o := range all[c.checked:] {
			for j := range workers {
				if c.mask[j] && o.mask[j] {
					c.shared = append(c.shared, o)
					break
				}
			}
		}
		c.checked = len(all)
		n := 0
		for _, o := range c.shared {
			n += o.count
		}
		out[i] = n
		c.count++
	}
	return out
}

// sameEligibility reports whether a and b have one eligibilityKey.
func sameEligibility(a, b Entry) bool {
	return a.Queue == b.Queue && a.Language == b.Language && a.Language2 == b.Language2 &&
		a.Skill == b.Skill && a.TransferGuide == b.TransferGuide && slices.Equal(a.Steps, b.Steps)
}
