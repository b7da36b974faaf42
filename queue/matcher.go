package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Tick runs one matcher pass: withdraw expired offers, settle parties whose
// grace ran out, offer waiting shoppers to idle guides, and tell shoppers
// whose position changed. The loop calls it on the leader; tests call it
// directly to step time.
func (s *Service) Tick(ctx context.Context) error {
	var errs []error
	// A new leader waits one StaleAfter before judging presence: nodes may
	// not have reported their parties yet (after a database outage, say),
	// and silence is not yet evidence of death.
	if s.leadSince.IsZero() || s.now().Sub(s.leadSince) >= s.cfg.StaleAfter {
		if err := s.settlePresence(ctx); err != nil {
			errs = append(errs, fmt.Errorf("settle presence: %w", err))
		}
	}
	if err := s.settleCalls(ctx); err != nil {
		errs = append(errs, fmt.Errorf("settle calls: %w", err))
	}
	if err := s.settleEntries(ctx); err != nil {
		errs = append(errs, fmt.Errorf("settle entries: %w", err))
	}
	if err := s.settleWrapUps(ctx); err != nil {
		errs = append(errs, fmt.Errorf("settle wrap-ups: %w", err))
	}
	if err := s.match(ctx); err != nil {
		errs = append(errs, fmt.Errorf("match: %w", err))
	}
	if err := s.sendPositions(ctx); err != nil {
		errs = append(errs, fmt.Errorf("positions: %w", err))
	}
	return errors.Join(errs...)
}

