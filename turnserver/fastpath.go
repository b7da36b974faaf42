package turnserver

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// fastPath relays ChannelData between UDP clients and their relays without
// handing the datagrams to pion, which allocates five to seven times per
// relayed datagram on that path (eager String() of the source address and
// boxed arguments for Debugf calls that log nothing, a fresh ChannelData
// and its buffer for every datagram from a peer, net.IP.To16 of a 4-byte
// address in each 5-tuple lookup). That belongs fixed in pion; until then
// the hot path is ours, and pion keeps everything else: Allocate,
// permissions, ChannelBind and its policy check, Send and Data indications,
// refreshes and expiry.
//
// What it relays is exactly what pion would: pion tells us of each channel
// binding it creates and deletes (EventHandler.OnChannelCreated/Deleted),
// and a ChannelData datagram on a bound channel is written to the channel's
// peer through the relay socket (own-IP guard and counters included); a
// datagram from a bound peer goes back to the client as ChannelData. A
// binding pion has deleted (expired, or its allocation gone, e.g. revoked)
// is deleted here in the same event, so nothing outlives pion's state.
// Only clients on UDP listeners take it; TCP and TLS clients stay on pion.
type fastPath struct {
	mu     sync.RWMutex
	toPeer map[channelKey]*channelRoute

	relayed atomic.Uint64
}

// channelKey names a channel: the client and its channel number.
type channelKey struct {
	client netip.AddrPort
	number uint16
}

// channelRoute is one channel binding, both ways.
type channelRoute struct {
	key   channelKey
	relay *relayConn
	peer  netip.AddrPort
	out   channelWriter // the UDP listener the client is answered from
}

// channelWriter sends a ChannelData message to a client.
type channelWriter interface {
	writeChannelData(number uint16, payload []byte, to netip.AddrPort) error
}

func newFastPath() *fastPath {
	return &fastPath{toPeer: make(map[channelKey]*channelRoute)}
}

func (f *fastPath) add(r *channelRoute) {
	f.mu.Lock()
	f.toPeer[r.key] = r
	f.mu.Unlock()
	r.relay.routesMu.Lock()
	if r.relay.routes == nil {
		r.relay.routes = make(map[netip.AddrPort]*channelRoute)
	}
	r.relay.routes[r.peer] = r
	r.relay.routesMu.Unlock()
}

func (f *fastPath) remove(key channelKey) {
	f.mu.Lock()
	r := f.toPeer[key]
	delete(f.toPeer, key)
	f.mu.Unlock()
	if r == nil {
		return
	}
	r.relay.routesMu.Lock()
	if r.relay.routes[r.peer] == r {
		delete(r.relay.routes, r.peer)
	}
	r.relay.routesMu.Unlock()
}

// route finds the channel a datagram from a UDP client is relayed on,
// and its payload, if it is ChannelData on a bound channel; anything else
// (nil) is pion's.
func (f *fastPath) route(from netip.AddrPort, b []byte) (*channelRoute, []byte) {
	if len(b) < 4 || b[0]&0xC0 != 0x40 {
		return nil, nil
	}
	number := binary.BigEndian.Uint16(b[0:2])
	length := int(binary.BigEndian.Uint16(b[2:4]))
	if length > len(b)-4 {
		return nil, nil // malformed: let pion say so
	}
	f.mu.RLock()
	r := f.toPeer[channelKey{client: from, number: number}]
	f.mu.RUnlock()
	if r == nil {
		return nil, nil
	}
	f.relayed.Add(1)
	return r, b[4 : 4+length]
}

// fromPeer sends a datagram a relay received back to its client as
// ChannelData if the peer has a channel, and reports whether it did.
func (c *relayConn) fromPeer(from netip.AddrPort, payload []byte) bool {
	c.routesMu.RLock()
	r := c.routes[from]
	c.routesMu.RUnlock()
	if r == nil {
		return false
	}
	_ = r.out.writeChannelData(r.key.number, payload, r.key.client)
	c.g.fast.relayed.Add(1)
	return true
}

// onChannelCreated takes a binding pion made into the fast path, when the
// client is on a UDP listener that can write ChannelData.
func (s *Server) onChannelCreated(src, _ net.Addr, _, _, _ string, relay, peer net.Addr, number uint16) {
	client, ok := addrPortOf(src)
	if !ok {
		return // a TCP or TLS client
	}
	peerAP, ok := addrPortOf(peer)
	if !ok {
		return
	}
	s.allocMu.Lock()
	relays := s.relays
	s.allocMu.Unlock()
	if relays == nil || relays.fast == nil {
		return
	}
	out, ok := s.channelOut()
	if !ok {
		return
	}
	relays.mu.Lock()
	rc, _ := relays.live[keyOf(relay)].(*relayConn)
	relays.mu.Unlock()
	if rc == nil {
		return
	}
	relays.fast.add(&channelRoute{key: channelKey{client: client, number: number}, relay: rc, peer: peerAP, out: out})
}

func (s *Server) onChannelDeleted(src, _ net.Addr, _, _, _ string, _, _ net.Addr, number uint16) {
	client, ok := addrPortOf(src)
	if !ok {
		return
	}
	s.allocMu.Lock()
	relays := s.relays
	s.allocMu.Unlock()
	if relays != nil && relays.fast != nil {
		relays.fast.remove(channelKey{client: client, number: number})
	}
}

// channelOut is a UDP listener to answer clients from: the workers share
// one address, so any of them sends from the address the client knows.
func (s *Server) channelOut() (channelWriter, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.udp) == 0 {
		return nil, false
	}
	w, ok := s.udp[0].(channelWriter)
	return w, ok
}
