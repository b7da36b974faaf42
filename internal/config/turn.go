package config

import (
	"flag"
	"fmt"
	"net/netip"
)

// TURN holds the bundled TURN server's flags beyond addresses and secret
// (issue 10): the allocation cap, IPv6 relays and the TLS listener.
type TURN struct {
	MaxAllocations int
	RelayIPv6      string
	TLSCert        string
	TLSKey         string
	TLSPort        int
	TLSHost        string
}

// Register adds the flags.
func (t *TURN) Register(fs *flag.FlagSet) {
	fs.IntVar(&t.MaxAllocations, "turn-max-allocations", 10, "TURN allocations one credential may hold at once (a browser call needs 1-2; coturn's turnutils_uclient -m N needs N)")
	fs.StringVar(&t.RelayIPv6, "turn-relay-ipv6", "", "IPv6 address for TURN relays of clients asking for IPv6 (RFC 6156); empty offers IPv4 relays only, unless --turn-public-ip is IPv6")
	fs.StringVar(&t.TLSCert, "turn-tls-cert", "", "PEM certificate (chain) for TURN over TLS (turns:) on --turn-tls-port; reloaded on SIGHUP")
	fs.StringVar(&t.TLSKey, "turn-tls-key", "", "PEM private key of --turn-tls-cert; reloaded on SIGHUP")
	fs.IntVar(&t.TLSPort, "turn-tls-port", 443, "with --turn-tls-cert: the port of TURN over TLS, which also takes plain TURN over TCP; 0 lets the OS pick")
	fs.StringVar(&t.TLSHost, "turn-tls-host", "", "name in the turns: URL, which --turn-tls-cert must be valid for (default the host of --public-url, or --turn-public-ip)")
}

// TLSEnabled reports whether TURN over TLS is configured.
func (t TURN) TLSEnabled() bool { return t.TLSCert != "" }

// Validate checks the flags.
func (t TURN) Validate() error {
	if t.MaxAllocations < 1 {
		return fmt.Errorf("--turn-max-allocations %d: want at least 1", t.MaxAllocations)
	}
	if t.RelayIPv6 != "" {
		ip, err := netip.ParseAddr(t.RelayIPv6)
		if err != nil || !ip.Is6() || ip.Is4In6() || ip.IsUnspecified() {
			return fmt.Errorf("--turn-relay-ipv6 %q: want a specific IPv6 address", t.RelayIPv6)
		}
	}
	if (t.TLSCert == "") != (t.TLSKey == "") {
		return fmt.Errorf("--turn-tls-cert and --turn-tls-key go together")
	}
	if t.TLSPort < 0 || t.TLSPort > 65535 {
		return fmt.Errorf("--turn-tls-port %d out of range", t.TLSPort)
	}
	return nil
}
