package turnserver

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/turn/v5"
)

// benchTURN starts a server on 127.0.0.1 with OS-chosen ports and the
// default worker count, and stops it when the benchmark ends.
func benchTURN(b *testing.B, unbatched bool) *Server {
	b.Helper()
	s, err := New(Config{ListenIP: "127.0.0.1", Secret: []byte("bench-secret"), Logger: slog.New(slog.DiscardHandler), UnbatchedUDP: unbatched})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := s.Stop(); err != nil {
			b.Errorf("Stop: %v", err)
		}
	})
	return s
}

// benchRelay allocates a relay for id through a pion client over UDP.
func benchRelay(b *testing.B, s *Server, id string) net.PacketConn {
	b.Helper()
	user, pass := NewCredentials([]byte("bench-secret"), id, time.Hour, time.Now())
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	c, err := turn.NewClient(&turn.ClientConfig{
		TURNServerAddr: s.UDPAddr().String(), Username: user, Password: pass, Realm: "guidecall",
		Conn: conn, RTO: 100 * time.Millisecond,
		LoggerFactory: slogFactory{l: slog.New(slog.DiscardHandler)},
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		b.Fatal(err)
	}
	relay, err := c.Allocate()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = relay.Close()
		c.Close()
		_ = conn.Close()
	})
	return relay
}

// BenchmarkRelayThroughput sends 1200-byte datagrams (a typical
// video RTP packet inside SRTP) from one client's relay to another's through
// one server on loopback: client → server (ChannelData or Send) → relay
// socket → peer relay socket → server → client. MB/s counts payload bytes
// sent. A window of 64 datagrams in flight keeps the sender from simply
// overrunning socket buffers; datagrams the window gives up on after 20 ms
// are counted as lost and reported as lost_%.
func BenchmarkRelayThroughput(b *testing.B) {
	b.Run("batched", func(b *testing.B) { benchRelayThroughput(b, false) })
	b.Run("unbatched", func(b *testing.B) { benchRelayThroughput(b, true) })
}

func benchRelayThroughput(b *testing.B, unbatched bool) {
	const size, window = 1200, 64
	s := benchTURN(b, unbatched)
	from := benchRelay(b, s, "shopper")
	to := benchRelay(b, s, "guide")

	// Permissions both ways: to must permit from's relay address before
	// from's datagrams are let in; from's first write asks for its own.
	if _, err := to.WriteTo([]byte("permit"), from.LocalAddr()); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, size)
	buf := make([]byte, 1500)
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, err := from.WriteTo(payload, to.LocalAddr()); err != nil {
			b.Fatal(err)
		}
		_ = to.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, _, err := to.ReadFrom(buf); err == nil {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("no datagram relayed in 5s")
		}
	}
	// Drain warm-up stragglers.
	for {
		_ = to.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, _, err := to.ReadFrom(buf); err != nil {
			break
		}
	}

	var got atomic.Int64
	progress := make(chan struct{}, 1)
	stop := make(chan struct{})
	readDone := make(chan error, 1)
	go func() {
		rbuf := make([]byte, 1500)
		for {
			_ = to.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			n, _, err := to.ReadFrom(rbuf)
			switch {
			case err == nil && n == size:
				got.Add(1)
				select {
				case progress <- struct{}{}:
				default:
				}
				continue
			case err == nil:
				continue
			case !isTimeout(err):
				readDone <- err
				return
			}
			select {
			case <-stop:
				readDone <- nil
				return
			default:
			}
		}
	}()

	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	var given int64 // datagrams the window stopped waiting for
	limit := time.Now().Add(2 * time.Minute)
	for i := 0; i < b.N; i++ {
		for int64(i)-got.Load()-given >= window {
			select {
			case <-progress:
			case <-time.After(20 * time.Millisecond):
				given = int64(i) - got.Load()
			}
		}
		if _, err := from.WriteTo(payload, to.LocalAddr()); err != nil {
			b.Fatal(err)
		}
		if time.Now().After(limit) {
			b.Fatalf("still sending after 2 minutes (%d of %d)", i, b.N)
		}
	}
	// Wait for the tail until it stops arriving.
	for got.Load() < int64(b.N) {
		before := got.Load()
		time.Sleep(20 * time.Millisecond)
		if got.Load() == before {
			break
		}
	}
	b.StopTimer()
	close(stop)
	if err := <-readDone; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(100*float64(int64(b.N)-got.Load())/float64(b.N), "lost_%")
}

// isTimeout reports a read deadline: pion's relay conn has its own
// timeout error rather than os.ErrDeadlineExceeded.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
