package config_test

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"guidecall/internal/config"
)

func newServe(t *testing.T) (*config.Serve, *flag.FlagSet) {
	t.Helper()
	var c config.Serve
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.Register(fs)
	return &c, fs
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestEnvName(t *testing.T) {
	for flagName, want := range map[string]string{
		"http-addr":          "GUIDECALL_HTTP_ADDR",
		"turn-allowed-peers": "GUIDECALL_TURN_ALLOWED_PEERS",
		"database-url":       "GUIDECALL_DATABASE_URL",
		"migrate":            "GUIDECALL_MIGRATE",
	} {
		if got := config.EnvName(flagName); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", flagName, got, want)
		}
	}
}

func TestParseEnvTwins(t *testing.T) {
	c, fs := newServe(t)
	err := config.Parse(fs, nil, env(map[string]string{
		"GUIDECALL_HTTP_ADDR":      "127.0.0.1:9999",
		"GUIDECALL_TURN_PORT":      "5349",
		"GUIDECALL_ICE_RELAY_ONLY": "false",
		"GUIDECALL_OFFER_TIMEOUT":  "7s",
		"GUIDECALL_DATABASE_URL":   "postgres://u@h/db",
		"HTTP_ADDR":                "127.0.0.1:1", // not ours
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:9999" || c.TURNPort != 5349 || c.ICERelayOnly || c.OfferTimeout != 7*time.Second || c.DatabaseURL != "postgres://u@h/db" {
		t.Fatalf("env not applied: %+v", c)
	}
	if c.ReconnectGrace != 20*time.Second || c.LogLevel != "info" {
		t.Fatalf("defaults lost: %+v", c)
	}
}

func TestParseFlagWinsOverEnv(t *testing.T) {
	c, fs := newServe(t)
	err := config.Parse(fs, []string{"--http-addr", "127.0.0.1:7000", "--turn-port=0"}, env(map[string]string{
		"GUIDECALL_HTTP_ADDR": "127.0.0.1:9999",
		"GUIDECALL_TURN_PORT": "5349",
		"GUIDECALL_LOG_LEVEL": "debug",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:7000" {
		t.Fatalf("http-addr %q: the environment beat the command line", c.HTTPAddr)
	}
	// A flag given with its default value still wins.
	if c.TURNPort != 0 {
		t.Fatalf("turn-port %d: the environment beat an explicit 0", c.TURNPort)
	}
	if c.LogLevel != "debug" {
		t.Fatalf("log-level %q: env not applied to a flag not given", c.LogLevel)
	}
}

func TestParseBadEnvNamesVariable(t *testing.T) {
	for name, val := range map[string]string{
		"GUIDECALL_TURN_PORT":      "many",
		"GUIDECALL_OFFER_TIMEOUT":  "15",
		"GUIDECALL_ICE_RELAY_ONLY": "perhaps",
	} {
		t.Run(name, func(t *testing.T) {
			_, fs := newServe(t)
			err := config.Parse(fs, nil, env(map[string]string{name: val}))
			if err == nil {
				t.Fatalf("%s=%q accepted", name, val)
			}
			if !strings.Contains(err.Error(), name) {
				t.Fatalf("error %q does not name %s", err, name)
			}
		})
	}
}

func TestParseBadFlag(t *testing.T) {
	_, fs := newServe(t)
	if err := config.Parse(fs, []string{"--turn-port", "x"}, env(nil)); err == nil {
		t.Fatal("bad flag accepted")
	}
	_, fs = newServe(t)
	if err := config.Parse(fs, []string{"--no-such-flag"}, env(nil)); err == nil {
		t.Fatal("unknown flag accepted")
	}
}

func TestValidate(t *testing.T) {
	valid := func(t *testing.T) *config.Serve {
		c, fs := newServe(t)
		if err := config.Parse(fs, nil, env(nil)); err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("defaults do not validate: %v", err)
		}
		return c
	}
	cases := []struct {
		name   string
		mod    func(*config.Serve)
		errHas string
	}{
		{"bad CIDR", func(c *config.Serve) { c.TURNAllowedPeers = "10.0.0.0/8, 192.168.1.0/33" }, "--turn-allowed-peers"},
		{"not a CIDR", func(c *config.Serve) { c.TURNAllowedPeers = "10.0.0.1" }, "--turn-allowed-peers"},
		{"garbage CIDR", func(c *config.Serve) { c.TURNAllowedPeers = "private" }, "--turn-allowed-peers"},
		{"short jwt secret", func(c *config.Serve) { c.JWTSecret = strings.Repeat("s", 31) }, "--jwt-secret"},
		{"turn port", func(c *config.Serve) { c.TURNPort = 70000 }, "--turn-port"},
		{"negative turn port", func(c *config.Serve) { c.TURNPort = -1 }, "--turn-port"},
		{"http addr", func(c *config.Serve) { c.HTTPAddr = "nonsense" }, "--http-addr"},
		{"no allocations", func(c *config.Serve) { c.TURN.MaxAllocations = 0 }, "--turn-max-allocations"},
		{"v4 relay ipv6", func(c *config.Serve) { c.TURN.RelayIPv6 = "192.0.2.1" }, "--turn-relay-ipv6"},
		{"turn cert alone", func(c *config.Serve) { c.TURN.TLSCert = "cert.pem" }, "--turn-tls-cert"},
		{"turn tls port", func(c *config.Serve) { c.TURN.TLSPort = 65536 }, "--turn-tls-port"},
		{"log format", func(c *config.Serve) { c.LogFormat = "xml" }, "--log-format"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := valid(t)
			tc.mod(c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("Validate() = %v, want an error naming %s", err, tc.errHas)
			}
		})
	}

	t.Run("good values", func(t *testing.T) {
		c := valid(t)
		c.TURNAllowedPeers = " 10.0.0.0/8 ,fd00::/8,, 127.0.0.1/32 "
		c.JWTSecret = strings.Repeat("s", 32)
		c.HTTPAddr = ":8080"
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		peers, err := c.AllowedPeers()
		if err != nil || len(peers) != 3 || peers[1].String() != "fd00::/8" {
			t.Fatalf("AllowedPeers() = %v, %v", peers, err)
		}
	})
}

// The TURN flags of issue 10 and their environment twins.
func TestTURNFlags(t *testing.T) {
	c, fs := newServe(t)
	if err := config.Parse(fs, []string{"--turn-max-allocations", "40"}, env(map[string]string{
		"GUIDECALL_TURN_RELAY_IPV6": "2001:db8::7", "GUIDECALL_TURN_TLS_PORT": "5349",
		"GUIDECALL_TURN_TLS_CERT": "c.pem", "GUIDECALL_TURN_TLS_KEY": "k.pem", "GUIDECALL_TURN_MAX_ALLOCATIONS": "3",
	})); err != nil {
		t.Fatal(err)
	}
	if c.TURN.MaxAllocations != 40 || c.TURN.RelayIPv6 != "2001:db8::7" || c.TURN.TLSPort != 5349 || !c.TURN.TLSEnabled() || c.TURN.TLSKey != "k.pem" {
		t.Fatalf("TURN = %+v", c.TURN)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	d, fs := newServe(t)
	if err := config.Parse(fs, nil, env(nil)); err != nil {
		t.Fatal(err)
	}
	if d.TURN.MaxAllocations != 10 || d.TURN.TLSPort != 443 || d.TURN.TLSEnabled() {
		t.Fatalf("defaults %+v", d.TURN)
	}
}

func TestUsageListsEnvNames(t *testing.T) {
	_, fs := newServe(t)
	var b strings.Builder
	fs.SetOutput(&b)
	config.Usage(fs, "guidecall serve")()
	for _, want := range []string{"--http-addr", "[GUIDECALL_HTTP_ADDR]", "[GUIDECALL_JWT_SECRET]"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("usage lacks %q", want)
		}
	}
}

func TestConnectionAndProxyFlags(t *testing.T) {
	c, fs := newServe(t)
	if err := config.Parse(fs, nil, env(nil)); err != nil {
		t.Fatal(err)
	}
	if c.MaxConnections != 20000 || c.MaxConnectionsPerIP != 50 || c.TrustedProxies != "" {
		t.Fatalf("defaults: max %d per-ip %d proxies %q", c.MaxConnections, c.MaxConnectionsPerIP, c.TrustedProxies)
	}
	if p, err := c.Proxies(); err != nil || len(p) != 0 {
		t.Fatalf("default Proxies() = %v, %v; want none", p, err)
	}

	c, fs = newServe(t)
	err := config.Parse(fs, []string{"--max-connections", "100"}, env(map[string]string{
		"GUIDECALL_MAX_CONNECTIONS_PER_IP": "7",
		"GUIDECALL_TRUSTED_PROXIES":        "10.0.0.0/8, fd00::/8",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := c.Proxies()
	if err != nil || c.MaxConnections != 100 || c.MaxConnectionsPerIP != 7 || len(p) != 2 || p[1].String() != "fd00::/8" {
		t.Fatalf("max %d per-ip %d Proxies() = %v, %v", c.MaxConnections, c.MaxConnectionsPerIP, p, err)
	}

	for name, mod := range map[string]func(*config.Serve){
		"--trusted-proxies":        func(c *config.Serve) { c.TrustedProxies = "10.0.0.1" },
		"--max-connections":        func(c *config.Serve) { c.MaxConnections = 0 },
		"--max-connections-per-ip": func(c *config.Serve) { c.MaxConnectionsPerIP = -1 },
		"--bus-url":                func(c *config.Serve) { c.BusURL = "http://127.0.0.1:4222"; c.DatabaseURL = "postgres://x" },
		"--bus-url needs":          func(c *config.Serve) { c.BusURL = "nats://127.0.0.1:4222" },
		"--pprof needs":            func(c *config.Serve) { c.Pprof = true },
	} {
		c, fs := newServe(t)
		if err := config.Parse(fs, nil, env(nil)); err != nil {
			t.Fatal(err)
		}
		mod(c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: Validate() = %v, want an error naming it", name, err)
		}
	}
}

func TestAllowedOrigins(t *testing.T) {
	c, fs := newServe(t)
	err := config.Parse(fs, nil, env(map[string]string{
		"GUIDECALL_ALLOWED_ORIGINS": "https://Shop.Example, http://127.0.0.2:8081/ ,https://shop.example:443,http://[::1]:9000",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	got, err := c.Origins()
	want := []string{"https://shop.example", "http://127.0.0.2:8081", "https://shop.example", "http://[::1]:9000"}
	if err != nil || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("Origins() = %q, %v; want %q", got, err, want)
	}

	// One flag decides both CORS and the checkout's way back: the old
	// --shop-origins is gone, not silently ignored.
	if _, fs := newServe(t); config.Parse(fs, []string{"--shop-origins", "https://shop.example"}, env(nil)) == nil {
		t.Fatal("--shop-origins accepted; --allowed-origins replaces it")
	}

	for _, bad := range []string{"shop.example", "ftp://shop.example", "https://shop.example/path", "https://", "https://a.example?x=1", "https://u@a.example"} {
		c, fs := newServe(t)
		if err := config.Parse(fs, []string{"--allowed-origins", bad}, env(nil)); err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--allowed-origins") {
			t.Errorf("%q: Validate() = %v, want an error naming --allowed-origins", bad, err)
		}
	}
}
