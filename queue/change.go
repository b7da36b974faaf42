package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// txn is one change in progress: its store transaction, the events it
// will publish and the follow-ups (log lines, a poke of the matcher) it
// will run, both only once it has committed.
type txn struct {
	StoreTx
	s      *Service
	events []Event
	after  []func()
}

func (t *txn) emit(ev Event)        { t.events = append(t.events, ev) }
func (t *txn) afterCommit(f func()) { t.after = append(t.after, f) }

// recordWriter is a StoreTx that can overwrite a record without reading
// it first (PostgreSQL: one UPDATE where an Update method reads the row
// and then writes it). A put replaces the whole record, keeping only its
// id (and an entry's rank), so reading it first tells nothing; and every
// put in a change follows the claim of the same record, so the row is
// already held. Stores without it take the Update method, to the same
// effect.
type recordWriter interface {
	EntryPut(ctx context.Context, e Entry) error
	GuidePut(ctx context.Context, g Guide) error
	CallPut(ctx context.Context, c Call) error
}

// batchWriter is a recordWriter that writes an entry, a call and a guide
// in one step (PostgreSQL: one batch, one round trip).
type batchWriter interface {
	PutBatch(ctx context.Context, e *Entry, c *Call, g *Guide) error
}

// putAll writes the records given (nil ones are skipped) in the order
// entry, call, guide: at once where the store can, else one by one.
func (t *txn) putAll(ctx context.Context, e *Entry, c *Call, g *Guide) error {
	if w, ok := t.StoreTx.(batchWriter); ok {
		return w.PutBatch(ctx, e, c, g)
	}
	if e != nil {
		if err := t.putEntry(ctx, *e); err != nil {
			return err
		}
	}
	if c != nil {
		if err := t.putCall(ctx, *c); err != nil {
			return err
		}
	}
	if g != nil {
		return t.putGuide(ctx, *g)
	}
	return nil
}

func (t *txn) putEntry(ctx context.Context, e Entry) error {
	if w, ok := t.StoreTx.(recordWriter); ok {
		return w.EntryPut(ctx, e)
	}
	_, err := t.EntryUpdate(ctx, e.ID, func(cur *Entry) error { *cur = e; return nil })
	return err
}

func (t *txn) putGuide(ctx context.Context, g Guide) error {
	if w, ok := t.StoreTx.(recordWriter); ok {
		return w.GuidePut(ctx, g)
	}
	_, err := t.GuideUpdate(ctx, g.ID, func(cur *Guide) error { *cur = g; return nil })
	return err
}

func (t *txn) putCall(ctx context.Context, c Call) error {
	if w, ok := t.StoreTx.(recordWriter); ok {
		return w.CallPut(ctx, c)
	}
	_, err := t.CallUpdate(ctx, c.ID, func(cur *Call) error { *cur = c; return nil })
	return err
}

func (s *Service) meta() EventMeta { return EventMeta{ID: newID("ev_"), At: s.now()} }

// change runs fn as one store transaction and, once it has committed,
// publishes what fn emitted and runs its follow-ups. A change that fails
// publishes nothing.
//
// Its events take their place in line (a ticket, see eventBus) at the end
// of fn, while the transaction still holds every record it claimed, just
// before it commits. Another change that claims one of those records can
// only get there after this one committed, so it takes a later ticket:
// events leave in the order in which conflicting changes committed.
func (s *Service) change(ctx context.Context, fn func(ctx context.Context, t *txn) error) error {
	var (
		done      *txn
		ticket    uint64
		hasTicket bool
	)
	// A ticket is always handed back, with nothing if its attempt did not
	// commit, or events after it would wait forever.
	finish := func(evs []Event) {
		if hasTicket {
			s.bus.finish(ticket, evs)
			hasTicket = false
		}
	}
	defer func() { finish(nil) }()
	err := s.store.Tx(ctx, func(ctx context.Context, tx StoreTx) error {
		done = nil
		finish(nil) // an earlier attempt that failed to commit
		t := &txn{StoreTx: tx, s: s}
		if err := fn(ctx, t); err != nil {
			return err
		}
		if h := s.cfg.TxHook; h != nil && len(t.events) > 0 {
			if err := h(ctx, tx, t.events); err != nil {
				return fmt.Errorf("queue: tx hook: %w", err)
			}
		}
		ticket, hasTicket = s.bus.ticket(), true
		done = t
		return nil
	})
	if err != nil {
		return err
	}
	finish(done.events)
	for _, f := range done.after {
		f()
	}
	return nil
}

// parties are the records of one change: an entry, and the call and the
// guide it is bound to, each nil when there is none. Every change claims
// them in this order — entry, call, guide — so that two changes never
// wait on each other in a circle (see StoreTx).
type parties struct {
	e *Entry
	c *Call
	g *Guide
}

// lockCall claims a call's entry, the call and its guide. A call's two
// parties never change, so a call read earlier names the right rows.
func lockCall(ctx context.Context, t *txn, entryID, callID, guideID string) (*parties, error) {
	e, err := t.EntryGet(ctx, entryID)
	if err != nil {
		return nil, err
	}
	c, err := t.CallGet(ctx, callID)
	if err != nil {
		return nil, err
	}
	g, err := t.GuideGet(ctx, guideID)
	if err != nil {
		return nil, err
	}
	return &parties{e: &e, c: &c, g: &g}, nil
}

