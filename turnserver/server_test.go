package turnserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v5"
)

var testSecret = []byte("test-secret")

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(discard{}, &slog.HandlerOptions{Level: slog.LevelError + 1}))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func startServer(t *testing.T, mutate func(*Config)) *Server {
	t.Helper()
	cfg := Config{
		ListenIP:   "127.0.0.1",
		Secret:     testSecret,
		UDPWorkers: 2,
		Logger:     quietLogger(),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})

	return s
}

type testClient struct {
	c     *turn.Client
	conn  net.PacketConn
	relay net.PacketConn
}

// dial returns a pion client that is listening but has not allocated yet.
func dial(t *testing.T, s *Server, user, pass string) *testClient {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := turn.NewClient(&turn.ClientConfig{
		TURNServerAddr: s.UDPAddr().String(),
		Username:       user,
		Password:       pass,
		Realm:          "guidecall",
		Conn:           conn,
		RTO:            100 * time.Millisecond,
		LoggerFactory:  slogFactory{l: quietLogger()},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	tc := &testClient{c: c, conn: conn}
	t.Cleanup(tc.close)

	return tc
}

func (tc *testClient) close() {
	if tc.relay != nil {
		_ = tc.relay.Close()
	}
	tc.c.Close()
	_ = tc.conn.Close()
}

func (tc *testClient) allocate() error {
	relay, err := tc.c.Allocate()
	if err == nil {
		tc.relay = relay
	}

	return err
}

func allocated(t *testing.T, s *Server, id string) *testClient {
	t.Helper()
	user, pass := NewCredentials(testSecret, id, time.Minute, time.Now())
	tc := dial(t, s, user, pass)
	if err := tc.allocate(); err != nil {
		t.Fatalf("Allocate for %s: %v", id, err)
	}

	return tc
}

func TestAllocateCredentials(t *testing.T) {
	s := startServer(t, nil)
	now := time.Now()
	for _, tc := range []struct {
		name   string
		user   func() (string, string)
		wantOK bool
	}{
		{"valid", func() (string, string) { return NewCredentials(testSecret, "shopper-1", time.Minute, now) }, true},
		{"wrong password", func() (string, string) {
			u, _ := NewCredentials(testSecret, "shopper-2", time.Minute, now)
			return u, "bm90IHRoZSBwYXNzd29yZA=="
		}, false},
		{"other secret", func() (string, string) { return NewCredentials([]byte("nope"), "shopper-3", time.Minute, now) }, false},
		{"expired", func() (string, string) {
			return NewCredentials(testSecret, "shopper-4", time.Hour, now.Add(-2*time.Hour))
		}, false},
		{"malformed", func() (string, string) { return "shopper-5", restPassword(testSecret, "shopper-5") }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			user, pass := tc.user()
			err := dial(t, s, user, pass).allocate()
			if (err == nil) != tc.wantOK {
				t.Fatalf("Allocate err = %v, want ok=%v", err, tc.wantOK)
			}
		})
	}
	st := s.Stats()
	if st.AuthFailures < 4 || st.AllocationsTotal != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestTCPListenerAllocates(t *testing.T) {
	s := startServer(t, nil)
	user, pass := NewCredentials(testSecret, "tcp-client", time.Minute, time.Now())
	conn, err := net.DialTimeout("tcp", s.TCPAddr().String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c, err := turn.NewClient(&turn.ClientConfig{
		TURNServerAddr: s.TCPAddr().String(),
		Username:       user, Password: pass, Realm: "guidecall",
		Conn:          turn.NewSTUNConn(conn),
		LoggerFactory: slogFactory{l: quietLogger()},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("Allocate over TCP: %v", err)
	}
	defer relay.Close()

	// Stop must hang up on TCP clients itself, or their server-side read
	// loops outlive the server (goleak would report them).
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("TCP connection still open after Stop: %v", err)
	}
	_ = conn.Close()
}

func TestQuota(t *testing.T) {
	s := startServer(t, func(c *Config) { c.MaxAllocationsPerUser = 2; c.UDPWorkers = 1 })
	a := allocated(t, s, "guide-1")
	allocated(t, s, "guide-1")
	user, pass := NewCredentials(testSecret, "guide-1", time.Minute, time.Now())
	if err := dial(t, s, user, pass).allocate(); err == nil {
		t.Fatal("third allocation for one id succeeded, want 486")
	}
	allocated(t, s, "guide-2") // other ids are unaffected

	// Releasing one frees a slot.
	_ = a.relay.Close()
	a.relay = nil
	deadline := time.Now().Add(2 * time.Second)
	for s.Stats().ActiveAllocations != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("allocation not released: %+v", s.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := dial(t, s, user, pass).allocate(); err != nil {
		t.Fatalf("allocation after release: %v", err)
	}
	if s.Stats().QuotaRejections != 1 {
		t.Fatalf("stats = %+v", s.Stats())
	}
}

func TestPermissionRefusedForSpecialPeers(t *testing.T) {
	s := startServer(t, nil)
	c := allocated(t, s, "shopper")
	for _, peer := range []string{"10.0.0.1:9", "169.254.169.254:80", "192.168.1.1:53", "127.0.0.2:9"} {
		addr, _ := net.ResolveUDPAddr("udp4", peer)
		if _, err := c.relay.WriteTo([]byte("x"), addr); err == nil {
			t.Errorf("WriteTo %s via relay succeeded, want permission refused", peer)
		}
		if err := c.c.CreatePermission(addr); err == nil {
			t.Errorf("CreatePermission %s succeeded", peer)
		}
	}
	if got := s.Stats().PermissionsRefused; got < 8 {
		t.Fatalf("PermissionsRefused = %d, want >= 8", got)
	}
}

func TestOperatorAllowedPeer(t *testing.T) {
	s := startServer(t, func(c *Config) {
		c.AllowedPeers = []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")}
	})
	c := allocated(t, s, "kiosk")
	if err := c.c.CreatePermission(&net.UDPAddr{IP: net.IPv4(10, 9, 1, 1), Port: 9}); err != nil {
		t.Fatalf("CreatePermission to operator-allowed peer: %v", err)
	}
}

func TestRelayToRelay(t *testing.T) {
	s := startServer(t, nil)
	a := allocated(t, s, "shopper")
	b := allocated(t, s, "guide")

	// b must permit a's relay address before a's datagrams are let in.
	if _, err := b.relay.WriteTo([]byte("hello a"), a.relay.LocalAddr()); err != nil {
		t.Fatalf("b -> a: %v", err)
	}

	want := []byte("hello b")
	buf := make([]byte, 1500)
	deadline := time.Now().Add(3 * time.Second)
	for {
		if _, err := a.relay.WriteTo(want, b.relay.LocalAddr()); err != nil {
			t.Fatalf("a -> b: %v", err)
		}
		_ = b.relay.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, from, err := b.relay.ReadFrom(buf)
		if err == nil {
			if !bytes.Equal(buf[:n], want) || from.String() != a.relay.LocalAddr().String() {
				t.Fatalf("got %q from %v", buf[:n], from)
			}

			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no datagram relayed: %v", err)
		}
	}
}

// The relay IP is admitted for relay-to-relay, but not every port on it:
// here the server's own TURN port and an unrelated local UDP service.
func TestRelayIPNonRelayPortsUnreachable(t *testing.T) {
	s := startServer(t, nil)
	victim, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close()
	c := allocated(t, s, "shopper")

	for i := 0; i < 3; i++ {
		if _, err := c.relay.WriteTo([]byte("probe"), victim.LocalAddr()); err != nil {
			t.Fatalf("WriteTo: %v", err) // permission to the relay IP itself is granted
		}
		if _, err := c.relay.WriteTo([]byte("probe"), s.UDPAddr()); err != nil {
			t.Fatalf("WriteTo: %v", err)
		}
	}
	_ = victim.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, from, err := victim.ReadFrom(make([]byte, 64)); err == nil {
		t.Fatalf("victim received %d bytes from %v via relay", n, from)
	}
}

func TestRelayGuardUnit(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	g := newRelayGenerator(relayFamily{public: lo, bind: lo}, relayFamily{}, nil)
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	conn, addr, err := g.AllocatePacketConn(turn.AllocateListenerConfig{Network: "udp4", UserID: "u"})
	if err != nil {
		t.Fatal(err)
	}
	port := uint16(addr.(*net.UDPAddr).Port)
	live := netip.AddrPortFrom(lo, port)
	if !g.writeAllowed(live) || !g.writeAllowed(netip.AddrPortFrom(netip.MustParseAddr("::ffff:127.0.0.1"), port)) {
		t.Fatal("live relay port refused")
	}
	if g.writeAllowed(netip.AddrPortFrom(lo, port+1)) {
		t.Fatal("non-relay port on relay IP allowed")
	}
	if !g.writeAllowed(netip.MustParseAddrPort("8.8.8.8:53")) {
		t.Fatal("other IPs are for the permission handler to judge")
	}
	// A UDP relay port is no TCP relay port: Connect to it is refused.
	if g.connectAllowed(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(port)}) {
		t.Fatal("TCP Connect to a UDP relay's port allowed")
	}
	if _, _, err := g.AllocatePacketConn(turn.AllocateListenerConfig{Network: "udp6", UserID: "u"}); !errors.Is(err, errFamilyNotOffered) {
		t.Fatalf("udp6 relay without an IPv6 relay address: %v", err)
	}
	if g.userCount("u") != 1 {
		t.Fatalf("count of u = %d, want 1", g.userCount("u"))
	}
	_ = conn.Close()
	_ = conn.Close() // double close must not double-release
	if g.writeAllowed(live) {
		t.Fatal("closed relay port still allowed")
	}
	if g.userCount("u") != 0 {
		t.Fatalf("count of u after close = %d, want 0", g.userCount("u"))
	}
}

func TestICEConfig(t *testing.T) {
	s := startServer(t, func(c *Config) { c.CredentialTTL = 10 * time.Minute })
	cfg := s.ICEConfig("shopper-9")
	if cfg.TTL != 600 || len(cfg.ICEServers) != 1 {
		t.Fatalf("ICEConfig = %+v", cfg)
	}
	srv := cfg.ICEServers[0]
	udpPort := strconv.Itoa(s.UDPAddr().(*net.UDPAddr).Port)
	tcpPort := strconv.Itoa(s.TCPAddr().(*net.TCPAddr).Port)
	want := []string{
		"turn:127.0.0.1:" + udpPort + "?transport=udp",
		"turn:127.0.0.1:" + tcpPort + "?transport=tcp",
	}
	if strings.Join(srv.URLs, " ") != strings.Join(want, " ") {
		t.Fatalf("URLs = %v, want %v", srv.URLs, want)
	}
	if !strings.HasSuffix(srv.Username, ":shopper-9") || srv.Credential != restPassword(testSecret, srv.Username) {
		t.Fatalf("credentials = %q / %q", srv.Username, srv.Credential)
	}
	// The minted credentials work against the server itself.
	if err := dial(t, s, srv.Username, srv.Credential).allocate(); err != nil {
		t.Fatal(err)
	}
}

func TestNewValidates(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no secret":        {ListenIP: "127.0.0.1"},
		"bad listen ip":    {ListenIP: "localhost", Secret: testSecret},
		"bad public ip":    {ListenIP: "127.0.0.1", PublicIP: "x", Secret: testSecret},
		"unspecified ip":   {ListenIP: "::", PublicIP: "::", Secret: testSecret},
		"v4 as relay ipv6": {RelayIPv6: "192.0.2.1", Secret: testSecret},
		"tls port is port": {Port: 3478, TLS: TLSListener{Port: 3478, Certificate: noCert}, Secret: testSecret},
		"port range":       {Port: 70000, Secret: testSecret},
		"negative quota":   {MaxAllocationsPerUser: -1, Secret: testSecret},
		"negative workers": {UDPWorkers: -1, Secret: testSecret},
		"tiny ttl":         {CredentialTTL: time.Millisecond, Secret: testSecret},
		"bad cidr":         {AllowedPeers: []netip.Prefix{{}}, Secret: testSecret},
	} {
		cfg.Logger = quietLogger()
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig", name, err)
		}
	}

	s, err := New(Config{ListenIP: "0.0.0.0", Secret: testSecret, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.cfg.PublicIP; got != "127.0.0.1" {
		t.Fatalf("PublicIP defaulted to %q, want 127.0.0.1", got)
	}
	if s.cfg.Realm != "guidecall" || s.cfg.CredentialTTL != time.Hour || s.cfg.MaxAllocationsPerUser != 10 || s.cfg.UDPWorkers < 1 {
		t.Fatalf("defaults = %+v", s.cfg.Config)
	}
}

func TestLifecycle(t *testing.T) {
	s, err := New(Config{ListenIP: "127.0.0.1", Secret: testSecret, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if s.UDPAddr() != nil || s.TCPAddr() != nil {
		t.Fatal("addresses before Start")
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(s.Start(context.Background()), ErrStarted) {
		t.Fatal("second Start did not fail")
	}
	udpPort := s.UDPAddr().(*net.UDPAddr).Port
	if udpPort == 0 {
		t.Fatal("no bound port")
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if !errors.Is(s.Start(context.Background()), ErrStopped) {
		t.Fatal("Start after Stop did not fail")
	}
	// The port is free again once stopped.
	c, err := net.ListenPacket("udp4", s.UDPAddr().String())
	if err != nil {
		t.Fatalf("port still held after Stop: %v", err)
	}
	_ = c.Close()

	never, _ := New(Config{Secret: testSecret, Logger: quietLogger()})
	if err := never.Stop(); err != nil {
		t.Fatalf("Stop before Start: %v", err)
	}
}

func noCert(*tls.ClientHelloInfo) (*tls.Certificate, error) { return nil, errors.New("no certificate") }
