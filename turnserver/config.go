package turnserver

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"time"
)

// Config configures the bundled TURN server. Zero values take the defaults
// documented on each field; Secret is the only required field.
type Config struct {
	ListenIP string // e.g. "127.0.0.1" or "0.0.0.0"; default "0.0.0.0"

	// Port for UDP and TCP; set DefaultPort (3478) in production. 0 lets the
	// OS pick, which tests rely on; ICEConfig advertises whatever was bound,
	// so a 0 in production still yields working, if unusual, URLs.
	Port int

	// PublicIP is the address advertised to clients, in the ICE URLs and
	// as the relay address of its family. Default ListenIP; if ListenIP is
	// unspecified (0.0.0.0 / ::) it defaults to 127.0.0.1, which only works
	// on one machine, and New logs a warning saying so.
	PublicIP string

	// RelayIPv6 is the IPv6 relay address, for clients that ask for an
	// IPv6 relay (RFC 6156). Default PublicIP when that is IPv6; empty with
	// an IPv4 PublicIP offers IPv4 relays only.
	RelayIPv6 string

	Realm         string        // default "guidecall"
	Secret        []byte        // coturn use-auth-secret shared secret (required)
	CredentialTTL time.Duration // lifetime of minted credentials; default 1h

	// AllowedPeers are operator-approved CIDRs that bypass the
	// special-address policy (see PeerPolicy).
	AllowedPeers []netip.Prefix

	// RelayPortMin and RelayPortMax bound the UDP ports relays are
	// allocated on, inclusive, so a firewall can open exactly them; both 0
	// lets the OS pick any ephemeral port.
	RelayPortMin, RelayPortMax uint16

	// MaxAllocationsPerUser caps concurrent allocations per credential id;
	// default 10. A browser makes one or two per call; a test tool such as
	// coturn's turnutils_uclient -m N makes N.
	MaxAllocationsPerUser int
	UDPWorkers            int // SO_REUSEPORT UDP sockets; default runtime.NumCPU()

	// UnbatchedUDP makes pion read and write the UDP listeners one
	// datagram per system call instead of through recvmmsg/sendmmsg
	// batches (Linux): for comparing the two, and a way out should
	// batching misbehave on some kernel.
	UnbatchedUDP bool

	// TLS, when its Certificate is set, adds a listener for TURN over TLS
	// (turns:) and TURN over TCP on one port, typically 443 so clients on
	// networks that let only HTTPS out still connect.
	TLS TLSListener

	Logger *slog.Logger // default slog.Default()
}

// TLSListener configures the TLS (and plain TCP) listener. A connection
// whose first byte is a TLS handshake record is served over TLS, anything
// else as plain TURN over TCP, as coturn does on its TLS port.
type TLSListener struct {
	Port int // 0 lets the OS pick (tests); 443 in production
	// Certificate is called for every handshake, so a certificate renewed
	// on disk takes effect without a restart (see app's reloader).
	Certificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// Host is the name in the turns: URL, which the certificate must be
	// valid for; default PublicIP (then the certificate needs that IP).
	Host string
}

// Enabled reports whether the TLS listener is configured.
func (t TLSListener) Enabled() bool { return t.Certificate != nil }

// DefaultPort is the IANA TURN port, for the configuration layer to use.
const DefaultPort = 3478

const (
	defaultRealm        = "guidecall"
	defaultTTL          = time.Hour
	defaultMaxAllocs    = 10
	udpReadBufferTarget = 4 << 20
)

// resolved is Config after defaults and validation, in the types we use.
type resolved struct {
	Config
	listenIP netip.Addr
	publicIP netip.Addr
	v4, v6   relayFamily
}

