package config

import (
	"flag"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// EnvName is the environment variable that stands in for a flag.
func EnvName(flagName string) string {
	return "GUIDECALL_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Parse parses args into fs, then fills every flag not given on the command
// line from its environment twin, looked up with getenv.
func Parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || given[f.Name] {
			return
		}
		if v := getenv(EnvName(f.Name)); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", EnvName(f.Name), v, e)
			}
		}
	})
	return err
}

// Usage prints a flag set's help with each flag's environment variable.
func Usage(fs *flag.FlagSet, summary string) func() {
	return func() {
		w := fs.Output()
		fmt.Fprintf(w, "%s\n\nFlags (each may also be set by the environment variable shown):\n", summary)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(w, "  --%s  [%s]\n      %s%s\n", f.Name, EnvName(f.Name), f.Usage, def)
		})
	}
}

// Store is what every data-touching subcommand shares.
type Store struct {
	DatabaseURL string
}

// Register adds the store flags.
func (s *Store) Register(fs *flag.FlagSet) {
	fs.StringVar(&s.DatabaseURL, "database-url", "", "PostgreSQL URL (postgres://user@host:5432/db); empty keeps everything in memory")
}

// Serve configures `guidecall serve`.
type Serve struct {
	Store
	// BusURL is the NATS server of the cluster bus (nats://host:4222);
	// empty uses PostgreSQL's LISTEN/NOTIFY.
	BusURL    string
	HTTPAddr  string
	PublicURL string
	Migrate   bool

	TURNListenIP     string
	TURNPort         int
	TURNPublicIP     string
	TURNSecret       string
	TURNAllowedPeers string
	ICERelayOnly     bool
	TURN             TURN

	JWTSecret     string
	SandboxSecret string
	// SandboxWebhookDelay holds each sandbox webhook back before its first
	// attempt. A test hook with no flag: `serve` reads it from
	// GUIDECALL_TEST_SANDBOX_WEBHOOK_DELAY, so an end-to-end test can kill
	// a node between Pay and the delivery.
	SandboxWebhookDelay time.Duration

	OfferTimeout   time.Duration
	ReconnectGrace time.Duration
	ShutdownGrace  time.Duration

	JoinRate  float64
	JoinBurst int

	MaxConnections      int
	MaxConnectionsPerIP int
	TrustedProxies      string

	// AllowedOrigins lists the merchant pages (scheme://host[:port]) that
	// embed the shopper widget: only they get CORS on the API and the
	// widget's assets, WebSocket access and a frame-ancestors entry.
	AllowedOrigins string

	DemoGuide Toggle
	LogLevel  string
	LogFormat string

	// Operations (issue 11).
	MetricsAddr string
	// Pprof adds Go's runtime profiles (/debug/pprof/) to the --metrics-addr
	// listener, which is the operator's own, never the public one.
	Pprof            bool
	TLSCert          string
	TLSKey           string
	HTTPRedirectAddr string
	TURNRelayPorts   string
	JWTSecretPrev    string
	// Hardening (issue 7).
	LoginConcurrency  int
	LoginRate         float64
	LoginBurst        int
	LoginFirstDelay   time.Duration
	LoginLockAfter    int
	LoginLockFor      time.Duration
	HTTPBodyTimeout   time.Duration
	HTTPWriteTimeout  time.Duration
	MaxHTTPConnsPerIP int
	Retention         time.Duration
	PurgeEvery        time.Duration
	PrivacyNoticeURL  string

	// Payment providers beyond the sandbox, and refunds (issue 9).
	Stripe            Stripe
	Adyen             Adyen
	GuideRefundWindow time.Duration
	PaymentRoutes     string
	// MerchantRetrySchedule replaces the merchant webhook retry schedule.
	// A test hook with no flag: `serve` reads it from
	// GUIDECALL_TEST_MERCHANT_RETRY_SCHEDULE.
	MerchantRetrySchedule []time.Duration

	// Routing (issue 8).
	CustomerTokenSecret string
	MaxMissedOffers     int
}

