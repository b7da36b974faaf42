package turnserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/turn/v5"
)

// Server is the bundled TURN server. Create it with New, then Start it; Stop
// releases everything. A stopped Server cannot be started again.
type Server struct {
	cfg    resolved
	log    *slog.Logger
	policy PeerPolicy

	mu      sync.Mutex
	state   int // stateNew, stateStarted, stateStopped
	turn    *turn.Server
	udp     []net.PacketConn
	tcp     net.Listener
	tls     net.Listener // nil without Config.TLS
	udpAddr net.Addr
	tcpAddr net.Addr
	tlsAddr net.Addr

	allocMu sync.Mutex
	// relayBySrc maps an allocation's client address to its credential id
	// and relay socket, so Revoke can close an id's relays.
	relayBySrc map[string]allocRef
	// revoked holds credential ids whose credentials are refused, each
	// until every credential minted for it before the revocation expired.
	revoked map[string]time.Time
	relays  *relayGenerator

	active             atomic.Int64
	allocationsTotal   atomic.Uint64
	permissionsRefused atomic.Uint64
	authFailures       atomic.Uint64
	quotaRejections    atomic.Uint64
	relayCounters      relayCounters
	revocations        atomic.Uint64
	revokedRefusals    atomic.Uint64
	batch              batchStats
}

const (
	stateNew = iota
	stateStarted
	stateStopped
)

// Stats is a snapshot of the server's counters.
type Stats struct {
	ActiveAllocations  int64  // allocations open now
	AllocationsTotal   uint64 // allocations created since Start
	PermissionsRefused uint64 // CreatePermission/ChannelBind refused by the peer policy
	AuthFailures       uint64 // malformed, expired or wrongly signed credentials
	QuotaRejections    uint64 // Allocate refused with 486 by MaxAllocationsPerUser
	// QuotaRaced counts allocations of a burst that passed the quota check
	// together and were refused (508) when the relay was made.
	QuotaRaced uint64
	// OwnPortRefused counts relayed packets refused because they were
	// addressed to this server's relay IP on a port that is no relay.
	OwnPortRefused uint64
	// Relayed traffic through allocations, to and from peers.
	BytesToPeers, PacketsToPeers     uint64
	BytesFromPeers, PacketsFromPeers uint64
	RevokedRefusals                  uint64 // requests refused because their credential id was revoked
	// UDP listener system calls and the datagrams they moved: with
	// batching, datagrams per call above 1 is what it saved.
	UDPReadCalls, UDPReadDatagrams   uint64
	UDPWriteCalls, UDPWriteDatagrams uint64
	UDPWriteErrors                   uint64
	// FastPathDatagrams counts ChannelData relayed without pion, either
	// way (see fastPath).
	FastPathDatagrams uint64
	// GSOTrains counts sends that carried several datagrams to one
	// destination with UDP_SEGMENT (Linux), GSODatagrams the datagrams
	// they carried.
	GSOTrains, GSODatagrams uint64
}

// New validates cfg and returns a Server that is not yet listening.
func New(cfg Config) (*Server, error) {
	r, err := cfg.resolve()
	if err != nil {
		return nil, err
	}

	return &Server{
		cfg: r,
		log: r.Logger,
		policy: PeerPolicy{
			AllowedPeers: r.AllowedPeers,
			RelayIPs:     relayIPs(r),
		},
		relayBySrc: make(map[string]allocRef),
		revoked:    make(map[string]time.Time),
	}, nil
}

