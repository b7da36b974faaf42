package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"guidecall/protocol/client/clienttest"
	"guidecall/protocol/client/rtcpeer"
)

// qualityEvery is how often the e2e peers report call quality: the
// browser's 10 s would outlast most tests, so they report at once on
// connecting and then every 2 s.
const qualityEvery = 2 * time.Second

// peer is one side of a call, the shared pion peer of rtcpeer bound to a
// test: it relays through the node's TURN only, sends a VP8 track of its
// own, counts the RTP it receives and reports its call quality.
type peer struct {
	*rtcpeer.Peer
	t    *testing.T
	name string
	ws   *clienttest.Conn
}

// iceConfig fetches fresh TURN credentials from a node.
func iceConfig(t *testing.T, name, baseURL, token string) webrtc.Configuration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ice, err := rtcpeer.FetchICEServers(ctx, http.DefaultClient, baseURL, token)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if ice.ICETransportPolicy != "relay" {
		t.Fatalf("%s: ice servers %+v: want a relay-only TURN config", name, ice)
	}
	return ice.Configuration()
}

func newPeer(t *testing.T, name, baseURL, token string, ws *clienttest.Conn, callID string) *peer {
	t.Helper()
	p, err := rtcpeer.New(rtcpeer.Config{
		Name: name, ICE: iceConfig(t, name, baseURL, token), Socket: ws.Client, CallID: callID,
		Loopback: true, OnError: func(err error) { t.Error(err) }, QualityEvery: qualityEvery,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return &peer{Peer: p, t: t, name: name, ws: ws}
}

// socket is the peer's current signaling connection.
func (p *peer) socket() *clienttest.Conn { return p.ws }

// offer starts negotiation as the initiator (the guide).
func (p *peer) offer() {
	if err := p.Offer(); err != nil {
		p.t.Fatal(err)
	}
}

// answer waits for the initiator's offer (the shopper's side).
func (p *peer) answer() { p.Answer() }

// restartICE is what a guide's page does after its socket came back on
// another node: fetch fresh TURN credentials there and offer an ICE
// restart over the new socket.
func (p *peer) restartICE(baseURL, token string, ws *clienttest.Conn) {
	p.ws = ws
	if err := p.RestartICE(iceConfig(p.t, p.name, baseURL, token), ws.Client); err != nil {
		p.t.Fatal(err)
	}
}

// relayIP is the address of the peer's own relay in the selected pair: the
// TURN server it allocated on.
func (p *peer) relayIP() string {
	_, _, addr, err := p.SelectedPair()
	if err != nil {
		p.t.Fatal(err)
	}
	return addr
}

func (p *peer) close() { p.Close() }
