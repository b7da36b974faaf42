package turnserver

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/turn/v5"
)

// relayGenerator hands pion the relay sockets: UDP sockets (RFC 8656) and
// TCP listeners plus outgoing TCP connections (RFC 6062), IPv4 and, when
// the operator gave an IPv6 relay address, IPv6. It owns three things pion
// leaves to the caller:
//
//   - The hole that admitting our own relay IP opens. A TURN permission is
//     per IP, so once the relay IP is allowed (needed for relay-to-relay
//     between two clients of this server) a client could reach any port on
//     it: our own TURN port, the HTTP API, a DNS resolver on 127.0.0.53.
//     UDP relay sockets refuse to write to the relay IP unless the port is a
//     live UDP relay, and a TCP Connect to it is refused unless the port is
//     a live TCP relay listener.
//   - The per-credential allocation cap, counted here where pion passes the
//     user id and where every allocation's socket is created and closed, so
//     the count can neither leak nor be overshot by a burst across workers
//     (the quota handler answers 486 from the same count; only the racing
//     extra ones get 508 from here).
//   - The relay port range, for a firewall written for exactly it.
type relayGenerator struct {
	v4, v6     relayFamily // relay address and bind address per family
	allowed    []netip.Prefix
	minPort    uint16
	maxPort    uint16
	maxPerUser int

	mu      sync.Mutex
	live    map[relayKey]closer // live relay sockets, for the own-IP guard and Revoke
	perUser map[string]int      // allocations per credential id

	counters *relayCounters // the server's, which outlive one Start
	fast     *fastPath      // nil: every datagram goes through pion
	reader   relayReader    // nil: each relay's pion loop reads its socket
	noGSO    atomic.Bool    // the kernel refused UDP_SEGMENT: datagram by datagram
}

// relayReader reads relay sockets for their pion loops (relayPoller).
type relayReader interface {
	add(*relayConn) error
	remove(*relayConn)
	close()
}

// relayFamily is one address family's relay: the address advertised to
// clients and the one sockets bind to (they differ behind 1:1 NAT).
type relayFamily struct {
	public netip.Addr // invalid: this family is not offered
	bind   netip.Addr
}

// relayKey names one relay socket: TCP and UDP, IPv4 and IPv6 each have
// their own port space.
type relayKey struct {
	tcp, v6 bool
	port    int
}

// closer is what Revoke needs of a relay socket: closing it makes pion
// delete the allocation.
type closer interface{ Close() error }

// relayCounters count what relay sockets carried and refused.
type relayCounters struct {
	bytesToPeers, packetsToPeers     atomic.Uint64
	bytesFromPeers, packetsFromPeers atomic.Uint64
	ownPortRefused                   atomic.Uint64
	quotaOvershoot                   atomic.Uint64
	gsoTrains, gsoDatagrams          atomic.Uint64 // UDP_SEGMENT sends and what they carried
}

var (
	_ turn.RelayAddressGenerator = (*relayGenerator)(nil)
	_ turn.RelayAddressGenerator = udpOnly{}
)

func newRelayGenerator(v4, v6 relayFamily, allowed []netip.Prefix) *relayGenerator {
	return &relayGenerator{
		v4: v4, v6: v6, allowed: allowed,
		live:     make(map[relayKey]closer),
		perUser:  make(map[string]int),
		counters: &relayCounters{},
	}
}

// withPortRange allocates relay ports from [minPort, maxPort] only; 0, 0
// leaves the choice to the OS.
func (g *relayGenerator) withPortRange(minPort, maxPort uint16) *relayGenerator {
	g.minPort, g.maxPort = minPort, maxPort
	return g
}

// withQuota caps concurrent allocations per credential id; 0 is no cap.
func (g *relayGenerator) withQuota(n int) *relayGenerator {
	g.maxPerUser = n
	return g
}

func (g *relayGenerator) Validate() error {
	if !g.v4.public.IsValid() && !g.v6.public.IsValid() {
		return errors.New("turnserver: no relay address")
	}
	return nil
}

// family picks the relay family for a pion network name ("udp4", "tcp6").
func (g *relayGenerator) family(network string) (relayFamily, bool, error) {
	v6 := network == "udp6" || network == "tcp6"
	f := g.v4
	if v6 {
		f = g.v6
	}
	if !f.public.IsValid() {
		return f, v6, fmt.Errorf("%w: %s", errFamilyNotOffered, network)
	}
	return f, v6, nil
}

// userCount reports the allocations id holds.
func (g *relayGenerator) userCount(id string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.perUser[id]
}

// reserve takes one allocation slot of id, or says the cap is reached.
func (g *relayGenerator) reserve(id string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.maxPerUser > 0 && g.perUser[id] >= g.maxPerUser {
		g.counters.quotaOvershoot.Add(1)
		return false
	}
	g.perUser[id]++
	return true
}

func (g *relayGenerator) unreserve(id string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.unreserveLocked(id)
}

func (g *relayGenerator) unreserveLocked(id string) {
	if g.perUser[id]--; g.perUser[id] <= 0 {
		delete(g.perUser, id)
	}
}

