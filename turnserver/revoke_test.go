package turnserver

import (
	"testing"
	"time"
)

// waitActive waits, boundedly, for the server's count of allocations to
// reach want: pion deletes an allocation from its own goroutine once the
// relay socket fails.
func waitActive(t *testing.T, s *Server, want int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().ActiveAllocations != want {
		if time.Now().After(deadline) {
			t.Fatalf("active allocations = %d, want %d", s.Stats().ActiveAllocations, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRevokeClosesAllocationsAndRefusesNewOnes(t *testing.T) {
	s := startServer(t, nil)
	revoked := allocated(t, s, "entry-1.call-1")
	other := allocated(t, s, "entry-2.call-2")
	waitActive(t, s, 2)

	if n := s.Revoke("entry-1.call-1"); n != 1 {
		t.Fatalf("Revoke closed %d relays, want 1", n)
	}
	waitActive(t, s, 1)

	// A fresh credential of the revoked id, as a client renewing would
	// get, allocates nothing.
	user, pass := NewCredentials(testSecret, "entry-1.call-1", time.Minute, time.Now())
	if err := dial(t, s, user, pass).allocate(); err == nil {
		t.Fatal("a credential of a revoked id allocated a relay")
	}
	if s.Stats().RevokedRefusals == 0 {
		t.Error("RevokedRefusals not counted")
	}
	// The revoked client can no longer name peers; the other still can.
	if err := revoked.c.CreatePermission(other.relay.LocalAddr()); err == nil {
		t.Error("CreatePermission with a revoked credential succeeded")
	}
	if err := other.c.CreatePermission(revoked.relay.LocalAddr()); err != nil {
		t.Errorf("CreatePermission of an unrevoked id: %v", err)
	}
	if got := s.Stats().ActiveAllocations; got != 1 {
		t.Errorf("active allocations after the revocation = %d, want 1", got)
	}
}
