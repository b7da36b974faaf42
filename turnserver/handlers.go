package turnserver

import (
	"net"
	"net/netip"
	"time"

	"github.com/pion/turn/v5"
)

// authHandler implements coturn's use-auth-secret scheme. pion ships
// turn.LongTermTURNRESTAuthHandler for the same scheme, but it logs every
// expired or malformed username at Error level (client-controlled input
// turning into operator alerts) and counts nothing; the check itself is
// small, so we own it and keep pion's GenerateAuthKey for the key.
//
// pion calls this for every authenticated request, not only Allocate, so an
// allocation stops being refreshable once its credential expires: the same
// behaviour as coturn. CredentialTTL therefore bounds how long a client can
// keep a relay without fetching new ICE servers.
func (s *Server) authHandler(ra *turn.RequestAttributes) (string, []byte, bool) {
	expiry, id, ok := parseUsername(ra.Username)
	if !ok {
		s.authFailures.Add(1)
		s.log.Debug("turnserver: malformed username", "src", ra.SrcAddr.String())

		return "", nil, false
	}
	if s.isRevoked(id) {
		s.revokedRefusals.Add(1)
		s.log.Debug("turnserver: revoked credentials", "id", id, "src", ra.SrcAddr.String())

		return "", nil, false
	}
	if expiry.Before(time.Now()) {
		s.authFailures.Add(1)
		s.log.Debug("turnserver: expired credentials", "id", id, "expired_at", expiry, "src", ra.SrcAddr.String())

		return "", nil, false
	}

	// The id is pion's user id: quotas, events and the check that a
	// request belongs to its allocation use it, so a client renewing its
	// credential (a new expiry, the same id) keeps its allocation.
	return id, turn.GenerateAuthKey(ra.Username, ra.Realm, restPassword(s.cfg.Secret, ra.Username)), true
}

// onAuth counts the failures pion finds after our handler returned a key:
// a MESSAGE-INTEGRITY made with the wrong password.
func (s *Server) onAuth(src, _ net.Addr, _, username, _, method string, verdict bool) {
	if verdict {
		return
	}
	s.authFailures.Add(1)
	_, id, _ := parseUsername(username)
	s.log.Debug("turnserver: bad message integrity", "id", id, "method", method, "src", src.String())
}

// quotaHandler answers 486 once id holds MaxAllocationsPerUser
// allocations. The count lives in the relay generator, which takes a slot
// when it creates a relay socket and gives it back when pion closes it, so
// it cannot leak on pion's failure paths; a burst that races past this
// check is stopped there (with 508).
func (s *Server) quotaHandler(id, _ string, src net.Addr) bool {
	s.allocMu.Lock()
	relays := s.relays
	s.allocMu.Unlock()
	n := relays.userCount(id)
	if n < s.cfg.MaxAllocationsPerUser {
		return true
	}
	s.quotaRejections.Add(1)
	s.log.Debug("turnserver: allocation quota reached", "id", id, "allocations", n, "src", src.String())

	return false
}

func (s *Server) onAllocationCreated(src, _ net.Addr, proto, id, _ string, relay net.Addr, _ int) {
	s.allocMu.Lock()
	s.relayBySrc[src.String()] = allocRef{id: id, relay: keyOf(relay)}
	s.allocMu.Unlock()
	s.active.Add(1)
	s.allocationsTotal.Add(1)
	s.log.Debug("turnserver: allocation created", "id", id, "src", src.String(), "proto", proto, "relay", relay.String())
}

func (s *Server) onAllocationDeleted(src, _ net.Addr, _, id, _ string) {
	s.allocMu.Lock()
	delete(s.relayBySrc, src.String())
	s.allocMu.Unlock()
	s.active.Add(-1)
	s.log.Debug("turnserver: allocation deleted", "id", id, "src", src.String())
}

// keyOf names the relay socket behind an allocation's relay address.
func keyOf(relay net.Addr) relayKey {
	switch a := relay.(type) {
	case *net.UDPAddr:
		return relayKey{v6: a.IP.To4() == nil, port: a.Port}
	case *net.TCPAddr:
		return relayKey{tcp: true, v6: a.IP.To4() == nil, port: a.Port}
	}
	return relayKey{}
}

// permissionHandler guards CreatePermission, ChannelBind and (RFC 6062)
// Connect, the only ways a client names a peer; pion refuses the request
// when it returns false. An inbound TCP connection to a TCP relay is let
// in only from a peer IP a CreatePermission admitted.
func (s *Server) permissionHandler(client net.Addr, peer net.IP) bool {
	addr, ok := netip.AddrFromSlice(peer)
	if ok && PeerAllowed(addr, s.policy) {
		return true
	}
	s.permissionsRefused.Add(1)
	s.log.Debug("turnserver: peer refused by policy", "client", client.String(), "peer", peer.String())

	return false
}
