package payments

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// SandboxCheckout is one hosted checkout of the sandbox provider: the
// provider's own record, which a real provider keeps in its account and
// which every node of a cluster must therefore see alike.
type SandboxCheckout struct {
	Ref       string
	Params    ProviderLinkParams
	Status    LinkStatus // as last written; see StatusAt
	Refunded  int64      // minor units refunded so far
	CreatedAt time.Time
}

// Clone returns a deep copy of c.
func (c SandboxCheckout) Clone() SandboxCheckout {
	c.Params.Items = slices.Clone(c.Params.Items)
	return c
}

// StatusAt is the checkout's status at now: an open checkout whose
// ExpiresAt has passed is expired.
func (c SandboxCheckout) StatusAt(now time.Time) LinkStatus {
	if c.Status == StatusOpen && !c.Params.ExpiresAt.IsZero() && !now.Before(c.Params.ExpiresAt) {
		return StatusExpired
	}
	return c.Status
}

// SandboxStore keeps the sandbox's checkouts. Every implementation passes
// paymentstest.RunSandboxStoreSuite. Returned checkouts are copies.
type SandboxStore interface {
	// CheckoutCreate inserts c. A second checkout with the same Ref
	// returns ErrDuplicate.
	CheckoutCreate(ctx context.Context, c SandboxCheckout) (SandboxCheckout, error)
	// CheckoutGet returns the checkout with ref, or ErrNotFound.
	CheckoutGet(ctx context.Context, ref string) (SandboxCheckout, error)
	// CheckoutUpdate reads the checkout, calls fn on a copy and writes the
	// result, atomically with respect to other CheckoutUpdate calls on the
	// same checkout. If fn returns an error nothing is written and that
	// error is returned. fn must not change Ref; it may be called more than
	// once by stores that retry.
	CheckoutUpdate(ctx context.Context, ref string, fn func(*SandboxCheckout) error) (SandboxCheckout, error)
}

var errCheckoutRefChanged = errors.New("payments: CheckoutUpdate must not change the ref")

// MemorySandboxStore is the SandboxStore of a single node: a map behind a
// mutex. It is the default of a Sandbox without SandboxConfig.Store.
type MemorySandboxStore struct {
	mu        sync.Mutex
	checkouts map[string]*SandboxCheckout
}

var _ SandboxStore = (*MemorySandboxStore)(nil)

// NewMemorySandboxStore returns an empty MemorySandboxStore.
func NewMemorySandboxStore() *MemorySandboxStore {
	return &MemorySandboxStore{checkouts: make(map[string]*SandboxCheckout)}
}

// CheckoutCreate implements SandboxStore.
func (m *MemorySandboxStore) CheckoutCreate(ctx context.Context, c SandboxCheckout) (SandboxCheckout, error) {
	if err := ctx.Err(); err != nil {
		return SandboxCheckout{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.checkouts[c.Ref]; ok {
		return SandboxCheckout{}, fmt.Errorf("%w: sandbox ref %q", ErrDuplicate, c.Ref)
	}
	stored := c.Clone()
	m.checkouts[c.Ref] = &stored
	return c.Clone(), nil
}

// CheckoutGet implements SandboxStore.
func (m *MemorySandboxStore) CheckoutGet(ctx context.Context, ref string) (SandboxCheckout, error) {
	if err := ctx.Err(); err != nil {
		return SandboxCheckout{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.checkouts[ref]
	if !ok {
		return SandboxCheckout{}, fmt.Errorf("%w: sandbox ref %q", ErrNotFound, ref)
	}
	return c.Clone(), nil
}

// CheckoutUpdate implements SandboxStore. The mutex is held while fn runs,
// so fn must not call back into the store.
func (m *MemorySandboxStore) CheckoutUpdate(ctx context.Context, ref string, fn func(*SandboxCheckout) error) (SandboxCheckout, error) {
	if err := ctx.Err(); err != nil {
		return SandboxCheckout{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.checkouts[ref]
	if !ok {
		return SandboxCheckout{}, fmt.Errorf("%w: sandbox ref %q", ErrNotFound, ref)
	}
	next := cur.Clone()
	if err := fn(&next); err != nil {
		return SandboxCheckout{}, err
	}
	if next.Ref != cur.Ref {
		return SandboxCheckout{}, errCheckoutRefChanged
	}
	*cur = next.Clone()
	return next, nil
}
