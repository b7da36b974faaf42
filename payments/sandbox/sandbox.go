package payments

import (
	"bytes"
	"container/heap"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// SandboxName is the provider name of the sandbox.
const SandboxName = "sandbox"

// Sandbox webhook event types.
const (
	SandboxPaymentSucceeded         = "payment.succeeded"
	SandboxPaymentFailed            = "payment.failed"
	SandboxPaymentRefunded          = "payment.refunded"
	SandboxPaymentPartiallyRefunded = "payment.partially_refunded"
)

var sandboxEventStatus = map[string]LinkStatus{
	SandboxPaymentSucceeded:         StatusPaid,
	SandboxPaymentFailed:            StatusFailed,
	SandboxPaymentRefunded:          StatusRefunded,
	SandboxPaymentPartiallyRefunded: StatusPartiallyRefunded,
}

// SandboxEvent is the JSON body of a sandbox webhook.
type SandboxEvent struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Ref     string `json:"ref"`
	Created int64  `json:"created"`
}

// SandboxConfig configures a Sandbox.
type SandboxConfig struct {
	Secret          []byte // webhook signing secret; required for real use
	CheckoutBaseURL string // e.g. http://127.0.0.1:8080/pay/sandbox
	WebhookURL      string // e.g. http://127.0.0.1:8080/webhooks/sandbox
	HTTPClient      *http.Client
	Logger          *slog.Logger
	Now             func() time.Time
	// Webhook delivery retries a failing event with its own schedule:
	// RetryBackoff after the first attempt (default 200ms), doubling up to
	// MaxRetryBackoff (default 1 minute), until RetryFor has passed since
	// the first attempt (default 10 minutes, long enough to ride out a
	// database outage that makes the receiver answer 503). MaxAttempts, if
	// positive, also caps the attempts per event. An event waiting for its
	// retry does not hold up the others.
	MaxAttempts     int
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration
	RetryFor        time.Duration
	// Store keeps the checkouts. Nodes of a cluster share one (a
	// PostgresSandboxStore), as they would share a real provider's
	// account; nil is a MemorySandboxStore for this Sandbox alone.
	Store SandboxStore
}

// Sandbox is a Provider that guidecall hosts itself: a checkout page with Pay
// and Decline buttons and signed webhooks posted back to WebhookURL. It can
// be scripted to fail, delay and duplicate, for demos and tests.
//
// Checkouts live in SandboxConfig.Store, so any Sandbox on a shared store
// serves, pays and refunds a checkout another one created. The scripted
// behaviour (FailNextCreate, delays, duplicates) belongs to each Sandbox.
//
// Webhooks are delivered by one goroutine started by Start and ended by Stop,
// from the Sandbox that recorded the outcome. Outcomes recorded before Start
// wait in a bounded queue; events being retried wait in a bounded schedule
// (maxScheduled), each at its own next attempt time.
type Sandbox struct {
	cfg   SandboxConfig
	log   *slog.Logger
	store SandboxStore

	mu       sync.Mutex
	failNext error
	delay    time.Duration
	dupes    int

	queue    chan queuedEvent
	startMu  sync.Mutex
	started  bool
	stopped  bool
	stopCh   chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// queuedEvent is a webhook waiting for delivery, with the link it is about
// for the logs.
type queuedEvent struct {
	ev             SandboxEvent
	linkID, callID string
}

var _ Provider = (*Sandbox)(nil)

// NewSandbox returns a Sandbox. Call Start before outcomes can be delivered.
func NewSandbox(cfg SandboxConfig) *Sandbox {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = 200 * time.Millisecond
	}
	if cfg.MaxRetryBackoff <= 0 {
		cfg.MaxRetryBackoff = time.Minute
	}
	if cfg.RetryFor <= 0 {
		cfg.RetryFor = 10 * time.Minute
	}
	if cfg.Store == nil {
		cfg.Store = NewMemorySandboxStore()
	}
	cfg.CheckoutBaseURL = strings.TrimRight(cfg.CheckoutBaseURL, "/")
	return &Sandbox{
		cfg:    cfg,
		log:    cfg.Logger.With("provider", SandboxName),
		store:  cfg.Store,
		queue:  make(chan queuedEvent, 1024),
		stopCh: make(chan struct{}),
		done:   make(chan struct{}),
	}
}

