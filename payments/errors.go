package payments

import "errors"

// Sentinel errors. Callers test them with errors.Is; functions wrap them with
// %w and add context.
var (
	// ErrUnknownCurrency is returned for a code that is not an active
	// ISO 4217 currency.
	ErrUnknownCurrency = errors.New("payments: unknown currency")
	// ErrInvalidLink is returned when the parameters of a new link do not
	// validate (amount, items, description).
	ErrInvalidLink = errors.New("payments: invalid payment link")
	// ErrIdempotencyKeyRequired is returned when a create call has no
	// idempotency key or one that is too long.
	ErrIdempotencyKeyRequired = errors.New("payments: idempotency key required")
	// ErrIdempotencyConflict is returned when an idempotency key is reused
	// for the same call with different parameters.
	ErrIdempotencyConflict = errors.New("payments: idempotency key reused with different parameters")
	// ErrDuplicate is returned by a Store when a unique constraint fails.
	ErrDuplicate = errors.New("payments: duplicate")
	// ErrUnavailable is returned by a Store that cannot reach its database
	// right now (refused, dropped, shutting down); the request may succeed
	// if retried later, so HTTP handlers should answer 503.
	ErrUnavailable = errors.New("payments: store unavailable")
	// ErrNotFound is returned when a link or provider reference does not exist.
	ErrNotFound = errors.New("payments: not found")
	// ErrBadSignature is returned when a webhook signature is missing,
	// malformed, wrong or outside the time tolerance.
	ErrBadSignature = errors.New("payments: bad webhook signature")
	// ErrBadWebhook is returned when a correctly signed webhook has a
	// payload that cannot be understood.
	ErrBadWebhook = errors.New("payments: malformed webhook")
	// ErrIgnoredEvent is what a provider's ParseWebhook wraps for a
	// correctly signed event that moves no link (a type not subscribed
	// to, a refund of a payment made outside guidecall). HandleWebhook
	// answers it 200, so the provider does not retry it.
	ErrIgnoredEvent = errors.New("payments: webhook event ignored")
	// ErrUnknownReference is returned for a webhook whose provider
	// reference matches no link. It answers 500 so that the provider
	// retries the event.
	ErrUnknownReference = errors.New("payments: webhook for an unknown provider reference")
	// ErrUnknownProvider is returned for a provider name that is not
	// configured.
	ErrUnknownProvider = errors.New("payments: unknown provider")
	// ErrProvider wraps failures reported by a payment provider.
	ErrProvider = errors.New("payments: provider error")
	// ErrInvalidTransition is returned when a link cannot move to a status.
	ErrInvalidTransition = errors.New("payments: invalid status transition")
	// ErrUnauthorized and ErrForbidden are what a CallAuthorizer wraps to
	// refuse a request (401 and 403).
	ErrUnauthorized = errors.New("payments: unauthorized")
	ErrForbidden    = errors.New("payments: forbidden")
)
