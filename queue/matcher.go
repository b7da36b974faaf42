package queue

import (
	"context"
	"errors"
	"fmt"
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
	for _, g := range guides {
		if g.SeenAt.IsZero() || !g.SeenAt.Before(cutoff) {
			continue
		}
		seen := g.SeenAt
		g, err := s.store.GuideUpdate(ctx, g.ID, func(cur *Guide) error {
			if !cur.Online || !cur.SeenAt.Equal(seen) {
				return ErrBadState // came back meanwhile
			}
			cur.Online, cur.SocketID, cur.DisconnectedAt = false, SocketGivenUp, &seen
			return nil
		})
		if err != nil {
			continue
		}
		s.log.InfoContext(ctx, "guide's node stopped reporting it; treating as dropped", "guide_id", g.ID, "seen_at", seen)
		s.guideGone(ctx, g)
	}
	line, err := s.store.EntriesQueued(ctx, "")
	if err != nil {
		return err
	}
	live, err := s.store.CallsLive(ctx)
	if err != nil {
		return err
	}
	stale := func(e Entry) bool {
		return e.DisconnectedAt == nil && !e.SeenAt.IsZero() && e.SeenAt.Before(cutoff)
	}
	var ids []string
	for _, e := range line {
		if stale(e) {
			ids = append(ids, e.ID)
		}
	}
	for _, c := range live {
		if c.State == CallOffered {
			continue
		}
		if e, err := s.store.EntryGet(ctx, c.EntryID); err == nil && stale(e) {
			ids = append(ids, e.ID)
		}
	}
	for _, id := range ids {
		e, err := s.store.EntryUpdate(ctx, id, func(e *Entry) error {
			if !stale(*e) {
				return ErrBadState // came back meanwhile
			}
			seen := e.SeenAt
			e.SocketID, e.DisconnectedAt = SocketGivenUp, &seen
			return nil
		})
		if err != nil {
			continue
		}
		s.log.InfoContext(ctx, "shopper's node stopped reporting it; treating as dropped", "entry_id", e.ID)
		s.shopperGone(ctx, e)
	}
	return nil
}

// settleCalls expires offers and ends or requeues calls whose party has
// been gone longer than the grace period.
func (s *Service) settleCalls(ctx context.Context) error {
	now := s.now()
	live, err := s.store.CallsLive(ctx)
	if err != nil {
		return err
	}
	graceEnd := now.Add(-s.cfg.ReconnectGrace)
	var errs []error
	for _, c := range live {
		if c.State == CallOffered {
			if now.After(c.OfferDeadline) {
				s.endOffer(ctx, c.ID, ReasonOfferTimeout, true)
			}
			continue
		}
		if c.AcceptedAt != nil && c.State != CallConnected && now.Sub(*c.AcceptedAt) > s.cfg.ConnectTimeout {
			// Both sides are there but media never came up: end it rather
			// than hold a guide on a call nobody can hear.
			s.log.InfoContext(ctx, "call did not connect in time", "call_id", c.ID, "entry_id", c.EntryID, "guide_id", c.GuideID)
			_, _ = s.endCall(ctx, c.ID, ReasonFailed, "server")
			continue
		}
		g, gerr := s.store.GuideGet(ctx, c.GuideID)
		e, eerr := s.store.EntryGet(ctx, c.EntryID)
		if gerr != nil || eerr != nil {
			// One unreadable call must not stop the others from settling.
			errs = append(errs, fmt.Errorf("call %s: %w", c.ID, errors.Join(gerr, eerr)))
			continue
		}
		guideGone := !g.Online && g.DisconnectedAt != nil && g.DisconnectedAt.Before(graceEnd)
		shopperGone := e.DisconnectedAt != nil && e.DisconnectedAt.Before(graceEnd)
		switch {
		case guideGone && c.State != CallConnected && !shopperGone:
			s.requeue(ctx, c.ID)
		case guideGone:
			_, _ = s.endCall(ctx, c.ID, ReasonPeerLost, string(PartyGuide))
		case shopperGone:
			_, _ = s.endCall(ctx, c.ID, ReasonPeerLost, string(PartyShopper))
		}
	}
	if err := s.repair(ctx, live); err != nil {
		errs = append(errs, fmt.Errorf("repair: %w", err))
	}
	return errors.Join(errs...)
}

// repair undoes what an interrupted change can leave behind: an online
// guide or a queued entry still pointing at a call that is no longer live
// (say the node died between ending the call and freeing the guide).
// Without it such a guide would never be offered a call again.
func (s *Service) repair(ctx context.Context, live []Call) error {
	isLive := make(map[string]bool, len(live))
	for _, c := range live {
		isLive[c.ID] = true
	}
	now := s.now()
	guides, err := s.store.GuidesOnline(ctx)
	if err != nil {
		return err
	}
	for _, g := range guides {
		if g.CallID == "" || isLive[g.CallID] {
			continue
		}
		stale := g.CallID
		// A call made after the list was read is live; an ended one never
		// lives again, so checking before the update is enough.
		if c, err := s.store.CallGet(ctx, stale); err != nil || c.State.Live() {
			continue
		}
		if _, err := s.store.GuideUpdate(ctx, g.ID, func(g *Guide) error {
			if g.CallID != stale {
				return ErrBadState
			}
			g.CallID, g.IdleSince = "", now
			return nil
		}); err == nil {
			s.log.WarnContext(ctx, "freed a guide held by a call that had ended", "guide_id", g.ID, "call_id", stale)
		}
	}
	line, err := s.store.EntriesQueued(ctx, "")
	if err != nil {
		return err
	}
	for _, e := range line {
		if e.State != EntryOffered || isLive[e.CallID] {
			continue
		}
		stale := e.CallID
		if c, err := s.store.CallGet(ctx, stale); err != nil || c.State.Live() {
			continue
		}
		if _, err := s.store.EntryUpdate(ctx, e.ID, func(e *Entry) error {
			if e.State != EntryOffered || e.CallID != stale {
				return ErrBadState
			}
			e.State, e.CallID = EntryWaiting, ""
			return nil
		}); err == nil {
			s.log.WarnContext(ctx, "returned an entry whose offer had ended to the line", "entry_id", e.ID, "call_id", stale)
		}
	}
	return nil
}

