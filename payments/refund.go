package payments

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultGuideRefundWindow is how long after the payment a guide may
// refund from the console; admins may refund at any time.
const DefaultGuideRefundWindow = 14 * 24 * time.Hour

// GuideRefund is what a guide may still refund of a link from the console,
// by the rule Refund applies to a guide: a settled link, within the
// guide's window after its payment, up to what no refund has claimed yet.
// The console draws its Refund action from it and keeps no rule of its own.
type GuideRefund struct {
	// Refundable is what is left to ask back, in minor units: the paid
	// amount less every refund that did not fail; 0 for a link not paid.
	Refundable int64 `json:"refundable"`
	// RefundableUntil ends the guide's window (paid_at plus
	// --guide-refund-window); nil for a link not paid. An admin may
	// refund after it.
	RefundableUntil *time.Time `json:"refundable_until,omitempty"`
}

// GuideRefundOf says what a guide may refund of l.
func (s *Service) GuideRefundOf(l Link) GuideRefund {
	if !l.Status.settled() {
		return GuideRefund{}
	}
	out := GuideRefund{Refundable: l.refundable()}
	if until := s.guideRefundUntil(l); until != nil {
		out.RefundableUntil = until
	}
	return out
}

// guideRefundUntil is when the guide's refund window of a paid link ends;
// nil when the link has no payment time.
func (s *Service) guideRefundUntil(l Link) *time.Time {
	if l.PaidAt == nil {
		return nil
	}
	until := l.PaidAt.Add(s.refundWindow).UTC()
	return &until
}

// GuideLink is a link as a guide's API answers it: the link and what the
// guide may still refund of it.
type GuideLink struct {
	Link
	GuideRefund
}

// RequestRefund is what Service.Refund is asked.
type RequestRefund struct {
	LinkID string
	// Amount in minor units; 0 refunds everything still refundable.
	Amount         int64
	IdempotencyKey string
	RequestedBy    string
	// Admin lifts the guide's refund window.
	Admin bool
}

// Refund asks the link's provider to refund part or all of a paid link.
// The request is recorded on the link first, under its row lock, with the
// next sequence number: so concurrent refunds can never together exceed
// what was paid, and the provider's idempotency key (link, seq) makes a
// retry of ours the same refund. A retry with the same IdempotencyKey
// returns that refund (created false) and, if the provider had refused
// it, asks again with the same sequence number. The link's status and
// RefundedAmount move when the provider's refund event arrives.
func (s *Service) Refund(ctx context.Context, p RequestRefund) (Refund, bool, error) {
	if p.IdempotencyKey == "" || len(p.IdempotencyKey) > MaxIdempotencyKeyLen {
		return Refund{}, false, fmt.Errorf("%w: 1 to %d characters", ErrIdempotencyKeyRequired, MaxIdempotencyKeyLen)
	}
	if p.Amount < 0 {
		return Refund{}, false, fmt.Errorf("%w: refund amount must be positive", ErrInvalidLink)
	}
	cur, err := s.store.LinkGet(ctx, p.LinkID)
	if err != nil {
		return Refund{}, false, err
	}
	amount := p.Amount
	if amount == 0 {
		amount = cur.refundable()
	}
	if err := s.checkRefundLimits(ctx, cur, amount, p.Admin); err != nil {
		return Refund{}, false, err
	}
	var rf Refund
	created, retry := false, false
	l, err := s.store.LinkUpdate(ctx, p.LinkID, func(x *Link) ([]Event, error) {
		created, retry = false, false
		for i, r := range x.Refunds {
			if r.IdempotencyKey != p.IdempotencyKey {
				continue
			}
			if p.Amount != 0 && r.Amount != p.Amount {
				return nil, fmt.Errorf("%w: refund %d of link %s", ErrIdempotencyConflict, r.Seq, x.ID)
			}
			rf = r
			if r.Status != RefundFailed {
				return nil, errNoChange
			}
			// The provider refused it before: ask again, if it still fits.
			if r.Amount > x.refundable() {
				return nil, fmt.Errorf("%w: a refund of %s is more than the %s left to refund", ErrInvalidLink,
					Money{Amount: r.Amount, Currency: x.Currency}, Money{Amount: x.refundable(), Currency: x.Currency})
			}
			x.Refunds[i].Status, x.Refunds[i].Error = RefundRequested, ""
			rf, retry = x.Refunds[i], true
			return nil, nil
		}
		if !x.Status.settled() {
			return nil, fmt.Errorf("%w: a %s link has no payment to refund", ErrInvalidTransition, x.Status)
		}
		if until := s.guideRefundUntil(*x); !p.Admin && until != nil && s.now().After(*until) {
			return nil, fmt.Errorf("%w: paid %s ago, past the guide's refund window of %s; an admin can still refund",
				ErrForbidden, s.now().Sub(*x.PaidAt).Round(time.Minute), s.refundWindow)
		}
		left := x.refundable()
		amount := p.Amount
		if amount == 0 {
			amount = left
		}
		if amount <= 0 || amount > left {
			return nil, fmt.Errorf("%w: a refund of %s is more than the %s left to refund", ErrInvalidLink,
				Money{Amount: amount, Currency: x.Currency}, Money{Amount: left, Currency: x.Currency})
		}
		rf = Refund{Seq: len(x.Refunds) + 1, Amount: amount, Status: RefundRequested, IdempotencyKey: p.IdempotencyKey,
			RequestedBy: p.RequestedBy, RequestedAt: s.now().UTC()}
		x.Refunds = append(x.Refunds, rf)
		x.UpdatedAt = rf.RequestedAt
		created = true
		return nil, nil
	})
	if errors.Is(err, errNoChange) {
		return rf, false, nil
	}
	if err != nil {
		return Refund{}, false, err
	}
	prov, ok := s.byName[l.Provider]
	if !ok {
		return Refund{}, false, fmt.Errorf("%w: %q", ErrUnknownProvider, l.Provider)
	}
	log := s.linkLog(l).With("provider", l.Provider, "refund_seq", rf.Seq, "amount", Money{Amount: rf.Amount, Currency: l.Currency}.String(),
		"requested_by", p.RequestedBy)
	perr := prov.Refund(ctx, RefundParams{Ref: l.ProviderRef, LinkID: l.ID, CallID: l.CallID, Amount: rf.Amount, Currency: l.Currency, Seq: rf.Seq})
	status, msg := RefundAccepted, ""
	if perr != nil {
		status, msg = RefundFailed, perr.Error()
	}
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := s.store.LinkUpdate(uctx, l.ID, func(x *Link) ([]Event, error) {
		for i := range x.Refunds {
			if x.Refunds[i].Seq == rf.Seq && x.Refunds[i].Status == RefundRequested {
				x.Refunds[i].Status, x.Refunds[i].Error = status, msg
				rf = x.Refunds[i]
				return nil, nil
			}
		}
		return nil, errNoChange
	}); err != nil && !errors.Is(err, errNoChange) {
		// The refund stays requested: a retry with the key asks no one
		// again, and the provider's event (or reconciliation) settles it.
		log.Error("record refund outcome", "refund_status", status, "err", err)
	}
	if perr != nil {
		log.Warn("provider refused refund", "err", perr)
		return rf, created, fmt.Errorf("%w: %s: %w", ErrProvider, prov.Name(), perr)
	}
	log.Info("refund accepted by provider", "retry", retry)
	return rf, created, nil
}
