package webhook

import "errors"

var (
	// ErrBadSignature is returned when a signature header is missing,
	// malformed, wrong or outside the time tolerance.
	ErrBadSignature = errors.New("webhook: bad signature")
	// ErrInvalidDelivery is returned by Enqueue for a delivery without an
	// id or an absolute http(s) URL, or naming a key the outbox lacks.
	ErrInvalidDelivery = errors.New("webhook: invalid delivery")
	// ErrFull is returned by a MemoryOutbox holding as many deliveries as
	// it may.
	ErrFull = errors.New("webhook: outbox full")
	// ErrStopped is returned by an outbox that was stopped.
	ErrStopped = errors.New("webhook: outbox stopped")
)
