package signaling_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"guidecall/protocol"
	"guidecall/signaling"
)

// A handler's panic runs on the socket's own reader goroutine, past the
// HTTP server's recovery: it must end that socket with 1011 and leave the
// node and the other sockets serving.
func TestHandlerPanicClosesOnlyThatSocket(t *testing.T) {
	ctrl := newFakeController()
	hub, err := signaling.NewHub(signaling.Config{Auth: fakeAuth{}, Sessions: ctrl, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	hub.Handle(protocol.TypeQueueCancel, func(context.Context, signaling.Identity, protocol.Envelope) error {
		panic("handler bug")
	}, protocol.RoleShopper)
	hub.Handle(protocol.TypePresence, ctrl.Handle, protocol.RoleGuide)
	srv := httptest.NewServer(hub)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := hub.Shutdown(ctx); err != nil {
			t.Errorf("hub shutdown: %v", err)
		}
		srv.Close()
	})
	e := &env{t: t, hub: hub, ctrl: ctrl, srv: srv, url: "ws" + strings.TrimPrefix(srv.URL, "http")}

	shopper := e.connect(t, "tok-a")
	guide := e.connect(t, "tok-g")
	if err := shopper.Send(protocol.TypeQueueCancel, "", nil); err != nil {
		t.Fatal(err)
	}
	shopper.ExpectClosed(websocket.StatusInternalError)
	if got := expectOne(t, ctrl.closed, "close of the shopper's socket"); got.Address != shopperA.Address {
		t.Errorf("Sessions told of the close of %v, want %v", got.Address, shopperA.Address)
	}
	if err := guide.Send(protocol.TypePresence, "", protocol.Presence{Status: "online"}); err != nil {
		t.Fatal(err)
	}
	if m := expectOne(t, ctrl.handled, "the guide's presence"); m.Type != protocol.TypePresence {
		t.Errorf("handled %s, want presence", m.Type)
	}
	// A new socket is served as before.
	e.connect(t, "tok-b").ExpectOpen()
}

// A client may send its frames right behind the upgrade request, before
// the 101 arrives; the bytes the HTTP server read ahead must reach the
// socket's own (smaller) read buffer in order, however many there are.
func TestFramesSentWithTheUpgrade(t *testing.T) {
	e := newEnv(t, nil)
	nc, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))

	key := make([]byte, 16)
	_, _ = rand.Read(key)
	var req strings.Builder
	fmt.Fprintf(&req, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", nc.RemoteAddr(), base64.StdEncoding.EncodeToString(key))
	out := []byte(req.String())
	out = append(out, clientFrame([]byte(`{"v":1,"type":"auth","data":{"token":"tok-a"}}`))...)
	// Well past the 512-byte read buffer and past one segment of reads.
	const cancels = 40
	for range cancels {
		out = append(out, clientFrame([]byte(`{"v":1,"type":"queue.cancel","data":{}}`))...)
	}
	if _, err := nc.Write(out); err != nil {
		t.Fatal(err)
	}

	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade answered %s", resp.Status)
	}
	if m := serverFrame(t, br); !strings.Contains(string(m), `"type":"welcome"`) {
		t.Fatalf("first frame %s, want the welcome", m)
	}
	for i := range cancels {
		if m := expectOne(t, e.ctrl.handled, "a queue.cancel sent with the upgrade"); m.Type != protocol.TypeQueueCancel {
			t.Fatalf("message %d handled as %s", i, m.Type)
		}
	}
}

// clientFrame is one masked, final text frame.
func clientFrame(payload []byte) []byte {
	f := []byte{0x81}
	switch n := len(payload); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	default:
		f = append(f, 0x80|126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	}
	mask := make([]byte, 4)
	_, _ = rand.Read(mask)
	f = append(f, mask...)
	for i, b := range payload {
		f = append(f, b^mask[i%4])
	}
	return f
}

// serverFrame reads one unmasked, final frame of the server.
func serverFrame(t *testing.T, r io.Reader) []byte {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		t.Fatal(err)
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			t.Fatal(err)
		}
		n = int(binary.BigEndian.Uint16(l[:]))
	case 127:
		t.Fatal("frame over 64 KiB")
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatal(err)
	}
	return b
}