// Stripe configures the Stripe provider; it is on when SecretKey is set.
type Stripe struct {
	SecretKey     string
	WebhookSecret string
	APIURL        string
	// PaymentMethods is --stripe-payment-methods: the method types per
	// currency or currency/country (payments.ParseRoutes' syntax).
	PaymentMethods string
}

// Register adds the Stripe flags.
func (s *Stripe) Register(fs *flag.FlagSet) {
	fs.StringVar(&s.SecretKey, "stripe-secret-key", "", "Stripe secret key (sk_test_… or sk_live_…); set, new payment links are Stripe Checkout Sessions")
	fs.StringVar(&s.WebhookSecret, "stripe-webhook-secret", "", "signing secret (whsec_…) of the Stripe endpoint that posts to /webhooks/stripe")
	fs.StringVar(&s.APIURL, "stripe-api-url", "", "Stripe API base URL (stripe-mock in tests); empty is Stripe's")
	fs.StringVar(&s.PaymentMethods, "stripe-payment-methods", "", "payment method types a Checkout Session offers per currency or currency/country, most specific first: \"EUR/NL=ideal,card;JPY=konbini,card;*=card\"; empty: the Stripe dashboard's settings")
}

// Enabled reports whether Stripe is configured.
func (s Stripe) Enabled() bool { return s.SecretKey != "" }

// Validate refuses half a configuration: a key without the webhook secret
// would take payments whose outcome never arrives.
func (s Stripe) Validate() error {
	if (s.SecretKey == "") != (s.WebhookSecret == "") {
		return fmt.Errorf("--stripe-secret-key and --stripe-webhook-secret go together")
	}
	return nil
}

// Toggle is a boolean flag whose default depends on other flags: Given
// says it was given.
type Toggle struct {
	Given, On bool
}

func (t *Toggle) String() string {
	if t == nil || !t.Given {
		return "auto"
	}
	return strconv.FormatBool(t.On)
}

// Set implements flag.Value.
func (t *Toggle) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	t.Given, t.On = true, v
	return nil
}

// IsBoolFlag lets --demo-guide stand alone.
func (t *Toggle) IsBoolFlag() bool { return true }

// WantDemoGuide is --demo-guide, which defaults to on only with the
// in-memory store: a production database must ask for a demo account.
func (c *Serve) WantDemoGuide() bool {
	if c.DemoGuide.Given {
		return c.DemoGuide.On
	}
	return c.DatabaseURL == ""
}

