package turnserver

import (
	"bytes"
	"io"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/pion/turn/v5"
)

// refusedPeers are the addresses the black-box probe tries to reach
// through the server: loopback, the private ranges, CGNAT, link-local and
// the cloud metadata endpoint, "this network", multicast and broadcast,
// benchmarking and documentation ranges.
var refusedPeers = []string{
	"127.0.0.2", "127.255.255.254", "10.0.0.1", "172.16.5.4", "192.168.1.1", "100.64.0.1",
	"169.254.169.254", "169.254.1.1", "0.0.0.0", "224.0.0.251", "255.255.255.255",
	"198.18.0.1", "192.0.2.1",
}

// refusedPeers6 are the IPv6 spellings, probed through an IPv6 relay. ::1
// is missing because it is the test's IPv6 relay address, admitted for
// relay-to-relay; TestIPv6RelayToRelay probes its other ports.
var refusedPeers6 = []string{
	"fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
	"64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1", "2001:db8::1", "::",
}

// dialTCP returns a pion client whose control connection is TCP.
func dialTCP(t *testing.T, addr net.Addr, user, pass string, family turn.RequestedAddressFamily) *turn.Client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr.String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c, err := turn.NewClient(&turn.ClientConfig{
		TURNServerAddr: addr.String(), Username: user, Password: pass, Realm: "guidecall",
		Conn: turn.NewSTUNConn(conn), RequestedAddressFamily: family,
		LoggerFactory: slogFactory{l: quietLogger()},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); _ = conn.Close() })
	return c
}

// TestProbeRefusesSpecialPeers is the black-box probe: a credential
// holder tries to reach every refused range through the server, over a UDP
// and a TCP control connection, with a UDP relay (CreatePermission, a Send
// indication, ChannelBind through the relay's WriteTo) and with a TCP relay
// (RFC 6062 Connect), and nothing gets through.
func TestProbeRefusesSpecialPeers(t *testing.T) {
	s := startServer(t, func(c *Config) { c.RelayIPv6 = "::1" })
	user, pass := NewCredentials(testSecret, "prober", time.Minute, time.Now())

	udpRelay := dial(t, s, user, pass)
	if err := udpRelay.allocate(); err != nil {
		t.Fatal(err)
	}
	tcpCtl := dialTCP(t, s.TCPAddr(), user, pass, turn.RequestedAddressFamilyIPv4)
	tcpCtlRelay, err := tcpCtl.Allocate()
	if err != nil {
		t.Fatalf("UDP relay over TCP: %v", err)
	}
	t.Cleanup(func() { _ = tcpCtlRelay.Close() })
	tcpAlloc, err := dialTCP(t, s.TCPAddr(), user, pass, turn.RequestedAddressFamilyIPv4).AllocateTCP()
	if err != nil {
		t.Fatalf("TCP relay: %v", err)
	}
	t.Cleanup(func() { _ = tcpAlloc.Close() })
	tcpAlloc6, err := dialTCP(t, s.TCPAddr(), user, pass, turn.RequestedAddressFamilyIPv6).AllocateTCP()
	if err != nil {
		t.Fatalf("IPv6 TCP relay: %v", err)
	}
	t.Cleanup(func() { _ = tcpAlloc6.Close() })
	udp6 := dialTCP(t, s.TCPAddr(), user, pass, turn.RequestedAddressFamilyIPv6)
	udpRelay6, err := udp6.Allocate()
	if err != nil {
		t.Fatalf("IPv6 UDP relay: %v", err)
	}
	t.Cleanup(func() { _ = udpRelay6.Close() })

	before := s.Stats().PermissionsRefused
	probes := 0
	probeUDP := func(name string, c *turn.Client, relay net.PacketConn, peer netip.Addr) {
		addr := net.UDPAddrFromAddrPort(netip.AddrPortFrom(peer, 9))
		if err := c.CreatePermission(addr); err == nil {
			t.Errorf("%s: CreatePermission %s succeeded", name, peer)
		}
		if _, err := relay.WriteTo([]byte("probe"), addr); err == nil {
			t.Errorf("%s: WriteTo %s succeeded", name, peer)
		}
		probes += 2
	}
	connect4 := func(a net.Addr) error { _, err := tcpAlloc.Connect(a); return err }
	connect6 := func(a net.Addr) error { _, err := tcpAlloc6.Connect(a); return err }
	probeTCP := func(name string, connect func(net.Addr) error, peer netip.Addr) {
		if err := connect(net.TCPAddrFromAddrPort(netip.AddrPortFrom(peer, 80))); err == nil {
			t.Errorf("%s: Connect %s succeeded", name, peer)
		}
		probes++
	}
	for _, p := range refusedPeers {
		peer := netip.MustParseAddr(p)
		probeUDP("udp control", udpRelay.c, udpRelay.relay, peer)
		probeUDP("tcp control", tcpCtl, tcpCtlRelay, peer)
		probeTCP("tcp relay", connect4, peer)
	}
	for _, p := range refusedPeers6 {
		peer := netip.MustParseAddr(p)
		if peer.Is4In6() {
			// A mapped address is an IPv4 peer on the wire.
			probeTCP("tcp relay", connect4, peer)
			continue
		}
		probeUDP("ipv6 udp relay", udp6, udpRelay6, peer)
		probeTCP("ipv6 tcp relay", connect6, peer)
	}
	if got := s.Stats().PermissionsRefused - before; got < uint64(probes)/2 {
		t.Errorf("PermissionsRefused rose by %d over %d probes", got, probes)
	}
}