// Name implements Provider.
func (sb *Sandbox) Name() string { return SandboxName }

// FailNextCreate makes the next CreateLink return err (nil clears it).
func (sb *Sandbox) FailNextCreate(err error) {
	sb.mu.Lock()
	sb.failNext = err
	sb.mu.Unlock()
}

// SetDeliveryDelay delays each webhook delivery by d.
func (sb *Sandbox) SetDeliveryDelay(d time.Duration) {
	sb.mu.Lock()
	sb.delay = max(d, 0)
	sb.mu.Unlock()
}

// SetDuplicateDeliveries delivers every webhook n extra times, with the same
// event id, as real providers occasionally do.
func (sb *Sandbox) SetDuplicateDeliveries(n int) {
	sb.mu.Lock()
	sb.dupes = max(n, 0)
	sb.mu.Unlock()
}

func newID(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return prefix + hex.EncodeToString(b)
}

// CreateLink implements Provider.
func (sb *Sandbox) CreateLink(ctx context.Context, p ProviderLinkParams) (ProviderLink, error) {
	if err := ctx.Err(); err != nil {
		return ProviderLink{}, err
	}
	sb.mu.Lock()
	failNext := sb.failNext
	sb.failNext = nil
	sb.mu.Unlock()
	if failNext != nil {
		return ProviderLink{}, fmt.Errorf("sandbox: scripted failure: %w", failNext)
	}
	ref := newID("sbx_")
	p.Items = slices.Clone(p.Items)
	c := SandboxCheckout{Ref: ref, Params: p, Status: StatusOpen, CreatedAt: sb.cfg.Now()}
	if _, err := sb.store.CheckoutCreate(ctx, c); err != nil {
		return ProviderLink{}, fmt.Errorf("sandbox: create checkout: %w", err)
	}
	sb.log.Info("sandbox checkout created", "link_id", p.LinkID, "call_id", p.CallID, "provider_ref", ref)
	return ProviderLink{Ref: ref, CheckoutURL: sb.cfg.CheckoutBaseURL + "/" + ref}, nil
}

// FetchStatus implements Provider.
func (sb *Sandbox) FetchStatus(ctx context.Context, ref string) (LinkStatus, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	c, err := sb.store.CheckoutGet(ctx, ref)
	if err != nil {
		return "", err
	}
	return c.StatusAt(sb.cfg.Now()), nil
}

// Refund implements Provider: amount up to what is left of a paid link.
func (sb *Sandbox) Refund(ctx context.Context, ref string, amount int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var typ string
	c, err := sb.store.CheckoutUpdate(ctx, ref, func(c *SandboxCheckout) error {
		c.Status = c.StatusAt(sb.cfg.Now())
		if c.Status != StatusPaid && c.Status != StatusPartiallyRefunded {
			return fmt.Errorf("%w: refund of a %s link", ErrInvalidTransition, c.Status)
		}
		if left := c.Params.Amount - c.Refunded; amount <= 0 || amount > left {
			return fmt.Errorf("%w: refund amount %d, refundable %d", ErrInvalidLink, amount, left)
		}
		c.Refunded += amount
		typ, c.Status = SandboxPaymentPartiallyRefunded, StatusPartiallyRefunded
		if c.Refunded == c.Params.Amount {
			typ, c.Status = SandboxPaymentRefunded, StatusRefunded
		}
		return nil
	})
	if err != nil {
		return err
	}
	p := c.Params
	sb.log.Info("sandbox refund", "link_id", p.LinkID, "call_id", p.CallID, "provider_ref", ref, "amount", amount)
	return sb.enqueue(p, ref, typ)
}

