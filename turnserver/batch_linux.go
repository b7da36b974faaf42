//go:build linux

package turnserver

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

const batchSupported = true

// wrapBatch puts a batchConn in front of a UDP socket.
func wrapBatch(c net.PacketConn, pool *sync.Pool, stats *batchStats) (net.PacketConn, error) {
	udp, ok := c.(*net.UDPConn)
	if !ok {
		return c, nil
	}
	return newBatchConn(udp, pool, stats)
}

// batchSize is how many datagrams one recvmmsg or sendmmsg moves at most.
const batchSize = 32

// slotSize holds any datagram pion accepts (its inbound MTU is 1600).
const slotSize = 2048

// batchConn is the net.PacketConn pion reads from and writes to, over one
// UDP socket, moving datagrams in batches: recvmmsg fills up to batchSize
// slots at once and ReadFrom hands them out one by one; WriteTo queues a
// copy and whichever writer holds the socket sends everything queued with
// one sendmmsg (flat combining: no extra goroutine, and a lone writer
// sends at once). Source addresses come from an addrCache, so the steady
// state allocates nothing per datagram.
//
// golang.org/x/net's ipv4.PacketConn ReadBatch/WriteBatch make the same
// system calls, but allocate a net.IP and a *net.UDPAddr for every message
// read (internal/socket's parseInetAddr), which is what this avoids.
type batchConn struct {
	*net.UDPConn
	raw syscall.RawConn
	v6  bool // an AF_INET6 socket: destinations are written as IPv6 (v4-mapped)

	// Reading: one reader (pion's read loop for this socket).
	rb      *readBatch
	rnext   int
	rn      int
	rerr    error
	readFn  func(uintptr) bool
	addrs   *addrCache
	rbatchs *sync.Pool

	// Writing: any goroutine (responses from the read loop, relayed
	// datagrams from every allocation's relay loop).
	sendMu  sync.Mutex // held by the writer draining the queue
	queueMu sync.Mutex
	queue   *writeBatch // datagrams waiting for the socket
	spare   *writeBatch // the batch being sent, swapped with queue
	writeFn func(uintptr) bool
	sending *writeBatch
	sent    int
	werr    error

	noGSO atomic.Bool // the kernel refused a train: one datagram a message

	stats *batchStats
	fast  *fastPath  // nil: every datagram goes to pion
	peers *peerSends // the read batch's ChannelData for peers (reader only)
	laddr *net.UDPAddr
}

// batchStats count what batching achieved, for Stats and the benchmark.
type batchStats struct {
	readCalls, readMsgs     atomic.Uint64
	writeCalls, writeMsgs   atomic.Uint64
	writeErrors             atomic.Uint64
	gsoTrains, gsoDatagrams atomic.Uint64 // sendmmsg messages that were trains
}

type readBatch struct {
	hdrs  [batchSize]unix.Mmsghdr
	iovs  [batchSize]unix.Iovec
	names [batchSize]unix.RawSockaddrInet6
	bufs  [batchSize][slotSize]byte
}

// recvmmsg reads up to n (at most batchSize) datagrams from fd without
// blocking, into the batch's buffers made ready for the call.
func (rb *readBatch) recvmmsg(fd uintptr, n int) (int, unix.Errno) {
	for i := range n {
		rb.iovs[i].Base = &rb.bufs[i][0]
		rb.iovs[i].SetLen(slotSize)
		h := &rb.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&rb.names[i]))
		h.Namelen = unix.SizeofSockaddrInet6
		h.Iov = &rb.iovs[i]
		h.SetIovlen(1)
		h.Control, h.Controllen, h.Flags = nil, 0, 0
		rb.hdrs[i].Len = 0
	}
	got, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&rb.hdrs[0])), uintptr(n), unix.MSG_DONTWAIT, 0, 0)
	return int(got), errno
}

// writeBatch is what a listener sends with one sendmmsg: n messages
// holding nbuf datagrams. Consecutive ChannelData of one size to one
// client share a message as a UDP_SEGMENT train (its iovecs are
// consecutive in iovs), unless gso is off.
type writeBatch struct {
	n, nbuf int
	hdrs    [batchSize]unix.Mmsghdr
	names   [batchSize]unix.RawSockaddrInet6
	to      [batchSize]netip.AddrPort
	first   [batchSize]int // each message's first buffer
	segs    [batchSize]int // datagrams in each message
	segSize [batchSize]int // their size (the last may be shorter)
	ended   [batchSize]bool
	oobs    [batchSize][32]byte
	iovs    [batchSize]unix.Iovec
	bufs    [batchSize][slotSize]byte
	gso     bool // may trains be formed
}

