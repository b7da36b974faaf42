package turnserver

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"
)

// Relays come from the configured range only, and the bytes they carry
// are counted both ways.
func TestRelayPortRangeAndTraffic(t *testing.T) {
	probe, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := probe.LocalAddr().(*net.UDPAddr).Port
	_ = probe.Close()
	// A small range starting at a port the OS just handed out, so it is
	// likely free; pion retries within it when one is taken.
	lo, hi := uint16(base), uint16(base+20)
	s := startServer(t, func(c *Config) { c.RelayPortMin, c.RelayPortMax = lo, hi })
	a := allocated(t, s, "shopper")
	b := allocated(t, s, "guide")
	for _, c := range []*testClient{a, b} {
		p := c.relay.LocalAddr().(*net.UDPAddr).Port
		if p < int(lo) || p > int(hi) {
			t.Fatalf("relay on port %d, outside %d-%d", p, lo, hi)
		}
	}

	if _, err := b.relay.WriteTo([]byte("hello a"), a.relay.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	want := []byte("hello b")
	buf := make([]byte, 1500)
	deadline := time.Now().Add(3 * time.Second)
	for {
		if _, err := a.relay.WriteTo(want, b.relay.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		_ = b.relay.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, _, err := b.relay.ReadFrom(buf)
		if err == nil && bytes.Equal(buf[:n], want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no datagram relayed: %v", err)
		}
	}
	st := s.Stats()
	if st.PacketsToPeers == 0 || st.BytesToPeers < uint64(len(want)) || st.PacketsFromPeers == 0 || st.BytesFromPeers < uint64(len(want)) {
		t.Fatalf("relayed traffic not counted: %+v", st)
	}
}

func TestRelayPortRangeValidates(t *testing.T) {
	for _, r := range [][2]uint16{{0, 50000}, {50000, 0}, {50001, 50000}} {
		_, err := New(Config{Secret: testSecret, RelayPortMin: r[0], RelayPortMax: r[1]})
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("range %d-%d: %v, want ErrInvalidConfig", r[0], r[1], err)
		}
	}
}
