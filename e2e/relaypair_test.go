package e2e

// expectRelayPair fails the test unless p's selected pair runs from a
// TURN relay of p's own to one of other's relays (see
// rtcpeer.Peer.CheckRelayPair for why the remote may be typed prflx).
func (p *peer) expectRelayPair(other *peer) {
	p.t.Helper()
	if err := p.CheckRelayPair(other.Peer); err != nil {
		p.t.Fatal(err)
	}
}
