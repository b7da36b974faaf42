package queue

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"time"

	"guidecall/internal/cleantext"
)

// CallbackParams is what a shopper leaves instead of waiting.
type CallbackParams struct {
	Name       string     `json:"name"`
	Phone      string     `json:"phone"`
	Email      string     `json:"email"`
	Locale     string     `json:"locale"`
	Message    string     `json:"message"`
	WindowFrom *time.Time `json:"window_from"`
	WindowTo   *time.Time `json:"window_to"`
	// EntryID is the entry the shopper leaves the line with, if it was
	// waiting; that entry is cancelled in the same change.
	EntryID string `json:"entry_id"`
	// CustomerToken is the merchant's signed token, as at join; the caller
	// verifies it and sets CustomerID, which a body never sets. Without
	// it the callback takes the customer id of EntryID's entry.
	CustomerToken string `json:"customer_token,omitempty"`
	CustomerID    string `json:"-"`
}

var phoneRE = regexp.MustCompile(`^\+?[0-9 ()./-]{6,32}$`)

func (p *CallbackParams) validate(now time.Time) error {
	bad := func(field, msg string) error { return fmt.Errorf("%w: %s: %s", ErrInvalid, field, msg) }
	if p.Locale == "" {
		p.Locale = "en"
	}
	// A guide reads the name and the message: one spelling, nothing
	// invisible; a NUL anywhere is refused (cleantext).
	var err error
	if p.Name, err = cleantext.Line(p.Name, 80); err != nil {
		return bad("name", err.Error())
	}
	if p.Message, err = cleantext.Text(p.Message, 1000); err != nil {
		return bad("message", err.Error())
	}
	for _, f := range [][2]string{{"phone", p.Phone}, {"email", p.Email}, {"entry_id", p.EntryID}} {
		if cleantext.HasNUL(f[1]) {
			return bad(f[0], cleantext.ErrNUL.Error())
		}
	}
	switch {
	case p.Name == "" || len(p.Name) > 80:
		return bad("name", "is required, up to 80 bytes")
	case p.Phone == "" && p.Email == "":
		return bad("phone", "a phone number or an email address is required")
	case p.Phone != "" && !phoneRE.MatchString(p.Phone):
		return bad("phone", "is not a phone number")
	case len(p.Message) > 1000:
		return bad("message", "longer than 1000 bytes")
	case !localeRE.MatchString(p.Locale):
		return bad("locale", "is not a BCP 47 tag")
	case (p.WindowFrom == nil) != (p.WindowTo == nil):
		return bad("window_to", "a time window needs both window_from and window_to")
	}
	if p.Email != "" {
		if a, err := mail.ParseAddress(p.Email); err != nil || a.Address != p.Email || len(p.Email) > 254 {
			return bad("email", "is not an email address")
		}
	}
	if p.WindowFrom != nil {
		if !p.WindowTo.After(*p.WindowFrom) {
			return bad("window_to", "must be after window_from")
		}
		if p.WindowTo.Before(now) {
			return bad("window_to", "is in the past")
		}
	}
	return nil
}

// RequestCallback records a callback request for a queue, open or closed.
// With EntryID the shopper's waiting entry leaves the line in the same
// change (reason "callback").
func (s *Service) RequestCallback(ctx context.Context, queueName string, p CallbackParams) (Callback, error) {
	now := s.now()
	if err := p.validate(now); err != nil {
		return Callback{}, err
	}
	if _, err := s.queueRecord(ctx, s.store, queueName); err != nil {
		return Callback{}, err
	}
	cb := Callback{
		ID: newID("cb_"), Queue: queueName, Name: p.Name, Phone: p.Phone, Email: p.Email, Locale: p.Locale,
		Message: p.Message, WindowFrom: p.WindowFrom, WindowTo: p.WindowTo, EntryID: p.EntryID,
		State: CallbackOpen, CreatedAt: now, CustomerID: p.CustomerID,
	}
	var out Callback
	err := s.change(ctx, func(ctx context.Context, t *txn) error {
		if p.EntryID != "" {
			e, err := t.EntryGet(ctx, p.EntryID)
			if err != nil {
				return err
			}
			if e.Queue != queueName {
				return fmt.Errorf("%w: entry_id: entry is in queue %s", ErrInvalid, e.Queue)
			}
			if cb.CustomerID == "" {
				cb.CustomerID = e.CustomerID
			}
			if e.State.Queued() {
				pp := &parties{e: &e}
				if e.CallID != "" {
					c, err := t.CallGet(ctx, e.CallID)
					if err != nil {
						return err
					}
					g, err := t.GuideGet(ctx, c.GuideID)
					if err != nil {
						return err
					}
					pp.c, pp.g = &c, &g
				}
				if err := s.leaveQueue(ctx, t, pp, EntryCanceled, ReasonCallback); err != nil {
					return err
				}
			}
		}
		var err error
		if out, err = t.CallbackCreate(ctx, cb); err != nil {
			return err
		}
		t.emit(CallbackChanged{EventMeta: s.meta(), Callback: out})
		t.afterCommit(func() {
			s.log.InfoContext(ctx, "callback requested", "callback_id", out.ID, "queue", out.Queue, "entry_id", out.EntryID)
		})
		return nil
	})
	return out, err
}

