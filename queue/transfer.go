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
