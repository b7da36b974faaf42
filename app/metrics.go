package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"guidecall/internal/config"
	"guidecall/payments"
	"guidecall/protocol"
	"guidecall/queue"
	"guidecall/signaling"
	"guidecall/telemetry"
	"guidecall/turnserver"
)

// buildMetrics makes the registry and binds --metrics-addr, when set. The
// metrics read the parts through closures, so they may be built first and
// handed to the parts as their observers.
func (a *App) buildMetrics(cfg config.Serve) error {
	if cfg.MetricsAddr == "" {
		return nil
	}
	src := telemetry.Sources{
		TURN: func() turnserver.Stats { return a.TURN.Stats() },
		Sockets: func() map[protocol.Role]int {
			n := map[protocol.Role]int{}
			for _, p := range a.Hub.Parties() {
				n[p.Role]++
			}
			return n
		},
		SendBacklog: func() int { return a.Hub.Buffered() },
		LiveCalls:   func(ctx context.Context) ([]queue.Call, error) { return a.Queue.LiveCalls(ctx) },
		Waiting:     func(ctx context.Context, q string) ([]queue.Entry, error) { return a.Queue.Waiting(ctx, q) },
		Queues:      []string{"default"},
		QueueNames: func(ctx context.Context) ([]string, error) {
			qs, err := a.Queue.Queues(ctx)
			names := make([]string, 0, len(qs))
			for _, q := range qs {
				names = append(names, q.Name)
			}
			return names, err
		},
		PaymentBreakers: func() []payments.BreakerState { return a.Payments.Breakers() },
		Logger:          a.log.With("component", "metrics"),
	}
	if bus, ok := a.stores.Bus.(backlogBus); ok {
		src.BusBacklog = func(ctx context.Context) (telemetry.BusBacklog, error) {
			b, err := bus.Backlog(ctx)
			return telemetry.BusBacklog{NotifyQueueUsage: b.NotifyQueueUsage, Undelivered: b.Undelivered}, err
		}
	}
	a.Metrics = telemetry.New(src)
	ln, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("listen --metrics-addr %s: %w", cfg.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.Metrics.Handler())
	if cfg.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	a.metrics = &metricsServer{
		log: a.log, listener: ln, payments: func() *payments.Service { return a.Payments }, metrics: a.Metrics,
		http: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: idleTimeout,
			ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)},
	}
	return nil
}

// backlogBus is a bus that can tell what it has not delivered yet (the
// PostgreSQL one; the in-process bus delivers as it publishes).
type backlogBus interface {
	Backlog(ctx context.Context) (signaling.Backlog, error)
}

// MetricsURL is where /metrics is served, or "" when it is off.
func (a *App) MetricsURL() string {
	if a.metrics == nil {
		return ""
	}
	return "http://" + loopbackAddr(a.metrics.listener.Addr()) + "/metrics"
}

// The observers are nil interfaces, not typed nils, when metrics are off.
func (a *App) matcherObserver() queue.MatcherObserver {
	if a.Metrics == nil {
		return nil
	}
	return a.Metrics
}

func (a *App) iceRestarted() func(protocol.Role) {
	if a.Metrics == nil {
		return nil
	}
	return a.Metrics.ICERestarted
}

func (a *App) reconcileFixed() func(payments.Fix) {
	if a.Metrics == nil {
		return nil
	}
	return a.Metrics.ReconcileFixed
}

func (a *App) hubObserver() signaling.Observer {
	if a.Metrics == nil {
		return nil
	}
	return a.Metrics
}

// metricsServer serves /metrics on its own listener, so it can stay off
// the public address, and subscribes the metrics to payment events while
// it runs (the queue subscription is made in New, before anything runs).
type metricsServer struct {
	log      *slog.Logger
	listener net.Listener
	http     *http.Server
	metrics  *telemetry.Metrics
	payments func() *payments.Service

	mu          sync.Mutex
	served      chan error
	unsubscribe func()
	stopped     bool
}

func (s *metricsServer) Start(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.served != nil || s.stopped {
		return nil
	}
	s.unsubscribe = s.payments().Subscribe(payments.SubscribeConfig{Name: "metrics"}, s.metrics.PaymentEvent)
	s.served = make(chan error, 1)
	go func() { s.served <- s.http.Serve(s.listener) }()
	s.log.Info("serving metrics", "url", "http://"+s.listener.Addr().String()+"/metrics")
	return nil
}

func (s *metricsServer) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.stopped = true
	if s.served == nil {
		_ = s.listener.Close()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.http.Shutdown(ctx); err != nil {
		s.log.Warn("metrics server shutdown", "err", err)
	}
	if err := <-s.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Warn("metrics server", "err", err)
	}
	s.unsubscribe()
}

// release closes the listener of a node that never started.
func (s *metricsServer) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.served == nil && !s.stopped {
		s.stopped = true
		_ = s.listener.Close()
	}
}
