//go:build linux

package turnserver

import (
	"context"
	"log/slog"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

const reusePortSupported = true

// listenUDP binds one UDP socket with SO_REUSEPORT so that several sockets
// can share addr and the kernel spreads clients across them (by 4-tuple
// hash), giving each pion read loop its own socket instead of one hot lock.
func listenUDP(ctx context.Context, addr string) (net.PacketConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}

		return serr
	}}

	return lc.ListenPacket(ctx, "udp", addr)
}

// growReadBuffer asks for bytes of receive buffer. SetReadBuffer is capped by
// net.core.rmem_max (often 208 KiB), too small for bursts of video at many
// allocations per socket; SO_RCVBUFFORCE bypasses the cap when we hold
// CAP_NET_ADMIN, and silently failing it is fine. It returns what the
// kernel actually granted (which Linux reports doubled, for bookkeeping).
func growReadBuffer(conn net.PacketConn, bytes int, log *slog.Logger) int {
	udp, ok := conn.(*net.UDPConn)
	if !ok {
		return 0
	}
	if err := udp.SetReadBuffer(bytes); err != nil {
		log.Debug("turnserver: SetReadBuffer failed", "err", err)
	}
	raw, err := udp.SyscallConn()
	if err != nil {
		return 0
	}
	effective := 0
	_ = raw.Control(func(fd uintptr) {
		// Must come after SetReadBuffer, which would otherwise re-cap it.
		_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, bytes)
		effective, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	})

	return effective
}

// setReuse sets SO_REUSEADDR and SO_REUSEPORT on a socket before bind.
func setReuse(c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); serr == nil {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}
	}); err != nil {
		return err
	}
	return serr
}
