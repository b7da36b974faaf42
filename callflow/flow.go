package callflow

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"guidecall/internal/auth"
	"guidecall/merchant"
	"guidecall/payments"
	"guidecall/protocol"
	"guidecall/queue"
	"guidecall/signaling"
	"guidecall/turnserver"
)

// Config is what the call flow needs from the node.
type Config struct {
	Issuer   *auth.Issuer
	Accounts auth.AccountStore
	TURN     *turnserver.Server
	// PublicURL is the base URL browsers reach this node at; the join
	// answer derives the WebSocket URL from it.
	PublicURL    string
	ICERelayOnly bool
	// JoinRate and JoinBurst bound queue joins per client address, per
	// minute and at once.
	JoinRate  float64
	JoinBurst int
	// ClientIP names the client behind a request, believing only trusted
	// proxies.
	ClientIP  func(*http.Request) string
	Heartbeat time.Duration
	Logger    *slog.Logger
	// CustomerSecret verifies the merchant's signed customer tokens
	// (HS256), which alone may raise a shopper's priority.
	CustomerSecret []byte
	// ICERestarted is told, for metrics, of each new SDP offer on a call
	// that had connected: in this flow only an ICE restart (after a
	// network change or a move to another node) offers again. Nil tells
	// nobody; it must not block.
	ICERestarted func(by protocol.Role)
	// AllowedOrigins are the merchant's page origins ("https://shop.example",
	// --allowed-origins): the pages that embed the widget are the ones a
	// hosted checkout may send the shopper back to, besides PublicURL's.
	AllowedOrigins []string
	// EraseMerchantEvents blanks one shopper's fields in the merchant
	// webhook events the node keeps, after the queue erased theirs; nil
	// when the node sends no merchant webhooks.
	EraseMerchantEvents func(ctx context.Context, m merchant.Match) error
}

// Flow is the call flow of one node: it answers the hub's questions from
// the queue, turns domain events into protocol messages, decides who may
// send payment links and serves join, ICE servers and the admin reads.
//
// The hub asks the flow about every socket and payments asks it who may
// send a link, while the flow sends through the hub and hears payments'
// events; so a Flow is made first, handed to the domains and the hub as
// they are built, and bound to them with [Flow.Bind]. It is one of the
// node's parts: [Flow.Start] subscribes it to the queue's and payments'
// events, and the node starts it before those two, so it misses none.
type Flow struct {
	cfg    Config
	log    *slog.Logger
	events *events
	joins  *ipLimiter

	queue    *queue.Service
	payments *payments.Service
	hub      *signaling.Hub

	mu                  sync.Mutex
	queueEvents         *queue.Subscription
	unsubscribePayments func()
	// endedCalls revokes the TURN credentials of finished calls: a
	// subscription of its own, so a backlog of client messages never
	// delays a revocation.
	endedCalls *queue.Subscription
}

// New makes a flow that is not bound yet.
func New(cfg Config) *Flow {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	f := &Flow{cfg: cfg, log: cfg.Logger, joins: joinLimiter(cfg.JoinRate, cfg.JoinBurst, cfg.ClientIP)}
	f.events = &events{flow: f, log: cfg.Logger.With("component", "events")}
	return f
}

// Bind gives the flow the services it carries calls between and registers
// its message handlers on the hub. Call it once, after all three exist and
// before any of them starts.
func (f *Flow) Bind(q *queue.Service, p *payments.Service, h *signaling.Hub) {
	f.queue, f.payments, f.hub = q, p, h
	inbound{flow: f, heartbeat: f.cfg.Heartbeat}.register(h)
}

// Start subscribes the flow to the queue's and payments' events, which it
// sends to the clients concerned from one goroutine per domain, in the
// order they happened, until Stop.
func (f *Flow) Start(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.queueEvents != nil {
		return nil
	}
	// Delivery outlives the ctx of Start: only Stop ends it.
	f.queueEvents = f.queue.SubscribeFunc(context.WithoutCancel(ctx), "clients", 0, f.events.dispatch)
	f.unsubscribePayments = f.payments.Subscribe(payments.SubscribeConfig{Name: "call parties"}, f.paymentEvent)
	f.endedCalls = f.queue.SubscribeFunc(context.WithoutCancel(ctx), "turn revocation", 0, f.CallEnded)
	return nil
}

// Stop ends the subscriptions, waiting for the event being sent. Safe to
// call twice, and without Start.
func (f *Flow) Stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.queueEvents == nil {
		return
	}
	f.queueEvents.Close()
	f.endedCalls.Close()
	f.unsubscribePayments()
	f.queueEvents, f.unsubscribePayments, f.endedCalls = nil, nil, nil
}

// paymentEvent sends a link's state to the parties of its call. Every
// event carries its link as the change left it, which is what they see.
func (f *Flow) paymentEvent(ctx context.Context, e payments.Event) {
	switch e.(type) {
	case payments.LinkCreated, payments.LinkStatusChanged, payments.RefundRecorded:
		f.events.PaymentLinkUpdated(ctx, e.EventLink())
	}
}

// Authenticator turns a socket's token into its party.
func (f *Flow) Authenticator() signaling.Authenticator {
	return identities{issuer: f.cfg.Issuer, accounts: f.cfg.Accounts}
}

// Sessions answers the hub for each socket's open (the welcome) and close.
func (f *Flow) Sessions() signaling.Sessions {
	return inbound{flow: f, heartbeat: f.cfg.Heartbeat}
}

// PaymentAuthorizer decides who may read and send a call's payment links.
func (f *Flow) PaymentAuthorizer() payments.CallAuthorizer {
	return callAuthorizer(f.cfg.Issuer, f.queue)
}

// Routes serves the call flow's part of /api/v1: joining the queue, ICE
// servers, a call's items and its rating, and the admin's view of a queue
// and erasure of a shopper.
func (f *Flow) Routes() chi.Router {
	r := chi.NewRouter()
	r.With(f.joins.middleware).Post("/queue", f.handleJoin)
	r.With(f.cfg.Issuer.Middleware(protocol.RoleShopper, protocol.RoleGuide, protocol.RoleAdmin)).Get("/ice-servers", f.handleICEServers)
	r.With(f.cfg.Issuer.Middleware(protocol.RoleAdmin)).Get("/admin/queue", f.handleAdminQueue)
	r.With(f.cfg.Issuer.Middleware(protocol.RoleAdmin)).Get("/admin/calls/{callID}", f.handleAdminCall)
	r.With(f.cfg.Issuer.Middleware(protocol.RoleAdmin)).Get("/admin/stats", f.handleAdminStats)
	r.With(f.cfg.Issuer.Middleware(protocol.RoleAdmin)).Delete("/admin/shoppers/{entryID}", f.handleErase)
	r.With(f.cfg.Issuer.Middleware(protocol.RoleAdmin)).Delete("/admin/customers/{customerID}", f.handleEraseCustomer)
	f.routingRoutes(r)
	f.historyRoutes(r)
	r.With(f.cfg.Issuer.Middleware(protocol.RoleShopper, protocol.RoleGuide)).Get("/calls/{callID}/items", f.handleCallItems)
	r.With(f.cfg.Issuer.Middleware(protocol.RoleShopper)).Post("/calls/{callID}/rating", f.handleRateCall)
	r.With(f.cfg.Issuer.Middleware(protocol.RoleGuide)).Get("/calls/{callID}/context", f.handleCallContext)
	return r
}