// outcome records a shopper's Pay (paid=true) or Decline on the checkout
// page and queues the webhook. A decline after a payment is still reported,
// late, as payment.failed: that is how the sandbox produces out-of-order
// delivery, and the Service must ignore it. The checkout is returned as it
// now is, and also with an ErrInvalidTransition, as it was.
func (sb *Sandbox) outcome(ctx context.Context, ref string, paid bool) (SandboxCheckout, error) {
	next, typ := StatusFailed, SandboxPaymentFailed
	if paid {
		next, typ = StatusPaid, SandboxPaymentSucceeded
	}
	var refused *SandboxCheckout
	c, err := sb.store.CheckoutUpdate(ctx, ref, func(c *SandboxCheckout) error {
		refused = nil
		c.Status = c.StatusAt(sb.cfg.Now())
		switch st := c.Status; {
		case st.CanMoveTo(next):
			c.Status = next
		case !paid && st != StatusExpired && st != StatusCanceled:
			// A failed attempt reported after the link was settled.
		default:
			cur := c.Clone()
			refused = &cur
			return fmt.Errorf("%w: %s link cannot become %s", ErrInvalidTransition, st, next)
		}
		return nil
	})
	if err != nil {
		if refused != nil && errors.Is(err, ErrInvalidTransition) {
			return *refused, err
		}
		return SandboxCheckout{}, err
	}
	p := c.Params
	sb.log.Info("sandbox checkout outcome", "link_id", p.LinkID, "call_id", p.CallID, "provider_ref", ref, "type", typ)
	return c, sb.enqueue(p, ref, typ)
}

func (sb *Sandbox) enqueue(p ProviderLinkParams, ref, typ string) error {
	q := queuedEvent{
		ev:     SandboxEvent{ID: newID("evt_"), Type: typ, Ref: ref, Created: sb.cfg.Now().Unix()},
		linkID: p.LinkID,
		callID: p.CallID,
	}
	select {
	case sb.queue <- q:
		return nil
	default:
		sb.log.Error("sandbox webhook queue full", "link_id", p.LinkID, "call_id", p.CallID, "provider_ref", ref)
		return errors.New("sandbox: webhook queue full")
	}
}

// Start runs webhook delivery until Stop is called or ctx ends.
func (sb *Sandbox) Start(ctx context.Context) error {
	sb.startMu.Lock()
	defer sb.startMu.Unlock()
	if sb.stopped {
		return ErrStopped
	}
	if sb.started {
		return errors.New("sandbox: already started")
	}
	sb.started = true
	go sb.run(ctx)
	return nil
}

// Stop ends webhook delivery, waits for the delivery goroutine and drops
// what is still queued. It is idempotent and safe without Start.
func (sb *Sandbox) Stop() {
	sb.startMu.Lock()
	sb.stopped = true
	started := sb.started
	sb.startMu.Unlock()
	sb.stopOnce.Do(func() { close(sb.stopCh) })
	if started {
		<-sb.done
	}
}

// maxScheduled bounds the deliveries waiting for their (next) attempt. When
// it is reached the delivery loop stops taking from the queue, which then
// fills and refuses new outcomes with an error instead of growing.
const maxScheduled = 4096

// delivery is one webhook (or one scripted duplicate of it) and where its
// retries stand.
type delivery struct {
	q       queuedEvent
	body    []byte
	due     time.Time // next attempt
	first   time.Time // first attempt, zero before it
	attempt int
	backoff time.Duration
	seq     uint64 // FIFO among deliveries due at the same time
}

// schedule is a min-heap of deliveries by due time.
type schedule []*delivery

func (h schedule) Len() int { return len(h) }
func (h schedule) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].seq < h[j].seq
}
func (h schedule) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *schedule) Push(x any)   { *h = append(*h, x.(*delivery)) }
func (h *schedule) Pop() any {
	old := *h
	d := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return d
}

