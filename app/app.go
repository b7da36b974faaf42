package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"guidecall/callflow"
	"guidecall/catalog"
	"guidecall/internal/auth"
	"guidecall/internal/config"
	"guidecall/internal/db"
	"guidecall/merchant"
	"guidecall/payments"
	"guidecall/payments/adyen"
	"guidecall/payments/sandbox"
	"guidecall/payments/stripe"
	"guidecall/protocol"
	"guidecall/queue"
	"guidecall/signaling"
	"guidecall/telemetry"
	"guidecall/turnserver"
	"guidecall/webhook"
)

// idleTimeout closes kept-alive HTTP connections that sit unused, so idle
// clients do not hold file descriptors forever.
var idleTimeout = 120 * time.Second

// Stores are the stores a node runs on, picked once from config.
type Stores struct {
	Accounts auth.AccountStore
	Sessions auth.SessionStore
	Queue    queue.Store
	Payments payments.Store
	Catalog  catalog.Store
	Bus      signaling.Bus
	// Pool is the database of PostgresStores, nil for MemoryStores. The
	// parts whose work must survive a crash run on it with River: the
	// webhook outbox, the sandbox's checkouts, reconciliation.
	Pool    *pgxpool.Pool
	Elector queue.Elector
	// Ready reports whether the stores answer; nil means always.
	Ready func(ctx context.Context) error
	// Close releases the stores after everything else has stopped.
	Close func()
}

// MemoryStores keeps everything in this process.
func MemoryStores() Stores {
	return Stores{
		Accounts: auth.NewMemoryAccountStore(),
		Sessions: auth.NewMemorySessionStore(),
		Queue:    queue.NewMemoryStore(),
		Payments: payments.NewMemoryStore(),
		Catalog:  catalog.NewMemoryStore(),
		Bus:      &signaling.LocalBus{},
		Elector:  queue.SoleLeader{},
	}
}

// App is one guidecall node: every service, its listeners and its
// lifecycle.
type App struct {
	cfg    config.Serve
	log    *slog.Logger
	stores Stores

	Auth     *auth.Service
	Queue    *queue.Service
	Hub      *signaling.Hub
	TURN     *turnserver.Server
	Sandbox  *sandbox.Sandbox
	Payments *payments.Service
	// Catalog is the merchant's product feed guides search in a call.
	Catalog *catalog.Service
	// Webhooks delivers the sandbox's webhooks (and, next, the
	// merchant's): a MemoryOutbox run by this node, or a RiverOutbox
	// whose jobs the node's River client (jobs) works.
	Webhooks webhook.Outbox
	Flow     *callflow.Flow
	// Metrics is nil unless --metrics-addr is set.
	Metrics *telemetry.Metrics
	metrics *metricsServer
	// Merchant delivers the merchant's webhooks; nil on memory stores.
	Merchant *merchant.Service
	// MerchantMemory delivers them on memory stores; nil on a database.
	MerchantMemory *merchant.MemoryService

	// durable are the parts that run the outbox and reconciliation:
	// the memory outbox, or the River client.
	durable []namedService

	listener  net.Listener
	publicURL string
	clientIP  func(*http.Request) string // the client's address, believing only trusted proxies
	origins   []string                   // merchant pages embedding the widget (--allowed-origins)
	http      *http.Server
	served    chan error
	stopping  chan struct{}
	stopOnce  sync.Once

	// certs is nil without --tls-cert; redirect serves --http-redirect-addr.
	certs      *certReloader
	turnCerts  *certReloader // nil without --turn-tls-cert
	redirect   *http.Server
	redirectLn net.Listener

	// parts are the node's long-running parts in start order; Stop stops
	// them in reverse.
	parts []namedService
	// stopCtx bounds the parts' shutdown: it is the ctx given to Stop.
	stopCtx  context.Context
	stopErrs []error
	// storeDown is set while the store does not answer; API requests then
	// get 503 at once instead of hanging on a dead pool.
	storeDown atomic.Bool
}

// checkStore pings the store and flips storeDown, logging each change
// once; it runs every second.
func (a *App) checkStore(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err := a.stores.Ready(pctx)
	cancel()
	if ctx.Err() != nil {
		return
	}
	switch down := err != nil; {
	case down && !a.storeDown.Swap(true):
		a.log.Error("database unavailable; API requests get 503 until it is back", "err", err)
	case !down && a.storeDown.Swap(false):
		a.log.Info("database back; serving again")
	}
}

