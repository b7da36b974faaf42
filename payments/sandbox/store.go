package sandbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"guidecall/payments"
	"guidecall/webhook"
)

// Checkout is one hosted checkout of the sandbox provider: the provider's
// own record, which a real provider keeps in its account and which every
// node of a cluster must therefore see alike.
type Checkout struct {
	Ref      string
	Params   payments.ProviderLinkParams
	Status   payments.LinkStatus // as last written; see StatusAt
	Refunded int64               // minor units refunded so far
	// RefundSeqs are the RefundParams.Seq of the refunds taken, oldest
	// first: a refund asked again with one of them is not taken again.
	RefundSeqs []int
	CreatedAt  time.Time
	// PaidAt is when the checkout took the money (an asynchronous
	// method's: when it completed); zero while it has not.
	PaidAt time.Time
}

// Clone returns a deep copy of c.
func (c Checkout) Clone() Checkout {
	c.Params.Items = slices.Clone(c.Params.Items)
	c.RefundSeqs = slices.Clone(c.RefundSeqs)
	return c
}

// StatusAt is the checkout's status at now: an open checkout whose
// ExpiresAt has passed is expired.
func (c Checkout) StatusAt(now time.Time) payments.LinkStatus {
	if c.Status == payments.StatusOpen && !c.Params.ExpiresAt.IsZero() && !now.Before(c.Params.ExpiresAt) {
		return payments.StatusExpired
	}
	return c.Status
}

// Store keeps the sandbox's checkouts and hands the webhooks of their
// outcomes to an outbox. Every implementation passes
// sandboxtest.RunStoreSuite. Returned checkouts are copies. Errors wrap the
// payments sentinels (ErrNotFound, ErrDuplicate, ErrUnavailable).
type Store interface {
	// CheckoutCreate inserts c. A second checkout with the same Ref
	// returns ErrDuplicate.
	CheckoutCreate(ctx context.Context, c Checkout) (Checkout, error)
	// CheckoutGet returns the checkout with ref, or ErrNotFound.
	CheckoutGet(ctx context.Context, ref string) (Checkout, error)
	// CheckoutUpdate reads the checkout, calls fn on a copy, writes the
	// result and enqueues the deliveries fn returns, atomically: on
	// PostgreSQL in one transaction, so the change and its webhooks commit
	// together or not at all, and a node killed right after cannot lose
	// the webhook. If fn returns an error nothing is written or enqueued
	// and that error is returned. fn must not change Ref; it may be called
	// more than once by stores that retry.
	CheckoutUpdate(ctx context.Context, ref string, fn func(*Checkout) ([]webhook.Delivery, error)) (Checkout, error)
}

var errRefChanged = errors.New("sandbox: CheckoutUpdate must not change the ref")

// MemoryStore is the Store of a single node: a map behind a mutex, its
// webhooks on a memory outbox (lost, like the checkouts, with the
// process).
type MemoryStore struct {
	outbox    webhook.Outbox
	mu        sync.Mutex
	checkouts map[string]*Checkout
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore enqueuing on outbox.
func NewMemoryStore(outbox webhook.Outbox) *MemoryStore {
	return &MemoryStore{outbox: outbox, checkouts: make(map[string]*Checkout)}
}

// CheckoutCreate implements Store.
func (m *MemoryStore) CheckoutCreate(ctx context.Context, c Checkout) (Checkout, error) {
	if err := ctx.Err(); err != nil {
		return Checkout{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.checkouts[c.Ref]; ok {
		return Checkout{}, fmt.Errorf("%w: sandbox ref %q", payments.ErrDuplicate, c.Ref)
	}
	stored := c.Clone()
	m.checkouts[c.Ref] = &stored
	return c.Clone(), nil
}

// CheckoutGet implements Store.
func (m *MemoryStore) CheckoutGet(ctx context.Context, ref string) (Checkout, error) {
	if err := ctx.Err(); err != nil {
		return Checkout{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.checkouts[ref]
	if !ok {
		return Checkout{}, fmt.Errorf("%w: sandbox ref %q", payments.ErrNotFound, ref)
	}
	return c.Clone(), nil
}

// CheckoutUpdate implements Store. The mutex is held while fn runs and the
// deliveries are enqueued, so fn must not call back into the store. A
// delivery the outbox refuses undoes the change.
func (m *MemoryStore) CheckoutUpdate(ctx context.Context, ref string, fn func(*Checkout) ([]webhook.Delivery, error)) (Checkout, error) {
	if err := ctx.Err(); err != nil {
		return Checkout{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.checkouts[ref]
	if !ok {
		return Checkout{}, fmt.Errorf("%w: sandbox ref %q", payments.ErrNotFound, ref)
	}
	next := cur.Clone()
	ds, err := fn(&next)
	if err != nil {
		return Checkout{}, err
	}
	if next.Ref != cur.Ref {
		return Checkout{}, errRefChanged
	}
	for _, d := range ds {
		// Enqueue of a memory outbox only adds to its heap: it cannot fail
		// half way for a reason a retry would not meet again.
		if err := m.outbox.Enqueue(ctx, d); err != nil {
			return Checkout{}, fmt.Errorf("sandbox: enqueue webhook: %w", err)
		}
	}
	*cur = next.Clone()
	return next, nil
}