// Start opens the UDP sockets and the TCP listener and hands them to pion.
// It returns once they are listening. ctx bounds only the listening; the
// server runs until Stop, following the house Start/Stop contract.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case stateStarted:
		return ErrStarted
	case stateStopped:
		return ErrStopped
	}

	udp, tcp, tlsLn, err := s.listen(ctx)
	if err != nil {
		return err
	}

	relay := newRelayGenerator(s.cfg.v4, s.cfg.v6, s.cfg.AllowedPeers).
		withPortRange(s.cfg.RelayPortMin, s.cfg.RelayPortMax).
		withQuota(s.cfg.MaxAllocationsPerUser)
	relay.counters = &s.relayCounters
	s.allocMu.Lock()
	s.relays = relay
	s.allocMu.Unlock()
	if !s.cfg.UnbatchedUDP {
		pool := newReadBatchPool()
		fast := newFastPath()
		for i, c := range udp {
			if udp[i], err = wrapBatch(c, pool, &s.batch); err != nil {
				closeAll(udp, tcp, tlsLn)
				return fmt.Errorf("turnserver: batch udp: %w", err)
			}
			if setFastPath(udp[i], fast) {
				relay.fast = fast
			}
		}
		if relay.fast != nil {
			if relay.reader, err = newRelayReader(); err != nil {
				closeAll(udp, tcp, tlsLn)
				return fmt.Errorf("turnserver: relay poller: %w", err)
			}
		}
	}
	perm := s.permissionHandler
	pcs := make([]turn.PacketConnConfig, len(udp))
	for i, c := range udp {
		pcs[i] = turn.PacketConnConfig{PacketConn: c, RelayAddressGenerator: udpOnly{relay}, PermissionHandler: perm}
	}
	lns := []turn.ListenerConfig{{Listener: tcp, RelayAddressGenerator: relay, PermissionHandler: perm}}
	if tlsLn != nil {
		lns = append(lns, turn.ListenerConfig{Listener: tlsLn, RelayAddressGenerator: relay, PermissionHandler: perm})
	}

	srv, err := turn.NewServer(turn.ServerConfig{
		PacketConnConfigs: pcs,
		ListenerConfigs:   lns,
		LoggerFactory:     slogFactory{l: s.log},
		Realm:             s.cfg.Realm,
		AuthHandler:       s.authHandler,
		QuotaHandler:      s.quotaHandler,
		EventHandler: turn.EventHandler{
			OnAuth:              s.onAuth,
			OnAllocationCreated: s.onAllocationCreated,
			OnAllocationDeleted: s.onAllocationDeleted,
			OnChannelCreated:    s.onChannelCreated,
			OnChannelDeleted:    s.onChannelDeleted,
		},
	})
	if err != nil {
		closeAll(udp, tcp, tlsLn)

		return fmt.Errorf("turnserver: start pion server: %w", err)
	}

	s.turn, s.udp, s.tcp, s.tls = srv, udp, tcp, tlsLn
	s.udpAddr, s.tcpAddr = udp[0].LocalAddr(), tcp.Addr()
	attrs := []any{"udp", s.udpAddr.String(), "tcp", s.tcpAddr.String(), "udp_workers", len(udp),
		"udp_batched", batchSupported && !s.cfg.UnbatchedUDP,
		"relay_ip", s.cfg.PublicIP, "realm", s.cfg.Realm}
	if s.cfg.v6.public.IsValid() {
		attrs = append(attrs, "relay_ipv6", s.cfg.v6.public.String())
	}
	if tlsLn != nil {
		s.tlsAddr = tlsLn.Addr()
		attrs = append(attrs, "tls", s.tlsAddr.String(), "tls_host", s.cfg.TLS.Host)
	}
	s.state = stateStarted
	s.log.Info("turnserver: listening", attrs...)

	return nil
}

// relayIPs are the relay addresses the peer policy admits.
func relayIPs(r resolved) []netip.Addr {
	var ips []netip.Addr
	for _, f := range []relayFamily{r.v4, r.v6} {
		if f.public.IsValid() {
			ips = append(ips, f.public)
		}
	}
	return ips
}

