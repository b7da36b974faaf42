package payments

import (
	"slices"
	"time"
)

// LinkStatus is where a payment link is in its life.
type LinkStatus string

// The statuses of a link. Open is the only initial status; canceled and
// refunded are final, and expired and failed are final unless the
// provider reports a payment after all (see transitions). Processing is a payment the
// shopper has made with an asynchronous method (konbini, bank debits)
// that the provider has not settled yet.
const (
	StatusOpen              LinkStatus = "open"
	StatusProcessing        LinkStatus = "processing"
	StatusPaid              LinkStatus = "paid"
	StatusExpired           LinkStatus = "expired"
	StatusCanceled          LinkStatus = "canceled"
	StatusFailed            LinkStatus = "failed"
	StatusRefunded          LinkStatus = "refunded"
	StatusPartiallyRefunded LinkStatus = "partially_refunded"
)

// transitions lists, for each status, where it may go next. Everything moves
// forward only: this is what makes webhook handling order-independent, since
// a late "failed" after "paid" is simply not a legal move and is dropped.
// open -> refunded | partially_refunded is the other half of that: a refund
// reported before the payment implies the payment, and the late "paid" is
// then dropped like any other step back.
//
// expired and failed -> paid (or refunded) is the same rule seen from the
// money: a payment the provider reports is a fact, and a link that closed
// here first (its expiry's or a failed attempt's event delivered before
// the payment's) is paid after all, rather than left failed with the
// money taken. For expired the payment must have been made before the
// link's expiry (Service.moveTo checks the event's time). canceled stays
// final: a canceled authorisation moved no money.
var transitions = map[LinkStatus][]LinkStatus{
	StatusOpen:              {StatusProcessing, StatusPaid, StatusExpired, StatusCanceled, StatusFailed, StatusRefunded, StatusPartiallyRefunded},
	StatusProcessing:        {StatusPaid, StatusExpired, StatusCanceled, StatusFailed, StatusRefunded, StatusPartiallyRefunded},
	StatusPaid:              {StatusRefunded, StatusPartiallyRefunded},
	StatusPartiallyRefunded: {StatusRefunded, StatusPartiallyRefunded},
	StatusExpired:           {StatusPaid, StatusRefunded, StatusPartiallyRefunded},
	StatusFailed:            {StatusPaid, StatusRefunded, StatusPartiallyRefunded},
}

// CanMoveTo reports whether a link in status s may move to next.
// partially_refunded -> partially_refunded is allowed because each further
// partial refund is a real change (of the refunded amount); every other
// self-transition is not.
func (s LinkStatus) CanMoveTo(next LinkStatus) bool {
	return slices.Contains(transitions[s], next)
}

// Valid reports whether s is one of the known statuses.
func (s LinkStatus) Valid() bool {
	switch s {
	case StatusOpen, StatusProcessing, StatusPaid, StatusExpired, StatusCanceled, StatusFailed,
		StatusRefunded, StatusPartiallyRefunded:
		return true
	}
	return false
}

// settled reports whether a link in s has been paid, whatever was refunded
// since.
func (s LinkStatus) settled() bool {
	return s == StatusPaid || s == StatusRefunded || s == StatusPartiallyRefunded
}

// unsettled reports whether a link in s may still change at the provider
// by a payment or a refund: what reconciliation checks.
func unsettled(s LinkStatus) bool {
	return s == StatusOpen || s == StatusProcessing || s == StatusPaid || s == StatusPartiallyRefunded
}

// reopenable reports whether a link in s is closed here but may still be
// paid by a payment its provider took in time (see transitions): what
// reconciliation checks for a while after it closed.
func reopenable(s LinkStatus) bool { return s == StatusExpired || s == StatusFailed }

// Final reports whether no further transition is possible from s.
func (s LinkStatus) Final() bool { return len(transitions[s]) == 0 }

// Item is one line of a payment link. UnitAmount is in the link currency's
// minor unit.
type Item struct {
	Name       string `json:"name"`
	Quantity   int64  `json:"quantity"`
	UnitAmount int64  `json:"unit_amount"`
}

// Link is a payment link a guide sent during a call.
type Link struct {
	ID          string `json:"id"`
	CallID      string `json:"call_id"`
	Provider    string `json:"provider"`
	ProviderRef string `json:"provider_ref,omitempty"`
	// Mode is the mode of the provider key that made the checkout, set
	// with ProviderRef; empty for a link without a checkout yet.
	Mode           Mode       `json:"mode,omitempty"`
	Amount         int64      `json:"amount"`
	Currency       string     `json:"currency"`
	Items          []Item     `json:"items,omitempty"`
	Description    string     `json:"description,omitempty"`
	Status         LinkStatus `json:"status"`
	CheckoutURL    string     `json:"checkout_url,omitempty"`
	IdempotencyKey string     `json:"idempotency_key"`
	CreatedBy      string     `json:"created_by"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	ExpiresAt      time.Time  `json:"expires_at"`
	PaidAt         *time.Time `json:"paid_at,omitempty"`
	// RefundedAmount is what the provider reports refunded, in minor
	// units; never above Amount.
	RefundedAmount int64 `json:"refunded_amount"`
	// Refunds are the refunds asked of the provider, oldest first.
	Refunds []Refund `json:"refunds,omitempty"`
}

// Refund statuses: requested while the provider is asked, accepted once it
// took the refund (the money moves with its webhook), failed if it
// refused (the amount no longer counts against the cap).
const (
	RefundRequested = "requested"
	RefundAccepted  = "accepted"
	RefundFailed    = "failed"
)

// Refund is one refund of a link asked of its provider.
type Refund struct {
	Seq            int       `json:"seq"`
	Amount         int64     `json:"amount"`
	Status         string    `json:"status"`
	IdempotencyKey string    `json:"idempotency_key"`
	RequestedBy    string    `json:"requested_by"`
	RequestedAt    time.Time `json:"requested_at"`
	Error          string    `json:"error,omitempty"`
}

// refundable is what may still be asked back: the paid amount less every
// refund that did not fail.
func (l Link) refundable() int64 {
	left := l.Amount
	for _, r := range l.Refunds {
		if r.Status != RefundFailed {
			left -= r.Amount
		}
	}
	return max(left, 0)
}

// Money returns the link's amount and currency.
func (l Link) Money() Money { return Money{Amount: l.Amount, Currency: l.Currency} }

// Clone returns a deep copy of l, so that stores never share slices or
// pointers with their callers.
func (l Link) Clone() Link {
	l.Items = slices.Clone(l.Items)
	l.Refunds = slices.Clone(l.Refunds)
	if l.PaidAt != nil {
		t := *l.PaidAt
		l.PaidAt = &t
	}
	return l
}