// touch tells the store which parties this node still holds, so the
// leader can tell a dead node's parties from live ones; it runs every
// few seconds.
func (a *App) touch(ctx context.Context) {
	var entries, guides []queue.Held
	for _, p := range a.Hub.Parties() {
		held := queue.Held{ID: p.ID, SocketID: p.Socket}
		if p.Role == protocol.RoleShopper {
			entries = append(entries, held)
		} else {
			guides = append(guides, held)
		}
	}
	if err := a.Queue.Touch(ctx, entries, guides); err != nil && ctx.Err() == nil {
		a.log.Warn("refresh presence", "err", err, "shoppers", len(entries), "guides", len(guides))
	}
}

// Secret returns value, or a random one when it is empty, saying so: a
// random secret is fine on one node and wrong for a cluster.
func secret(log *slog.Logger, name, value string) []byte {
	if value != "" {
		return []byte(value)
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	log.Info("generated a random secret for this run; set it to share it across nodes and restarts", "flag", "--"+name)
	return []byte(base64.RawURLEncoding.EncodeToString(b))
}

// New builds a node and binds its HTTP listener, so its URL is known
// before Start. Nothing runs until Start.
func New(cfg config.Serve, stores Stores, log *slog.Logger) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	}
	a := &App{cfg: cfg, log: log, stores: stores, listener: ln, stopping: make(chan struct{})}
	fail := func(err error) (*App, error) {
		_ = ln.Close()
		if a.redirectLn != nil {
			_ = a.redirectLn.Close()
		}
		if a.metrics != nil {
			a.metrics.release()
		}
		return nil, err
	}
	scheme := "http://"
	if cfg.TLSCert != "" {
		scheme = "https://"
	}
	a.publicURL = strings.TrimRight(cfg.PublicURL, "/")
	if a.publicURL == "" {
		a.publicURL = scheme + ln.Addr().String()
	}
	// The sandbox's webhooks are River jobs any node of a cluster may
	// deliver: they go to the public URL, which every node reaches, and
	// to this node's own loopback only when there is none (one node).
	sandboxWebhookBase := scheme + loopbackAddr(ln.Addr())
	if cfg.PublicURL != "" {
		sandboxWebhookBase = a.publicURL
	}
	if a.listener, err = a.setupTLS(ln); err != nil {
		return fail(err)
	}

	issuer, err := auth.NewIssuer(secret(log, "jwt-secret", cfg.JWTSecret), nil)
	if err != nil {
		return fail(err)
	}
	if cfg.JWTSecretPrev != "" {
		if err := issuer.AcceptPrevious([]byte(cfg.JWTSecretPrev)); err != nil {
			return fail(err)
		}
		log.Info("accepting tokens of the previous JWT secret too; drop --jwt-secret-previous once they have expired")
	}
	a.Auth = auth.NewService(stores.Accounts, issuer, log)

	allowed, err := cfg.AllowedPeers()
	if err != nil {
		return fail(err)
	}
	relayLo, relayHi, err := cfg.RelayPorts()
	if err != nil {
		return fail(err)
	}
	turnTLS, err := a.turnTLS()
	if err != nil {
		return fail(err)
	}
	a.TURN, err = turnserver.New(turnserver.Config{
		RelayPortMin: relayLo, RelayPortMax: relayHi,
		MaxAllocationsPerUser: cfg.TURN.MaxAllocations, RelayIPv6: cfg.TURN.RelayIPv6, TLS: turnTLS,
		ListenIP: cfg.TURNListenIP, Port: cfg.TURNPort, PublicIP: cfg.TURNPublicIP,
		Secret: secret(log, "turn-secret", cfg.TURNSecret), AllowedPeers: allowed,
		Logger: log.With("component", "turn"),
	})
	if err != nil {
		return fail(err)
	}

	proxies, err := cfg.Proxies()
	if err != nil {
		return fail(err)
	}
	a.clientIP = clientIPs{trusted: proxies}.of
	if err := a.buildMetrics(cfg); err != nil {
		return fail(err)
	}
	if a.origins, err = cfg.Origins(); err != nil {
		return fail(err)
	}
	if stores.Catalog == nil {
		stores.Catalog = catalog.NewMemoryStore()
	}
	a.Catalog = catalog.NewService(catalog.Config{
		Store: stores.Catalog, Log: log,
		PreviewOrigins: append([]string{a.publicURL}, a.origins...),
	})
	heartbeat := 15 * time.Second
	a.Flow = callflow.New(callflow.Config{
		Issuer: issuer, Accounts: stores.Accounts, TURN: a.TURN,
		PublicURL: a.publicURL, ICERelayOnly: cfg.ICERelayOnly,
		JoinRate: cfg.JoinRate, JoinBurst: cfg.JoinBurst, ClientIP: a.clientIP,
		Heartbeat: heartbeat, Logger: log,
		CustomerSecret:      []byte(cfg.CustomerTokenSecret),
		ICERestarted:        a.iceRestarted(),
		AllowedOrigins:      a.origins,
		EraseMerchantEvents: a.eraseMerchantEvents,
	})
	if a.Merchant, err = buildMerchant(cfg, stores, log); err != nil {
		return fail(err)
	}
	a.Queue, err = queue.NewService(queue.Config{
		Store: stores.Queue, Elector: stores.Elector, Logger: log,
		OfferTimeout: cfg.OfferTimeout, ReconnectGrace: cfg.ReconnectGrace,
		TxHook:          merchantQueueHook(a.Merchant, log),
		MaxMissedOffers: cfg.MaxMissedOffers,
		Observer:        a.matcherObserver(),
	})
	if err != nil {
		return fail(err)
	}
	a.Hub, err = signaling.NewHub(signaling.Config{
		Auth:      a.Flow.Authenticator(),
		Sessions:  a.Flow.Sessions(),
		Bus:       stores.Bus,
		Logger:    log,
		Heartbeat: heartbeat,
		Notices:   a.Flow.Notice,

		MaxConnections:      cfg.MaxConnections,
		MaxConnectionsPerIP: cfg.MaxConnectionsPerIP,
		ClientIP:            a.clientIP,
		Observer:            a.hubObserver(),
		OriginPatterns:      wsOriginPatterns(a.origins),
	})
	if err != nil {
		return fail(err)
	}
	if err := a.buildPayments(cfg, stores, log, sandboxWebhookBase); err != nil {
		return fail(err)
	}
	a.Flow.Bind(a.Queue, a.Payments, a.Hub)
	a.hardenAuth(cfg, stores)
	if a.Metrics != nil {
		// Subscribed before anything runs, so no event is missed;
		// delivery starts with the queue, and Queue.Stop ends it.
		a.Queue.SubscribeFunc(context.Background(), "metrics", 0, a.Metrics.QueueEvent)
	}
	// No ReadTimeout or WriteTimeout: they would bound whole requests, and
	// net/http leaves their deadlines on a hijacked WebSocket's conn. The
	// header deadline is lifted once the headers are read, and the idle one
	// applies only between requests of a kept-alive conn, so neither
	// touches an upgraded socket.
	a.http = &http.Server{
		Handler:           a.routes(issuer),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ConnState:         newConnCap(cfg.MaxHTTPConnsPerIP, clientIPs{trusted: proxies}, log).track,
	}
	a.parts = a.lifecycle()
	return a, nil
}

