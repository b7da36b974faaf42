package turnserver

import (
	"bufio"
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// sniffListener serves TURN over TLS and plain TURN over TCP on one port:
// a TLS connection opens with a handshake record (first byte 0x16), a STUN
// message or ChannelData frame never does (their first two bits are 00 or
// 01). Deciding happens on the connection's first Read, in pion's
// goroutine for that connection, so a slow client never holds up Accept.
type sniffListener struct {
	net.Listener
	cfg *tls.Config
}

// handshakeTimeout bounds the sniff and the TLS handshake: a connection
// that says nothing for this long is closed.
const handshakeTimeout = 10 * time.Second

func newSniffListener(l net.Listener, cert func(*tls.ClientHelloInfo) (*tls.Certificate, error)) *sniffListener {
	return &sniffListener{Listener: l, cfg: &tls.Config{
		GetCertificate: cert,
		MinVersion:     tls.VersionTLS12,
	}}
}

func (l *sniffListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &sniffConn{Conn: c, cfg: l.cfg}, nil
}

// sniffConn becomes a *tls.Conn or stays the raw connection on first use.
type sniffConn struct {
	net.Conn // the raw connection: addresses and deadlines
	cfg      *tls.Config

	once sync.Once
	rw   net.Conn // what Read and Write go through once decided
	err  error
}

// bufferedConn replays the sniffed byte before the rest of the stream.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

func (c *sniffConn) decide() {
	_ = c.Conn.SetReadDeadline(time.Now().Add(handshakeTimeout))
	br := bufio.NewReaderSize(c.Conn, 4096)
	first, err := br.Peek(1)
	if err != nil {
		c.err = err
		return
	}
	buffered := &bufferedConn{Conn: c.Conn, r: br}
	if first[0] != 0x16 {
		c.rw = buffered
		_ = c.Conn.SetReadDeadline(time.Time{})
		return
	}
	tc := tls.Server(buffered, c.cfg)
	if err := tc.Handshake(); err != nil {
		c.err = err
		return
	}
	_ = c.Conn.SetReadDeadline(time.Time{})
	c.rw = tc
}

func (c *sniffConn) Read(p []byte) (int, error) {
	c.once.Do(c.decide)
	if c.err != nil {
		return 0, c.err
	}
	return c.rw.Read(p)
}

func (c *sniffConn) Write(p []byte) (int, error) {
	c.once.Do(c.decide)
	if c.err != nil {
		return 0, c.err
	}
	return c.rw.Write(p)
}
