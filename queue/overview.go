package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// QueueLine is one queue's line as a guide's overview shows it: the
// entries in the order they will be offered.
type QueueLine struct {
	Queue   string  `json:"queue"`
	Entries []Entry `json:"entries"`
}

// GuideOverview lists the lines of the queues guideID serves (every queue
// for a guide without a profile, as routing does), each in offer order,
// without the entries a colleague transferred to someone else by name,
// which this guide can never take. A guide with no record yet (its console
// has not connected) serves every queue, as routing treats it. Queues with a record and nobody
// waiting are listed too, so the guide sees them empty.
func (s *Service) GuideOverview(ctx context.Context, guideID string) ([]QueueLine, error) {
	g, err := s.store.GuideGet(ctx, guideID)
	if errors.Is(err, ErrNotFound) {
		// Not connected yet (the record comes with the first socket): a
		// guide without a profile, as routing would treat it.
		g, err = Guide{ID: guideID}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("guide %s: %w", guideID, err)
	}
	serves := func(q string) bool { return g.Queues == nil || slices.Contains(g.Queues, q) }
	entries, err := s.store.EntriesQueued(ctx, "")
	if err != nil {
		return nil, err
	}
	records, err := s.store.QueuesList(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]*QueueLine{}
	var out []*QueueLine
	line := func(name string) *QueueLine {
		if l, ok := byName[name]; ok {
			return l
		}
		l := &QueueLine{Queue: name, Entries: []Entry{}}
		byName[name] = l
		out = append(out, l)
		return l
	}
	for _, name := range g.Queues {
		line(name)
	}
	for _, q := range records {
		if serves(q.Name) {
			line(q.Name)
		}
	}
	for _, e := range entries {
		if !serves(e.Queue) || e.TransferGuide != "" && e.TransferGuide != guideID {
			continue
		}
		l := line(e.Queue)
		l.Entries = append(l.Entries, e)
	}
	slices.SortStableFunc(out, func(a, b *QueueLine) int {
		if a.Queue < b.Queue {
			return -1
		}
		if a.Queue > b.Queue {
			return 1
		}
		return 0
	})
	lines := make([]QueueLine, len(out))
	for i, l := range out {
		lines[i] = *l
	}
	return lines, nil
}