// buildPayments builds the sandbox, the webhook outbox and the payments
// service on the stores' kind: on a database, the sandbox's outcome and
// its webhook commit together (a River job) and reconciliation is a River
// periodic job; in memory, both run in this process. The sandbox posts
// its webhooks to webhookBase + /webhooks/sandbox.
func (a *App) buildPayments(cfg config.Serve, stores Stores, log *slog.Logger, webhookBase string) error {
	whCfg := webhook.Config{Logger: log.With("component", "webhook")}
	if a.Metrics != nil {
		whCfg.Attempted = a.Metrics.WebhookAttempted
	}
	if a.certs != nil {
		// The sandbox's webhooks come back to this node over HTTPS.
		whCfg.HTTPClient = &http.Client{Timeout: 10 * time.Second,
			Transport: &http.Transport{TLSClientConfig: a.certs.clientConfig(), Proxy: http.ProxyFromEnvironment}}
	}
	var sbStore sandbox.Store
	var riverOutbox *webhook.RiverOutbox
	if stores.Pool != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		schema, err := db.CurrentSchema(ctx, stores.Pool)
		if err != nil {
			return err
		}
		if riverOutbox, err = webhook.NewRiverOutbox(stores.Pool, schema, whCfg); err != nil {
			return err
		}
		a.Webhooks, sbStore = riverOutbox, sandbox.NewPostgresStore(stores.Pool, riverOutbox)
	} else {
		mem := webhook.NewMemoryOutbox(webhook.MemoryConfig{Config: whCfg})
		a.Webhooks, sbStore = mem, sandbox.NewMemoryStore(mem)
		a.durable = append(a.durable, namedService{"webhooks", mem})
	}
	var err error
	a.Sandbox, err = sandbox.New(sandbox.Config{
		Secret:          secret(log, "sandbox-secret", cfg.SandboxSecret),
		CheckoutBaseURL: a.publicURL + "/pay/sandbox",
		ReturnURL:       a.publicURL + "/shop/",
		WebhookURL:      webhookBase + "/webhooks/sandbox",
		Logger:          log.With("component", "sandbox"),
		Store:           sbStore,
		Outbox:          a.Webhooks,
		WebhookDelay:    cfg.SandboxWebhookDelay,
	})
	if err != nil {
		return err
	}
	providers := []payments.Provider{a.Sandbox}
	if cfg.Stripe.Enabled() {
		// Stripe takes the new links; the sandbox still answers for its own.
		st, err := StripeProvider(cfg.Stripe, a.publicURL, log)
		if err != nil {
			return err
		}
		providers = append([]payments.Provider{st}, providers...)
	}
	if cfg.Adyen.Enabled() {
		// After Stripe when both are set: --payment-routes decides more.
		var refs adyen.Refs = adyen.NewMemoryRefs()
		if stores.Pool != nil {
			refs = adyen.NewPostgresRefs(stores.Pool)
		}
		ad, err := AdyenProvider(cfg.Adyen, a.publicURL, refs, log)
		if err != nil {
			return err
		}
		providers = slices.Insert(providers, len(providers)-1, payments.Provider(ad))
	}
	routes, err := payments.ParseRoutes(cfg.PaymentRoutes)
	if err != nil {
		return fmt.Errorf("--payment-routes: %w", err)
	}
	a.Payments, err = payments.NewService(payments.Config{
		Routing: payments.RoutingConfig{Routes: routes},
		Store:   stores.Payments, Providers: providers, GuideRefundWindow: cfg.GuideRefundWindow,
		Logger:      log.With("component", "payments"),
		Reconcile:   payments.ReconcileConfig{Loop: stores.Pool == nil, Fixed: a.reconcileFixed()},
		CallContext: a.Flow.PaymentCallContext,
	})
	if err != nil {
		return err
	}
	if stores.Pool != nil {
		workers := river.NewWorkers()
		riverOutbox.AddWorker(workers)
		if a.Merchant != nil {
			a.Merchant.AddWorker(workers)
			if err := hookMerchantPayments(stores.Payments, a.Merchant); err != nil {
				return err
			}
		}
		reconcile := a.Payments.AddReconcileJob(workers)
		purge := a.addPurgeJob(workers)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		host, _ := os.Hostname()
		jobs, err := db.NewJobs(ctx, stores.Pool, db.JobsConfig{
			Workers: workers, PeriodicJobs: []*river.PeriodicJob{reconcile, purge}, Logger: log.With("component", "river"),
			ID: "guidecall_" + host + "_" + a.listener.Addr().String(),
		})
		if err != nil {
			return err
		}
		a.durable = append(a.durable, namedService{"river", jobs})
	} else {
		a.buildMemoryMerchant(cfg, log)
	}
	return nil
}

