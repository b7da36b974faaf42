//go:build linux

package turnserver

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func testRelay(t *testing.T, g *relayGenerator, network, addr string) *relayConn {
	t.Helper()
	c, err := net.ListenPacket(network, addr)
	if err != nil {
		t.Skipf("%s %s: %v", network, addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &relayConn{UDPConn: c.(*net.UDPConn), g: g, addrs: newAddrCache()}
}

func sink(t *testing.T, addr string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Skipf("%s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	u := c.(*net.UDPConn)
	_ = u.SetReadBuffer(4 << 20)
	return u
}

// TestPeerSendsTrains: what one read batch relays leaves in trains per
// relay and peer, and every peer gets each datagram on its own, intact,
// in the order the client sent it, shorter ones and interleaved flows
// included; datagrams to our own relay IP on a port that is no relay are
// refused in a train as they are alone. IPv4 and IPv6 relays alike.
func TestPeerSendsTrains(t *testing.T) {
	t.Run("udp4", func(t *testing.T) { testPeerSendsTrains(t, "udp4", "127.0.0.1", "127.0.0.2", false) })
	t.Run("udp6", func(t *testing.T) { testPeerSendsTrains(t, "udp6", "::1", "::1", false) })
	t.Run("refused", func(t *testing.T) { testPeerSendsTrains(t, "udp4", "127.0.0.1", "127.0.0.2", true) })
}

// refuseTrains makes the kernel refuse UDP_SEGMENT on c (EINVAL) as it
// does on a route without checksum offload: it will not cut a train of
// datagrams that carry no checksum.
func refuseTrains(t *testing.T, c *net.UDPConn) {
	t.Helper()
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := raw.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_NO_CHECK, 1) }); err != nil || serr != nil {
		t.Skipf("SO_NO_CHECK: %v %v", err, serr)
	}
}

