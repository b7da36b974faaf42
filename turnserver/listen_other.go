//go:build !linux

package turnserver

import (
	"context"
	"log/slog"
	"net"
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
