//go:build linux

package turnserver

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// relayPoller reads every UDP relay socket from one goroutine through its
// own level-triggered epoll set, as coturn's event loop does, instead of
// one pion goroutine per relay parked in Go's netpoller. Per datagram from
// a peer that saves a goroutine wake-up and the recvfrom that only answers
// EAGAIN before the goroutine parks again; each readable relay gives up to
// pollBatch datagrams with one recvmmsg, and the ChannelData they produce
// leave in one sendmmsg per epoll round, consecutive ones to one client
// as one UDP_SEGMENT train. Datagrams that
// are not for a bound channel go to the relay's pion loop through a small
// queue (full: dropped, as a full socket buffer would).
type relayPoller struct {
	epfd, wake int

	mu     sync.Mutex
	conns  map[uint64]*relayConn
	next   uint64
	closed bool
	done   chan struct{}

	// Scratch for the loop goroutine only.
	events [64]unix.EpollEvent
	rb     readBatch
	outs   map[*batchConn]struct{}
	readFn func(uintptr)
	n      int
	rerr   error
}

// pollBatch is how many datagrams one relay gives per round at most, so a
// busy relay cannot starve the others.
const pollBatch = 16

const wakeToken = 0

func newRelayPoller() (*relayPoller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	*(*uint64)(unsafe.Pointer(&ev.Fd)) = wakeToken
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		_ = unix.Close(wake)
		_ = unix.Close(epfd)
		return nil, err
	}
	p := &relayPoller{epfd: epfd, wake: wake, conns: make(map[uint64]*relayConn), next: wakeToken + 1,
		done: make(chan struct{}), outs: make(map[*batchConn]struct{})}
	p.readFn = p.recv
	go p.loop()
	return p, nil
}

// add watches c; its datagrams are read here from now on.
func (p *relayPoller) add(c *relayConn) error {
	raw, err := c.UDPConn.SyscallConn()
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return net.ErrClosed
	}
	token := p.next
	p.next++
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		ev := unix.EpollEvent{Events: unix.EPOLLIN}
		*(*uint64)(unsafe.Pointer(&ev.Fd)) = token
		cerr = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev)
	}); err != nil {
		return err
	}
	if cerr != nil {
		return cerr
	}
	c.raw, c.token = raw, token
	c.pending = make(chan pendingDatagram, 64)
	c.closed = make(chan struct{})
	p.conns[token] = c
	return nil
}

// remove stops watching c, before its socket closes.
func (p *relayPoller) remove(c *relayConn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c.token)
	if p.closed {
		return
	}
	_ = c.raw.Control(func(fd uintptr) {
		_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(fd), nil)
	})
}

// close ends the loop and waits for it.
func (p *relayPoller) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	one := [8]byte{1}
	_, _ = unix.Write(p.wake, one[:])
	<-p.done
	_ = unix.Close(p.wake)
	_ = unix.Close(p.epfd)
}

func (p *relayPoller) loop() {
	defer close(p.done)
	for {
		n, err := unix.EpollWait(p.epfd, p.events[:], -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return
		}
		for i := range n {
			token := *(*uint64)(unsafe.Pointer(&p.events[i].Fd))
			if token == wakeToken {
				return
			}
			p.mu.Lock()
			c := p.conns[token]
			p.mu.Unlock()
			if c != nil {
				p.readOne(c)
			}
		}
		for out := range p.outs {
			out.flush()
			delete(p.outs, out)
		}
	}
}

// readOne reads what c holds, up to pollBatch datagrams (level-triggered:
// more wait for the next round).
func (p *relayPoller) readOne(c *relayConn) {
	p.rerr = nil
	if err := c.raw.Control(p.readFn); err != nil || p.rerr != nil {
		return // closing, or nothing after all
	}
	for i := range p.n {
		data := p.rb.bufs[i][:p.rb.hdrs[i].Len]
		from := sockaddrToAddrPort(&p.rb.names[i])
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		c.g.counters.bytesFromPeers.Add(uint64(len(data)))
		c.g.counters.packetsFromPeers.Add(1)
		if c.g.fast != nil {
			if out := c.fromPeerQueued(from, data); out != nil {
				p.outs[out] = struct{}{}
				continue
			}
		}
		d := pendingDatagram{from: from, data: append([]byte(nil), data...)}
		select {
		case c.pending <- d:
		default:
		}
	}
}

func (p *relayPoller) recv(fd uintptr) {
	n, errno := p.rb.recvmmsg(fd, pollBatch)
	if errno != 0 {
		p.n, p.rerr = 0, errno
		return
	}
	p.n = n
}

// fromPeerQueued is fromPeer for the poller: the ChannelData is queued on
// the client's listener, which the poller flushes once per round.
func (c *relayConn) fromPeerQueued(from netip.AddrPort, payload []byte) *batchConn {
	c.routesMu.RLock()
	r := c.routes[from]
	c.routesMu.RUnlock()
	if r == nil {
		return nil
	}
	out, ok := r.out.(*batchConn)
	if !ok {
		_ = r.out.writeChannelData(r.key.number, payload, r.key.client)
		c.g.fast.relayed.Add(1)
		return nil
	}
	out.queueChannelData(r.key.number, payload, r.key.client)
	c.g.fast.relayed.Add(1)
	return out
}

var _ relayReader = (*relayPoller)(nil)

// newRelayReader is the poller on Linux.
func newRelayReader() (relayReader, error) { return newRelayPoller() }
