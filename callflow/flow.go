package callflow

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"guidecall/internal/auth"
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
}

// Flow is the call flow of one node: it answers the hub's questions from
// the queue, turns domain events into protocol messages, decides who may
// send payment links and serves join, ICE servers and the admin reads.
//
// The queue and payments deliver their events to the flow and the
// flow sends them through the hub, which in turn asks the flow about every
// socket; so a Flow is made first, handed to the domains and the hub as
// they are built, and bound to them with [Flow.Bind] before anything runs.
type Flow struct {
	cfg    Config
	log    *slog.Logger
	events *events
	joins  *ipLimiter

	queue    *queue.Service
	payments *payments.Service
	hub      *signaling.Hub
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

// QueueEvent delivers one queue event to the clients concerned; the app
// subscribes it to the queue (queue.Service.SubscribeFunc), which calls it
// from the subscription's goroutine in the order the events happened.
func (f *Flow) QueueEvent(ctx context.Context, e queue.Event) { f.events.dispatch(ctx, e) }

// PaymentEvent delivers one payment event to the parties of its call; the
// app subscribes it to payments (payments.Service.Subscribe). Every event
// carries its link as the change left it, which is what the parties see.
func (f *Flow) PaymentEvent(ctx context.Context, e payments.Event) {
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
// servers, a call's items and its rating, and the admin's view of a queue.
func (f *Flow) Routes() chi.Router {
	r := chi.NewRouter()
	r.With(f.joins.middleware).Post("/queue", f.handleJoin)
	r.With(f.cfg.Issuer.Middleware(protocol.RoleShopper, protocol.RoleGuide, protocol.RoleAdmin)).Get("/ice-servers", f.handleICEServers)
	r.With(f.cfg.Issuer.Middleware(protocol.RoleAdmin)).Get("/admin/queue", f.handleAdminQueue)
	r.With(f.cfg.Issuer.Middleware(protocol.RoleShopper, protocol.RoleGuide)).Get("/calls/{callID}/items", f.handleCallItems)
	r.With(f.cfg.Issuer.Middleware(protocol.RoleShopper)).Post("/calls/{callID}/rating", f.handleRateCall)
	return r
}
