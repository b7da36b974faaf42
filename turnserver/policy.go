package turnserver

import (
	"net/netip"
)

// PeerPolicy decides which peer addresses a TURN client may relay to.
//
// pion/turn admits every peer by default, which turns an open TURN server
// into a proxy into the operator's own network (loopback services, the LAN,
// the cloud metadata endpoint). The zero PeerPolicy refuses every
// special-purpose address and admits the public Internet.
type PeerPolicy struct {
	// AllowedPeers are operator-approved prefixes admitted even when they
	// fall in a special-purpose range (e.g. an on-premises LAN of kiosks).
	AllowedPeers []netip.Prefix

	// RelayIPs are the server's own advertised relay addresses. They are
	// admitted so that two clients of the same server can reach each other
	// relay-to-relay, even when the relay address is loopback or private.
	// Which ports on them may be reached is enforced by the relay socket,
	// not here: a permission in TURN is per IP only.
	RelayIPs []netip.Addr
}

// PeerAllowed reports whether policy admits a peer at addr.
//
// IPv4-mapped IPv6 addresses are unmapped first, and IPv4 addresses embedded
// in NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses are judged as the
// IPv4 address they reach, so those spellings cannot smuggle a refused
// address past the table.
func PeerAllowed(addr netip.Addr, policy PeerPolicy) bool {
	if !addr.IsValid() {
		return false
	}
	addr = addr.Unmap().WithZone("")

	for _, ip := range policy.RelayIPs {
		if ip.Unmap() == addr {
			return true
		}
	}
	for _, p := range policy.AllowedPeers {
		if p.Contains(addr) {
			return true
		}
	}

	if v4, ok := embeddedIPv4(addr); ok {
		return PeerAllowed(v4, policy)
	}

	return !isSpecial(addr, specialPrefixes)
}

// embeddedIPv4 extracts the IPv4 address a NAT64 or 6to4 address translates to.
func embeddedIPv4(addr netip.Addr) (netip.Addr, bool) {
	if !addr.Is6() {
		return netip.Addr{}, false
	}
	b := addr.As16()
	switch {
	case nat64.Contains(addr):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
	case sixToFour.Contains(addr):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	}

	return netip.Addr{}, false
}

func isSpecial(addr netip.Addr, table []netip.Prefix) bool {
	// A linear scan over ~30 prefixes runs once per CreatePermission or
	// ChannelBind, not per packet; a trie would not pay for itself.
	for _, p := range table {
		if p.Contains(addr) {
			return true
		}
	}

	return false
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// specialPrefixes follows the IANA IPv4 and IPv6 special-purpose address
// registries (RFC 6890 and successors), plus multicast and the deprecated
// ranges that still route somewhere surprising.
var specialPrefixes = mustPrefixes(
	// IPv4
	"0.0.0.0/8",          // "this network", includes unspecified
	"10.0.0.0/8",         // private
	"100.64.0.0/10",      // CGNAT shared address space
	"127.0.0.0/8",        // loopback
	"169.254.0.0/16",     // link-local, includes 169.254.169.254 cloud metadata
	"172.16.0.0/12",      // private
	"192.0.0.0/24",       // IETF protocol assignments
	"192.0.2.0/24",       // TEST-NET-1
	"192.88.99.0/24",     // deprecated 6to4 relay anycast
	"192.168.0.0/16",     // private
	"198.18.0.0/15",      // benchmarking
	"198.51.100.0/24",    // TEST-NET-2
	"203.0.113.0/24",     // TEST-NET-3
	"224.0.0.0/4",        // multicast
	"240.0.0.0/4",        // reserved, includes 255.255.255.255 broadcast
	"169.254.169.254/32", // cloud metadata; covered above, listed so nobody removes it by accident

	// IPv6
	"::/128",         // unspecified
	"::1/128",        // loopback
	"::/96",          // deprecated IPv4-compatible
	"64:ff9b:1::/48", // local-use NAT64 (RFC 8215)
	"100::/64",       // discard-only
	"2001::/32",      // Teredo: embeds obfuscated addresses we do not decode
	"2001:db8::/32",  // documentation
	"2001:10::/28",   // ORCHID
	"2001:20::/28",   // ORCHIDv2
	"3fff::/20",      // documentation (RFC 9637)
	"fc00::/7",       // unique local
	"fe80::/10",      // link-local
	"fec0::/10",      // deprecated site-local
	"ff00::/8",       // multicast
)

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}

	return out
}
