package queue

import (
	"context"
	"errors"
	"sync"
)

// A shopper's socket that opens is told where it stands at once. From
// the whole line that reads every entry, the guides (who competes with
// whom, and the wait estimate); the memory store says it instead from
// the entry's place and a tally of the line it keeps (tally.go), at a
// cost that does not grow with the line. Either way, sockets that open
// while one computation runs share the next one: the first of them
// computes for all, the others wait for it. Under load a batch grows,
// the cost per join shrinks, and no join waits for more than the
// computation in progress and its own.

// positionBatches groups the entries waiting to be told their position.
type positionBatches struct {
	mu      sync.Mutex
	running bool
	pending *positionBatch
	turn    chan struct{} // closed when a computation ends
}

type positionBatch struct {
	ids  []string
	done chan struct{}
}

func newPositionBatches() *positionBatches {
	return &positionBatches{pending: &positionBatch{done: make(chan struct{})}, turn: make(chan struct{})}
}

// tellPosition publishes entry id's PositionChanged, computed together
// with those of every socket that opened meanwhile, and returns once it
// has been published (or ctx ended).
func (s *Service) tellPosition(ctx context.Context, id string) {
	b := s.batches
	b.mu.Lock()
	mine := b.pending
	mine.ids = append(mine.ids, id)
	for {
		select {
		case <-mine.done:
			b.mu.Unlock()
			return
		default:
		}
		if !b.running {
			break
		}
		turn := b.turn
		b.mu.Unlock()
		select {
		case <-mine.done:
			return
		case <-turn:
		case <-ctx.Done():
			return
		}
		b.mu.Lock()
	}
	// This caller computes the batch it is in, which is the pending one:
	// a batch leaves pending only when someone computes it.
	b.running = true
	b.pending = &positionBatch{done: make(chan struct{})}
	b.mu.Unlock()

	s.publishPositions(ctx, mine.ids)

	b.mu.Lock()
	b.running = false
	close(mine.done)
	close(b.turn)
	b.turn = make(chan struct{})
	b.mu.Unlock()
}

// publishPositions tells the queued entries among ids where they stand.
// Its place in the event order is taken before it reads: a change that
// commits after the read publishes after these positions, never before.
func (s *Service) publishPositions(ctx context.Context, ids []string) {
	ticket := s.bus.ticket()
	var evs []Event
	defer func() { s.bus.finish(ticket, evs) }()
	ps, err := s.positionsOf(ctx, s.store, ids)
	if err != nil {
		s.log.WarnContext(ctx, "positions not told", "entries", len(ids), "err", err)
		return
	}
	for _, id := range ids {
		if p, ok := ps[id]; ok {
			evs = append(evs, PositionChanged{EventMeta: s.meta(), EntryID: id, Position: p})
		}
	}
}

// positionsOf computes where each queued entry of ids stands, reading
// the guides and the calls once for all of them, and the line too unless
// the store can tell places (placeTeller). Entries no longer queued are
// left out.
func (s *Service) positionsOf(ctx context.Context, tx StoreTx, ids []string) (map[string]Position, error) {
	if pt, ok := tx.(placeTeller); ok {
		places, ok, err := pt.LinePlaces(ctx, ids)
		if err != nil {
			return nil, err
		}
		if ok {
			return s.positionsAt(ctx, tx, places)
		}
	}
	return s.positionsFromLine(ctx, tx, ids)
}

// guidesAndCalls reads what a position's competition and wait estimate
// depend on besides the line: the guides online and the live calls.
func guidesAndCalls(ctx context.Context, tx StoreTx) ([]Guide, []Call, error) {
	online, err := tx.GuidesOnline(ctx)
	if err != nil {
		return nil, nil, err
	}
	live, err := tx.CallsLive(ctx)
	if err != nil {
		return nil, nil, err
	}
	return online, live, nil
}

// positionsAt tells entries where they stand from their places (tally.go).
func (s *Service) positionsAt(ctx context.Context, tx StoreTx, places []linePlace) (map[string]Position, error) {
	out := make(map[string]Position, len(places))
	if len(places) == 0 {
		return out, nil
	}
	online, live, err := guidesAndCalls(ctx, tx)
	if err != nil {
		return nil, err
	}
	queues := map[string]Queue{}
	for _, p := range places {
		if _, ok := queues[p.entry.Queue]; ok {
			continue
		}
		q, err := tx.QueueGet(ctx, p.entry.Queue)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		queues[p.entry.Queue] = q
	}
	model := s.waitModel(ctx, tx, online, live, queues)
	for _, p := range places {
		out[p.entry.ID] = s.positionAt(p.entry, p.pos, aheadOf(p.entry, p.ahead, online), model, queues[p.entry.Queue])
	}
	return out, nil
}

// positionsFromLine is positionsOf from the whole line, the guides and
// the calls.
func (s *Service) positionsFromLine(ctx context.Context, tx StoreTx, ids []string) (map[string]Position, error) {
	line, err := tx.EntriesQueued(ctx, "")
	if err != nil {
		return nil, err
	}
	online, live, err := guidesAndCalls(ctx, tx)
	if err != nil {
		return nil, err
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	queues := map[string]Queue{}
	for _, e := range line {
		if _, ok := queues[e.Queue]; ok || !want[e.ID] {
			continue
		}
		q, err := tx.QueueGet(ctx, e.Queue)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		queues[e.Queue] = q // the zero Queue when it has no record
	}
	model := s.waitModel(ctx, tx, online, live, queues)
	ahead := competition(matchOrder(line), online)
	out := make(map[string]Position, len(ids))
	pos, queue := 0, ""
	for _, e := range line {
		if e.Queue != queue {
			pos, queue = 0, e.Queue
		}
		pos++
		if want[e.ID] {
			out[e.ID] = s.positionAt(e, pos, ahead[e.ID], model, queues[e.Queue])
		}
	}
	return out, nil
}