func (w *writeBatch) full() bool { return w.nbuf == batchSize }

// newBatchConn wraps a UDP socket; c must not be used directly afterwards.
func newBatchConn(c *net.UDPConn, pool *sync.Pool, stats *batchStats) (*batchConn, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	la, _ := c.LocalAddr().(*net.UDPAddr)
	b := &batchConn{
		UDPConn: c, raw: raw, v6: la != nil && la.IP.To4() == nil,
		addrs: newAddrCache(), rbatchs: pool,
		queue: new(writeBatch), spare: new(writeBatch),
		stats: stats, peers: new(peerSends),
	}
	b.readFn = b.recv
	b.writeFn = b.send
	if la != nil {
		// The 16-byte form, for the reason addrCache gives.
		a16 := la.AddrPort().Addr().As16()
		b.laddr = &net.UDPAddr{IP: a16[:], Port: la.Port}
	}
	return b, nil
}

// LocalAddr is asked by pion for every datagram (the 5-tuple's
// destination); the std library's would cost an allocation in pion's To16.
func (b *batchConn) LocalAddr() net.Addr {
	if b.laddr == nil {
		return b.UDPConn.LocalAddr()
	}
	return b.laddr
}

// setFastPath lets a batched listener relay ChannelData itself.
func setFastPath(c net.PacketConn, f *fastPath) bool {
	b, ok := c.(*batchConn)
	if ok {
		b.fast = f
	}
	return ok
}

// newReadBatchPool pools read batches across sockets: a socket holds one
// only while it has datagrams not yet handed to pion.
func newReadBatchPool() *sync.Pool {
	return &sync.Pool{New: func() any { return new(readBatch) }}
}

func (b *batchConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		if b.rnext < b.rn {
			data, from := b.datagram(b.rnext)
			b.rnext++
			if b.relayFast(from, data) {
				continue
			}
			// Relayed datagrams read before this one leave before pion
			// sees it, so nothing overtakes a client's own datagrams.
			b.peers.flush()
			return copy(p, data), b.addrs.get(from), nil
		}
		b.rnext, b.rn, b.rerr = 0, 0, nil
		if err := b.raw.Read(b.readFn); err != nil {
			return 0, nil, err
		}
		if b.rerr != nil {
			return 0, nil, b.rerr
		}
	}
}

// datagram is the i-th datagram of the read batch and its source.
func (b *batchConn) datagram(i int) ([]byte, netip.AddrPort) {
	rb := b.rb
	from := sockaddrToAddrPort(&rb.names[i])
	return rb.bufs[i][:rb.hdrs[i].Len], netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
}

// relayFast queues data for its peer if it is ChannelData on a channel
// the fast path knows.
func (b *batchConn) relayFast(from netip.AddrPort, data []byte) bool {
	if b.fast == nil {
		return false
	}
	r, payload := b.fast.route(from, data)
	if r == nil {
		return false
	}
	b.peers.add(r, payload)
	return true
}

// recv runs recvmmsg when the socket is readable and relays the fast
// path's datagrams itself, without leaving the runtime poller's read
// loop; it returns true with the read batch positioned at the first
// datagram for pion (or an error), false to wait for more.
func (b *batchConn) recv(fd uintptr) bool {
	for {
		if b.rb == nil {
			b.rb = b.rbatchs.Get().(*readBatch)
		}
		n, errno := b.rb.recvmmsg(fd, batchSize)
		switch {
		case errno == unix.EAGAIN:
			b.releaseBatch()
			return false
		case errno == unix.EINTR:
			continue
		case errno != 0:
			b.releaseBatch()
			b.rerr = os.NewSyscallError("recvmmsg", errno)
			return true
		}
		b.rn, b.rnext = n, 0
		b.stats.readCalls.Add(1)
		b.stats.readMsgs.Add(uint64(n))
		for b.rnext < b.rn {
			data, from := b.datagram(b.rnext)
			if !b.relayFast(from, data) {
				return true // pion's, from here on
			}
			b.rnext++
		}
		// All of it was relayed: it leaves before its buffers are reused.
		b.peers.flush()
		b.rn, b.rnext = 0, 0
		if int(n) < batchSize {
			// The socket was empty when recvmmsg returned, so a datagram
			// that came in since raises a readiness event the poller has
			// not yet reported: waiting now loses nothing, and saves the
			// recvmmsg that would only answer EAGAIN.
			b.releaseBatch()
			return false
		}
	}
}

