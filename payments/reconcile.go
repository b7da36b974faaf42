package payments

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/riverqueue/river"
)

// Reconciliation defaults.
const (
	// DefaultReconcileAfter is how long a link goes without a change before
	// reconciliation asks its provider about it: long enough for a webhook
	// that is merely on its way, short enough that a lost one is healed
	// within a minute (with DefaultReconcileEvery).
	DefaultReconcileAfter = 30 * time.Second
	// DefaultReconcileEvery is how often a pass runs.
	DefaultReconcileEvery = 15 * time.Second
	// DefaultReconcileWindow is how old a link may be and still be
	// checked: refunds come days after a payment, but not months.
	DefaultReconcileWindow = 7 * 24 * time.Hour
	// DefaultReconcileClosedWindow is how long after an expired or failed
	// link closed reconciliation still asks its provider about it: a
	// payment taken in time whose webhook was lost makes it paid (see
	// transitions). A failed link's checkout may take another attempt
	// until it expires, at most a link's lifetime (DefaultLinkTTL, which
	// is also Stripe's longest session) after the failure; the hour more
	// covers a provider slow to settle what it took and a node that was
	// down for a while. Beyond it a late payment is for an operator
	// (the webhook path logs it at Error).
	DefaultReconcileClosedWindow = DefaultLinkTTL + time.Hour
	// reconcileBatch bounds the links one pass asks about.
	reconcileBatch = 500
)

// ReconcileConfig tunes reconciliation: the pass that asks providers
// about links whose webhook may have been lost (never sent, given up, or
// lost with a crashed node) and applies what they say.
type ReconcileConfig struct {
	After  time.Duration // DefaultReconcileAfter if zero
	Every  time.Duration // DefaultReconcileEvery if zero
	Window time.Duration // DefaultReconcileWindow if zero
	// ClosedWindow bounds how long after closing an expired or failed
	// link is still checked; DefaultReconcileClosedWindow if zero.
	ClosedWindow time.Duration
	// Loop runs the pass on a ticker from Start to Stop (one node, memory
	// store). On PostgreSQL the pass is a River periodic job instead
	// (ReconcileWorker), which only River's leader enqueues.
	Loop bool
	// Fixed is told of each difference a pass found and healed, for
	// metrics; nil tells nobody. It must not block.
	Fixed func(Fix)
}

func (c ReconcileConfig) withDefaults() ReconcileConfig {
	if c.After <= 0 {
		c.After = DefaultReconcileAfter
	}
	if c.Every <= 0 {
		c.Every = DefaultReconcileEvery
	}
	if c.Window <= 0 {
		c.Window = DefaultReconcileWindow
	}
	if c.ClosedWindow <= 0 {
		c.ClosedWindow = DefaultReconcileClosedWindow
	}
	return c
}

// RelayConfig tunes the relay, which publishes the events a crash (or a
// failed mark) kept from subscribers. It runs from Start to Stop on every
// node; the store's claims keep two nodes from publishing one event at
// once.
type RelayConfig struct {
	// After is how old an unpublished event must be: the node that made
	// it marks it within milliseconds, unless it died. Default 3s.
	After time.Duration
	// Every is how often the relay looks. Default 1s.
	Every time.Duration
}

func (c RelayConfig) withDefaults() RelayConfig {
	if c.After <= 0 {
		c.After = 3 * time.Second
	}
	if c.Every <= 0 {
		c.Every = time.Second
	}
	return c
}

// Fix is one link reconciliation moved.
type Fix struct {
	LinkID   string     `json:"link_id"`
	CallID   string     `json:"call_id"`
	Provider string     `json:"provider"`
	From     LinkStatus `json:"from"`
	To       LinkStatus `json:"to"`
	// RefundedFrom and RefundedTo are the refunded total before and after
	// (minor units): a lost refund webhook's amount is healed too.
	RefundedFrom int64 `json:"refunded_from"`
	RefundedTo   int64 `json:"refunded_to"`
}