// ports yields the ports to try: the requested one, or random ones from
// the range, or 0 (the OS picks).
func (g *relayGenerator) ports(requested int) []int {
	switch {
	case requested != 0:
		return []int{requested}
	case g.minPort == 0:
		return []int{0}
	}
	// Many tries before giving up: a nearly full range is still a range.
	tries := make([]int, 64)
	span := int(g.maxPort) - int(g.minPort) + 1
	for i := range tries {
		tries[i] = int(g.minPort) + rand.IntN(span) //nolint:gosec // port choice, not a secret
	}
	return tries
}

func (g *relayGenerator) AllocatePacketConn(conf turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	f, v6, err := g.family(conf.Network)
	if err != nil {
		return nil, nil, err
	}
	if !g.reserve(conf.UserID) {
		return nil, nil, errQuota
	}
	var lc net.ListenConfig
	for _, port := range g.ports(conf.RequestedPort) {
		conn, err := lc.ListenPacket(context.Background(), conf.Network, net.JoinHostPort(f.bind.String(), strconv.Itoa(port)))
		if err != nil {
			continue
		}
		udp := conn.(*net.UDPConn)
		bound := udp.LocalAddr().(*net.UDPAddr).Port
		rc := &relayConn{UDPConn: udp, g: g, key: relayKey{v6: v6, port: bound}, user: conf.UserID, addrs: newAddrCache()}
		if g.reader != nil {
			if err := g.reader.add(rc); err != nil {
				_ = udp.Close()
				g.unreserve(conf.UserID)
				return nil, nil, err
			}
		}
		g.mu.Lock()
		g.live[rc.key] = rc
		g.mu.Unlock()
		return rc, &net.UDPAddr{IP: f.public.AsSlice(), Port: bound}, nil
	}
	g.unreserve(conf.UserID)
	return nil, nil, fmt.Errorf("%w: %s ports %d-%d", errNoRelayPort, conf.Network, g.minPort, g.maxPort)
}

func (g *relayGenerator) AllocateListener(conf turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	f, v6, err := g.family(conf.Network)
	if err != nil {
		return nil, nil, err
	}
	if !g.reserve(conf.UserID) {
		return nil, nil, errQuota
	}
	// The relay's outgoing connections (Connect) leave from the listener's
	// own address, which needs SO_REUSEADDR/SO_REUSEPORT on both.
	lc := net.ListenConfig{Control: reuseAddrPort}
	for _, port := range g.ports(conf.RequestedPort) {
		ln, err := lc.Listen(context.Background(), conf.Network, net.JoinHostPort(f.bind.String(), strconv.Itoa(port)))
		if err != nil {
			continue
		}
		bound := ln.Addr().(*net.TCPAddr).Port
		rl := &relayListener{Listener: ln, g: g, key: relayKey{tcp: true, v6: v6, port: bound}, user: conf.UserID}
		g.mu.Lock()
		g.live[rl.key] = rl
		g.mu.Unlock()
		return rl, &net.TCPAddr{IP: f.public.AsSlice(), Port: bound}, nil
	}
	g.unreserve(conf.UserID)
	return nil, nil, fmt.Errorf("%w: %s ports %d-%d", errNoRelayPort, conf.Network, g.minPort, g.maxPort)
}

// AllocateConn dials a peer for an RFC 6062 Connect. pion has already run
// the permission handler on the peer's IP; what is left is the own-IP
// guard, and binding to the bind address rather than the advertised one
// pion passes (they differ behind NAT).
func (g *relayGenerator) AllocateConn(conf turn.AllocateConnConfig) (net.Conn, error) {
	f, _, err := g.family(conf.Network)
	if err != nil {
		return nil, err
	}
	remote, ok := conf.RemoteAddr.(*net.TCPAddr)
	if !ok {
		return nil, fmt.Errorf("turnserver: Connect to %v: not a TCP address", conf.RemoteAddr)
	}
	if !g.connectAllowed(remote) {
		g.counters.ownPortRefused.Add(1)
		return nil, errRelayPortRefused
	}
	local, _ := conf.LocalAddr.(*net.TCPAddr)
	d := net.Dialer{Control: reuseAddrPort, Timeout: 30 * time.Second}
	if local != nil {
		d.LocalAddr = &net.TCPAddr{IP: f.bind.AsSlice(), Port: local.Port}
		if f.bind.IsUnspecified() {
			d.LocalAddr = &net.TCPAddr{Port: local.Port}
		}
	}
	return d.Dial(conf.Network, remote.String())
}

// closeRelay closes the relay socket behind key, if one is live.
func (g *relayGenerator) closeRelay(key relayKey) bool {
	g.mu.Lock()
	c := g.live[key]
	g.mu.Unlock()
	if c == nil {
		return false
	}
	_ = c.Close()
	return true
}

func (g *relayGenerator) release(key relayKey, user string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.live, key)
	g.unreserveLocked(user)
}

// isRelayIP reports whether ip is one of our advertised relay addresses
// and not inside an operator-approved prefix (to which the guard yields).
func (g *relayGenerator) isRelayIP(ip netip.Addr) (bool, bool) {
	ip = ip.Unmap()
	v6 := ip.Is6()
	if ip != g.v4.public && ip != g.v6.public {
		return false, v6
	}
	for _, p := range g.allowed {
		if p.Contains(ip) {
			return false, v6
		}
	}
	return true, v6
}

