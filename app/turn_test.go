package app_test

import (
	"context"
	"encoding/json"
	"net"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/turn/v5"

	"guidecall/app"
	"guidecall/internal/config"
	"guidecall/protocol"
	"guidecall/turnserver"
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

// TestGuideTURNRevokedOnLogout: a guide's relay, allocated with the TURN
// credentials of one login, is closed when that login ends, and the
// credentials allocate nothing more.
func TestGuideTURNRevokedOnLogout(t *testing.T) {
	t.Parallel()
	node := startApp(t, nil)
	const email, pw = "turn-guide@test.local", "correct horse battery"
	if _, err := node.Auth.AddAccount(context.Background(), email, "TURN Guide", pw, protocol.RoleGuide); err != nil {
		t.Fatal(err)
	}
	pair, err := node.Auth.Login(context.Background(), email, pw, "192.0.2.7")
	if err != nil {
		t.Fatal(err)
	}
	r := do(t, "GET", node.URL()+"/api/v1/ice-servers", pair.AccessToken, nil, nil)
	var ice struct {
		ICEServers []struct{ Username, Credential string } `json:"iceServers"`
	}
	if r.status != 200 || json.Unmarshal(r.body, &ice) != nil || len(ice.ICEServers) != 1 {
		t.Fatalf("ice-servers: %d %s", r.status, r.body)
	}
	relay := allocateTURN(t, node, ice.ICEServers[0].Username, ice.ICEServers[0].Credential)
	waitAllocations(t, node, 1)

	if r := doJSON(t, "POST", node.URL()+"/api/v1/auth/logout", "", map[string]string{"refresh_token": pair.RefreshToken}, nil); r.status != 204 {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	waitAllocations(t, node, 0)
	if err := relay.allocateAgain(t); err == nil {
		t.Fatal("the TURN credential of an ended login allocated a relay")
	}
}

// TestGuideTURNRevokedOnDisable: disabling a guide closes the relay its
// login allocated, through the admin API, and its credentials allocate
// nothing more.
func TestGuideTURNRevokedOnDisable(t *testing.T) {
	t.Parallel()
	node := startApp(t, nil)
	_, admin := accountToken(t, node, "turn-admin@test.local", protocol.RoleAdmin)
	const email, pw = "turn-disabled@test.local", "correct horse battery"
	acct, err := node.Auth.AddAccount(context.Background(), email, "TURN Guide", pw, protocol.RoleGuide)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := node.Auth.Login(context.Background(), email, pw, "192.0.2.8")
	if err != nil {
		t.Fatal(err)
	}
	r := do(t, "GET", node.URL()+"/api/v1/ice-servers", pair.AccessToken, nil, nil)
	var ice struct {
		ICEServers []struct{ Username, Credential string } `json:"iceServers"`
	}
	if r.status != 200 || json.Unmarshal(r.body, &ice) != nil || len(ice.ICEServers) != 1 {
		t.Fatalf("ice-servers: %d %s", r.status, r.body)
	}
	relay := allocateTURN(t, node, ice.ICEServers[0].Username, ice.ICEServers[0].Credential)
	waitAllocations(t, node, 1)

	if r := doJSON(t, "POST", node.URL()+"/api/v1/admin/accounts/"+acct.ID+"/disable", admin, nil, nil); r.status != 200 {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	waitAllocations(t, node, 0)
	if err := relay.allocateAgain(t); err == nil {
		t.Fatal("the TURN credential of a disabled guide allocated a relay")
	}
}

// TestTURNMaxAllocationsFlag: --turn-max-allocations is the cap per
// credential: with 12, a tool making 12 allocations with one credential
// (coturn's turnutils_uclient -m 12) gets them all and the 13th is refused;
// the default 10 refused the 11th.
func TestTURNMaxAllocationsFlag(t *testing.T) {
	t.Parallel()
	node := startAppConfig(t, func(c *config.Serve) { c.TURN.MaxAllocations = 12 }, nil)
	user, pass := turnserver.NewCredentials([]byte(secret), "uclient", time.Minute, time.Now())
	first := allocateTURN(t, node, user, pass)
	for i := 2; i <= 12; i++ {
		if err := first.allocateAgainKeep(t); err != nil {
			t.Fatalf("allocation %d of 12: %v", i, err)
		}
	}
	if err := first.allocateAgain(t); err == nil {
		t.Fatal("a 13th allocation over --turn-max-allocations 12 succeeded")
	}
	if got := node.TURN.Stats().QuotaRejections; got != 1 {
		t.Fatalf("QuotaRejections = %d, want 1", got)
	}
}

// allocateAgainKeep is allocateAgain keeping the relay until the test ends.
func (tc *turnClient) allocateAgainKeep(t *testing.T) error {
	t.Helper()
	c, _ := newTURNClient(t, tc.node, tc.user, tc.pass)
	relay, err := c.Allocate()
	if err == nil {
		t.Cleanup(func() { _ = relay.Close() })
	}
	return err
}
