package turnserver

import (
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

	// PublicIP is the relay address advertised to clients. Default ListenIP;
	// if ListenIP is unspecified (0.0.0.0 / ::) it defaults to 127.0.0.1,
	// which only works on one machine, and New logs a warning saying so.
	// It must be IPv4: pion/turn v4.1.4 only allocates udp4 relays.
	PublicIP string

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

	MaxAllocationsPerUser int // concurrent allocations per credential id; default 10
	UDPWorkers            int // SO_REUSEPORT UDP sockets; default runtime.NumCPU()

	Logger *slog.Logger // default slog.Default()
}

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
	listenIP  netip.Addr
	publicIP  netip.Addr
	relayBind string
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
	if !r.publicIP.Is4() || r.publicIP.IsUnspecified() {
		return r, fmt.Errorf("%w: PublicIP %s must be a specific IPv4 address (pion/turn v4 relays over udp4 only)",
			ErrInvalidConfig, r.publicIP)
	}
	r.PublicIP = r.publicIP.String()

	// Relay sockets are udp4; bind them to ListenIP when it is IPv4 so relayed
	// traffic leaves from the interface the operator chose.
	r.relayBind = "0.0.0.0"
	if r.listenIP.Is4() {
		r.relayBind = r.listenIP.String()
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
