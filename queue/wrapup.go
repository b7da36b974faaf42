package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"guidecall/internal/cleantext"
)

// Outcome is the guide's code for how a call went, chosen at wrap-up.
type Outcome string

const (
	OutcomeSold          Outcome = "sold"
	OutcomeFollowUp      Outcome = "follow_up"
	OutcomeNoSale        Outcome = "no_sale"
	OutcomeNotInterested Outcome = "not_interested"
	OutcomeOther         Outcome = "other"
)

// Outcomes are the codes a wrap-up may carry, in the order the console
// offers them.
var Outcomes = []Outcome{OutcomeSold, OutcomeFollowUp, OutcomeNoSale, OutcomeNotInterested, OutcomeOther}

// MaxWrapUpNotes bounds a wrap-up's notes, in characters.
const MaxWrapUpNotes = 4000

// WrapUp is what the guide writes after a call.
type WrapUp struct {
	Outcome Outcome `json:"outcome"`
	Notes   string  `json:"notes"`
}

// GuideCallsQuery selects calls of one guide's history: calls it accepted
// and that ended, newest first.
type GuideCallsQuery struct {
	GuideID string
	// From and To bound AcceptedAt (From inclusive, To exclusive); zero is
	// open.
	From, To time.Time
	// Text, when set, keeps calls whose notes, outcome, queue, shopper name
	// or page contain it, ignoring case.
	Text  string
	Limit int
}

// GuideCall is one call of a guide's history with the shopper it served
// (empty once the shopper's data was erased or purged).
type GuideCall struct {
	Call
	Shopper CallShopper `json:"shopper"`
}

// CallShopper is what a guide's history shows of the shopper of a call.
type CallShopper struct {
	Name     string `json:"name,omitempty"`
	Locale   string `json:"locale,omitempty"`
	Currency string `json:"currency,omitempty"`
	PageURL  string `json:"page_url,omitempty"`
}

// MaxHistory is the most calls one history read returns.
const MaxHistory = 200

// matches reports whether a history row holds the lower-cased text; both
// stores search the same fields.
func (gc GuideCall) matches(lower string) bool {
	if lower == "" {
		return true
	}
	for _, f := range []string{gc.WrapUpNotes, string(gc.Outcome), gc.Queue, gc.Shopper.Name, gc.Shopper.PageURL} {
		if strings.Contains(strings.ToLower(f), lower) {
			return true
		}
	}
	return false
}

// SaveWrapUp keeps the guide's outcome and notes with a call it accepted
// and that has ended; saving again replaces them (a guide may correct its
// notes). One transaction, and CallWrappedUp published after it.
func (s *Service) SaveWrapUp(ctx context.Context, guideID, callID string, w WrapUp) (Call, error) {
	if !slices.Contains(Outcomes, w.Outcome) {
		return Call{}, fmt.Errorf("%w: outcome must be one of %v", ErrInvalid, Outcomes)
	}
	notes, err := cleantext.Text(w.Notes, MaxWrapUpNotes)
	if err != nil {
		return Call{}, fmt.Errorf("%w: notes: %w", ErrInvalid, err)
	}
	ctx, cancel := detach(ctx)
	defer cancel()
	var out Call
	err = s.change(ctx, func(ctx context.Context, t *txn) error {
		now := s.now()
		c, err := t.CallUpdate(ctx, callID, func(c *Call) error {
			switch {
			case !isParty(*c, PartyGuide, guideID):
				return ErrNotParty
			case c.State != CallEnded || c.AcceptedAt == nil:
				return fmt.Errorf("call %s is %s, not a call that ended: %w", c.ID, c.State, ErrBadState)
			}
			c.Outcome, c.WrapUpNotes, c.WrappedUpAt = w.Outcome, notes, &now
			return nil
		})
		if err != nil {
			return err
		}
		out = c
		t.emit(CallWrappedUp{EventMeta: s.meta(), Call: c})
		t.afterCommit(func() {
			s.log.InfoContext(ctx, "call wrapped up", "call_id", c.ID, "guide_id", c.GuideID, "outcome", c.Outcome)
		})
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return Call{}, ErrNotParty
	}
	return out, err
}

// GuideCalls reads a guide's history.
func (s *Service) GuideCalls(ctx context.Context, q GuideCallsQuery) ([]GuideCall, error) {
	if q.GuideID == "" {
		return nil, fmt.Errorf("%w: guide", ErrInvalid)
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return nil, fmt.Errorf("%w: from must be before to", ErrInvalid)
	}
	if len(q.Text) > 200 {
		return nil, fmt.Errorf("%w: q longer than 200 bytes", ErrInvalid)
	}
	if q.Limit <= 0 || q.Limit > MaxHistory {
		q.Limit = MaxHistory
	}
	q.Text = strings.ToLower(strings.TrimSpace(q.Text))
	return s.store.CallsOfGuide(ctx, q)
}