// Register adds the serve flags with their defaults.
func (c *Serve) Register(fs *flag.FlagSet) {
	c.Store.Register(fs)
	fs.StringVar(&c.HTTPAddr, "http-addr", "127.0.0.1:8080", "address of the HTTP and WebSocket listener")
	fs.StringVar(&c.PublicURL, "public-url", "", "URL browsers reach this node at (default http://<http-addr>)")
	fs.BoolVar(&c.Migrate, "migrate", false, "apply database migrations at start-up")
	fs.StringVar(&c.BusURL, "bus-url", "", "NATS server for the cluster bus (nats://127.0.0.1:4222); needs --database-url; empty uses PostgreSQL LISTEN/NOTIFY")
	fs.StringVar(&c.TURNListenIP, "turn-listen-ip", "127.0.0.1", "IP the bundled TURN server listens on (0.0.0.0 for all)")
	fs.IntVar(&c.TURNPort, "turn-port", 3478, "UDP and TCP port of the bundled TURN server")
	fs.StringVar(&c.TURNPublicIP, "turn-public-ip", "", "address advertised for TURN and as the relay address of its family (default the listen IP)")
	fs.StringVar(&c.TURNSecret, "turn-secret", "", "shared secret for TURN credentials (coturn use-auth-secret); random if empty, which a cluster must not do")
	fs.StringVar(&c.TURNAllowedPeers, "turn-allowed-peers", "", "comma-separated CIDRs TURN may relay to despite being private or special")
	c.TURN.Register(fs)
	fs.BoolVar(&c.ICERelayOnly, "ice-relay-only", true, "tell clients to use only TURN relays (hides shopper and guide IPs from each other)")
	fs.StringVar(&c.JWTSecret, "jwt-secret", "", "HMAC secret for tokens, at least 32 bytes; random if empty, which a cluster must not do")
	fs.StringVar(&c.SandboxSecret, "sandbox-secret", "", "webhook signing secret of the sandbox payment provider; random if empty")
	fs.DurationVar(&c.OfferTimeout, "offer-timeout", 15*time.Second, "how long a guide has to accept an offer")
	fs.DurationVar(&c.ReconnectGrace, "reconnect-grace", 20*time.Second, "how long a dropped shopper or guide may take to reconnect")
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", 5*time.Second, "how long shutdown waits for connections to close")
	fs.Float64Var(&c.JoinRate, "join-rate", 60, "queue joins allowed per minute from one client address")
	fs.IntVar(&c.JoinBurst, "join-burst", 20, "queue joins one client address may make at once before --join-rate applies")
	fs.IntVar(&c.MaxConnections, "max-connections", 20000, "WebSocket connections one node holds at most; more get 503")
	fs.IntVar(&c.MaxConnectionsPerIP, "max-connections-per-ip", 50, "WebSocket connections one client address may hold, authenticated or not; more get 429")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", "", "comma-separated CIDRs of load balancers whose X-Forwarded-For / X-Real-IP name the client; empty trusts no header")
	fs.StringVar(&c.AllowedOrigins, "allowed-origins", "", "comma-separated origins (https://shop.example) of merchant pages that embed the widget: they get CORS and WebSocket access, and a hosted checkout (sandbox, Stripe, Adyen) may bring the shopper back to them; empty allows only this node's own pages")
	fs.Var(&c.DemoGuide, "demo-guide", "create demo guide and admin accounts at start-up and print their logins; auto: on with the in-memory store, off with --database-url")
	c.registerHardening(fs)
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")
	c.Stripe.Register(fs)
	c.Adyen.Register(fs)
	fs.StringVar(&c.PaymentRoutes, "payment-routes", "", "providers to try for new links per currency or currency/country (the shopper's locale region), in order, failing over before a link is issued: \"EUR/NL=stripe,sandbox;EUR=stripe;*=sandbox\"; empty: the first provider only")
	fs.DurationVar(&c.GuideRefundWindow, "guide-refund-window", 14*24*time.Hour, "how long after a payment the guide may refund it from the console (admins: always)")
	// Routing (issue 8).
	fs.StringVar(&c.CustomerTokenSecret, "customer-token-secret", "", "the merchant's identity secret that signs customer tokens (HS256); without it tokens, and so priorities, are refused")
	fs.IntVar(&c.MaxMissedOffers, "max-missed-offers", 2, "offers a guide may let time out in a row before being set away")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "address to serve Prometheus /metrics on (e.g. 127.0.0.1:9090); empty serves none")
	fs.BoolVar(&c.Pprof, "pprof", false, "also serve Go's runtime profiles at /debug/pprof/ on --metrics-addr, for measuring a node under load")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "PEM certificate (chain) to serve HTTPS and WSS with on --http-addr; reloaded on SIGHUP")
	fs.StringVar(&c.TLSKey, "tls-key", "", "PEM private key of --tls-cert; reloaded on SIGHUP")
	fs.StringVar(&c.HTTPRedirectAddr, "http-redirect-addr", "", "with --tls-cert: a plain-HTTP address (e.g. :80) that redirects to the HTTPS --public-url")
	fs.StringVar(&c.JWTSecretPrev, "jwt-secret-previous", "", "while rotating --jwt-secret: the old secret, still accepted (never signed with) so nobody is logged out")
	fs.StringVar(&c.TURNRelayPorts, "turn-relay-ports", "", "UDP port range for TURN relays, e.g. 49152-65535, so a firewall can open exactly it; empty lets the OS pick")
}