// settlePresence finds parties whose node stopped refreshing them (it
// died, or lost the database) and treats them as dropped at the last time
// they were seen, so the usual grace period applies.
func (s *Service) settlePresence(ctx context.Context) error {
	cutoff := s.now().Add(-s.cfg.StaleAfter)
	guides, err := s.store.GuidesOnline(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, g := range guides {
		if g.SeenAt.IsZero() || !g.SeenAt.Before(cutoff) {
			continue
		}
		seen := g.SeenAt
		err := s.guideChange(ctx, g.ID, func(ctx context.Context, t *txn, p *guideParties) error {
			g := *p.g
			if !g.Online || !g.SeenAt.Equal(seen) {
				return nil // came back meanwhile
			}
			before := g.Presence()
			g.Online, g.SocketID, g.DisconnectedAt = false, SocketGivenUp, &seen
			if err := s.notePresence(ctx, t, before, &g, PresenceNodeLost); err != nil {
				return err
			}
			if err := t.putGuide(ctx, g); err != nil {
				return err
			}
			*p.g = g
			t.afterCommit(func() {
				s.log.InfoContext(ctx, "guide's node stopped reporting it; treating as dropped", "guide_id", g.ID, "seen_at", seen)
			})
			return s.guideGoneAll(ctx, t, p)
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("guide %s: %w", g.ID, err))
		}
	}
	// Shoppers are asked for apart from the line the matcher keeps, since
	// a refresh of SeenAt does not move the change counter, and at most
	// once per TouchEvery: a shopper's node refreshes it only that often,
	// so a drop is found between StaleAfter and StaleAfter+TouchEvery
	// after the last refresh.
	if !s.unseenAt.IsZero() && s.now().Sub(s.unseenAt) < s.TouchEvery() {
		return errors.Join(errs...)
	}
	s.unseenAt = s.now()
	stale := func(e Entry) bool {
		return e.DisconnectedAt == nil && !e.SeenAt.IsZero() && e.SeenAt.Before(cutoff)
	}
	unseen, err := s.store.EntriesUnseen(ctx, cutoff)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	ids := make([]string, 0, len(unseen))
	for _, e := range unseen {
		ids = append(ids, e.ID)
	}
	for _, id := range ids {
		err := s.entryChange(ctx, id, func(ctx context.Context, t *txn, p *parties) error {
			e := *p.e
			if !stale(e) {
				return nil // came back meanwhile
			}
			seen := e.SeenAt
			e.SocketID, e.DisconnectedAt = SocketGivenUp, &seen
			if err := t.putEntry(ctx, e); err != nil {
				return err
			}
			t.afterCommit(func() {
				s.log.InfoContext(ctx, "shopper's node stopped reporting it; treating as dropped", "entry_id", e.ID)
			})
			s.shopperGone(t, e, p)
			return nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("entry %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// callAction is what settleCalls does to one live call.
type callAction int

const (
	callKeep callAction = iota
	callOfferExpired
	callNeverConnected
	callRequeue
	callGuideLost
	callShopperLost
)

// settleAction decides what a live call needs now. settleCalls asks it
// once on records read without a claim, to skip calls that need nothing,
// and again inside the change on the claimed records, which decide.
func (s *Service) settleAction(c Call, e Entry, g Guide, now time.Time) callAction {
	if !c.State.Live() {
		return callKeep
	}
	if c.State == CallOffered {
		if now.After(c.OfferDeadline) {
			return callOfferExpired
		}
		return callKeep
	}
	if c.AcceptedAt != nil && c.State != CallConnected && now.Sub(*c.AcceptedAt) > s.cfg.ConnectTimeout {
		return callNeverConnected
	}
	graceEnd := now.Add(-s.cfg.ReconnectGrace)
	guideGone := !g.Online && g.DisconnectedAt != nil && g.DisconnectedAt.Before(graceEnd)
	shopperGone := e.DisconnectedAt != nil && e.DisconnectedAt.Before(graceEnd)
	switch {
	case guideGone && c.State != CallConnected && !shopperGone:
		return callRequeue
	case guideGone:
		return callGuideLost
	case shopperGone:
		return callShopperLost
	}
	return callKeep
}

// settleCalls expires offers and ends or requeues calls whose party has
// been gone longer than the grace period.
func (s *Service) settleCalls(ctx context.Context) error {
	now := s.now()
	live, err := s.store.CallsLive(ctx)
	if err != nil {
		return err
	}
	var errs []error
	var entryIDs, guideIDs []string
	for _, c := range live {
		if c.State != CallOffered {
			entryIDs, guideIDs = append(entryIDs, c.EntryID), append(guideIDs, c.GuideID)
		}
	}
	entries, eerr := s.entriesByID(ctx, entryIDs)
	guides, gerr := s.guidesByID(ctx, guideIDs)
	if eerr != nil || gerr != nil {
		return errors.Join(eerr, gerr)
	}
	for _, c := range live {
		var e Entry
		var g Guide
		if c.State != CallOffered {
			var eok, gok bool
			e, eok = entries[c.EntryID]
			g, gok = guides[c.GuideID]
			if !eok || !gok {
				// One unreadable call must not stop the others from settling.
				errs = append(errs, fmt.Errorf("call %s: entry %s read %t, guide %s read %t: %w", c.ID, c.EntryID, eok, c.GuideID, gok, ErrNotFound))
				continue
			}
		}
		if s.settleAction(c, e, g, now) == callKeep {
			continue
		}
		err := s.callChange(ctx, c.ID, func(ctx context.Context, t *txn, p *parties) error {
			switch s.settleAction(*p.c, *p.e, *p.g, now) {
			case callOfferExpired:
				return s.endOffer(ctx, t, p, ReasonOfferTimeout, true)
			case callNeverConnected:
				// Both sides are there but media never came up: end it
				// rather than hold a guide on a call nobody can hear.
				t.afterCommit(func() {
					s.log.InfoContext(ctx, "call did not connect in time", "call_id", c.ID, "entry_id", c.EntryID, "guide_id", c.GuideID)
				})
				return s.endCall(ctx, t, p, ReasonFailed, "server")
			case callRequeue:
				return s.requeue(ctx, t, p)
			case callGuideLost:
				return s.endCall(ctx, t, p, ReasonPeerLost, string(PartyGuide))
			case callShopperLost:
				return s.endCall(ctx, t, p, ReasonPeerLost, string(PartyShopper))
			}
			return nil // settled meanwhile
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("call %s: %w", c.ID, err))
		}
	}
	return errors.Join(errs...)
}

// bulkReader is a Store that reads many records by id in one query
// (PostgreSQL: one round trip instead of one per record). The matcher
// uses it for what it reads each pass without a claim; a record missing
// from the map was not found.
type bulkReader interface {
	EntriesByID(ctx context.Context, ids []string) (map[string]Entry, error)
	GuidesByID(ctx context.Context, ids []string) (map[string]Guide, error)
}

// entriesByID reads the entries of ids, at once where the store can; one
// that is not found is left out, one that cannot be read is an error.
func (s *Service) entriesByID(ctx context.Context, ids []string) (map[string]Entry, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if b, ok := s.store.(bulkReader); ok {
		return b.EntriesByID(ctx, ids)
	}
	out := make(map[string]Entry, len(ids))
	for _, id := range ids {
		e, err := s.store.EntryGet(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[id] = e
	}
	return out, nil
}

// guidesByID is entriesByID for guides.
func (s *Service) guidesByID(ctx context.Context, ids []string) (map[string]Guide, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if b, ok := s.store.(bulkReader); ok {
		return b.GuidesByID(ctx, ids)
	}
	out := make(map[string]Guide, len(ids))
	for _, id := range ids {
		g, err := s.store.GuideGet(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[id] = g
	}
	return out, nil
}

// settleEntries abandons queued shoppers who dropped and did not return.
func (s *Service) settleEntries(ctx context.Context) error {
	line, _, err := s.passLine(ctx)
	if err != nil {
		return err
	}
	graceEnd := s.now().Add(-s.cfg.ReconnectGrace)
	gone := func(e Entry) bool {
		return e.State.Queued() && e.DisconnectedAt != nil && e.DisconnectedAt.Before(graceEnd)
	}
	for _, e := range line {
		if !gone(e) {
			continue
		}
		if err := s.entryChange(ctx, e.ID, func(ctx context.Context, t *txn, p *parties) error {
			if !gone(*p.e) {
				return nil // came back, or left, meanwhile
			}
			return s.leaveQueue(ctx, t, p, EntryAbandoned, ReasonShopperLost)
		}); err != nil {
			return err
		}
	}
	return nil
}

// match offers waiting shoppers to the least busy, then longest-idle,
// guide eligible for each: higher priority first, then oldest, queues
// taking turns. An entry first takes the relaxation steps it has waited
// long enough for. Every entry takes the first eligible guide with room
// left, so after one pass no entry waits while a guide eligible for it
// still has room.
func (s *Service) match(ctx context.Context) error {
	guides, err := s.store.GuidesAvailable(ctx)
	if err != nil {
		return err
	}
	// A guide of capacity above 1 already in a call comes after those
	// with nothing: a shopper gets a guide's whole attention when it can.
	byLoad := func(a, b Guide) int { return len(a.CallIDs) - len(b.CallIDs) }
	slices.SortStableFunc(guides, byLoad)
	line, _, err := s.passLine(ctx)
	if err != nil {
		return err
	}
	queues, err := s.queueMap(ctx)
	if err != nil {
		return err
	}
	// Without a guide to offer to, the pass only relaxes, and only the
	// entries of queues with steps left for them: no copy of the line.
	var waiting []Entry
	if len(guides) > 0 {
		waiting = make([]Entry, 0, len(line))
	}
	var q Queue
	for _, e := range line {
		if e.State != EntryWaiting || e.DisconnectedAt != nil {
			continue
		}
		if e.Queue != q.Name {
			q = queues[e.Queue]
			q.Name = e.Queue // a queue without a record has no steps
		}
		if len(q.Relax) > len(e.Steps) {
			if relaxed, ok := s.relax(ctx, e, q); ok {
				e = relaxed
			}
		}
		if len(guides) > 0 {
			waiting = append(waiting, e)
		}
	}
	if len(guides) == 0 {
		return nil
	}
	for _, e := range matchOrder(waiting) {
		if len(guides) == 0 {
			break
		}
		i := slices.IndexFunc(guides, func(g Guide) bool { return eligible(e, g) })
		if i < 0 {
			continue
		}
		g := guides[i]
		guides = slices.Delete(guides, i, i+1)
		callID, err := s.offer(ctx, e.ID, g.ID, queues[e.Queue].offerTimeout(s.cfg.OfferTimeout))
		if err != nil {
			s.log.WarnContext(ctx, "offer failed", "entry_id", e.ID, "guide_id", g.ID, "err", err)
			continue
		}
		g.CallIDs = append(slices.Clone(g.CallIDs), callID)
		if g.HasRoom() {
			// Behind every guide with fewer calls, ahead of those with more.
			at, _ := slices.BinarySearchFunc(guides, g, func(o, g Guide) int {
				if byLoad(o, g) <= 0 {
					return -1
				}
				return 1
			})
			guides = slices.Insert(guides, at, g)
		}
	}
	return nil
}

func (s *Service) queueMap(ctx context.Context) (map[string]Queue, error) {
	qs, err := s.store.QueuesList(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]Queue, len(qs))
	for _, q := range qs {
		m[q.Name] = q
	}
	return m, nil
}

// matchOrder orders waiting entries for the matcher: priority bands,
// highest first; within a band sortFairly's order.
func matchOrder(waiting []Entry) []Entry {
	var prios []int
	for _, e := range waiting {
		if !slices.Contains(prios, e.Priority) {
			prios = append(prios, e.Priority)
		}
	}
	slices.Sort(prios)
	if len(prios) <= 1 {
		// One band, the common case: no copies into bands. The copy
		// keeps the caller's slice (a line passLine may share) intact.
		out := slices.Clone(waiting)
		sortFairly(out)
		return out
	}
	out := make([]Entry, 0, len(waiting))
	for i := len(prios) - 1; i >= 0; i-- {
		var band []Entry
		for _, e := range waiting {
			if e.Priority == prios[i] {
				band = append(band, e)
			}
		}
		sortFairly(band)
		out = append(out, band...)
	}
	return out
}

// relax takes the steps of q's rules that e has waited for, in one change
// per entry, recording each on the entry.
func (s *Service) relax(ctx context.Context, e Entry, q Queue) (Entry, bool) {
	due := func(e Entry) []RelaxStep {
		waited := s.now().Sub(e.JoinedAt)
		var out []RelaxStep
		for _, r := range q.Relax[min(len(e.Steps), len(q.Relax)):] {
			if time.Duration(r.AfterSeconds)*time.Second > waited {
				break
			}
			out = append(out, r)
		}
		return out
	}
	if len(due(e)) == 0 {
		return e, false
	}
	var out Entry
	err := s.entryChange(ctx, e.ID, func(ctx context.Context, t *txn, p *parties) error {
		cur := *p.e
		steps := due(cur)
		if cur.State != EntryWaiting || len(steps) == 0 {
			out = cur
			return nil
		}
		for _, r := range steps {
			cur.Steps = append(cur.Steps, r.label())
		}
		if err := t.putEntry(ctx, cur); err != nil {
			return err
		}
		out = cur
		for _, r := range steps {
			t.emit(EntryRelaxed{EventMeta: s.meta(), Entry: cur, Step: r.label()})
		}
		t.afterCommit(func() {
			s.log.InfoContext(ctx, "entry relaxed", "entry_id", cur.ID, "queue", cur.Queue, "steps", cur.Steps)
		})
		return nil
	})
	if err != nil {
		s.log.WarnContext(ctx, "relax entry", "entry_id", e.ID, "err", err)
		return e, false
	}
	return out, true
}

// settleWrapUps makes guides whose wrap-up time is over available again.
func (s *Service) settleWrapUps(ctx context.Context) error {
	guides, err := s.store.GuidesOnline(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	over := func(g Guide) bool {
		return g.Status == GuideWrapUp && (g.WrapUpUntil == nil || !now.Before(*g.WrapUpUntil))
	}
	var errs []error
	for _, g := range guides {
		if !over(g) {
			continue
		}
		err := s.guideChange(ctx, g.ID, func(ctx context.Context, t *txn, p *guideParties) error {
			g := *p.g
			if !over(g) {
				return nil
			}
			before := g.Presence()
			g.Status, g.WrapUpUntil, g.IdleSince = GuideAvailable, nil, now
			if err := s.notePresence(ctx, t, before, &g, PresenceWrapUpOver); err != nil {
				return err
			}
			if err := t.putGuide(ctx, g); err != nil {
				return err
			}
			t.emit(PresenceChanged{EventMeta: s.meta(), Guide: g, Reason: PresenceWrapUpOver})
			t.afterCommit(s.poke)
			return nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("guide %s: %w", g.ID, err))
		}
	}
	return errors.Join(errs...)
}

// wrapUp puts the guide of a call that just ended into its queue's
// wrap-up time, if the queue has one and the guide was available.
func (s *Service) wrapUp(ctx context.Context, t *txn, p *parties, now time.Time) error {
	g := *p.g
	if len(g.CallIDs) > 0 || g.Status != GuideAvailable {
		return nil
	}
	q, err := t.QueueGet(ctx, p.c.Queue)
	if errors.Is(err, ErrNotFound) || (err == nil && q.WrapUpSeconds == 0) {
		return nil
	}
	if err != nil {
		return err
	}
	until := now.Add(time.Duration(q.WrapUpSeconds) * time.Second)
	before := g.Presence()
	g.Status, g.WrapUpUntil = GuideWrapUp, &until
	if err := s.notePresence(ctx, t, before, &g, PresenceCallEnded); err != nil {
		return err
	}
	if err := t.putGuide(ctx, g); err != nil {
		return err
	}
	*p.g = g
	t.emit(PresenceChanged{EventMeta: s.meta(), Guide: g, Reason: PresenceCallEnded})
	return nil
}

// sortFairly orders entries of all queues: each queue keeps its own order,
// and queues take turns by the join time of their heads.
func sortFairly(entries []Entry) {
	if len(entries) == 0 || !slices.ContainsFunc(entries, func(e Entry) bool { return e.Queue != entries[0].Queue }) {
		return // one queue: its own order is the order
	}
	byQueue := map[string][]Entry{}
	var names []string
	for _, e := range entries {
		if _, ok := byQueue[e.Queue]; !ok {
			names = append(names, e.Queue)
		}
		byQueue[e.Queue] = append(byQueue[e.Queue], e)
	}
	out := entries[:0]
	for len(out) < cap(out) && len(names) > 0 {
		best := -1
		for i, n := range names {
			if len(byQueue[n]) == 0 {
				continue
			}
			if best < 0 || byQueue[n][0].JoinedAt.Before(byQueue[names[best]][0].JoinedAt) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		n := names[best]
		out = append(out, byQueue[n][0])
		byQueue[n] = byQueue[n][1:]
	}
}

// offer binds a guide and an entry to a new offered call, in one change
// that checks both are still free. The store refuses a second live call
// for either, so two leaders briefly running at once cannot double-book.
func (s *Service) offer(ctx context.Context, entryID, guideID string, timeout time.Duration) (callID string, err error) {
	err = s.change(ctx, func(ctx context.Context, t *txn) error {
		now := s.now()
		e, err := t.EntryGet(ctx, entryID)
		if err != nil {
			return err
		}
		if e.State != EntryWaiting || e.DisconnectedAt != nil {
			return fmt.Errorf("entry %s is %s: %w", e.ID, e.State, ErrBadState)
		}
		g, err := t.GuideGet(ctx, guideID)
		if err != nil {
			return err
		}
		if !free(g) {
			return fmt.Errorf("guide %s is not free: %w", g.ID, ErrBadState)
		}
		if !eligible(e, g) {
			return fmt.Errorf("guide %s cannot take entry %s: %w", g.ID, e.ID, ErrBadState)
		}
		c, err := t.CallCreate(ctx, Call{
			ID: newID("c_"), EntryID: e.ID, GuideID: g.ID, Queue: e.Queue, State: CallOffered,
			OfferDeadline: now.Add(timeout), JoinedAt: e.JoinedAt, OfferedAt: now,
		})
		if err != nil {
			return err
		}
		e.State, e.CallID = EntryOffered, c.ID
		if err := t.putEntry(ctx, e); err != nil {
			return err
		}
		g.CallIDs = append(g.CallIDs, c.ID)
		if err := t.putGuide(ctx, g); err != nil {
			return err
		}
		callID = c.ID
		t.emit(OfferMade{EventMeta: s.meta(), Call: c, Entry: e})
		t.afterCommit(func() {
			s.log.InfoContext(ctx, "offer made", "call_id", c.ID, "entry_id", e.ID, "guide_id", g.ID,
				"waited_ms", now.Sub(e.JoinedAt).Milliseconds())
		})
		return nil
	})
	return callID, err
}

// samePosition reports whether b is no news after a. The estimate moves a
// little with every tick as calls run on; a shopper is told again when it
// moved by 30 s or a fifth, whichever is more, not every second.
func samePosition(a, b Position) bool {
	etaSame := (a.ETASeconds == nil) == (b.ETASeconds == nil)
	if etaSame && a.ETASeconds != nil {
		x, y := *a.ETASeconds, *b.ETASeconds
		etaSame = (x == 0) == (y == 0) && abs(x-y) < max(30, x/5)
	}
	return etaSame && a.Queue == b.Queue && a.Position == b.Position && a.GuidesOnline == b.GuidesOnline && a.Callback == b.Callback
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// positionRefresh is how often the positions are worked out again while
// nothing is written: the estimates drift as calls run on, but a shopper
// is told only when its estimate moved by 30 s or more (samePosition).
const positionRefresh = 5 * time.Second

// passCache is what the matcher's passes read last. Only the matcher
// loop touches it, and it is reset on a new leader.
type passCache struct {
	v      int64
	known  bool // v and line were read
	stable bool // line holds every write v counts (passLine)
	line   []Entry
	// told is when the positions were last worked out, toldV at which
	// version, toldKnown whether from a line passLine had kept.
	told      time.Time
	toldV     int64
	toldKnown bool
}

// passLine returns every queued entry in line order: the line read last
// while the store's ChangeVersion stands still, else a fresh read (fresh
// is then true). The line is shared: callers must not change it.
//
// The version is read before the line, and a write counts before it
// commits, so a read at version v may miss a write that v counts: one
// whose transaction was still open at the read. Only a line the store
// calls settled (no writer was open as it was read) is kept. Keeping
// any line once two reads in a row saw the same v, as the matcher did
// before, lost a transaction that stayed open across two passes until
// the counter moved again.
func (s *Service) passLine(ctx context.Context) (line []Entry, fresh bool, err error) {
	cc, ok := s.store.(ChangeCounter)
	if !ok {
		line, err := s.store.EntriesQueued(ctx, "")
		return line, true, err
	}
	v, err := cc.ChangeVersion(ctx)
	if err != nil {
		return nil, true, err
	}
	pc := &s.pass
	if pc.known && pc.stable && v == pc.v {
		return pc.line, false, nil
	}
	line, settled, err := cc.QueuedLine(ctx)
	if err != nil {
		pc.known = false
		return nil, true, err
	}
	pc.v, pc.known, pc.stable, pc.line = v, true, settled, line
	return line, true, nil
}