// callClaimer is a StoreTx that claims a call and both its parties, in
// the order entry, call, guide, from the call's id alone and in one step
// (PostgreSQL: one batch). Its Store says so with claimsCallsAtOnce, so
// that callChange knows before the change that it need not read the call
// first to learn which rows to claim.
type callClaimer interface {
	CallClaim(ctx context.Context, callID string) (Entry, Call, Guide, error)
}

type callClaimStore interface{ claimsCallsAtOnce() }

// callChange runs fn on a call and both its parties.
func (s *Service) callChange(ctx context.Context, callID string, fn func(ctx context.Context, t *txn, p *parties) error) error {
	if _, ok := s.store.(callClaimStore); ok {
		return s.change(ctx, func(ctx context.Context, t *txn) error {
			cl, ok := t.StoreTx.(callClaimer)
			if !ok {
				return fmt.Errorf("queue: store %T claims calls at once but its transaction %T cannot", s.store, t.StoreTx)
			}
			e, c, g, err := cl.CallClaim(ctx, callID)
			if err != nil {
				return err
			}
			return fn(ctx, t, &parties{e: &e, c: &c, g: &g})
		})
	}
	c, err := s.store.CallGet(ctx, callID)
	if err != nil {
		return err
	}
	return s.change(ctx, func(ctx context.Context, t *txn) error {
		p, err := lockCall(ctx, t, c.EntryID, c.ID, c.GuideID)
		if err != nil {
			return err
		}
		return fn(ctx, t, p)
	})
}

// entryChange runs fn on an entry and, if it names one, its call (live or
// not) and that call's guide.
func (s *Service) entryChange(ctx context.Context, entryID string, fn func(ctx context.Context, t *txn, p *parties) error) error {
	return s.change(ctx, func(ctx context.Context, t *txn) error {
		e, err := t.EntryGet(ctx, entryID)
		if err != nil {
			return err
		}
		p := &parties{e: &e}
		if e.CallID != "" {
			c, err := t.CallGet(ctx, e.CallID)
			if err != nil {
				return err
			}
			g, err := t.GuideGet(ctx, c.GuideID)
			if err != nil {
				return err
			}
			p.c, p.g = &c, &g
		}
		return fn(ctx, t, p)
	})
}

// errGuideMoved means a guide's calls changed between the read that named
// the rows to claim and the claim itself.
var errGuideMoved = errors.New("queue: guide's calls changed meanwhile")

// guideAttempts bounds how often guideChange starts over because the
// guide kept taking or dropping calls.
const guideAttempts = 5

// guideParties are a guide and every offer or call it holds, each with
// its entry. Every held[i].g is g itself, so a change one of them makes to
// the guide is seen by the next.
type guideParties struct {
	g    *Guide
	held []*parties
}

// guideChange runs fn on a guide, the calls it holds and their entries.
// The guide is claimed last, so its calls are read first without a claim
// and checked again once everything is held; if they changed meanwhile
// the change starts over. Entries are claimed in id order, so two changes
// that both claim several never wait on each other in a circle.
func (s *Service) guideChange(ctx context.Context, guideID string, fn func(ctx context.Context, t *txn, gp *guideParties) error) error {
	for range guideAttempts {
		g0, err := s.store.GuideGet(ctx, guideID)
		if err != nil {
			return err
		}
		calls0 := make([]Call, 0, len(g0.CallIDs))
		for _, id := range g0.CallIDs {
			c, err := s.store.CallGet(ctx, id)
			if err != nil {
				return err
			}
			calls0 = append(calls0, c)
		}
		err = s.change(ctx, func(ctx context.Context, t *txn) error {
			entries := make(map[string]*Entry, len(calls0))
			byEntry := slices.Clone(calls0)
			slices.SortFunc(byEntry, func(a, b Call) int { return strings.Compare(a.EntryID, b.EntryID) })
			for _, c := range byEntry {
				e, err := t.EntryGet(ctx, c.EntryID)
				if err != nil {
					return err
				}
				entries[c.ID] = &e
			}
			calls := make([]*Call, 0, len(calls0))
			for _, c0 := range calls0 {
				c, err := t.CallGet(ctx, c0.ID)
				if err != nil {
					return err
				}
				calls = append(calls, &c)
			}
			g, err := t.GuideGet(ctx, guideID)
			if err != nil {
				return err
			}
			if !slices.Equal(g.CallIDs, g0.CallIDs) {
				return errGuideMoved
			}
			gp := &guideParties{g: &g}
			for _, c := range calls {
				gp.held = append(gp.held, &parties{e: entries[c.ID], c: c, g: &g})
			}
			return fn(ctx, t, gp)
		})
		if !errors.Is(err, errGuideMoved) {
			return err
		}
	}
	return fmt.Errorf("guide %s: %w: %w", guideID, ErrUnavailable, errGuideMoved)
}
