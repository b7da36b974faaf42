//go:build linux

package turnserver

import (
	"bytes"
	"testing"
	"time"
)

func fastRoutes(s *Server) int {
	s.allocMu.Lock()
	f := s.relays.fast
	s.allocMu.Unlock()
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.toPeer)
}

// TestFastPathRelaysChannelsAndForgetsThem: once pion has bound a channel
// each way, relay-to-relay ChannelData takes the fast path (counted), with
// the payload intact; when a relay's credential is revoked its allocation
// goes, pion deletes its channels and the fast path forgets them, so
// nothing more is relayed for it.
func TestFastPathRelaysChannelsAndForgetsThem(t *testing.T) {
	s := startServer(t, nil)
	a := allocated(t, s, "shopper")
	b := allocated(t, s, "guide")
	if _, err := b.relay.WriteTo([]byte("permit"), a.relay.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	want := bytes.Repeat([]byte("media "), 150)
	buf := make([]byte, 1500)
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, err := a.relay.WriteTo(want, b.relay.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		_ = b.relay.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, _, err := b.relay.ReadFrom(buf)
		if err == nil && !bytes.Equal(buf[:n], want) {
			t.Fatalf("relayed %d bytes, not the %d sent", n, len(want))
		}
		if err == nil && s.Stats().FastPathDatagrams > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no datagram on the fast path: %+v", s.Stats())
		}
	}
	if fastRoutes(s) == 0 {
		t.Fatal("no channel in the fast path")
	}
	s.Revoke("shopper")
	s.Revoke("guide")
	waitActive(t, s, 0)
	for deadline := time.Now().Add(5 * time.Second); fastRoutes(s) != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d channels still in the fast path after their allocations went", fastRoutes(s))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