// listen binds UDPWorkers UDP sockets on one address, then TCP on the port
// the first UDP socket got. With Port 0 that TCP port may be taken, in which
// case TCP falls back to its own OS-chosen port.
func (s *Server) listen(ctx context.Context) ([]net.PacketConn, net.Listener, net.Listener, error) {
	host := s.cfg.listenIP.String()
	first, err := listenUDP(ctx, net.JoinHostPort(host, strconv.Itoa(s.cfg.Port)))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("turnserver: listen udp: %w", err)
	}
	udp := []net.PacketConn{first}
	bound := first.LocalAddr().String()
	for len(udp) < s.cfg.UDPWorkers {
		c, err := listenUDP(ctx, bound)
		if err != nil {
			closeAll(udp, nil, nil)

			return nil, nil, nil, fmt.Errorf("turnserver: listen udp worker %d: %w", len(udp), err)
		}
		udp = append(udp, c)
	}
	for i, c := range udp {
		got := growReadBuffer(c, udpReadBufferTarget, s.log)
		if i == 0 {
			// All workers get the same treatment; one line is enough.
			s.log.Info("turnserver: udp receive buffer", "requested", udpReadBufferTarget, "effective", got)
		}
	}

	var lc net.ListenConfig
	port := first.LocalAddr().(*net.UDPAddr).Port
	tcp, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil && s.cfg.Port == 0 {
		tcp, err = lc.Listen(ctx, "tcp", net.JoinHostPort(host, "0"))
	}
	if err != nil {
		closeAll(udp, nil, nil)

		return nil, nil, nil, fmt.Errorf("turnserver: listen tcp: %w", err)
	}
	if !s.cfg.TLS.Enabled() {
		return udp, newTrackingListener(tcp), nil, nil
	}
	tl, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(s.cfg.TLS.Port)))
	if err != nil {
		closeAll(udp, tcp, nil)

		return nil, nil, nil, fmt.Errorf("turnserver: listen tls: %w", err)
	}
	return udp, newTrackingListener(tcp), newTrackingListener(newSniffListener(tl, s.cfg.TLS.Certificate)), nil
}

func closeAll(udp []net.PacketConn, lns ...net.Listener) {
	for _, c := range udp {
		_ = c.Close()
	}
	for _, l := range lns {
		if l != nil {
			_ = l.Close()
		}
	}
}

// Stop closes the listeners and, through pion, every allocation. It is
// idempotent and safe to call on a Server that never started.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateStopped {
		return nil
	}
	wasStarted := s.state == stateStarted
	s.state = stateStopped
	if !wasStarted {
		return nil
	}
	err := s.turn.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	s.allocMu.Lock()
	relays := s.relays
	s.allocMu.Unlock()
	if relays != nil && relays.reader != nil {
		// Relays closed from now on (pion closes them as its loops end)
		// just leave the poller's set.
		relays.reader.close()
	}
	s.log.Info("turnserver: stopped", "udp", s.udpAddr.String())

	return err
}

// UDPAddr is the bound UDP address, nil before Start.
func (s *Server) UDPAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()

	return s.udpAddr
}

// TLSAddr is the bound TLS (and plain TCP) address, nil before Start or
// without Config.TLS.
func (s *Server) TLSAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()

	return s.tlsAddr
}

// TCPAddr is the bound TCP address, nil before Start.
func (s *Server) TCPAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()

	return s.tcpAddr
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	stopped := s.state == stateStopped
	s.mu.Unlock()
	active := s.active.Load()
	if stopped {
		// pion closes allocations on shutdown without deletion events.
		active = 0
	}

	return Stats{
		ActiveAllocations:  active,
		AllocationsTotal:   s.allocationsTotal.Load(),
		PermissionsRefused: s.permissionsRefused.Load(),
		AuthFailures:       s.authFailures.Load(),
		QuotaRejections:    s.quotaRejections.Load(),
		QuotaRaced:         s.relayCounters.quotaOvershoot.Load(),
		OwnPortRefused:     s.relayCounters.ownPortRefused.Load(),
		BytesToPeers:       s.relayCounters.bytesToPeers.Load(),
		PacketsToPeers:     s.relayCounters.packetsToPeers.Load(),
		BytesFromPeers:     s.relayCounters.bytesFromPeers.Load(),
		PacketsFromPeers:   s.relayCounters.packetsFromPeers.Load(),
		RevokedRefusals:    s.revokedRefusals.Load(),
		UDPReadCalls:       s.batch.readCalls.Load(),
		UDPReadDatagrams:   s.batch.readMsgs.Load(),
		UDPWriteCalls:      s.batch.writeCalls.Load(),
		UDPWriteDatagrams:  s.batch.writeMsgs.Load(),
		UDPWriteErrors:     s.batch.writeErrors.Load(),
		FastPathDatagrams:  s.fastRelayed(),
		GSOTrains:          s.relayCounters.gsoTrains.Load() + s.batch.gsoTrains.Load(),
		GSODatagrams:       s.relayCounters.gsoDatagrams.Load() + s.batch.gsoDatagrams.Load(),
	}
}

