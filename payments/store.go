package payments

import (
	"context"
	"time"
)

// Store keeps links, the ids of webhook events already applied and the
// events of every change (its outbox). Every implementation passes
// paymentstest.RunStoreSuite. Returned links are copies: changing them
// changes nothing in the store.
type Store interface {
	// LinkCreate inserts l. A second link with the same ID, or with the same
	// (CallID, IdempotencyKey), returns ErrDuplicate.
	LinkCreate(ctx context.Context, l Link) (Link, error)
	// LinkCreateWithin is LinkCreate refusing, with ErrRiskLimit, a link
	// whose call already has maxPerCall links that did not fail: the count
	// and the insert are one atomic step, so concurrent creates cannot
	// pass the limit together. maxPerCall <= 0 is no limit.
	LinkCreateWithin(ctx context.Context, l Link, maxPerCall int) (Link, error)
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
	// LinksByCalls returns the links of several calls in one read, oldest
	// first within each call, keyed by call id; a call without links has
	// no key. What a page of history asks for, instead of LinksByCall per
	// call.
	LinksByCalls(ctx context.Context, callIDs []string) (map[string][]Link, error)
	// LinksUnsettled returns up to limit links last updated before
	// updatedBefore, least recently updated first: what reconciliation
	// checks. They are those whose status may still change at the
	// provider (open, processing, paid, partially refunded) created after
	// createdAfter, and the expired and failed ones last updated (closed)
	// after closedAfter, for which a payment taken in time may still be
	// reported. Canceled and refunded links are never returned.
	LinksUnsettled(ctx context.Context, updatedBefore, createdAfter, closedAfter time.Time, limit int) ([]Link, error)
	// LinkUpdate reads the link, calls fn on a copy and writes the result
	// together with the events fn returns (into the outbox), atomically
	// with respect to other LinkUpdate calls on the same link: the events
	// are recorded if and only if the link is written. If fn returns an
	// error nothing is written and that error is returned. fn must not
	// change ID; it may be called more than once by stores that retry on
	// serialization failures.
	LinkUpdate(ctx context.Context, id string, fn func(*Link) ([]Event, error)) (Link, error)
	// EventApply records webhook event e by (Provider, ID) and, if it was
	// not recorded before, updates link id with fn (under LinkUpdate's
	// rules, events included), all in one atomic step: the event is
	// recorded if and only if the link is written. For an event already
	// recorded, fn is not called, nothing is written and applied is false.
	// If fn or the write fails, nothing is recorded, so a retry of the
	// event applies it.
	EventApply(ctx context.Context, e ProviderEvent, id string, fn func(*Link) ([]Event, error)) (l Link, applied bool, err error)
	// OutboxPublished marks the recorded events with these ids as handed
	// to subscribers; unknown ids are ignored.
	OutboxPublished(ctx context.Context, ids []string) error
	// OutboxClaim returns up to limit recorded events, oldest first, that
	// are not published, were recorded before before, and are not claimed
	// by another caller now; it claims them for lease. A claim that
	// lapses (its caller died before OutboxPublished) is claimed again.
	OutboxClaim(ctx context.Context, before time.Time, lease time.Duration, limit int) ([]Event, error)
	// RiskLimits returns the limits last set, or none.
	RiskLimits(ctx context.Context) (RiskLimits, error)
	// SetRiskLimits replaces them.
	SetRiskLimits(ctx context.Context, l RiskLimits) error
	// LinksCreatedSince returns the links created after since, of
	// currency (every currency if empty), in no particular order.
	LinksCreatedSince(ctx context.Context, since time.Time, currency string) ([]Link, error)
	// Rollouts returns the provider rollouts by currency (never nil).
	Rollouts(ctx context.Context) (map[string]Rollout, error)
	// SetRollouts replaces them.
	SetRollouts(ctx context.Context, r map[string]Rollout) error
}
