package queue

import "errors"

var (
	// ErrNotFound is returned by stores and the service for an unknown
	// entry, guide or call.
	ErrNotFound = errors.New("queue: not found")
	// ErrBadState means the request no longer fits the record: accepting a
	// revoked offer, cancelling an entry already in a call.
	ErrBadState = errors.New("queue: not allowed in the current state")
	// ErrNotParty means the caller is not a party of the call it named.
	ErrNotParty = errors.New("queue: not a party of this call")
	// ErrInvalid wraps validation failures of client input.
	ErrInvalid = errors.New("queue: invalid input")
	// ErrUnavailable means the store cannot be reached right now; HTTP
	// handlers turn it into 503.
	ErrUnavailable = errors.New("queue: store unavailable")
)