func (s *Server) fastRelayed() uint64 {
	s.allocMu.Lock()
	defer s.allocMu.Unlock()
	if s.relays == nil || s.relays.fast == nil {
		return 0
	}
	return s.relays.fast.relayed.Load()
}

// Policy is the peer policy this server enforces.
func (s *Server) Policy() PeerPolicy { return s.policy }

// ICEServer is one entry of RTCConfiguration.iceServers.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// ICEConfig is what a client needs to reach this TURN server; TTL is in
// seconds and tells the client when to fetch fresh credentials.
type ICEConfig struct {
	ICEServers []ICEServer `json:"iceServers"`
	TTL        int         `json:"ttl"`
}

// ICEConfig mints credentials for clientID and lists this server's UDP and
// TCP URLs at PublicIP and the bound ports (the configured port before
// Start), and with Config.TLS its turns: URL at TLS.Host.
func (s *Server) ICEConfig(clientID string) ICEConfig {
	return s.ICEConfigTTL(clientID, s.cfg.CredentialTTL)
}

// ICEConfigTTL is ICEConfig with credentials living ttl (at most
// CredentialTTL, at least a minute).
func (s *Server) ICEConfigTTL(clientID string, ttl time.Duration) ICEConfig {
	ttl = min(max(ttl, time.Minute), s.cfg.CredentialTTL)
	s.mu.Lock()
	udpPort, tcpPort, tlsPort := s.cfg.Port, s.cfg.Port, s.cfg.TLS.Port
	if ua, ok := s.udpAddr.(*net.UDPAddr); ok {
		udpPort = ua.Port
	}
	if ta, ok := s.tcpAddr.(*net.TCPAddr); ok {
		tcpPort = ta.Port
	}
	if ta, ok := s.tlsAddr.(*net.TCPAddr); ok {
		tlsPort = ta.Port
	}
	s.mu.Unlock()

	user, pass := NewCredentials(s.cfg.Secret, clientID, ttl, time.Now())
	host := urlHost(s.cfg.PublicIP)
	urls := []string{
		"turn:" + host + ":" + strconv.Itoa(udpPort) + "?transport=udp",
		"turn:" + host + ":" + strconv.Itoa(tcpPort) + "?transport=tcp",
	}
	if s.cfg.TLS.Enabled() {
		urls = append(urls, "turns:"+urlHost(s.cfg.TLS.Host)+":"+strconv.Itoa(tlsPort)+"?transport=tcp")
	}

	return ICEConfig{
		ICEServers: []ICEServer{{URLs: urls, Username: user, Credential: pass}},
		TTL:        int(ttl / time.Second),
	}
}

// urlHost brackets an IPv6 address for a URL.
func urlHost(h string) string {
	if ip, err := netip.ParseAddr(h); err == nil && ip.Is6() {
		return "[" + h + "]"
	}
	return h
}

// allocRef is what Revoke needs to know of one allocation.
type allocRef struct {
	id    string
	relay relayKey
}

// Revoke refuses every credential of id from now on, on this server, and
// closes the relays already allocated with one. A credential's id is the
// part of its username after the expiry; the refusal is kept until the
// latest credential minted for id before now has expired, after which the
// credential would be refused anyway.
func (s *Server) Revoke(id string) int {
	now := time.Now()
	s.allocMu.Lock()
	for k, until := range s.revoked {
		if until.Before(now) {
			delete(s.revoked, k)
		}
	}
	s.revoked[id] = now.Add(s.cfg.CredentialTTL + time.Minute)
	var keys []relayKey
	for _, ref := range s.relayBySrc {
		if ref.id == id {
			keys = append(keys, ref.relay)
		}
	}
	relays := s.relays
	s.allocMu.Unlock()
	closed := 0
	if relays != nil {
		for _, k := range keys {
			// pion deletes the allocation when its relay socket fails.
			if relays.closeRelay(k) {
				closed++
			}
		}
	}
	s.revocations.Add(1)
	s.log.Info("turnserver: credentials revoked", "id", id, "relays_closed", closed)
	return closed
}

func (s *Server) isRevoked(id string) bool {
	s.allocMu.Lock()
	defer s.allocMu.Unlock()
	until, ok := s.revoked[id]
	return ok && until.After(time.Now())
}
