package webhook

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// Delivery is one POST to make until the receiver answers 2xx.
type Delivery struct {
	// ID identifies the delivery: a second Enqueue with the same ID while
	// the first is pending or recently delivered is dropped.
	ID string
	// URL is where the body is POSTed (absolute http or https).
	URL string
	// Header is sent with every attempt (Content-Type defaults to
	// application/json).
	Header http.Header
	Body   []byte
	// Key names the Key (Config.Keys or SetKey) that signs each attempt
	// afresh, so a retry after a long backoff is still inside the
	// receiver's tolerance; empty sends the body unsigned.
	Key string
	// Delay holds the first attempt back this long after Enqueue.
	Delay time.Duration
	// Attrs are logged with every line about this delivery (for example
	// link_id and call_id), alternating keys and values.
	Attrs []any
	// Observer, if set, is asked before each attempt and told its answer,
	// so a sender can keep its own delivery log (merchant webhooks on
	// memory stores). Only MemoryOutbox takes one: a function does not
	// survive in a durable outbox's database.
	Observer Observer
}

// Observer follows the attempts of one delivery on a MemoryOutbox.
type Observer interface {
	// Attempting is called before attempt n (1-based); false drops the
	// delivery without posting (its receiver is gone). Headers set on h
	// are sent with this attempt only.
	Attempting(n int, h http.Header) bool
	// Attempted is told each answer; false stops the retries.
	Attempted(r AttemptResult) bool
}

// AttemptResult is what one attempt got.
type AttemptResult struct {
	N          int
	At         time.Time
	Duration   time.Duration
	StatusCode int    // 0: no answer
	Response   []byte // the first KiB of the answer
	Err        error  // nil for a 2xx answer
	// Final: no retry follows, whatever Attempted answers.
	Final bool
}

// Key signs deliveries: Header carries Sign(Secret, attempt time, body).
type Key struct {
	Header string
	Secret []byte
}

// Outbox delivers webhooks with retries. Enqueue returns once the delivery
// is recorded (in memory, or in the database for a durable outbox); the
// attempts happen in the background.
type Outbox interface {
	Enqueue(ctx context.Context, d Delivery) error
	// SetKey adds or replaces a signing key. Keys are not stored with
	// deliveries, so every node that runs deliveries must set the same.
	SetKey(name string, k Key)
}

// DefaultSchedule is the wait before each retry: attempts spread over
// about ten minutes, long enough to ride out a receiver that answers 503
// through a short database outage, after which the delivery is given up
// (and reconciliation, where the receiver has one, heals what it missed).
var DefaultSchedule = []time.Duration{
	200 * time.Millisecond, time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 3 * time.Minute, 3 * time.Minute,
}

// Config is what both outboxes share.
type Config struct {
	// Schedule is the wait before retry n (after failed attempt n); one
	// attempt more than its length is made in all. Nil is DefaultSchedule.
	Schedule   []time.Duration
	HTTPClient *http.Client
	Keys       map[string]Key
	Logger     *slog.Logger
	// Now is the clock signatures are made with; time.Now if nil.
	Now func() time.Time
	// Attempted is told of every delivery attempt, for metrics: its number
	// (1 for the first), and whether it delivered, will be retried, or was
	// the last. It must not block. Nil tells nobody.
	Attempted func(attempt int, outcome AttemptOutcome)
}

// AttemptOutcome is how one delivery attempt ended.
type AttemptOutcome string

const (
	AttemptDelivered AttemptOutcome = "delivered"
	AttemptRetry     AttemptOutcome = "retry"
	AttemptGivenUp   AttemptOutcome = "given_up"
)

// sender makes one attempt of a delivery. Both outboxes use it, so that
// signing, the success rule and the logs are the same everywhere.
type sender struct {
	client   *http.Client
	log      *slog.Logger
	now      func() time.Time
	schedule []time.Duration
	observe  func(attempt int, outcome AttemptOutcome)

	mu   sync.RWMutex
	keys map[string]Key
}

func newSender(cfg Config) *sender {
	s := &sender{client: cfg.HTTPClient, log: cfg.Logger, now: cfg.Now, schedule: slices.Clone(cfg.Schedule),
		keys: maps.Clone(cfg.Keys)}
	if s.client == nil {
		s.client = &http.Client{Timeout: 10 * time.Second}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.schedule == nil {
		s.schedule = slices.Clone(DefaultSchedule)
	}
	if s.keys == nil {
		s.keys = map[string]Key{}
	}
	s.observe = cfg.Attempted
	if s.observe == nil {
		s.observe = func(int, AttemptOutcome) {}
	}
	return s
}

// SetKey implements Outbox.
func (s *sender) SetKey(name string, k Key) {
	s.mu.Lock()
	s.keys[name] = Key{Header: k.Header, Secret: slices.Clone(k.Secret)}
	s.mu.Unlock()
}

func (s *sender) key(name string) (Key, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.keys[name]
	return k, ok
}

// attempts is how many attempts a delivery gets.
func (s *sender) attempts() int { return len(s.schedule) + 1 }

// retryAfter is the wait after failed attempt n (1-based), and false once
// the schedule is used up.
func (s *sender) retryAfter(n int) (time.Duration, bool) {
	if n < 1 || n > len(s.schedule) {
		return 0, false
	}
	return s.schedule[n-1], true
}

func validate(d Delivery) error {
	if d.ID == "" {
		return fmt.Errorf("%w: no id", ErrInvalidDelivery)
	}
	u, err := url.Parse(d.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: %s: URL %q is not absolute http(s)", ErrInvalidDelivery, d.ID, d.URL)
	}
	return nil
}

func (s *sender) logger(d Delivery) *slog.Logger {
	return s.log.With(append([]any{"delivery_id", d.ID}, d.Attrs...)...)
}

// post makes one attempt: nil for a 2xx answer.
func (s *sender) post(ctx context.Context, d Delivery) error {
	return s.postWith(ctx, d, nil, nil)
}

// postWith is post with extra headers for this attempt, reporting the
// status and the first KiB of the answer into r when it is not nil.
func (s *sender) postWith(ctx context.Context, d Delivery, extra http.Header, r *AttemptResult) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return err
	}
	for k, v := range d.Header {
		req.Header[k] = slices.Clone(v)
	}
	for k, v := range extra {
		req.Header[k] = slices.Clone(v)
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if d.Key != "" {
		k, ok := s.key(d.Key)
		if !ok {
			return fmt.Errorf("%w: no key %q", ErrInvalidDelivery, d.Key)
		}
		req.Header.Set(k.Header, Sign(k.Secret, s.now(), d.Body))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if r != nil {
		r.StatusCode = resp.StatusCode
		r.Response, _ = io.ReadAll(io.LimitReader(resp.Body, 1024))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}