// The relay IP is admitted for relay-to-relay, but an RFC 6062 Connect to
// it reaches only live TCP relays: not the TURN port, not a local service.
func TestTCPConnectToOwnIPNonRelayPortRefused(t *testing.T) {
	s := startServer(t, nil)
	victim, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close()
	user, pass := NewCredentials(testSecret, "prober", time.Minute, time.Now())
	a, err := dialTCP(t, s.TCPAddr(), user, pass, turn.RequestedAddressFamilyIPv4).AllocateTCP()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, target := range []net.Addr{victim.Addr(), s.TCPAddr()} {
		if _, err := a.Dial("tcp4", target.String()); err == nil {
			t.Errorf("Connect through the relay to %s succeeded", target)
		}
	}
	if s.Stats().OwnPortRefused < 2 {
		t.Errorf("OwnPortRefused = %d, want 2", s.Stats().OwnPortRefused)
	}
}

// TestTCPRelayAllocation: an RFC 6062 TCP relay carries a byte stream both
// ways to a peer the operator allowed, and counts against the quota.
func TestTCPRelayAllocation(t *testing.T) {
	echo, err := net.Listen("tcp4", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 here: %v", err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); _ = c.Close() }()
		}
	}()
	s := startServer(t, func(c *Config) {
		c.AllowedPeers = []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}
		c.MaxAllocationsPerUser = 1
	})
	user, pass := NewCredentials(testSecret, "tcp-user", time.Minute, time.Now())
	a, err := dialTCP(t, s.TCPAddr(), user, pass, turn.RequestedAddressFamilyIPv4).AllocateTCP()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, ok := a.Addr().(*net.TCPAddr); !ok || a.Addr().(*net.TCPAddr).IP.String() != "127.0.0.1" {
		t.Fatalf("relayed address %v", a.Addr())
	}
	conn, err := a.Dial("tcp4", echo.Addr().String())
	if err != nil {
		t.Fatalf("Connect to the allowed peer: %v", err)
	}
	defer conn.Close()
	want := bytes.Repeat([]byte("relayed over tcp "), 200)
	if _, err := conn.Write(want); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(conn, got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("echo through the TCP relay: %v", err)
	}
	// The TCP relay holds the id's one allocation.
	if _, err := dialTCP(t, s.TCPAddr(), user, pass, turn.RequestedAddressFamilyIPv4).AllocateTCP(); err == nil {
		t.Fatal("a second allocation over a cap of 1 succeeded")
	}
}

// RFC 6062 allows TCP relays only over a TCP or TLS control connection.
func TestTCPRelayOverUDPRefused(t *testing.T) {
	s := startServer(t, nil)
	user, pass := NewCredentials(testSecret, "udp-user", time.Minute, time.Now())
	c := dial(t, s, user, pass)
	if a, err := c.c.AllocateTCP(); err == nil {
		_ = a.Close()
		t.Fatal("a TCP relay over a UDP control connection was allocated")
	}
	if s.Stats().ActiveAllocations != 0 {
		t.Fatalf("stats %+v", s.Stats())
	}
}

// TestIPv6RelayToRelay: with an IPv6 relay address, a client asking for an
// IPv6 relay gets one, and two such relays reach each other.
func TestIPv6RelayToRelay(t *testing.T) {
	s := startServer(t, func(c *Config) { c.RelayIPv6 = "::1" })
	var relays []net.PacketConn
	for _, id := range []string{"shopper6", "guide6"} {
		user, pass := NewCredentials(testSecret, id, time.Minute, time.Now())
		r, err := dialTCP(t, s.TCPAddr(), user, pass, turn.RequestedAddressFamilyIPv6).Allocate()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		if ip := r.LocalAddr().(*net.UDPAddr).IP; ip.String() != "::1" {
			t.Fatalf("relay %v, want on ::1", r.LocalAddr())
		}
		relays = append(relays, r)
	}
	a, b := relays[0], relays[1]
	if _, err := b.WriteTo([]byte("permit"), a.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	for deadline := time.Now().Add(3 * time.Second); ; {
		if _, err := a.WriteTo([]byte("hello over v6"), b.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		_ = b.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, _, err := b.ReadFrom(buf)
		if err == nil && string(buf[:n]) == "hello over v6" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing relayed over IPv6: %v", err)
		}
	}
	// Other ports on the IPv6 relay address are not reachable.
	victim, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close()
	refused := s.Stats().OwnPortRefused
	if _, err := a.WriteTo([]byte("probe"), victim.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(3 * time.Second); s.Stats().OwnPortRefused == refused; {
		if time.Now().After(deadline) {
			t.Fatal("a datagram to a non-relay port on the IPv6 relay address was not refused")
		}
		time.Sleep(5 * time.Millisecond)
	}

	// Without an IPv6 relay address, IPv6 relays are refused.
	s4 := startServer(t, nil)
	user, pass := NewCredentials(testSecret, "v4only", time.Minute, time.Now())
	if r, err := dialTCP(t, s4.TCPAddr(), user, pass, turn.RequestedAddressFamilyIPv6).Allocate(); err == nil {
		_ = r.Close()
		t.Fatal("an IPv6 relay without an IPv6 relay address")
	}
	if got := s.ICEConfig("x").ICEServers[0].URLs[0]; got != "turn:127.0.0.1:"+strconv.Itoa(s.UDPAddr().(*net.UDPAddr).Port)+"?transport=udp" {
		t.Fatalf("URL %s", got)
	}
}