// releaseBatch gives the read batch back to the pool while the socket
// waits.
func (b *batchConn) releaseBatch() {
	if b.rb != nil {
		b.rbatchs.Put(b.rb)
		b.rb = nil
	}
}

func (b *batchConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	to, ok := addrPortOf(addr)
	if !ok {
		return 0, fmt.Errorf("turnserver: write to %v: not a UDP address", addr)
	}
	if len(p) > slotSize {
		// Never from pion (its messages are below its MTU); not batched.
		return b.UDPConn.WriteToUDPAddrPort(p, to)
	}
	b.enqueue(p, 0, nil, to)
	return len(p), nil
}

// enqueue queues p (or a ChannelData message, see putChannel) and sends
// the queue unless another writer is at it.
func (b *batchConn) enqueue(p []byte, number uint16, payload []byte, to netip.AddrPort) {
	for {
		b.queueMu.Lock()
		q := b.queue
		if !q.full() {
			q.gso = !b.noGSO.Load()
			q.putChannel(p, number, payload, to, b.v6)
			b.queueMu.Unlock()
			break
		}
		b.queueMu.Unlock()
		// Full: wait for the writer, or become it.
		b.sendMu.Lock()
		b.flushLocked()
		b.sendMu.Unlock()
	}
	// Whoever holds sendMu drains the queue, and checks it again after
	// letting go, so a datagram queued while it was sending is not left
	// behind.
	for b.sendMu.TryLock() {
		b.flushLocked()
		b.sendMu.Unlock()
		b.queueMu.Lock()
		empty := b.queue.n == 0
		b.queueMu.Unlock()
		if empty {
			break
		}
	}
}

// flushLocked sends everything queued; the caller holds sendMu.
func (b *batchConn) flushLocked() {
	b.queueMu.Lock()
	w := b.queue
	b.queue, b.spare = b.spare, w
	b.queueMu.Unlock()
	for b.sending, b.sent = w, 0; b.sent < w.n; {
		b.werr = nil
		if err := b.raw.Write(b.writeFn); err != nil {
			// The socket is closed: what is queued is lost with it.
			break
		}
		if b.werr != nil {
			i := b.sent
			b.sent++
			if w.segs[i] > 1 && gsoRefused(b.werr) {
				// The kernel will not cut trains: send this one's
				// datagrams one by one, and form no more.
				b.noGSO.Store(true)
				b.sendSegments(w, i)
				continue
			}
			// One datagram the kernel refused (unreachable, too big):
			// drop it and carry on with the rest.
			b.stats.writeErrors.Add(1)
		}
	}
	w.n, w.nbuf = 0, 0
}

// sendSegments sends message i of w datagram by datagram.
func (b *batchConn) sendSegments(w *writeBatch, i int) {
	for k := w.first[i]; k < w.first[i]+w.segs[i]; k++ {
		if _, err := b.UDPConn.WriteToUDPAddrPort(w.bufs[k][:w.iovs[k].Len], w.to[i]); err != nil {
			b.stats.writeErrors.Add(1)
			continue
		}
		b.stats.writeCalls.Add(1)
		b.stats.writeMsgs.Add(1)
	}
}

func (b *batchConn) send(fd uintptr) bool {
	w := b.sending
	n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&w.hdrs[b.sent])), uintptr(w.n-b.sent), unix.MSG_DONTWAIT, 0, 0)
	switch {
	case errno == unix.EAGAIN:
		return false
	case errno == unix.EINTR:
		return b.send(fd)
	case errno != 0:
		b.werr = errno
		return true
	}
	datagrams := 0
	for i := b.sent; i < b.sent+int(n); i++ {
		datagrams += w.segs[i]
		if w.segs[i] > 1 {
			b.stats.gsoTrains.Add(1)
			b.stats.gsoDatagrams.Add(uint64(w.segs[i])) //nolint:gosec // positive
		}
	}
	b.sent += int(n)
	b.stats.writeCalls.Add(1)
	b.stats.writeMsgs.Add(uint64(datagrams)) //nolint:gosec // positive
	return true
}

// writeChannelData queues a ChannelData message (RFC 8656 section 12.4:
// number, length, data; over UDP no padding) to a client.
func (b *batchConn) writeChannelData(number uint16, payload []byte, to netip.AddrPort) error {
	if len(payload)+4 > slotSize {
		return errTooBig
	}
	b.enqueue(nil, number, payload, to)
	return nil
}

