package turnserver

import (
	"net"
	"net/netip"
	"time"

	"github.com/pion/turn/v4"
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
func (s *Server) authHandler(username, realm string, src net.Addr) ([]byte, bool) {
	expiry, id, ok := parseUsername(username)
	if !ok {
		s.authFailures.Add(1)
		s.log.Debug("turnserver: malformed username", "src", src.String())

		return nil, false
	}
	if s.isRevoked(id) {
		s.revokedRefusals.Add(1)
		s.log.Debug("turnserver: revoked credentials", "id", id, "src", src.String())

		return nil, false
	}
	if expiry.Before(time.Now()) {
		s.authFailures.Add(1)
		s.log.Debug("turnserver: expired credentials", "id", id, "expired_at", expiry, "src", src.String())

		return nil, false
	}

	return turn.GenerateAuthKey(username, realm, restPassword(s.cfg.Secret, username)), true
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

// quotaHandler caps concurrent allocations per credential id. The count is
// kept from pion's allocation events, and pion checks quota and creates the
// allocation without a lock between them, so with several UDP workers a
// burst from one id can overshoot by at most UDPWorkers-1. Reserving here
// instead would leak on pion's failure paths, which emit no event.
func (s *Server) quotaHandler(username, _ string, src net.Addr) bool {
	_, id, _ := parseUsername(username)
	s.allocMu.Lock()
	n := s.allocByUser[id]
	s.allocMu.Unlock()
	if n < s.cfg.MaxAllocationsPerUser {
		return true
	}
	s.quotaRejections.Add(1)
	s.log.Debug("turnserver: allocation quota reached", "id", id, "allocations", n, "src", src.String())

	return false
}

func (s *Server) onAllocationCreated(src, _ net.Addr, proto, username, _ string, relay net.Addr, _ int) {
	_, id, _ := parseUsername(username)
	port := 0
	if ua, ok := relay.(*net.UDPAddr); ok {
		port = ua.Port
	}
	s.allocMu.Lock()
	s.allocByUser[id]++
	s.relayBySrc[src.String()] = allocRef{id: id, port: port}
	s.allocMu.Unlock()
	s.active.Add(1)
	s.allocationsTotal.Add(1)
	s.log.Debug("turnserver: allocation created", "id", id, "src", src.String(), "proto", proto, "relay", relay.String())
}

func (s *Server) onAllocationDeleted(src, _ net.Addr, _, username, _ string) {
	_, id, _ := parseUsername(username)
	s.allocMu.Lock()
	if s.allocByUser[id]--; s.allocByUser[id] <= 0 {
		delete(s.allocByUser, id)
	}
	delete(s.relayBySrc, src.String())
	s.allocMu.Unlock()
	s.active.Add(-1)
	s.log.Debug("turnserver: allocation deleted", "id", id, "src", src.String())
}

// permissionHandler guards CreatePermission and ChannelBind, the only two
// ways a client names a peer; pion refuses the request when it returns false.
func (s *Server) permissionHandler(client net.Addr, peer net.IP) bool {
	addr, ok := netip.AddrFromSlice(peer)
	if ok && PeerAllowed(addr, s.policy) {
		return true
	}
	s.permissionsRefused.Add(1)
	s.log.Debug("turnserver: peer refused by policy", "client", client.String(), "peer", peer.String())

	return false
}
