package turnserver

import "errors"

// Sentinels callers can match with errors.Is; New wraps them with the
// offending value.
var (
	ErrInvalidConfig = errors.New("turnserver: invalid config")
	ErrStarted       = errors.New("turnserver: already started")
	ErrStopped       = errors.New("turnserver: stopped")

	// errRelayPortRefused is returned by a relay asked to reach the server's
	// own relay IP on a port that is not a live relay allocation.
	errRelayPortRefused = errors.New("turnserver: relay to own address on a non-relay port refused")
	// errFamilyNotOffered: an allocation of an address family the operator
	// gave no relay address for.
	errFamilyNotOffered = errors.New("turnserver: no relay address for this address family")
	// errQuota: the per-credential cap, found at allocation (a burst that
	// raced past the quota handler).
	errQuota       = errors.New("turnserver: allocation quota reached")
	errNoRelayPort = errors.New("turnserver: no free relay port")
	// errTCPOverUDP: RFC 6062 allows TCP allocations only over TCP or TLS.
	errTCPOverUDP = errors.New("turnserver: TCP allocations need a TCP or TLS control connection")
	errTooBig     = errors.New("turnserver: datagram too big to relay")
)
