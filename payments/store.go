package payments

import "context"

// Store keeps links and the ids of webhook events already applied. Every
// implementation passes paymentstest.RunStoreSuite. Returned links are copies:
// changing them changes nothing in the store.
type Store interface {
	// LinkCreate inserts l. A second link with the same ID, or with the same
	// (CallID, IdempotencyKey), returns ErrDuplicate.
	LinkCreate(ctx context.Context, l Link) (Link, error)
	// LinkGet returns the link with id, or ErrNotFound.
	LinkGet(ctx context.Context, id string) (Link, error)
	// LinkByIdempotencyKey returns the link of callID created with key, or
	// ErrNotFound.
	LinkByIdempotencyKey(ctx context.Context, callID, key string) (Link, error)
	// LinkByProviderRef returns the link that provider knows as ref, or
	// ErrNotFound. An empty ref never matches.
	LinkByProviderRef(ctx context.Context, provider, ref string) (Link, error)
	// LinksByCall returns the links of a call, oldest first; none is not an
	// error.
	LinksByCall(ctx context.Context, callID string) ([]Link, error)
	// LinkUpdate reads the link, calls fn on a copy and writes the result,
	// atomically with respect to other LinkUpdate calls on the same link. If
	// fn returns an error nothing is written and that error is returned.
	// fn must not change ID; it may be called more than once by stores that
	// retry on serialization failures.
	LinkUpdate(ctx context.Context, id string, fn func(*Link) error) (Link, error)
	// EventApply records webhook event e by (Provider, ID) and, if it was
	// not recorded before, updates link id with fn (under LinkUpdate's
	// rules), all in one atomic step: the event is recorded if and only if
	// the link is written. For an event already recorded, fn is not called,
	// nothing is written and applied is false. If fn or the write fails,
	// nothing is recorded, so a retry of the event applies it.
	EventApply(ctx context.Context, e Event, id string, fn func(*Link) error) (l Link, applied bool, err error)
}