func (sb *Sandbox) run(ctx context.Context) {
	defer close(sb.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-sb.stopCh:
			cancel()
		case <-ctx.Done():
		}
	}()
	var (
		pending schedule
		seq     uint64
	)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var due <-chan time.Time
		if len(pending) > 0 {
			timer.Reset(time.Until(pending[0].due))
			due = timer.C
		}
		in := sb.queue
		if len(pending) >= maxScheduled {
			in = nil
		}
		select {
		case <-ctx.Done():
			return
		case q := <-in:
			sb.mu.Lock()
			delay, dupes := sb.delay, sb.dupes
			sb.mu.Unlock()
			body, _ := json.Marshal(q.ev)
			now := time.Now()
			for i := range 1 + dupes {
				seq++
				heap.Push(&pending, &delivery{q: q, body: body, due: now.Add(delay * time.Duration(i+1)),
					backoff: sb.cfg.RetryBackoff, seq: seq})
			}
		case <-due:
			for len(pending) > 0 && !time.Now().Before(pending[0].due) {
				d := heap.Pop(&pending).(*delivery)
				if sb.attempt(ctx, d) {
					seq++
					d.seq = seq
					heap.Push(&pending, d)
				}
				if ctx.Err() != nil {
					return
				}
			}
		}
	}
}

// attempt posts d once and reports whether it should be tried again, with
// d.due set to when. Each attempt is signed afresh so that a retry after a
// long backoff is still inside the receiver's tolerance.
func (sb *Sandbox) attempt(ctx context.Context, d *delivery) bool {
	now := time.Now()
	if d.first.IsZero() {
		d.first = now
	}
	d.attempt++
	ev := d.q.ev
	log := sb.log.With("event_id", ev.ID, "provider_ref", ev.Ref, "type", ev.Type,
		"link_id", d.q.linkID, "call_id", d.q.callID)
	err := sb.post(ctx, d.body)
	if err == nil {
		log.Debug("sandbox webhook delivered", "attempt", d.attempt)
		return false
	}
	if ctx.Err() != nil {
		return false
	}
	if (sb.cfg.MaxAttempts > 0 && d.attempt >= sb.cfg.MaxAttempts) ||
		time.Since(d.first)+d.backoff > sb.cfg.RetryFor {
		log.Error("sandbox webhook given up", "attempts", d.attempt, "since", time.Since(d.first).Round(time.Millisecond), "err", err)
		return false
	}
	log.Warn("sandbox webhook delivery failed", "attempt", d.attempt, "retry_in", d.backoff, "err", err)
	d.due = time.Now().Add(d.backoff)
	d.backoff = min(d.backoff*2, sb.cfg.MaxRetryBackoff)
	return true
}

func (sb *Sandbox) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sb.cfg.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SandboxSignatureHeader, SignSandbox(sb.cfg.Secret, sb.cfg.Now(), body))
	resp, err := sb.cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// ParseWebhook implements Provider.
func (sb *Sandbox) ParseWebhook(header http.Header, body []byte) (Event, error) {
	if err := VerifySandboxSignature(sb.cfg.Secret, header.Get(SandboxSignatureHeader), body, sb.cfg.Now(), SignatureTolerance); err != nil {
		return Event{}, err
	}
	var ev SandboxEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return Event{}, fmt.Errorf("%w: %w", ErrBadWebhook, err)
	}
	st, ok := sandboxEventStatus[ev.Type]
	if !ok || ev.ID == "" || ev.Ref == "" {
		return Event{}, fmt.Errorf("%w: event %q of type %q", ErrBadWebhook, ev.ID, ev.Type)
	}
	return Event{
		ID:          ev.ID,
		Provider:    SandboxName,
		ProviderRef: ev.Ref,
		Status:      st,
		OccurredAt:  time.Unix(ev.Created, 0).UTC(),
	}, nil
}