// StripeProvider builds the Stripe provider of cfg; the shopper comes back
// to the shop page with the link's id, whatever the outcome.
func StripeProvider(cfg config.Stripe, publicURL string, log *slog.Logger) (*stripe.Provider, error) {
	methods, err := payments.ParseRoutes(cfg.PaymentMethods)
	if err != nil {
		return nil, fmt.Errorf("--stripe-payment-methods: %w", err)
	}
	return stripe.New(stripe.Config{
		PaymentMethodTypes: methods,
		SecretKey:          cfg.SecretKey, WebhookSecret: cfg.WebhookSecret, APIURL: cfg.APIURL,
		SuccessURL: publicURL + "/shop/?payment_link={LINK_ID}&payment=success",
		CancelURL:  publicURL + "/shop/?payment_link={LINK_ID}&payment=canceled",
		Logger:     log.With("component", "stripe"),
	})
}

// AdyenProvider builds the Adyen provider of cfg, remembering payments in
// refs; the shopper comes back to the shop page with the link's id.
func AdyenProvider(cfg config.Adyen, publicURL string, refs adyen.Refs, log *slog.Logger) (*adyen.Provider, error) {
	return adyen.New(adyen.Config{
		APIKey: cfg.APIKey, MerchantAccount: cfg.MerchantAccount, APIURL: cfg.APIURL,
		HMACKey: cfg.HMACKey, HMACKeyPrevious: cfg.HMACKeyPrevious, Refs: refs,
		ReturnURL: publicURL + "/shop/?payment_link={LINK_ID}&payment=return",
		Logger:    log.With("component", "adyen"),
	})
}

