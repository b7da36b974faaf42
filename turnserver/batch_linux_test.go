//go:build linux

package turnserver

import (
	"bytes"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

func batchPair(t *testing.T, network, addr string) (*batchConn, *batchStats) {
	t.Helper()
	c, err := net.ListenPacket(network, addr)
	if err != nil {
		t.Skipf("%s %s: %v", network, addr, err)
	}
	stats := &batchStats{}
	growReadBuffer(c, 4<<20, quietLogger())
	b, err := newBatchConn(c.(*net.UDPConn), newReadBatchPool(), stats)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b, stats
}

// A burst queued in the socket comes out of one recvmmsg, in order, each
// datagram with its own payload and source.
func TestBatchConnReadsABurst(t *testing.T) {
	b, stats := batchPair(t, "udp4", "127.0.0.1:0")
	var senders []net.PacketConn
	for range 2 {
		s, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		senders = append(senders, s)
	}
	const n = 100
	for i := range n {
		if _, err := senders[i%2].WriteTo([]byte(fmt.Sprintf("datagram %03d", i)), b.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	_ = b.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1600)
	for i := range n {
		k, from, err := b.ReadFrom(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if want := fmt.Sprintf("datagram %03d", i); string(buf[:k]) != want {
			t.Fatalf("got %q, want %q", buf[:k], want)
		}
		if from.String() != senders[i%2].LocalAddr().String() {
			t.Fatalf("datagram %d from %v, want %v", i, from, senders[i%2].LocalAddr())
		}
	}
	if calls, msgs := stats.readCalls.Load(), stats.readMsgs.Load(); msgs != n || calls >= n/4 {
		t.Fatalf("%d datagrams in %d recvmmsg calls: not batched", msgs, calls)
	}
}

// Concurrent writers lose nothing and each datagram reaches its address;
// on an IPv6 socket an IPv4 destination goes out v4-mapped.
func TestBatchConnConcurrentWriters(t *testing.T) {
	for _, tc := range []struct{ network, addr, peer string }{
		{"udp4", "127.0.0.1:0", "127.0.0.1:0"},
		{"udp", "[::]:0", "127.0.0.1:0"},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			b, stats := batchPair(t, tc.network, tc.addr)
			sink, err := net.ListenPacket("udp4", tc.peer)
			if err != nil {
				t.Fatal(err)
			}
			defer sink.Close()
			growReadBuffer(sink, 8<<20, quietLogger())
			const writers, each = 8, 200
			var wg sync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						if _, err := b.WriteTo([]byte(fmt.Sprintf("w%d-%d", w, i)), sink.LocalAddr()); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			seen := map[string]bool{}
			buf := make([]byte, 64)
			_ = sink.SetReadDeadline(time.Now().Add(10 * time.Second))
			for len(seen) < writers*each {
				n, _, err := sink.ReadFrom(buf)
				if err != nil {
					t.Fatalf("after %d of %d datagrams: %v (stats %+v)", len(seen), writers*each, err, stats)
				}
				seen[string(buf[:n])] = true
			}
			wg.Wait()
			if stats.writeMsgs.Load() != writers*each || stats.writeErrors.Load() != 0 {
				t.Fatalf("sent %d datagrams in %d sendmmsg calls, %d errors", stats.writeMsgs.Load(), stats.writeCalls.Load(), stats.writeErrors.Load())
			}
		})
	}
}

// The steady state allocates nothing: a datagram read from a known source
// and one written to a known destination.
func TestBatchConnAllocatesNothing(t *testing.T) {
	b, _ := batchPair(t, "udp4", "127.0.0.1:0")
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	to := peer.LocalAddr()
	payload := bytes.Repeat([]byte{1}, 1000)
	in, out := make([]byte, 1600), make([]byte, 1600)
	roundTrip := func() {
		if _, err := peer.WriteTo(payload, b.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		if _, _, err := b.ReadFrom(in); err != nil {
			t.Fatal(err)
		}
		if _, err := b.WriteTo(payload, to); err != nil {
			t.Fatal(err)
		}
		if _, _, err := peer.ReadFrom(out); err != nil {
			t.Fatal(err)
		}
	}
	roundTrip() // the source's first address is cached here
	// The peer's own ReadFrom and WriteTo allocate (the std library's
	// *UDPAddr); AllocsPerRun counts the whole round trip, so measure them
	// alone and subtract.
	base := testing.AllocsPerRun(200, func() {
		if _, err := peer.WriteTo(payload, peer.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		if _, _, err := peer.ReadFrom(out); err != nil {
			t.Fatal(err)
		}
	})
	got := testing.AllocsPerRun(200, roundTrip)
	if got-base > 0 {
		t.Fatalf("%.1f allocations per datagram read and written (%.1f with the peer's own %.1f)", got-base, got, base)
	}
}
