//go:build linux

package turnserver

import (
	"errors"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// UDP generic segmentation offload (UDP_SEGMENT, Linux 4.18): one sendmsg
// carries a train of datagrams of one size to one destination, and the
// kernel cuts it into datagrams as late as it can (on loopback, at the
// receiving socket), so the train costs one pass through the send path
// instead of one per datagram. The receiver sees ordinary datagrams.

// gsoMaxBytes bounds one train: the IPv4 UDP payload limit, rounded down.
const gsoMaxBytes = 65000

// gsoMaxSegments is the kernel's UDP_MAX_SEGMENTS on every kernel that has
// UDP_SEGMENT (64; newer ones allow 128).
const gsoMaxSegments = 64

// gsoRefused reports whether a send's error means the kernel or the route
// will not segment (too old, no checksum offload on the device, a segment
// above the path MTU): the caller sends datagram by datagram from then on.
func gsoRefused(err error) bool {
	return errors.Is(err, unix.EIO) || errors.Is(err, unix.EINVAL) ||
		errors.Is(err, unix.ENOPROTOOPT) || errors.Is(err, unix.EOPNOTSUPP)
}

// putSegmentCmsg writes the UDP_SEGMENT control message for segments of
// size bytes into oob, which must hold unix.CmsgSpace(2) bytes, and returns
// the part to pass.
func putSegmentCmsg(oob []byte, size int) []byte {
	oob = oob[:unix.CmsgSpace(2)]
	clear(oob)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level = unix.SOL_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&oob[unix.CmsgLen(0)])) = uint16(size) //nolint:gosec // below slotSize
	return oob
}

// toPeer is one ChannelData payload from a client, waiting to leave
// through its relay socket.
type toPeer struct {
	relay *relayConn
	peer  netip.AddrPort
	data  []byte // points into the read batch it came in
}

// peerSends collects what one read batch of a listener relays to peers,
// so datagrams for one relay and peer leave as one train. It belongs to
// the listener's reader goroutine.
type peerSends struct {
	n     int
	d     [batchSize]toPeer
	taken [batchSize]bool
	train [gsoMaxBytes]byte
	oob   [64]byte
}

func (s *peerSends) add(r *channelRoute, data []byte) {
	s.d[s.n] = toPeer{relay: r.relay, peer: r.peer, data: data}
	s.n++
}

// flush sends everything collected: for each relay and peer, in the order
// received, trains of equal-size datagrams (a shorter one may end a train)
// with one sendmsg each, single datagrams with one sendto.
func (s *peerSends) flush() {
	for i := 0; i < s.n; i++ {
		if s.taken[i] {
			continue
		}
		first := s.d[i]
		size := len(first.data)
		segs, end := 1, size
		if size > 0 && !first.relay.g.noGSO.Load() {
			for j := i + 1; j < s.n; j++ {
				d := s.d[j]
				if s.taken[j] || d.relay != first.relay || d.peer != first.peer {
					continue
				}
				// One of this flow that cannot join ends the train, so the
				// flow's order holds.
				if len(d.data) > size || end+len(d.data) > len(s.train) || segs == gsoMaxSegments {
					break
				}
				if segs == 1 {
					copy(s.train[:], first.data)
				}
				end += copy(s.train[end:], d.data)
				segs++
				s.taken[j] = true
				if len(d.data) < size {
					break
				}
			}
		}
		if segs == 1 {
			_, _ = first.relay.writeToAddrPort(first.data, first.peer)
		} else {
			first.relay.writeTrain(s.train[:end], size, segs, first.peer, s.oob[:])
		}
	}
	clear(s.taken[:s.n])
	clear(s.d[:s.n]) // no references into a read batch back in the pool
	s.n = 0
}

// writeTrain sends segs datagrams of size bytes (the last may be shorter)
// to one peer with one UDP_SEGMENT sendmsg, or one by one when the kernel
// refuses.
func (c *relayConn) writeTrain(train []byte, size, segs int, to netip.AddrPort, oob []byte) {
	if !c.g.writeAllowed(to) {
		c.g.counters.ownPortRefused.Add(uint64(segs)) //nolint:gosec // at most gsoMaxSegments
		return
	}
	n, _, err := c.UDPConn.WriteMsgUDPAddrPort(train, putSegmentCmsg(oob, size), to)
	if err == nil {
		c.g.counters.bytesToPeers.Add(uint64(n))      //nolint:gosec // n >= 0
		c.g.counters.packetsToPeers.Add(uint64(segs)) //nolint:gosec // at most gsoMaxSegments
		c.g.counters.gsoTrains.Add(1)
		c.g.counters.gsoDatagrams.Add(uint64(segs)) //nolint:gosec // at most gsoMaxSegments
		return
	}
	if gsoRefused(err) {
		c.g.noGSO.Store(true)
	}
	for off := 0; off < len(train); off += size {
		_, _ = c.writeToAddrPort(train[off:min(off+size, len(train))], to)
	}
}