// queueChannelData queues a ChannelData message without sending it; the
// caller flushes once it has queued a round's worth.
func (b *batchConn) queueChannelData(number uint16, payload []byte, to netip.AddrPort) {
	for {
		b.queueMu.Lock()
		if q := b.queue; !q.full() && len(payload)+4 <= slotSize {
			q.gso = !b.noGSO.Load()
			q.putChannel(nil, number, payload, to, b.v6)
			b.queueMu.Unlock()
			return
		}
		b.queueMu.Unlock()
		if len(payload)+4 > slotSize {
			return
		}
		b.flush()
	}
}

// flush sends what is queued, waiting for another writer if one is at it.
func (b *batchConn) flush() {
	b.sendMu.Lock()
	b.flushLocked()
	b.sendMu.Unlock()
}

func (w *writeBatch) put(p []byte, to netip.AddrPort, v6 bool) {
	w.putChannel(p, 0, nil, to, v6)
}

// putChannel queues p, or with p nil a ChannelData header for number
// followed by payload; ChannelData joins the last message's train when it
// can.
func (w *writeBatch) putChannel(p []byte, number uint16, payload []byte, to netip.AddrPort, v6 bool) {
	k := w.nbuf
	w.nbuf++
	n := 0
	if p != nil {
		n = copy(w.bufs[k][:], p)
	} else {
		binary.BigEndian.PutUint16(w.bufs[k][0:2], number)
		binary.BigEndian.PutUint16(w.bufs[k][2:4], uint16(len(payload))) //nolint:gosec // below slotSize
		n = 4 + copy(w.bufs[k][4:], payload)
	}
	w.iovs[k].Base = &w.bufs[k][0]
	w.iovs[k].SetLen(n)
	if i := w.n - 1; p == nil && w.gso && i >= 0 && w.to[i] == to && w.segSize[i] > 0 && !w.ended[i] &&
		n <= w.segSize[i] && w.segs[i] < gsoMaxSegments && (w.segs[i]+1)*w.segSize[i] <= gsoMaxBytes {
		w.segs[i]++
		w.ended[i] = n < w.segSize[i]
		h := &w.hdrs[i].Hdr
		h.SetIovlen(w.segs[i])
		if w.segs[i] == 2 {
			oob := putSegmentCmsg(w.oobs[i][:], w.segSize[i])
			h.Control = &oob[0]
			h.SetControllen(len(oob))
		}
		return
	}
	i := w.n
	w.n++
	w.to[i], w.first[i], w.segs[i], w.ended[i] = to, k, 1, false
	w.segSize[i] = 0
	if p == nil {
		w.segSize[i] = n // only ChannelData forms trains
	}
	h := &w.hdrs[i].Hdr
	h.Name = (*byte)(unsafe.Pointer(&w.names[i]))
	h.Namelen = addrPortToSockaddr(to, v6, &w.names[i])
	h.Iov = &w.iovs[k]
	h.SetIovlen(1)
	h.Control, h.Controllen, h.Flags = nil, 0, 0
	w.hdrs[i].Len = 0
}

// sockaddrToAddrPort decodes what recvmmsg wrote, without allocating.
func sockaddrToAddrPort(sa *unix.RawSockaddrInet6) netip.AddrPort {
	b := (*[unix.SizeofSockaddrInet6]byte)(unsafe.Pointer(sa))
	port := binary.BigEndian.Uint16(b[2:4])
	if sa.Family == unix.AF_INET {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), port)
	}
	return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])), port)
}

// addrPortToSockaddr encodes to for a socket of the given family and
// returns the length to pass.
func addrPortToSockaddr(to netip.AddrPort, v6 bool, sa *unix.RawSockaddrInet6) uint32 {
	b := (*[unix.SizeofSockaddrInet6]byte)(unsafe.Pointer(sa))
	clear(b[:])
	binary.BigEndian.PutUint16(b[2:4], to.Port())
	if !v6 {
		sa.Family = unix.AF_INET
		a4 := to.Addr().Unmap().As4()
		copy(b[4:8], a4[:])
		return unix.SizeofSockaddrInet4
	}
	sa.Family = unix.AF_INET6
	a16 := to.Addr().As16() // an IPv4 address comes out v4-mapped
	copy(b[8:24], a16[:])
	return unix.SizeofSockaddrInet6
}
