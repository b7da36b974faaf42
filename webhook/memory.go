package webhook

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// MemoryConfig configures a MemoryOutbox.
type MemoryConfig struct {
	Config
	// Workers is how many deliveries are attempted at once (default 8).
	Workers int
	// MaxPending bounds the deliveries waiting for an attempt (default
	// 4096); Enqueue returns ErrFull beyond it rather than grow.
	MaxPending int
	// DedupFor is how long a delivered id is remembered (default 24h).
	DedupFor time.Duration
}

// MemoryOutbox is the outbox of one node: deliveries wait in a heap in
// this process, attempted by a pool of goroutines from Start to Stop. What
// is pending is lost with the process; a cluster, or a node that must not
// lose a webhook to a crash, uses RiverOutbox.
type MemoryOutbox struct {
	*sender
	workers  int
	max      int
	dedupFor time.Duration

	mu      sync.Mutex
	pending schedule
	seq     uint64
	seen    map[string]time.Time // id -> when enqueued
	seenLog []seenID             // the same, oldest first, for pruning
	wake    chan struct{}

	startMu sync.Mutex
	started bool
	stopped bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

type seenID struct {
	id string
	at time.Time
}

var _ Outbox = (*MemoryOutbox)(nil)

// NewMemoryOutbox returns an outbox; deliveries enqueued before Start wait
// for it.
func NewMemoryOutbox(cfg MemoryConfig) *MemoryOutbox {
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 4096
	}
	if cfg.DedupFor <= 0 {
		cfg.DedupFor = 24 * time.Hour
	}
	return &MemoryOutbox{
		sender: newSender(cfg.Config), workers: cfg.Workers, max: cfg.MaxPending, dedupFor: cfg.DedupFor,
		seen: map[string]time.Time{}, wake: make(chan struct{}, 1),
	}
}

// pendingDelivery is a delivery and where its attempts stand.
type pendingDelivery struct {
	d       Delivery
	due     time.Time
	attempt int // attempts made so far
	seq     uint64
}

// schedule is a min-heap by due time, FIFO among equals.
type schedule []*pendingDelivery

func (h schedule) Len() int { return len(h) }
func (h schedule) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].seq < h[j].seq
}
func (h schedule) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *schedule) Push(x any)   { *h = append(*h, x.(*pendingDelivery)) }
func (h *schedule) Pop() any {
	old := *h
	d := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return d
}

// Enqueue implements Outbox.
func (o *MemoryOutbox) Enqueue(ctx context.Context, d Delivery) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validate(d); err != nil {
		return err
	}
	if d.Key != "" {
		if _, ok := o.key(d.Key); !ok {
			return fmt.Errorf("%w: no key %q", ErrInvalidDelivery, d.Key)
		}
	}
	now := time.Now()
	o.mu.Lock()
	o.pruneLocked(now)
	if _, dup := o.seen[d.ID]; dup {
		o.mu.Unlock()
		o.logger(d).Debug("duplicate webhook delivery dropped")
		return nil
	}
	if len(o.pending) >= o.max {
		o.mu.Unlock()
		o.logger(d).Error("webhook outbox full; delivery refused", "pending", o.max)
		return ErrFull
	}
	o.seen[d.ID] = now
	o.seenLog = append(o.seenLog, seenID{d.ID, now})
	o.push(&pendingDelivery{d: d, due: now.Add(max(d.Delay, 0))})
	o.mu.Unlock()
	return nil
}

func (o *MemoryOutbox) pruneLocked(now time.Time) {
	n := 0
	for n < len(o.seenLog) && now.Sub(o.seenLog[n].at) > o.dedupFor {
		if o.seen[o.seenLog[n].id].Equal(o.seenLog[n].at) {
			delete(o.seen, o.seenLog[n].id)
		}
		n++
	}
	o.seenLog = o.seenLog[n:]
}

// push adds p to the schedule and wakes the dispatcher. o.mu is held.
func (o *MemoryOutbox) push(p *pendingDelivery) {
	o.seq++
	p.seq = o.seq
	heap.Push(&o.pending, p)
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Start runs the dispatcher and the worker pool until Stop or ctx ends.
func (o *MemoryOutbox) Start(ctx context.Context) error {
	o.startMu.Lock()
	defer o.startMu.Unlock()
	if o.stopped {
		return ErrStopped
	}
	if o.started {
		return errors.New("webhook: outbox already started")
	}
	o.started = true
	ctx, o.cancel = context.WithCancel(ctx)
	work := make(chan *pendingDelivery)
	o.wg.Add(1 + o.workers)
	go func() { defer o.wg.Done(); o.dispatch(ctx, work) }()
	for range o.workers {
		go func() { defer o.wg.Done(); o.work(ctx, work) }()
	}
	return nil
}

// Stop ends the attempts, waits for the goroutines and drops what is
// still pending. Idempotent, and safe without Start.
func (o *MemoryOutbox) Stop() {
	o.startMu.Lock()
	o.stopped = true
	cancel := o.cancel
	o.startMu.Unlock()
	if cancel != nil {
		cancel()
	}
	o.wg.Wait()
}

// dispatch hands each delivery to a worker when it falls due.
func (o *MemoryOutbox) dispatch(ctx context.Context, work chan<- *pendingDelivery) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		o.mu.Lock()
		var next *pendingDelivery
		wait := time.Hour
		if len(o.pending) > 0 {
			if wait = time.Until(o.pending[0].due); wait <= 0 {
				next = heap.Pop(&o.pending).(*pendingDelivery)
			}
		}
		o.mu.Unlock()
		if next != nil {
			select {
			case work <- next:
				continue
			case <-ctx.Done():
				return
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
		case <-timer.C:
		}
	}
}

func (o *MemoryOutbox) work(ctx context.Context, work <-chan *pendingDelivery) {
	for {
		select {
		case <-ctx.Done():
			return
		case p := <-work:
			o.attempt(ctx, p)
		}
	}
}

// attempt posts p once and puts it back for its retry, if it has one.
func (o *MemoryOutbox) attempt(ctx context.Context, p *pendingDelivery) {
	p.attempt++
	log := o.logger(p.d)
	obs := p.d.Observer
	var extra http.Header
	if obs != nil {
		extra = http.Header{}
		if !obs.Attempting(p.attempt, extra) {
			log.Info("webhook dropped by its sender before attempt", "attempt", p.attempt)
			return
		}
	}
	r := AttemptResult{N: p.attempt, At: time.Now()}
	err := o.postWith(ctx, p.d, extra, &r)
	if ctx.Err() != nil && err != nil {
		return // stopping: the attempt says nothing of the receiver
	}
	wait, ok := o.retryAfter(p.attempt)
	if obs != nil {
		r.Duration, r.Err, r.Final = time.Since(r.At), err, err == nil || !ok
		if !obs.Attempted(r) && err != nil {
			log.Info("webhook retries stopped by its sender", "attempt", p.attempt, "err", err)
			return
		}
	}
	if err == nil {
		log.Debug("webhook delivered", "attempt", p.attempt)
		o.observe(p.attempt, AttemptDelivered)
		return
	}
	if !ok {
		log.Error("webhook given up", "attempts", p.attempt, "err", err)
		o.observe(p.attempt, AttemptGivenUp)
		return
	}
	o.observe(p.attempt, AttemptRetry)
	log.Warn("webhook delivery failed", "attempt", p.attempt, "retry_in", wait, "err", err)
	p.due = time.Now().Add(wait)
	o.mu.Lock()
	o.push(p)
	o.mu.Unlock()
}