// Callbacks lists the callbacks not done of the queues a guide serves
// (every queue for an unconfigured guide, or for guideID "").
func (s *Service) Callbacks(ctx context.Context, guideID string) ([]Callback, error) {
	all, err := s.store.CallbacksList(ctx, "", false)
	if err != nil {
		return nil, err
	}
	if guideID == "" {
		return all, nil
	}
	g, err := s.store.GuideGet(ctx, guideID)
	if errors.Is(err, ErrNotFound) {
		return all, nil // never connected: unconfigured, serves every queue
	}
	if err != nil {
		return nil, err
	}
	if g.Queues == nil {
		return all, nil
	}
	out := all[:0]
	for _, cb := range all {
		if slices.Contains(g.Queues, cb.Queue) {
			out = append(out, cb)
		}
	}
	return out, nil
}

// ClaimCallback gives an open callback to one guide; a second claim gets
// ErrBadState. A guide may only claim callbacks of queues it serves.
func (s *Service) ClaimCallback(ctx context.Context, guideID, id string) (Callback, error) {
	g, err := s.store.GuideGet(ctx, guideID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Callback{}, err
	}
	var out Callback
	err = s.change(ctx, func(ctx context.Context, t *txn) error {
		cb, err := t.CallbackUpdate(ctx, id, func(cb *Callback) error {
			if g.Queues != nil && !slices.Contains(g.Queues, cb.Queue) {
				return fmt.Errorf("%w: callback %s is for queue %s, which this guide does not serve", ErrNotParty, cb.ID, cb.Queue)
			}
			if cb.State != CallbackOpen {
				return fmt.Errorf("callback %s is %s (by %s): %w", cb.ID, cb.State, cb.ClaimedBy, ErrBadState)
			}
			now := s.now()
			cb.State, cb.ClaimedBy, cb.ClaimedAt = CallbackClaimed, guideID, &now
			return nil
		})
		if err != nil {
			return err
		}
		out = cb
		t.emit(CallbackChanged{EventMeta: s.meta(), Callback: cb})
		t.afterCommit(func() {
			s.log.InfoContext(ctx, "callback claimed", "callback_id", cb.ID, "guide_id", guideID, "queue", cb.Queue)
		})
		return nil
	})
	return out, err
}

// CallbackOutcome records how a claimed callback went; only its guide may.
func (s *Service) CallbackOutcome(ctx context.Context, guideID, id, outcome, note string) (Callback, error) {
	if !slices.Contains(callbackOutcomes, outcome) {
		return Callback{}, fmt.Errorf("%w: outcome: must be one of %v", ErrInvalid, callbackOutcomes)
	}
	if len(note) > 1000 {
		return Callback{}, fmt.Errorf("%w: note: longer than 1000 bytes", ErrInvalid)
	}
	note, err := cleantext.Text(note, 1000)
	if err != nil {
		return Callback{}, fmt.Errorf("%w: note: %w", ErrInvalid, err)
	}
	var out Callback
	err = s.change(ctx, func(ctx context.Context, t *txn) error {
		cb, err := t.CallbackUpdate(ctx, id, func(cb *Callback) error {
			if cb.State != CallbackClaimed {
				return fmt.Errorf("callback %s is %s: %w", cb.ID, cb.State, ErrBadState)
			}
			if cb.ClaimedBy != guideID {
				return fmt.Errorf("callback %s is claimed by another guide: %w", cb.ID, ErrNotParty)
			}
			now := s.now()
			cb.State, cb.Outcome, cb.Note, cb.DoneAt = CallbackDone, outcome, note, &now
			return nil
		})
		if err != nil {
			return err
		}
		out = cb
		t.emit(CallbackChanged{EventMeta: s.meta(), Callback: cb})
		t.afterCommit(func() {
			s.log.InfoContext(ctx, "callback done", "callback_id", cb.ID, "guide_id", guideID, "outcome", outcome)
		})
		return nil
	})
	return out, err
}

// GuidesServing lists the online guides who serve queue (unconfigured
// guides serve every queue), for telling them about its callbacks.
func (s *Service) GuidesServing(ctx context.Context, queue string) ([]string, error) {
	online, err := s.store.GuidesOnline(ctx)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, g := range online {
		if g.Queues == nil || slices.Contains(g.Queues, queue) {
			ids = append(ids, g.ID)
		}
	}
	return ids, nil
}
