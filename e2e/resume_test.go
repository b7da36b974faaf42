package e2e

import (
	"testing"
	"time"

	"guidecall/internal/db/dbtest"
	"guidecall/protocol"
	"guidecall/protocol/client/clienttest"
)

// TestClusterNodeDeathCallContinues kills the node that holds the guide's
// socket and TURN relay in the middle of a call. The guide's page
// reconnects to the other node with the same token, is welcomed back into
// the same call, restarts ICE with that node's TURN credentials, and media
// flows again; the call never ended, so hanging up ends it for both.
func TestClusterNodeDeathCallContinues(t *testing.T) {
	_, url := dbtest.NewSchema(t)
	bin := guidecallBinary(t)
	const email, password = "guide-resume@e2e.local", "resume-test guide password"
	addAccount(t, bin, url, email, "Resume Guide", password, "guide")
	a := startProc(t, bin, "node-a", procConfig{databaseURL: url, ip: "127.0.0.1", allowedPeers: "127.0.0.2/32"})
	b := startProc(t, bin, "node-b", procConfig{databaseURL: url, ip: "127.0.0.2", allowedPeers: "127.0.0.1/32"})

	c := setupCall(t, a.endpoint(email, password), b.endpoint(email, password))
	if got := c.guide.relayIP(); got != "127.0.0.2" {
		t.Fatalf("guide relays on %s before the kill, want node B's TURN", got)
	}

	killed := time.Now()
	b.kill()

	ws, welcome := dialWelcome(t, "guide-resumed", wsURLOf(a.endpoint(email, password)), c.guideToken)
	if !welcome.Resumed || welcome.Call == nil || welcome.Call.CallID != c.id || welcome.Call.State != "connected" {
		t.Fatalf("welcome after reconnecting elsewhere: %+v (call %+v), want resumed into %s", welcome, welcome.Call, c.id)
	}
	c.guide.restartICE(a.url, c.guideToken, ws)
	c.waitMedia(t, 30, 20*time.Second)
	recovered := time.Since(killed)

	c.guide.expectRelayPair(c.shopper)
	if got := c.guide.relayIP(); got != "127.0.0.1" {
		t.Fatalf("guide relays on %s after the restart, want node A's TURN", got)
	}
	t.Logf("node B killed → media flowing again through node A: %d ms", recovered.Milliseconds())

	ws.Send(protocol.TypeCallEnd, c.id, protocol.CallEnd{Reason: "hangup"})
	for _, s := range []*clienttest.Conn{ws, c.shopWS} {
		var ended protocol.CallEnded
		s.AwaitInto(protocol.TypeCallEnded, c.id, &ended)
		if ended.Reason != "hangup" || ended.By != "guide" {
			t.Fatalf("%s: call.ended %+v", s.Name, ended)
		}
	}
}