func (g *relayGenerator) writeAllowed(to netip.AddrPort) bool {
	own, v6 := g.isRelayIP(to.Addr())
	if !own {
		// Everything else was judged by the permission handler.
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.live[relayKey{v6: v6, port: int(to.Port())}]
	return ok
}

func (g *relayGenerator) connectAllowed(to *net.TCPAddr) bool {
	ip, ok := netip.AddrFromSlice(to.IP)
	if !ok {
		return false
	}
	own, v6 := g.isRelayIP(ip)
	if !own {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok = g.live[relayKey{tcp: true, v6: v6, port: to.Port}]
	return ok
}

// udpOnly is the generator the UDP listeners get: RFC 6062 allows TCP
// allocations only over a TCP or TLS control connection, so an Allocate
// for TCP transport over UDP is refused.
type udpOnly struct{ *relayGenerator }

func (udpOnly) AllocateListener(turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, errTCPOverUDP
}

func (udpOnly) AllocateConn(turn.AllocateConnConfig) (net.Conn, error) {
	return nil, errTCPOverUDP
}

// relayConn is one UDP relay socket. It reads and writes through the
// netip.AddrPort calls, which allocate nothing, and hands pion source
// addresses from a per-socket cache, so a steady stream from one peer
// costs no allocation per datagram.
type relayConn struct {
	*net.UDPConn
	g         *relayGenerator
	key       relayKey
	user      string
	addrs     *addrCache
	closeOnce sync.Once

	// routes are the channels bound on this relay, by peer (fastPath).
	routesMu sync.RWMutex
	routes   map[netip.AddrPort]*channelRoute

	pollState // set when a relayReader reads this socket
}

// pollState is what a relayConn carries when a relayReader reads it.
type pollState struct {
	raw     syscall.RawConn
	token   uint64
	pending chan pendingDatagram
	closed  chan struct{}
}

// pendingDatagram is one datagram for a relay's pion loop.
type pendingDatagram struct {
	from netip.AddrPort
	data []byte
}

// readPending is ReadFrom when a relayReader reads the socket.
func (c *relayConn) readPending(p []byte) (int, net.Addr, error) {
	select {
	case d := <-c.pending:
		return copy(p, d.data), c.addrs.get(d.from), nil
	case <-c.closed:
		return 0, nil, net.ErrClosed
	}
}

func (c *relayConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	to, ok := addrPortOf(addr)
	if !ok {
		return 0, fmt.Errorf("turnserver: relay write to %v: not a UDP address", addr)
	}
	return c.writeToAddrPort(p, to)
}

func (c *relayConn) writeToAddrPort(p []byte, to netip.AddrPort) (int, error) {
	if !c.g.writeAllowed(to) {
		c.g.counters.ownPortRefused.Add(1)
		return 0, errRelayPortRefused
	}
	n, err := c.UDPConn.WriteToUDPAddrPort(p, to)
	if err == nil {
		c.g.counters.bytesToPeers.Add(uint64(n))
		c.g.counters.packetsToPeers.Add(1)
	}
	return n, err
}

// ReadFrom is pion's relay loop reading; a datagram from a peer with a
// channel goes straight back to its client (fastPath) and the loop reads
// on, so pion sees only the rest.
func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	if c.closed != nil {
		return c.readPending(p)
	}
	for {
		n, from, err := c.UDPConn.ReadFromUDPAddrPort(p)
		if err != nil {
			return n, nil, err
		}
		c.g.counters.bytesFromPeers.Add(uint64(n))
		c.g.counters.packetsFromPeers.Add(1)
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		if c.g.fast != nil && c.fromPeer(from, p[:n]) {
			continue
		}
		return n, c.addrs.get(from), nil
	}
}

func (c *relayConn) Close() error {
	c.closeOnce.Do(func() {
		if c.closed != nil {
			c.g.reader.remove(c)
			close(c.closed)
		}
		c.g.release(c.key, c.user)
	})
	return c.UDPConn.Close()
}

// relayListener is one TCP relay listener (RFC 6062).
type relayListener struct {
	net.Listener
	g         *relayGenerator
	key       relayKey
	user      string
	closeOnce sync.Once
}

func (l *relayListener) Close() error {
	l.closeOnce.Do(func() { l.g.release(l.key, l.user) })
	return l.Listener.Close()
}

// addrPortOf converts pion's *net.UDPAddr without allocating.
func addrPortOf(addr net.Addr) (netip.AddrPort, bool) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return netip.AddrPort{}, false
	}
	ip, ok := netip.AddrFromSlice(ua.IP)
	if !ok {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(ua.Port)), true //nolint:gosec // a port fits
}

// reuseAddrPort sets SO_REUSEADDR and SO_REUSEPORT, so a TCP relay's
// listener and its outgoing connections can share one address.
func reuseAddrPort(_, _ string, c syscall.RawConn) error {
	return setReuse(c)
}
