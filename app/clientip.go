package app

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientIPs finds the address of the client behind a request. Headers
// naming a client are believed only from a direct peer inside one of the
// trusted proxy ranges (--trusted-proxies): anyone else could write them,
// and a limiter keyed on them would be a limiter anyone could step around.
type clientIPs struct {
	trusted []netip.Prefix
}

func (p clientIPs) isTrusted(a netip.Addr) bool {
	for _, pre := range p.trusted {
		if pre.Contains(a) {
			return true
		}
	}
	return false
}

// of returns the client address of r. When the direct peer is a trusted
// proxy it walks X-Forwarded-For from the right, past every trusted hop,
// and takes the first address that is not one; without the header it takes
// X-Real-IP. A hop that is not an address stops the walk at the last
// trusted one, since everything left of it came from the client.
func (p clientIPs) of(r *http.Request) string {
	peer, ok := parseIP(r.RemoteAddr)
	if !ok {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			return r.RemoteAddr
		}
		return host
	}
	if len(p.trusted) == 0 || !p.isTrusted(peer) {
		return peer.String()
	}
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		hops := strings.Split(strings.Join(xff, ","), ",")
		last := peer
		for i := len(hops) - 1; i >= 0; i-- {
			a, ok := parseIP(strings.TrimSpace(hops[i]))
			if !ok {
				return last.String()
			}
			if !p.isTrusted(a) {
				return a.String()
			}
			last = a
		}
		// Every hop is a proxy of ours: the left-most is as far as we know.
		return last.String()
	}
	if a, ok := parseIP(strings.TrimSpace(r.Header.Get("X-Real-IP"))); ok {
		return a.String()
	}
	return peer.String()
}

// parseIP reads an address with or without a port, IPv4-mapped IPv6
// unmapped, so one client has one key.
func parseIP(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}