// With refuse, the kernel refuses trains: everything must still arrive,
// datagram by datagram, and no more trains be tried.
func testPeerSendsTrains(t *testing.T, network, relayIP, peerIP string, refuse bool) {
	ip := netip.MustParseAddr(relayIP)
	fam := relayFamily{public: ip, bind: ip}
	v4, v6 := fam, relayFamily{}
	if ip.Is6() {
		v4, v6 = relayFamily{}, fam
	}
	g := newRelayGenerator(v4, v6, nil)
	hostPort := func(host string) string { return net.JoinHostPort(host, "0") }
	r1, r2 := testRelay(t, g, network, hostPort(relayIP)), testRelay(t, g, network, hostPort(relayIP))
	a, b := sink(t, hostPort(peerIP)), sink(t, hostPort(peerIP))
	// On IPv6 loopback the only address is the relay's own: the peers
	// stand for other relays of this server, whose ports are live.
	if peerIP == relayIP {
		g.live[relayKey{v6: ip.Is6(), port: a.LocalAddr().(*net.UDPAddr).Port}] = nil
		g.live[relayKey{v6: ip.Is6(), port: b.LocalAddr().(*net.UDPAddr).Port}] = nil
	}
	own := sink(t, hostPort(relayIP)) // our relay IP, but no relay's port
	ap := func(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

	type sent struct {
		relay *relayConn
		to    *net.UDPConn
		data  []byte
	}
	var plan []sent
	for i := range 16 {
		size := 1000
		if i == 9 {
			size = 300 // a shorter one ends a train; the flow goes on after it
		}
		p := bytes.Repeat([]byte{byte(i)}, size)
		copy(p, fmt.Sprintf("r1->a %02d", i))
		plan = append(plan, sent{r1, a, p})
		if i%4 == 0 {
			plan = append(plan, sent{r1, b, []byte(fmt.Sprintf("r1->b %02d", i))})
			plan = append(plan, sent{r2, a, []byte(fmt.Sprintf("r2->a %02d", i))})
		}
		if i < 4 {
			plan = append(plan, sent{r1, own, bytes.Repeat([]byte("x"), 1000)})
		}
	}
	if len(plan) > batchSize {
		t.Fatalf("plan of %d does not fit one batch", len(plan))
	}
	if refuse {
		refuseTrains(t, r1.UDPConn)
		refuseTrains(t, r2.UDPConn)
	}
	s := new(peerSends)
	for _, p := range plan {
		s.add(&channelRoute{relay: p.relay, peer: ap(p.to)}, p.data)
	}
	s.flush()

	for _, dst := range []*net.UDPConn{a, b} {
		var want [][]byte
		for _, p := range plan {
			if p.to == dst {
				want = append(want, p.data)
			}
		}
		got := map[string][][]byte{} // per source relay, in arrival order
		buf := make([]byte, 70000)
		_ = dst.SetReadDeadline(time.Now().Add(5 * time.Second))
		for range want {
			n, from, err := dst.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatalf("%v: %v after %d", dst.LocalAddr(), err, len(got))
			}
			got[from.String()] = append(got[from.String()], append([]byte(nil), buf[:n]...))
		}
		for _, r := range []*relayConn{r1, r2} {
			var wantFrom [][]byte
			for _, p := range plan {
				if p.to == dst && p.relay == r {
					wantFrom = append(wantFrom, p.data)
				}
			}
			gotFrom := got[r.LocalAddr().String()]
			if len(gotFrom) != len(wantFrom) {
				t.Fatalf("%v from %v: %d datagrams, want %d", dst.LocalAddr(), r.LocalAddr(), len(gotFrom), len(wantFrom))
			}
			for i := range wantFrom {
				if !bytes.Equal(gotFrom[i], wantFrom[i]) {
					t.Fatalf("%v from %v: datagram %d is %d bytes %q..., want %d bytes %q...", dst.LocalAddr(), r.LocalAddr(), i,
						len(gotFrom[i]), gotFrom[i][:min(8, len(gotFrom[i]))], len(wantFrom[i]), wantFrom[i][:8])
				}
			}
		}
	}
	if n := g.counters.ownPortRefused.Load(); n != 4 {
		t.Fatalf("%d datagrams to our own IP refused, want 4", n)
	}
	// Loopback delivers as it sends: a marker sent now arrives after
	// anything the trains got through, so it must come first.
	marker := sink(t, hostPort(relayIP))
	if _, err := marker.WriteTo([]byte("marker"), own.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	_ = own.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	if n, _, err := own.ReadFrom(buf); err != nil || string(buf[:n]) != "marker" {
		t.Fatalf("a datagram (%d bytes, %v) reached a port on our relay IP that is no relay", n, err)
	}
	switch {
	case refuse && (!g.noGSO.Load() || g.counters.gsoTrains.Load() != 0):
		t.Fatalf("trains refused by the kernel, yet noGSO %v and %d trains counted", g.noGSO.Load(), g.counters.gsoTrains.Load())
	case refuse:
	case g.noGSO.Load():
		t.Logf("the kernel refused UDP_SEGMENT; every datagram went alone")
	default:
		if trains, carried := g.counters.gsoTrains.Load(), g.counters.gsoDatagrams.Load(); trains == 0 || carried < 2*trains {
			t.Fatalf("%d trains carried %d datagrams: nothing was sent as a train", trains, carried)
		}
	}
	if sentN := g.counters.packetsToPeers.Load(); sentN != uint64(len(plan)-4) {
		t.Fatalf("%d datagrams counted to peers, want %d", sentN, len(plan)-4)
	}
}

// TestListenerTrains: ChannelData queued for one client in a row leaves
// as a train and arrives as separate ChannelData messages, intact and in
// order; a STUN-sized message (not ChannelData) or another client in
// between starts a new message, and nothing is lost or counted twice. On
// a dual-stack listener the IPv4 clients are v4-mapped.
func TestListenerTrains(t *testing.T) {
	t.Run("udp4", func(t *testing.T) { testListenerTrains(t, "udp4", "127.0.0.1:0", false) })
	t.Run("dual-stack", func(t *testing.T) { testListenerTrains(t, "udp", "[::]:0", false) })
	t.Run("refused", func(t *testing.T) { testListenerTrains(t, "udp4", "127.0.0.1:0", true) })
}

func testListenerTrains(t *testing.T, network, addr string, refuse bool) {
	b, stats := batchPair(t, network, addr)
	if refuse {
		refuseTrains(t, b.UDPConn)
	}
	c1, c2 := sink(t, "127.0.0.1:0"), sink(t, "127.0.0.1:0")
	ap := func(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }
	type msg struct {
		to   *net.UDPConn
		wire []byte
	}
	var plan []msg
	channel := func(to *net.UDPConn, number uint16, payload []byte) {
		b.queueChannelData(number, payload, ap(to))
		wire := append([]byte{byte(number >> 8), byte(number), byte(len(payload) >> 8), byte(len(payload))}, payload...)
		plan = append(plan, msg{to, wire})
	}
	for i := range 24 {
		size := 1000
		if i == 7 {
			size = 200
		}
		p := bytes.Repeat([]byte{byte(i)}, size)
		copy(p, fmt.Sprintf("c1 %02d", i))
		channel(c1, 0x4000, p)
		if i%8 == 3 {
			channel(c2, 0x4001, []byte(fmt.Sprintf("c2 %02d", i)))
		}
		if i == 12 {
			stun := []byte(fmt.Sprintf("not channel data %02d", i))
			if _, err := b.WriteTo(stun, c1.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, msg{c1, stun})
		}
	}
	b.flush()
	for _, dst := range []*net.UDPConn{c1, c2} {
		buf := make([]byte, 70000)
		_ = dst.SetReadDeadline(time.Now().Add(5 * time.Second))
		k := 0
		for _, m := range plan {
			if m.to != dst {
				continue
			}
			n, err := dst.Read(buf)
			if err != nil {
				t.Fatalf("%v: message %d: %v (stats %+v)", dst.LocalAddr(), k, err, stats)
			}
			if !bytes.Equal(buf[:n], m.wire) {
				t.Fatalf("%v: message %d is %d bytes %q..., want %d bytes %q...", dst.LocalAddr(), k, n, buf[:min(n, 10)], len(m.wire), m.wire[:10])
			}
			k++
		}
	}
	if got := stats.writeMsgs.Load(); got != uint64(len(plan)) || stats.writeErrors.Load() != 0 {
		t.Fatalf("%d datagrams counted sent, %d errors; want %d, 0", got, stats.writeErrors.Load(), len(plan))
	}
	switch {
	case refuse && (!b.noGSO.Load() || stats.gsoTrains.Load() != 0):
		t.Fatalf("trains refused by the kernel, yet noGSO %v and %d trains counted", b.noGSO.Load(), stats.gsoTrains.Load())
	case refuse:
	case b.noGSO.Load():
		t.Logf("the kernel refused UDP_SEGMENT; every datagram went alone")
	default:
		if trains, carried := stats.gsoTrains.Load(), stats.gsoDatagrams.Load(); trains == 0 || carried < 2*trains {
			t.Fatalf("%d trains carried %d datagrams: nothing was sent as a train", trains, carried)
		}
	}
}
