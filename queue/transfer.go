package queue

import (
	"context"
	"errors"
	"fmt"

	"guidecall/internal/cleantext"
)

// TransferTo names where a guide hands its shopper: a queue, or one named
// colleague; Note travels with the shopper to whoever takes it next.
type TransferTo struct {
	Queue   string `json:"queue,omitempty"`
	GuideID string `json:"guide_id,omitempty"`
	Note    string `json:"note,omitempty"`
}

// Transfer hands the shopper of guideID's call to another queue or guide.
// In one change the call ends (reason transferred, by the guide), the
// guide is released (into wrap-up if its queue has one), and the entry
// goes back to the head of the target queue, keeping its join time, with
// the note and, for a named colleague, only that guide eligible. The
// shopper hears call.ended "transferred" and then queue.requeued.
func (s *Service) Transfer(ctx context.Context, guideID, callID string, to TransferTo) error {
	ctx, cancel := detach(ctx)
	defer cancel()
	switch {
	case (to.Queue == "") == (to.GuideID == ""):
		return fmt.Errorf("%w: queue: name a queue or a guide_id, not both or neither", ErrInvalid)
	case to.GuideID == guideID:
		return fmt.Errorf("%w: guide_id: a guide cannot transfer to itself", ErrInvalid)
	case len(to.Note) > 500:
		return fmt.Errorf("%w: note: longer than 500 bytes", ErrInvalid)
	}
	// The next guide reads the note (cleantext).
	note, err := cleantext.Text(to.Note, 500)
	if err != nil {
		return fmt.Errorf("%w: note: %w", ErrInvalid, err)
	}
	to.Note = note
	// An unknown target is bad input (ErrInvalid), not an unknown call.
	if to.Queue != "" {
		if _, err := s.queueRecord(ctx, s.store, to.Queue); errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w: queue: unknown queue %q", ErrInvalid, to.Queue)
		} else if err != nil {
			return err
		}
	}
	if to.GuideID != "" {
		if _, err := s.store.GuideGet(ctx, to.GuideID); errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w: guide_id: unknown guide %q", ErrInvalid, to.GuideID)
		} else if err != nil {
			return err
		}
	}
	return s.callChange(ctx, callID, func(ctx context.Context, t *txn, p *parties) error {
		c := *p.c
		if c.GuideID != guideID {
			return ErrNotParty
		}
		if !c.State.Live() || c.State == CallOffered || p.e.State != EntryInCall {
			return fmt.Errorf("call %s is %s: %w", c.ID, c.State, ErrBadState)
		}
		now := s.now()
		c.State, c.EndedAt, c.EndReason, c.EndedBy = CallEnded, &now, ReasonTransferred, string(PartyGuide)
		if err := t.putCall(ctx, c); err != nil {
			return err
		}
		*p.c = c
		// The target first, so the head is the target queue's head.
		e := *p.e
		if to.Queue != "" {
			e.Queue = to.Queue
		}
		// The target's own relaxation rules apply from the start, by the
		// original join time: the steps taken in the old queue meant
		// something there only.
		e.TransferGuide, e.TransferNote, e.Steps = to.GuideID, to.Note, nil
		if err := t.putEntry(ctx, e); err != nil {
			return err
		}
		e, err := t.EntryRequeue(ctx, e.ID)
		if err != nil {
			return err
		}
		*p.e = e
		t.emit(CallFinished{EventMeta: s.meta(), Call: c})
		if err := s.release(ctx, t, p, now); err != nil {
			return err
		}
		if err := s.wrapUp(ctx, t, p, now); err != nil {
			return err
		}
		pos, _ := s.position(ctx, t, e)
		t.emit(Requeued{EventMeta: s.meta(), Entry: e, Reason: ReasonTransferred, Position: pos})
		t.afterCommit(func() {
			s.log.InfoContext(ctx, "call transferred", "call_id", c.ID, "entry_id", e.ID, "guide_id", guideID,
				"to_queue", e.Queue, "to_guide", to.GuideID)
			s.poke()
		})
		return nil
	})
}

// Colleague is a guide a shopper may be handed to: online, not away, and
// able to take that shopper (its queue, language and skill).
type Colleague struct {
	ID       string   `json:"guide_id"`
	Name     string   `json:"name"`
	Presence Presence `json:"presence"`
	// Queues are the queues the colleague serves; empty means every queue.
	Queues []string `json:"queues"`
}

// TransferTargetQueue is a queue a shopper may be handed to.
type TransferTargetQueue struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	Open        bool   `json:"open"`
}

// TransferTargets is where guideID may hand the shopper of its call
// callID: every queue but the call's own, and the colleagues who could
// take this shopper now or once they are free.
type TransferTargets struct {
	Queue      string                `json:"queue"`
	Queues     []TransferTargetQueue `json:"queues"`
	Colleagues []Colleague           `json:"colleagues"`
}

// TransferTargets lists where guideID may transfer the shopper of callID;
// only the call's own guide may ask (ErrNotParty).
func (s *Service) TransferTargets(ctx context.Context, guideID, callID string) (TransferTargets, error) {
	c, err := s.store.CallGet(ctx, callID)
	if err != nil {
		return TransferTargets{}, err
	}
	if c.GuideID != guideID {
		return TransferTargets{}, ErrNotParty
	}
	e, err := s.store.EntryGet(ctx, c.EntryID)
	if err != nil {
		return TransferTargets{}, err
	}
	out := TransferTargets{Queue: e.Queue, Queues: []TransferTargetQueue{}, Colleagues: []Colleague{}}
	qs, err := s.store.QueuesList(ctx)
	if err != nil {
		return TransferTargets{}, err
	}
	now := s.now()
	for _, q := range qs {
		if q.Name == e.Queue {
			continue
		}
		out.Queues = append(out.Queues, TransferTargetQueue{Name: q.Name, DisplayName: q.DisplayName, Open: q.OpenAt(now)})
	}
	online, err := s.store.GuidesOnline(ctx)
	if err != nil {
		return TransferTargets{}, err
	}
	// Eligibility as the entry stands, not as the one guide it may have
	// been handed to before.
	e.TransferGuide = ""
	for _, g := range online {
		if g.ID == guideID || !working(g) || !eligible(e, g) {
			continue
		}
		out.Colleagues = append(out.Colleagues, Colleague{ID: g.ID, Name: g.Name, Presence: g.Presence(), Queues: nonNil(g.Queues)})
	}
	return out, nil
}
