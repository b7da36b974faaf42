package turnserver

import (
	"net"
	"net/netip"
)

// addrCache hands out one immutable *net.UDPAddr per source address, so a
// socket's reader does not allocate a new one for every datagram (what
// net.UDPConn.ReadFrom does). pion keeps the addresses it is given (in an
// allocation's 5-tuple), so an entry is never changed once handed out;
// when the cache is full it starts over, and the old addresses live on
// with whoever holds them.
//
// It is not safe for concurrent use: each socket has one reader.
type addrCache struct {
	m map[netip.AddrPort]*net.UDPAddr
}

// addrCacheMax bounds the cache: one socket serves at most this many
// distinct sources before the map is dropped and rebuilt.
const addrCacheMax = 1 << 14

func newAddrCache() *addrCache {
	return &addrCache{m: make(map[netip.AddrPort]*net.UDPAddr)}
}

func (c *addrCache) get(ap netip.AddrPort) *net.UDPAddr {
	if a, ok := c.m[ap]; ok {
		return a
	}
	if len(c.m) >= addrCacheMax {
		c.m = make(map[netip.AddrPort]*net.UDPAddr)
	}
	// Always the 16-byte form (IPv4 v4-mapped): pion's 5-tuple lookups
	// call IP.To16, which allocates for a 4-byte IP on every datagram.
	a16 := ap.Addr().As16()
	a := &net.UDPAddr{IP: a16[:], Port: int(ap.Port()), Zone: ap.Addr().Zone()}
	c.m[ap] = a
	return a
}
