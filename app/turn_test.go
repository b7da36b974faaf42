package app_test

import (
	"net"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v4"

	"guidecall/app"
)

// turnClient holds one relay allocated on a node's bundled TURN server.
type turnClient struct {
	node       *app.App
	user, pass string
}

func newTURNClient(t *testing.T, node *app.App, user, pass string) (*turn.Client, net.PacketConn) {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := turn.NewClient(&turn.ClientConfig{
		TURNServerAddr: node.TURN.UDPAddr().String(),
		Username:       user, Password: pass, Realm: "guidecall",
		Conn: conn, RTO: 100 * time.Millisecond,
		LoggerFactory: logging.NewDefaultLoggerFactory(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); _ = conn.Close() })
	return c, conn
}

// allocateTURN allocates a relay with the credential, failing the test if
// it cannot.
func allocateTURN(t *testing.T, node *app.App, user, pass string) *turnClient {
	t.Helper()
	c, _ := newTURNClient(t, node, user, pass)
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("allocate with the call's credential: %v", err)
	}
	t.Cleanup(func() { _ = relay.Close() })
	return &turnClient{node: node, user: user, pass: pass}
}

// allocateAgain tries a second allocation with the same credential from a
// new client address.
func (tc *turnClient) allocateAgain(t *testing.T) error {
	t.Helper()
	c, _ := newTURNClient(t, tc.node, tc.user, tc.pass)
	relay, err := c.Allocate()
	if err == nil {
		_ = relay.Close()
	}
	return err
}

// waitAllocations waits, boundedly, until the node's TURN server holds
// want allocations: pion creates and deletes them on its own goroutines.
func waitAllocations(t *testing.T, node *app.App, want int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for node.TURN.Stats().ActiveAllocations != want {
		if time.Now().After(deadline) {
			t.Fatalf("TURN allocations = %d, want %d", node.TURN.Stats().ActiveAllocations, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
