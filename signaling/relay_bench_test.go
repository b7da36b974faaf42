package signaling_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"guidecall/protocol"
	"guidecall/signaling"
)

// The relay benchmarks measure the hub alone: two real WebSockets on
// loopback, a controller whose Route answers "the other party" without a
// store, and the local bus. Client work (JSON encode of the frame, the
// client library's reads and writes) runs in the same process and is part
// of every number, as it would be of a browser's.

var (
	benchShopper = signaling.Identity{Address: signaling.Address{Role: protocol.RoleShopper, ID: "e_bench"}, Name: "Sam"}
	benchGuide   = signaling.Identity{Address: signaling.Address{Role: protocol.RoleGuide, ID: "g_bench"}, Name: "Ada"}
)

type benchAuth struct{}

func (benchAuth) Authenticate(_ context.Context, token string) (signaling.Identity, error) {
	switch token {
	case "shopper":
		return benchShopper, nil
	case "guide":
		return benchGuide, nil
	}
	return signaling.Identity{}, errors.New("unknown token")
}

// benchController puts the two bench parties in one call.
type benchController struct{}

func (benchController) Open(_ context.Context, who signaling.Identity) (protocol.Welcome, error) {
	return protocol.Welcome{Role: who.Role}, nil
}

func (benchController) Close(context.Context, signaling.Identity) {}

func (benchController) Route(_ context.Context, who signaling.Identity, _ protocol.Envelope) (signaling.Address, error) {
	if who.Role == protocol.RoleShopper {
		return benchGuide.Address, nil
	}
	return benchShopper.Address, nil
}

// benchPair serves a hub on loopback and connects both parties to it.
func benchPair(b *testing.B) (shopper, guide *websocket.Conn) {
	b.Helper()
	hub, err := signaling.NewHub(signaling.Config{
		Auth: benchAuth{}, Sessions: benchController{}, Logger: quietLogger(),
		// The per-socket limits protect a node from a client; here the
		// client is the load, so they must not shape the result.
		RatePerSecond: 1 << 30, SendBuffer: 4096,
	})
	if err != nil {
		b.Fatal(err)
	}
	hub.Relay(benchController{}.Route)
	srv := httptest.NewServer(hub)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := hub.Shutdown(ctx); err != nil {
			b.Errorf("hub shutdown: %v", err)
		}
		srv.Close()
	})
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	dial := func(token string) *websocket.Conn {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = ws.CloseNow() })
		if err := ws.Write(ctx, websocket.MessageText, []byte(`{"v":1,"type":"auth","data":{"token":"`+token+`"}}`)); err != nil {
			b.Fatal(err)
		}
		if _, m, err := ws.Read(ctx); err != nil || !strings.Contains(string(m), `"welcome"`) {
			b.Fatalf("welcome: %s %v", m, err)
		}
		return ws
	}
	return dial("shopper"), dial("guide")
}

// iceFrame is a typical trickled candidate, about 230 bytes.
var iceFrame = []byte(`{"v":1,"type":"ice","call_id":"c_0123456789abcdef01234567","data":{"candidate":"candidate:1 1 udp 16777215 127.0.0.1 50000 typ relay raddr 0.0.0.0 rport 0 generation 0 ufrag abcd","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}}`)

// BenchmarkRelay relays ice frames from the shopper's socket to the
// guide's. "sequential" keeps one frame in flight (ns/op is the one-way
// latency of a relayed message); "window32" keeps up to 32 in flight
// (ns/op is the cost per message at saturation, its inverse the rate one
// pair of sockets can sustain).
func BenchmarkRelay(b *testing.B) {
	for _, window := range []int{1, 32} {
		name := "sequential"
		if window > 1 {
			name = "window32"
		}
		b.Run(name, func(b *testing.B) { benchRelay(b, window) })
	}
}

func benchRelay(b *testing.B, window int) {
	shopper, guide := benchPair(b)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prefix := []byte(`{"v":1,"type":"ice",`)
	slots := make(chan struct{}, window)
	errc := make(chan error, 1)
	b.ReportAllocs()
	b.SetBytes(int64(len(iceFrame)))
	b.ResetTimer()
	go func() {
		for i := 0; i < b.N; i++ {
			_, m, err := guide.Read(ctx)
			if err == nil && !bytes.HasPrefix(m, prefix) {
				err = fmt.Errorf("unexpected frame %s", m)
			}
			if err != nil {
				errc <- err
				return
			}
			<-slots
		}
		errc <- nil
	}()
	for i := 0; i < b.N; i++ {
		select {
		case slots <- struct{}{}:
		case err := <-errc:
			b.Fatalf("after %d frames: %v", i, err)
		case <-ctx.Done():
			b.Fatalf("after %d frames: %v", i, ctx.Err())
		}
		if err := shopper.Write(ctx, websocket.MessageText, iceFrame); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
}