// lifecycle lists the node's parts in the order they start; they stop in
// reverse: HTTP and sockets first (clients are told to reconnect
// elsewhere), then the loops, the matcher, payments (its relay and
// reconciliation), webhook delivery and River, the call flow's
// subscriptions, the bus, and TURN last, so a call in progress keeps its
// relay for as long as possible.
func (a *App) lifecycle() []namedService {
	parts := []namedService{
		{"turn", &funcService{start: a.TURN.Start, stop: func() { a.stopErr("turn", a.TURN.Stop()) }}},
		{"bus", a.stores.Bus},
		// The call flow sends domain events to the clients through the
		// bus. It subscribes before anything that changes a call or a
		// link runs (River's reconciliation among them), so it misses no
		// event, and it stops after all of them.
		{"callflow", a.Flow},
	}
	parts = append(parts, a.durable...)
	parts = append(parts,
		namedService{"payments", a.Payments},
		namedService{"queue", a.Queue},
		namedService{"presence", every(a.Queue.TouchEvery(), a.touch)},
	)
	if a.stores.Ready != nil {
		parts = append(parts, namedService{"store-watch", every(time.Second, a.checkStore)})
	}
	if a.stores.Pool == nil {
		// On PostgreSQL the purge is a River periodic job (addPurgeJob).
		parts = append(parts, namedService{"purge", &loopService{run: a.purgeLoop}})
	}
	if a.metrics != nil {
		parts = append(parts, namedService{"metrics", a.metrics})
	}
	return append(parts, namedService{"http", &funcService{start: a.serve, stop: a.shutdownHTTP}})
}

func (a *App) stopErr(part string, err error) {
	if err != nil {
		a.stopErrs = append(a.stopErrs, fmt.Errorf("%s: %w", part, err))
	}
}

func (a *App) serve(context.Context) error {
	a.served = make(chan error, 1)
	go func() { a.served <- a.http.Serve(a.listener) }()
	if a.redirect != nil {
		go func() {
			if err := a.redirect.Serve(a.redirectLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.log.Error("HTTP redirect listener failed", "err", err)
			}
		}()
		a.log.Info("redirecting HTTP to HTTPS", "addr", a.redirectLn.Addr().String())
	}
	a.log.Info("serving", "url", a.publicURL, "turn_udp", a.TURN.UDPAddr().String(), "turn_tcp", a.TURN.TCPAddr().String())
	return nil
}

// shutdownHTTP closes the sockets, then the HTTP server. WebSockets are
// hijacked, so http.Server.Shutdown does not wait for them: the hub closes
// them with 1001 and waits itself.
func (a *App) shutdownHTTP() {
	a.stopErr("signaling", a.Hub.Shutdown(a.stopCtx))
	if a.redirect != nil {
		a.stopErr("http redirect", a.redirect.Shutdown(a.stopCtx))
	}
	a.stopErr("http", a.http.Shutdown(a.stopCtx))
	if a.served == nil {
		return // never served: Stop without Start
	}
	if err := <-a.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.stopErr("http serve", err)
	}
}

// loopbackAddr is how the node reaches itself: a wildcard listen address
// becomes loopback.
func loopbackAddr(addr net.Addr) string {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ap.Addr().IsUnspecified() {
		if ap.Addr().Is6() && !ap.Addr().Is4In6() {
			return netip.AddrPortFrom(netip.IPv6Loopback(), ap.Port()).String()
		}
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), ap.Port()).String()
	}
	return ap.String()
}

// URL is the base URL browsers use for this node.
func (a *App) URL() string { return a.publicURL }

// Start runs the node's parts in order, HTTP last.
func (a *App) Start(ctx context.Context) error {
	return startAll(ctx, a.log, a.parts)
}

// Stop shuts the parts down in reverse order within ctx, then releases the
// stores. Safe to call twice, and without Start.
func (a *App) Stop(ctx context.Context) error {
	a.stopOnce.Do(func() {
		close(a.stopping)
		a.stopCtx = ctx
		if a.served == nil {
			// Never served: nothing but the bound listener to release.
			a.stopErr("listener", a.listener.Close())
			if a.redirectLn != nil {
				a.stopErr("redirect listener", a.redirectLn.Close())
			}
		}
		if a.metrics != nil {
			a.metrics.release()
		}
		stopAll(a.log, a.parts)
		if a.stores.Close != nil {
			a.stores.Close()
		}
		a.log.Info("stopped")
	})
	return errors.Join(a.stopErrs...)
}