func (c Config) resolve() (resolved, error) {
	r := resolved{Config: c}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if len(r.Secret) == 0 {
		return r, fmt.Errorf("%w: Secret is required", ErrInvalidConfig)
	}
	if r.ListenIP == "" {
		r.ListenIP = "0.0.0.0"
	}
	ip, err := netip.ParseAddr(r.ListenIP)
	if err != nil {
		return r, fmt.Errorf("%w: ListenIP %q: %v", ErrInvalidConfig, r.ListenIP, err)
	}
	r.listenIP = ip.Unmap()

	if r.Port < 0 || r.Port > 65535 {
		return r, fmt.Errorf("%w: Port %d out of range", ErrInvalidConfig, r.Port)
	}

	if r.PublicIP == "" {
		if r.listenIP.IsUnspecified() {
			r.publicIP = netip.AddrFrom4([4]byte{127, 0, 0, 1})
			r.Logger.Warn("turnserver: PublicIP not set and ListenIP is unspecified; advertising 127.0.0.1, which only works on this machine",
				"listen_ip", r.ListenIP)
		} else {
			r.publicIP = r.listenIP
		}
	} else {
		pub, err := netip.ParseAddr(r.PublicIP)
		if err != nil {
			return r, fmt.Errorf("%w: PublicIP %q: %v", ErrInvalidConfig, r.PublicIP, err)
		}
		r.publicIP = pub.Unmap()
	}
	if r.publicIP.IsUnspecified() {
		return r, fmt.Errorf("%w: PublicIP %s must be a specific address", ErrInvalidConfig, r.publicIP)
	}
	r.PublicIP = r.publicIP.String()

	// Relay sockets bind to ListenIP when it is of their family, so relayed
	// traffic leaves from the interface the operator chose.
	r.v4.bind, r.v6.bind = netip.IPv4Unspecified(), netip.IPv6Unspecified()
	if r.listenIP.Is4() {
		r.v4.bind = r.listenIP
	} else if !r.listenIP.IsUnspecified() {
		r.v6.bind = r.listenIP
	}
	if r.publicIP.Is4() {
		r.v4.public = r.publicIP
	} else {
		r.v6.public = r.publicIP
	}
	if r.RelayIPv6 != "" {
		v6, err := netip.ParseAddr(r.RelayIPv6)
		if err != nil || !v6.Is6() || v6.Is4In6() || v6.IsUnspecified() {
			return r, fmt.Errorf("%w: RelayIPv6 %q must be a specific IPv6 address", ErrInvalidConfig, r.RelayIPv6)
		}
		r.v6.public = v6
	}

	if r.TLS.Enabled() {
		if r.TLS.Port < 0 || r.TLS.Port > 65535 {
			return r, fmt.Errorf("%w: TLS.Port %d out of range", ErrInvalidConfig, r.TLS.Port)
		}
		if r.TLS.Port != 0 && r.TLS.Port == r.Port {
			return r, fmt.Errorf("%w: TLS.Port %d is also Port", ErrInvalidConfig, r.TLS.Port)
		}
		if r.TLS.Host == "" {
			r.TLS.Host = r.PublicIP
		}
	}

	if r.Realm == "" {
		r.Realm = defaultRealm
	}
	if r.CredentialTTL == 0 {
		r.CredentialTTL = defaultTTL
	}
	if r.CredentialTTL < time.Second {
		return r, fmt.Errorf("%w: CredentialTTL %s below 1s", ErrInvalidConfig, r.CredentialTTL)
	}
	allowed := make([]netip.Prefix, 0, len(r.AllowedPeers))
	for _, p := range r.AllowedPeers {
		if !p.IsValid() {
			return r, fmt.Errorf("%w: AllowedPeers has an invalid prefix %v", ErrInvalidConfig, p)
		}
		allowed = append(allowed, netip.PrefixFrom(p.Addr().Unmap(), unmappedBits(p)).Masked())
	}
	r.AllowedPeers = allowed

	if (r.RelayPortMin == 0) != (r.RelayPortMax == 0) || r.RelayPortMin > r.RelayPortMax {
		return r, fmt.Errorf("%w: relay port range %d-%d: want both ends set, low to high", ErrInvalidConfig, r.RelayPortMin, r.RelayPortMax)
	}

	if r.MaxAllocationsPerUser == 0 {
		r.MaxAllocationsPerUser = defaultMaxAllocs
	}
	if r.MaxAllocationsPerUser < 0 {
		return r, fmt.Errorf("%w: MaxAllocationsPerUser %d is negative", ErrInvalidConfig, r.MaxAllocationsPerUser)
	}
	if r.UDPWorkers == 0 {
		r.UDPWorkers = runtime.NumCPU()
	}
	if r.UDPWorkers < 0 {
		return r, fmt.Errorf("%w: UDPWorkers %d is negative", ErrInvalidConfig, r.UDPWorkers)
	}
	if !reusePortSupported {
		r.UDPWorkers = 1
	}

	return r, nil
}

// unmappedBits converts a ::ffff:a.b.c.d/N prefix into its IPv4 length so an
// operator who writes mapped CIDRs gets what they meant.
func unmappedBits(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return max(p.Bits()-96, 0)
	}

	return p.Bits()
}
