package turnserver

import (
	"net"
	"net/netip"
	"sync"

	"github.com/pion/turn/v4"
)

// relayGenerator wraps pion's static generator to close the hole that
// admitting our own relay IP opens. A TURN permission is per IP, so once the
// relay IP is allowed (needed for relay-to-relay between two clients of this
// server) a client could send to any UDP port on it: our own TURN port, a
// DNS resolver on 127.0.0.53, anything else bound there. The sockets it
// hands out refuse to write to the relay IP unless the port is a live relay.
type relayGenerator struct {
	inner   *turn.RelayAddressGeneratorStatic
	relayIP netip.Addr
	allowed []netip.Prefix // operator AllowedPeers: the guard yields to them

	mu    sync.Mutex
	ports map[int]int // live relay port -> sockets holding it
	conns map[int]*guardedConn
}

var _ turn.RelayAddressGenerator = (*relayGenerator)(nil)

func newRelayGenerator(bindAddr string, relayIP netip.Addr, allowed []netip.Prefix) *relayGenerator {
	return &relayGenerator{
		inner: &turn.RelayAddressGeneratorStatic{
			RelayAddress: net.IP(relayIP.AsSlice()),
			Address:      bindAddr,
		},
		relayIP: relayIP,
		allowed: allowed,
		ports:   make(map[int]int),
		conns:   make(map[int]*guardedConn),
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
		return 0, errRelayPortRefused
	}

	return c.PacketConn.WriteTo(p, addr)
}

func (c *guardedConn) Close() error {
	c.closeOnce.Do(func() { c.g.release(c.port) })

	return c.PacketConn.Close()
}
