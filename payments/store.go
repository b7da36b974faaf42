package payments

import "context"

// Store keeps links and the ids of webhook events already seen. Every
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
	// EventRecord records a webhook event by (Provider, ID) and reports
	// whether it was new.
	EventRecord(ctx context.Context, e Event) (inserted bool, err error)
}
