package turnserver

import (
	"net/netip"
	"testing"
)

func TestPeerAllowed(t *testing.T) {
	refused := []string{
		// IPv4 special-purpose
		"0.0.0.0", "0.1.2.3",
		"10.0.0.1", "10.255.255.255",
		"100.64.0.1", "100.127.255.254",
		"127.0.0.1", "127.1.2.3",
		"169.254.0.1", "169.254.169.254",
		"172.16.0.1", "172.31.255.255",
		"192.0.0.8",
		"192.0.2.1", "198.51.100.7", "203.0.113.9",
		"192.88.99.1",
		"192.168.1.1",
		"198.18.0.1", "198.19.255.255",
		"224.0.0.1", "239.255.255.250",
		"240.0.0.1", "255.255.255.255",
		// IPv6 special-purpose
		"::", "::1",
		"fc00::1", "fd12:3456::1",
		"fe80::1", "fe80::1%eth0",
		"ff02::1", "ff0e::1",
		"2001:db8::1", "3fff::1",
		"100::1", "2001::1", "fec0::1",
		"64:ff9b:1::1",
		// IPv4-mapped IPv6 of refused IPv4
		"::ffff:10.0.0.1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:192.168.0.1",
		// NAT64 and 6to4 embeddings of refused IPv4
		"64:ff9b::a00:1", "64:ff9b::127.0.0.1", "64:ff9b::169.254.169.254",
		"2002:a00:1::", "2002:7f00:1::1",
		// IPv4-compatible (deprecated) form
		"::10.0.0.1",
	}
	allowed := []string{
		"8.8.8.8", "1.1.1.1", "93.184.216.34", "100.63.255.255", "100.128.0.0",
		"172.32.0.1", "192.169.0.1", "198.20.0.1",
		"2001:4860::8888", "2606:4700:4700::1111",
		"::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
	}
	for _, s := range refused {
		if PeerAllowed(netip.MustParseAddr(s), PeerPolicy{}) {
			t.Errorf("PeerAllowed(%s) = true, want refused", s)
		}
	}
	for _, s := range allowed {
		if !PeerAllowed(netip.MustParseAddr(s), PeerPolicy{}) {
			t.Errorf("PeerAllowed(%s) = false, want allowed", s)
		}
	}
	if PeerAllowed(netip.Addr{}, PeerPolicy{}) {
		t.Error("zero Addr allowed")
	}
}

func TestPeerAllowedOperatorAndRelay(t *testing.T) {
	policy := PeerPolicy{
		AllowedPeers: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("fd00:1::/64")},
		RelayIPs:     []netip.Addr{netip.MustParseAddr("127.0.0.1")},
	}
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"10.20.3.4", true},
		{"::ffff:10.20.3.4", true},
		{"64:ff9b::a14:304", true}, // NAT64 form of an operator-allowed address
		{"10.21.0.1", false},
		{"fd00:1::5", true},
		{"fd00:2::5", false},
		{"127.0.0.1", true},
		{"::ffff:127.0.0.1", true},
		{"127.0.0.2", false},
		{"169.254.169.254", false},
		{"8.8.8.8", true},
	} {
		if got := PeerAllowed(netip.MustParseAddr(tc.addr), policy); got != tc.want {
			t.Errorf("PeerAllowed(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}