// RelayPorts parses --turn-relay-ports; 0, 0 when it is empty.
func (c *Serve) RelayPorts() (lo, hi uint16, err error) {
	if c.TURNRelayPorts == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(c.TURNRelayPorts, "-")
	l, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 16)
	h, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 16)
	if !ok || err1 != nil || err2 != nil || l == 0 || l > h {
		return 0, 0, fmt.Errorf("--turn-relay-ports %q: want low-high, e.g. 49152-65535", c.TURNRelayPorts)
	}
	return uint16(l), uint16(h), nil
}

// validateOperations checks the flags of issue 11's block.
func (c *Serve) validateOperations() error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("--tls-cert and --tls-key go together")
	}
	if c.HTTPRedirectAddr != "" && c.TLSCert == "" {
		return fmt.Errorf("--http-redirect-addr redirects to HTTPS, which needs --tls-cert and --tls-key")
	}
	if c.TLSCert != "" && strings.HasPrefix(c.PublicURL, "http://") {
		return fmt.Errorf("--public-url %q is http:// but the node serves HTTPS", c.PublicURL)
	}
	if c.JWTSecretPrev != "" && (c.JWTSecret == "" || len(c.JWTSecretPrev) < 32) {
		return fmt.Errorf("--jwt-secret-previous needs --jwt-secret, and at least 32 bytes")
	}
	if _, _, err := c.RelayPorts(); err != nil {
		return err
	}
	return c.TURN.Validate()
}

// registerHardening adds the flags of login limits, HTTP limits and
// privacy.
func (c *Serve) registerHardening(fs *flag.FlagSet) {
	fs.IntVar(&c.LoginConcurrency, "login-concurrency", 2, "password checks (19 MiB each) running at once; more logins wait up to 2s, then get 503")
	fs.Float64Var(&c.LoginRate, "login-rate", 30, "login attempts allowed per minute from one client address")
	fs.IntVar(&c.LoginBurst, "login-burst", 10, "login attempts one client address may make at once before --login-rate applies")
	fs.DurationVar(&c.LoginFirstDelay, "login-first-delay", time.Second, "wait imposed after the 4th wrong password in a row for an account, doubling with each further one")
	fs.IntVar(&c.LoginLockAfter, "login-lock-after", 10, "wrong passwords in a row that lock an account")
	fs.DurationVar(&c.LoginLockFor, "login-lock-for", 15*time.Minute, "how long a locked account stays locked, unless an admin unlocks it")
	fs.DurationVar(&c.HTTPBodyTimeout, "http-body-timeout", 10*time.Second, "how long an HTTP request (headers and body) may take to arrive; WebSocket upgrades are exempt once upgraded")
	fs.DurationVar(&c.HTTPWriteTimeout, "http-write-timeout", 30*time.Second, "how long writing one HTTP answer may take; WebSocket upgrades are exempt")
	fs.IntVar(&c.MaxHTTPConnsPerIP, "max-http-connections-per-ip", 64, "open HTTP connections one client address may hold; more are closed at once")
	fs.DurationVar(&c.Retention, "retention", 30*24*time.Hour, "how long shopper data (of a queue entry, its calls and callbacks) is kept after the entry ends or the callback is done; 0 keeps it forever")
	fs.DurationVar(&c.PurgeEvery, "purge-every", time.Hour, "how often the retention purge runs")
	fs.StringVar(&c.PrivacyNoticeURL, "privacy-notice-url", "", "the merchant's privacy notice, linked in the widget before the camera is asked for")
}

