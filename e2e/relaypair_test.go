package e2e

import (
	"net"
	"strconv"
	"strings"

	"github.com/pion/webrtc/v4"
)

// expectRelayPair fails the test unless p's selected pair runs from a
// TURN relay of p's own to one of other's relays. The remote may be typed
// prflx: when other's check through its relay arrives before its signalled
// relay candidate, pion learns the address as peer-reflexive and keeps
// that type. Its address, one other allocated on TURN, is what makes it a
// relay.
func (p *peer) expectRelayPair(other *peer) {
	p.t.Helper()
	pair, err := p.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		p.t.Fatalf("%s: no selected candidate pair: %v", p.name, err)
	}
	if pair.Local.Typ != webrtc.ICECandidateTypeRelay {
		p.t.Fatalf("%s: selected pair %s/%s, want a relay of its own", p.name, pair.Local.Typ, pair.Remote.Typ)
	}
	if pair.Remote.Typ != webrtc.ICECandidateTypeRelay && pair.Remote.Typ != webrtc.ICECandidateTypePrflx {
		p.t.Fatalf("%s: selected pair %s/%s, want the remote a relay", p.name, pair.Local.Typ, pair.Remote.Typ)
	}
	remote := net.JoinHostPort(pair.Remote.Address, strconv.Itoa(int(pair.Remote.Port)))
	relays := relayAddrs(other.pc)
	for _, r := range relays {
		if r == remote {
			return
		}
	}
	p.t.Fatalf("%s: remote %s %s is none of %s's relays %v", p.name, pair.Remote.Typ, remote, other.name, relays)
}

// relayAddrs are the address:port of every relay candidate pc holds now:
// pion writes its gatherer's current candidates into the local
// description it reports.
func relayAddrs(pc *webrtc.PeerConnection) []string {
	desc := pc.LocalDescription()
	if desc == nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(desc.SDP, "\n") {
		// a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> …
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "a=candidate:"))
		if !strings.HasPrefix(strings.TrimSpace(line), "a=candidate:") || len(f) < 8 || f[6] != "typ" || f[7] != "relay" {
			continue
		}
		out = append(out, net.JoinHostPort(f[4], f[5]))
	}
	return out
}
