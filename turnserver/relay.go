package turnserver

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/pion/turn/v4"
)

// relayGenerator wraps pion's static generator to close the hole that
// admitting our own relay IP opens. A TURN permission is per IP, so once the
// relay IP is allowed (needed for relay-to-relay between two clients of this
// server) a client could send to any UDP port on it: our own TURN port, a
// DNS resolver on 127.0.0.53, anything else bound there. The sockets it
// hands out refuse to write to the relay IP unless the port is a live relay.
type relayGenerator struct {
	inner   turn.RelayAddressGenerator
	relayIP netip.Addr
	allowed []netip.Prefix // operator AllowedPeers: the guard yields to them

	mu    sync.Mutex
	ports map[int]int // live relay port -> sockets holding it
	conns map[int]*guardedConn

	counters *relayCounters // the server's, which outlive one Start
}

// relayCounters count what relay sockets carried and refused.
type relayCounters struct {
	bytesToPeers, packetsToPeers     atomic.Uint64
	bytesFromPeers, packetsFromPeers atomic.Uint64
	ownPortRefused                   atomic.Uint64
}

// withPortRange allocates relay ports from [minPort, maxPort] only, so a
// firewall can be written for them; 0, 0 leaves the choice to the OS.
func (g *relayGenerator) withPortRange(minPort, maxPort uint16) *relayGenerator {
	if minPort == 0 && maxPort == 0 {
		return g
	}
	static := g.inner.(*turn.RelayAddressGeneratorStatic)
	g.inner = &turn.RelayAddressGeneratorPortRange{
		RelayAddress: static.RelayAddress, Address: static.Address, MinPort: minPort, MaxPort: maxPort,
		// Many tries before giving up: a nearly full range is still a range.
		MaxRetries: 64,
	}
	return g
}

var _ turn.RelayAddressGenerator = (*relayGenerator)(nil)

func newRelayGenerator(bindAddr string, relayIP netip.Addr, allowed []netip.Prefix) *relayGenerator {
	return &relayGenerator{
		inner: &turn.RelayAddressGeneratorStatic{
			RelayAddress: net.IP(relayIP.AsSlice()),
			Address:      bindAddr,
		},
		relayIP:  relayIP,
		allowed:  allowed,
		ports:    make(map[int]int),
		conns:    make(map[int]*guardedConn),
		counters: &relayCounters{},
	}
}

// closePort closes the relay socket on port, if one is live.
func (g *relayGenerator) closePort(port int) bool {
	g.mu.Lock()
	c := g.conns[port]
	g.mu.Unlock()
	if c == nil {
		return false
	}
	_ = c.Close()
	return true
}

func (g *relayGenerator) Validate() error { return g.inner.Validate() }

func (g *relayGenerator) AllocatePacketConn(network string, requestedPort int) (net.PacketConn, net.Addr, error) {
	conn, addr, err := g.inner.AllocatePacketConn(network, requestedPort)
	if err != nil {
		return nil, nil, err
	}
	port := 0
	if ua, ok := addr.(*net.UDPAddr); ok {
		port = ua.Port
	}
	gc := &guardedConn{PacketConn: conn, g: g, port: port}
	g.mu.Lock()
	g.ports[port]++
	g.conns[port] = gc
	g.mu.Unlock()

	return gc, addr, nil
}

// AllocateConn is pion's RFC 6062 hook; v4.1.4's server never calls it and
// its static generator returns an error, which we pass through.
func (g *relayGenerator) AllocateConn(network string, requestedPort int) (net.Conn, net.Addr, error) {
	return g.inner.AllocateConn(network, requestedPort)
}

func (g *relayGenerator) release(port int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ports[port]--; g.ports[port] <= 0 {
		delete(g.ports, port)
		delete(g.conns, port)
	}
}

func (g *relayGenerator) writeAllowed(to net.Addr) bool {
	ua, ok := to.(*net.UDPAddr)
	if !ok {
		return false
	}
	ip, ok := netip.AddrFromSlice(ua.IP)
	if !ok {
		return false
	}
	ip = ip.Unmap()
	if ip != g.relayIP {
		// Everything else was judged by the permission handler.
		return true
	}
	for _, p := range g.allowed {
		if p.Contains(ip) {
			return true
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()

	return g.ports[ua.Port] > 0
}

type guardedConn struct {
	net.PacketConn
	g         *relayGenerator
	port      int
	closeOnce sync.Once
}

func (c *guardedConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if !c.g.writeAllowed(addr) {
		c.g.counters.ownPortRefused.Add(1)
		return 0, errRelayPortRefused
	}
	n, err := c.PacketConn.WriteTo(p, addr)
	if err == nil {
		c.g.counters.bytesToPeers.Add(uint64(n))
		c.g.counters.packetsToPeers.Add(1)
	}
	return n, err
}

func (c *guardedConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, err := c.PacketConn.ReadFrom(p)
	if err == nil {
		c.g.counters.bytesFromPeers.Add(uint64(n))
		c.g.counters.packetsFromPeers.Add(1)
	}
	return n, addr, err
}

func (c *guardedConn) Close() error {
	c.closeOnce.Do(func() { c.g.release(c.port) })

	return c.PacketConn.Close()
}