// Reconcile runs one pass: every unsettled link (open, processing, paid,
// partially refunded) created within Window, and every expired or failed
// link closed within ClosedWindow, unchanged for After, is brought to its
// provider's status through the same forward-only apply as webhooks, so a
// webhook that arrives later changes nothing. An expired link becomes
// paid only for a payment the provider says it took before the link's
// expiry; a canceled link is never asked about. Each fix is
// logged (link_id, call_id, from, to) and returned. A link whose provider
// does not answer is skipped, logged, and tried again next pass.
func (s *Service) Reconcile(ctx context.Context) ([]Fix, error) {
	now := s.now()
	links, err := s.store.LinksUnsettled(ctx, now.Add(-s.reconcile.After), now.Add(-s.reconcile.Window),
		now.Add(-s.reconcile.ClosedWindow), reconcileBatch)
	if err != nil {
		return nil, fmt.Errorf("payments: reconcile: %w", err)
	}
	var fixes []Fix
	var errs []error
	for _, l := range links {
		if ctx.Err() != nil {
			return fixes, ctx.Err()
		}
		_, fix, err := s.syncLink(ctx, l)
		switch {
		case err != nil:
			s.linkLog(l).Warn("reconcile: provider status unavailable", "provider", l.Provider, "err", err)
			errs = append(errs, err)
		case fix != nil:
			fixes = append(fixes, *fix)
			if s.reconcile.Fixed != nil {
				s.reconcile.Fixed(*fix)
			}
		}
	}
	if len(errs) == len(links) && len(errs) > 0 {
		return fixes, fmt.Errorf("payments: reconcile: every link failed: %w", errors.Join(errs...))
	}
	return fixes, nil
}

// ReconcileKind is the River job kind of a reconciliation pass.
const ReconcileKind = "payments_reconcile"

type reconcileArgs struct{}

func (reconcileArgs) Kind() string { return ReconcileKind }

type reconcileWorker struct {
	river.WorkerDefaults[reconcileArgs]
	s *Service
}

func (w *reconcileWorker) Work(ctx context.Context, _ *river.Job[reconcileArgs]) error {
	fixes, err := w.s.Reconcile(ctx)
	if len(fixes) > 0 {
		w.s.log.Info("reconciliation pass", "fixed", len(fixes))
	}
	return err
}

// AddReconcileJob registers the reconciliation pass on a node's River
// workers and returns its periodic job, to be given to the node's River
// client: River's leader enqueues it every Every, so of a cluster one
// node runs each pass.
func (s *Service) AddReconcileJob(workers *river.Workers) *river.PeriodicJob {
	river.AddWorker(workers, &reconcileWorker{s: s})
	return river.NewPeriodicJob(river.PeriodicInterval(s.reconcile.Every),
		func() (river.JobArgs, *river.InsertOpts) {
			// One attempt: the next pass is the retry.
			return reconcileArgs{}, &river.InsertOpts{MaxAttempts: 1}
		}, &river.PeriodicJobOpts{RunOnStart: true, ID: ReconcileKind})
}

// loops are the service's background goroutines.
type loops struct {
	mu      sync.Mutex
	started bool
	stopped bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// Start runs the relay and, with ReconcileConfig.Loop, the reconciliation
// ticker, until Stop.
func (s *Service) Start(ctx context.Context) error {
	s.loops.mu.Lock()
	defer s.loops.mu.Unlock()
	if s.loops.stopped {
		return errors.New("payments: service stopped")
	}
	if s.loops.started {
		return errors.New("payments: service already started")
	}
	s.loops.started = true
	ctx, s.loops.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.loops.wg.Add(1)
	go func() { defer s.loops.wg.Done(); s.every(ctx, s.relay.Every, s.relayOnce) }()
	if s.reconcile.Loop {
		s.loops.wg.Add(1)
		go func() {
			defer s.loops.wg.Done()
			s.every(ctx, s.reconcile.Every, func(ctx context.Context) {
				if _, err := s.Reconcile(ctx); err != nil && ctx.Err() == nil {
					s.log.Warn("reconciliation pass", "err", err)
				}
			})
		}()
	}
	return nil
}

// Stop ends the loops and waits for them. Idempotent, safe without Start.
// Subscriptions end with their own unsubscribe.
func (s *Service) Stop() {
	s.loops.mu.Lock()
	s.loops.stopped = true
	cancel := s.loops.cancel
	s.loops.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	s.loops.wg.Wait()
}

func (s *Service) every(ctx context.Context, d time.Duration, fn func(context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}

// relayOnce publishes the events recorded but not published: those of a
// node that died between its commit and its publish.
func (s *Service) relayOnce(ctx context.Context) {
	if s.events.count() == 0 {
		return
	}
	events, err := s.store.OutboxClaim(ctx, s.now().Add(-s.relay.After), 30*time.Second, 100)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("payment event relay", "err", err)
		}
		return
	}
	for _, e := range events {
		l := e.EventLink()
		s.linkLog(l).Info("payment event relayed after a restart or a failed publish", "event_id", e.EventID())
	}
	s.publish(ctx, events)
}
