package turnserver

import "errors"

// Sentinels callers can match with errors.Is; New wraps them with the
// offending value.
var (
	ErrInvalidConfig = errors.New("turnserver: invalid config")
	ErrStarted       = errors.New("turnserver: already started")
	ErrStopped       = errors.New("turnserver: stopped")

	// errRelayPortRefused is returned by a relay socket asked to write to the
	// server's own relay IP on a port that is not a live relay allocation.
	errRelayPortRefused = errors.New("turnserver: relay to own address on a non-relay port refused")
)