// Validate checks values that flag parsing cannot.
func (c *Serve) Validate() error {
	if c.LoginConcurrency <= 0 || c.LoginRate <= 0 || c.LoginBurst <= 0 || c.MaxHTTPConnsPerIP <= 0 ||
		c.LoginFirstDelay <= 0 || c.LoginLockAfter <= 0 || c.LoginLockFor <= 0 || c.HTTPBodyTimeout <= 0 || c.HTTPWriteTimeout <= 0 {
		return fmt.Errorf("the --login-* limits, --http-body-timeout, --http-write-timeout and --max-http-connections-per-ip must be positive")
	}
	if c.PrivacyNoticeURL != "" && !strings.HasPrefix(c.PrivacyNoticeURL, "https://") && !strings.HasPrefix(c.PrivacyNoticeURL, "http://") {
		return fmt.Errorf("--privacy-notice-url %q: want an http(s) URL", c.PrivacyNoticeURL)
	}
	if c.BusURL != "" {
		if !strings.HasPrefix(c.BusURL, "nats://") && !strings.HasPrefix(c.BusURL, "tls://") {
			return fmt.Errorf("--bus-url %q: want nats://host:port or tls://host:port", c.BusURL)
		}
		if c.DatabaseURL == "" {
			return fmt.Errorf("--bus-url needs --database-url: the bus finds each party's node in PostgreSQL, and one node in memory needs no bus")
		}
	}
	if c.Pprof && c.MetricsAddr == "" {
		return fmt.Errorf("--pprof needs --metrics-addr: profiles are served on the operator's listener, never on --http-addr")
	}
	if c.Retention < 0 || c.PurgeEvery <= 0 {
		return fmt.Errorf("--retention must not be negative, and --purge-every must be positive")
	}
	if _, err := netip.ParseAddrPort(c.HTTPAddr); err != nil && !strings.HasPrefix(c.HTTPAddr, ":") && !strings.Contains(c.HTTPAddr, "localhost") {
		return fmt.Errorf("--http-addr %q: want host:port", c.HTTPAddr)
	}
	if _, err := c.AllowedPeers(); err != nil {
		return err
	}
	if _, err := c.Proxies(); err != nil {
		return err
	}
	if _, err := c.Origins(); err != nil {
		return err
	}
	if c.MaxConnections <= 0 || c.MaxConnectionsPerIP <= 0 {
		return fmt.Errorf("--max-connections and --max-connections-per-ip must be positive")
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < 32 {
		return fmt.Errorf("--jwt-secret must be at least 32 bytes")
	}
	if c.CustomerTokenSecret != "" && len(c.CustomerTokenSecret) < 32 {
		return fmt.Errorf("--customer-token-secret must be at least 32 bytes")
	}
	if c.MaxMissedOffers <= 0 {
		return fmt.Errorf("--max-missed-offers must be positive")
	}
	if c.JoinRate <= 0 || c.JoinBurst <= 0 {
		return fmt.Errorf("--join-rate and --join-burst must be positive")
	}
	if c.TURNPort < 0 || c.TURNPort > 65535 {
		return fmt.Errorf("--turn-port %d out of range", c.TURNPort)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("--log-format %q: want text or json", c.LogFormat)
	}
	if err := c.Stripe.Validate(); err != nil {
		return err
	}
	if err := c.Adyen.Validate(); err != nil {
		return err
	}
	return c.validateOperations()
}

// AllowedPeers parses --turn-allowed-peers; a bad CIDR fails start-up.
func (c *Serve) AllowedPeers() ([]netip.Prefix, error) {
	return parsePrefixes("turn-allowed-peers", c.TURNAllowedPeers)
}

// Proxies parses --trusted-proxies; a bad CIDR fails start-up.
func (c *Serve) Proxies() ([]netip.Prefix, error) {
	return parsePrefixes("trusted-proxies", c.TrustedProxies)
}

// Origins parses --allowed-origins into canonical origins (lower case, no
// default port, no path); anything that is not a bare http(s) origin fails
// start-up, since a typo there would silently refuse a merchant.
func (c *Serve) Origins() ([]string, error) {
	var out []string
	for _, s := range strings.Split(c.AllowedOrigins, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("--allowed-origins %q: %w", s, err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") ||
			u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, fmt.Errorf("--allowed-origins %q: want scheme://host[:port] with http or https and nothing after", s)
		}
		host := strings.ToLower(u.Hostname())
		port := u.Port()
		if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
			port = ""
		}
		origin := u.Scheme + "://" + host
		if strings.Contains(host, ":") {
			origin = u.Scheme + "://[" + host + "]"
		}
		if port != "" {
			origin += ":" + port
		}
		out = append(out, origin)
	}
	return out, nil
}

// parsePrefixes reads a comma-separated list of CIDRs.
func parsePrefixes(flagName, list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", flagName, err)
		}
		out = append(out, p)
	}
	return out, nil
}
