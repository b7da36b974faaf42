//go:build !linux

package turnserver

import (
	"net"
	"sync"
	"sync/atomic"
)

// Elsewhere there is no recvmmsg/sendmmsg: pion reads the socket itself.
const batchSupported = false

type batchStats struct {
	readCalls, readMsgs     atomic.Uint64
	writeCalls, writeMsgs   atomic.Uint64
	writeErrors             atomic.Uint64
	gsoTrains, gsoDatagrams atomic.Uint64
}

func newReadBatchPool() *sync.Pool { return nil }

func wrapBatch(c net.PacketConn, _ *sync.Pool, _ *batchStats) (net.PacketConn, error) {
	return c, nil
}

func setFastPath(net.PacketConn, *fastPath) bool { return false }

func newRelayReader() (relayReader, error) { return nil, nil }
