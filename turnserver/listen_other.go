//go:build !linux

package turnserver

import (
	"context"
	"log/slog"
	"net"
	"syscall"
)

// Elsewhere we do not rely on SO_REUSEPORT semantics (they differ on BSDs
// and do not exist on Windows); New clamps UDPWorkers to 1.
const reusePortSupported = false

func listenUDP(ctx context.Context, addr string) (net.PacketConn, error) {
	var lc net.ListenConfig

	return lc.ListenPacket(ctx, "udp", addr)
}

func growReadBuffer(conn net.PacketConn, bytes int, log *slog.Logger) int {
	udp, ok := conn.(*net.UDPConn)
	if !ok {
		return 0
	}
	if err := udp.SetReadBuffer(bytes); err != nil {
		log.Debug("turnserver: SetReadBuffer failed", "err", err)

		return 0
	}

	return bytes
}

// setReuse does nothing here: without SO_REUSEPORT a TCP relay's Connect
// cannot leave from its listener's port, and RFC 6062 Connect fails with
// 447 on these systems.
func setReuse(syscall.RawConn) error { return nil }