// settleEntries abandons queued shoppers who dropped and did not return.
func (s *Service) settleEntries(ctx context.Context) error {
	line, err := s.store.EntriesQueued(ctx, "")
	if err != nil {
		return err
	}
	graceEnd := s.now().Add(-s.cfg.ReconnectGrace)
	for _, e := range line {
		if e.DisconnectedAt != nil && e.DisconnectedAt.Before(graceEnd) {
			if err := s.leaveQueue(ctx, e.ID, EntryAbandoned, ReasonShopperLost); err != nil && !errors.Is(err, ErrBadState) {
				return err
			}
		}
	}
	return nil
}

// match offers waiting shoppers, oldest first in each queue, to available
// guides, longest idle first.
func (s *Service) match(ctx context.Context) error {
	guides, err := s.store.GuidesAvailable(ctx)
	if err != nil || len(guides) == 0 {
		return err
	}
	line, err := s.store.EntriesQueued(ctx, "")
	if err != nil {
		return err
	}
	// Queues interleave by join time so one busy queue cannot starve another.
	waiting := make([]Entry, 0, len(line))
	for _, e := range line {
		if e.State == EntryWaiting && e.DisconnectedAt == nil {
			waiting = append(waiting, e)
		}
	}
	sortFairly(waiting)
	for _, e := range waiting {
		if len(guides) == 0 {
			break
		}
		g := guides[0]
		guides = guides[1:]
		if err := s.offer(ctx, e, g); err != nil {
			s.log.WarnContext(ctx, "offer failed", "entry_id", e.ID, "guide_id", g.ID, "err", err)
		}
	}
	return nil
}

// sortFairly orders entries of all queues: each queue keeps its own order,
// and queues take turns by the join time of their heads.
func sortFairly(entries []Entry) {
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

// offer binds a guide and an entry to a new offered call. Each step checks
// the record is still free; a lost race undoes the steps before it.
func (s *Service) offer(ctx context.Context, e Entry, g Guide) error {
	now := s.now()
	c, err := s.store.CallCreate(ctx, Call{
		ID: newID("c_"), EntryID: e.ID, GuideID: g.ID, Queue: e.Queue, State: CallOffered,
		OfferDeadline: now.Add(s.cfg.OfferTimeout), JoinedAt: e.JoinedAt, OfferedAt: now,
	})
	if err != nil {
		return err
	}
	abort := func() {
		_, _ = s.store.CallUpdate(ctx, c.ID, func(c *Call) error {
			c.State, c.EndedAt, c.EndReason = CallEnded, &now, "aborted"
			return nil
		})
	}
	if _, err := s.store.GuideUpdate(ctx, g.ID, func(g *Guide) error {
		if !g.Online || g.Status != GuideAvailable || g.CallID != "" {
			return ErrBadState
		}
		g.CallID = c.ID
		return nil
	}); err != nil {
		abort()
		return fmt.Errorf("guide %s: %w", g.ID, err)
	}
	e, err = s.store.EntryUpdate(ctx, e.ID, func(e *Entry) error {
		if e.State != EntryWaiting || e.DisconnectedAt != nil {
			return ErrBadState
		}
		e.State, e.CallID = EntryOffered, c.ID
		return nil
	})
	if err != nil {
		abort()
		_, _ = s.store.GuideUpdate(ctx, g.ID, func(g *Guide) error {
			if g.CallID == c.ID {
				g.CallID = ""
			}
			return nil
		})
		return fmt.Errorf("entry %s: %w", e.ID, err)
	}
	s.log.InfoContext(ctx, "offer made", "call_id", c.ID, "entry_id", e.ID, "guide_id", g.ID,
		"waited_ms", now.Sub(e.JoinedAt).Milliseconds())
	s.notify.Offer(ctx, c, e)
	return nil
}

// sendPositions tells each queued shopper its position when it changed.
func (s *Service) sendPositions(ctx context.Context) error {
	line, err := s.store.EntriesQueued(ctx, "")
	if err != nil {
		return err
	}
	guides, err := s.store.GuidesOnline(ctx)
	if err != nil {
		return err
	}
	online, free := len(guides), countFree(guides)
	seen := make(map[string]bool, len(line))
	pos, queue := 0, ""
	for _, e := range line {
		if e.Queue != queue {
			pos, queue = 0, e.Queue
		}
		pos++
		seen[e.ID] = true
		p := s.positionAt(e, pos, online, free)
		if s.lastPosition[e.ID] == p || e.DisconnectedAt != nil {
			continue
		}
		s.lastPosition[e.ID] = p
		s.notify.Position(ctx, e.ID, p)
	}
	for id := range s.lastPosition {
		if !seen[id] {
			delete(s.lastPosition, id)
		}
	}
	return nil
}
