package merchant

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"guidecall/internal/db"
	"guidecall/webhook"
)

// Config configures a Service.
type Config struct {
	Pool *pgxpool.Pool
	// Schema is where River's tables are (db.CurrentSchema of Pool).
	Schema string
	// Schedule is the wait before each retry; DefaultSchedule if nil. One
	// attempt more than its length is made before a delivery fails.
	Schedule   []time.Duration
	HTTPClient *http.Client
	Logger     *slog.Logger
	Now        func() time.Time
}

// Service keeps endpoints, records events with their deliveries, and
// (through its River worker) delivers them.
type Service struct {
	pool     *pgxpool.Pool
	inserter *river.Client[pgx.Tx]
	schedule []time.Duration
	client   *http.Client
	log      *slog.Logger
	now      func() time.Time
}

// New returns a Service. Its worker must be added to the node's River
// client (AddWorker); the Service itself only inserts jobs.
func New(cfg Config) (*Service, error) {
	if cfg.Pool == nil {
		return nil, errors.New("merchant: Config.Pool is required")
	}
	s := &Service{pool: cfg.Pool, schedule: slices.Clone(cfg.Schedule), client: cfg.HTTPClient, log: cfg.Logger, now: cfg.Now}
	if len(s.schedule) == 0 {
		s.schedule = slices.Clone(DefaultSchedule)
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: 15 * time.Second}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	c, err := river.NewClient(riverpgxv5.New(cfg.Pool), &river.Config{Schema: cfg.Schema, Logger: s.log})
	if err != nil {
		return nil, fmt.Errorf("merchant: river client: %w", err)
	}
	s.inserter = c
	return s, nil
}

func storeErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	case db.IsUnavailable(err):
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
	}
	return fmt.Errorf("merchant: %s: %w", what, err)
}

// Querier is what RecordTx runs in: the caller's transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// RecordTx records events in tx, with a delivery and its River job for
// every enabled endpoint subscribed to each: they commit if and only if tx
// does. An event already recorded (same id) is skipped, with its
// deliveries, so recording twice delivers once.
func (s *Service) RecordTx(ctx context.Context, tx pgx.Tx, events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	endpoints, err := s.endpoints(ctx, tx, false)
	if err != nil {
		return err
	}
	var jobs []river.InsertManyParams
	now := s.now().UTC()
	for _, e := range events {
		if e.CreatedAt.IsZero() {
			e.CreatedAt = now
		}
		body, err := e.body()
		if err != nil {
			return fmt.Errorf("merchant: encode event %s: %w", e.ID, err)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO merchant_events (id, type, body, created_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (id) DO NOTHING`, e.ID, e.Type, body, e.CreatedAt)
		if err != nil {
			return storeErr(err, "record event "+e.ID)
		}
		if tag.RowsAffected() == 0 {
			continue
		}
		for _, ep := range endpoints {
			if !ep.wants(e.Type) {
				continue
			}
			id := deliveryID(e.ID, ep.ID)
			if _, err := tx.Exec(ctx, `INSERT INTO merchant_deliveries (id, event_id, endpoint_id, status, next_attempt_at, created_at, updated_at)
				VALUES ($1, $2, $3, 'pending', $4, $4, $4)`, id, e.ID, ep.ID, now); err != nil {
				return storeErr(err, "record delivery "+id)
			}
			jobs = append(jobs, river.InsertManyParams{Args: deliveryArgs{DeliveryID: id}, InsertOpts: s.insertOpts()})
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	if _, err := s.inserter.InsertManyTx(ctx, tx, jobs); err != nil {
		return fmt.Errorf("merchant: enqueue deliveries: %w", err)
	}
	return nil
}

// Record is RecordTx in a transaction of its own, for changes whose own
// transaction is out of reach.
func (s *Service) Record(ctx context.Context, events ...Event) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.RecordTx(ctx, tx, events...) })
}

func (s *Service) insertOpts() *river.InsertOpts {
	return &river.InsertOpts{MaxAttempts: len(s.schedule) + 1}
}

const endpointColumns = `id, url, secret, events, description, enabled, created_at, updated_at`

func scanEndpoint(r interface{ Scan(...any) error }) (Endpoint, error) {
	var e Endpoint
	err := r.Scan(&e.ID, &e.URL, &e.Secret, &e.Events, &e.Description, &e.Enabled, &e.CreatedAt, &e.UpdatedAt)
	return e, err
}

func (s *Service) endpoints(ctx context.Context, q Querier, withDisabled bool) ([]Endpoint, error) {
	rows, err := q.Query(ctx, `SELECT `+endpointColumns+` FROM merchant_endpoints WHERE enabled OR $1 ORDER BY created_at, id`, withDisabled)
	if err != nil {
		return nil, storeErr(err, "endpoints")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Endpoint, error) { return scanEndpoint(r) })
	return out, storeErr(err, "endpoints")
}

// Endpoints lists every endpoint, secrets left out.
func (s *Service) Endpoints(ctx context.Context) ([]Endpoint, error) {
	eps, err := s.endpoints(ctx, s.pool, true)
	for i := range eps {
		eps[i].Secret = ""
	}
	return eps, err
}

// Endpoint returns one endpoint, secret left out.
func (s *Service) Endpoint(ctx context.Context, id string) (Endpoint, error) {
	e, err := scanEndpoint(s.pool.QueryRow(ctx, `SELECT `+endpointColumns+` FROM merchant_endpoints WHERE id = $1`, id))
	e.Secret = ""
	return e, storeErr(err, "endpoint "+id)
}

// CreateEndpoint adds an endpoint with a new secret, which is returned
// this once.
func (s *Service) CreateEndpoint(ctx context.Context, p EndpointParams) (Endpoint, error) {
	if p.URL == nil {
		return Endpoint{}, fmt.Errorf("%w: url is required", ErrInvalid)
	}
	now := s.now().UTC()
	e := Endpoint{ID: newID("we_"), Enabled: true, CreatedAt: now, UpdatedAt: now, Secret: newSecret()}
	if err := p.apply(&e); err != nil {
		return Endpoint{}, err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO merchant_endpoints (`+endpointColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		e.ID, e.URL, e.Secret, e.Events, e.Description, e.Enabled, e.CreatedAt, e.UpdatedAt)
	if err != nil {
		return Endpoint{}, storeErr(err, "create endpoint")
	}
	s.log.Info("merchant webhook endpoint created", "endpoint_id", e.ID, "url", e.URL, "events", e.Events)
	return e, nil
}

// UpdateEndpoint changes an endpoint. Deliveries already pending to it
// go to its new URL; disabling it cancels them at their next attempt.
func (s *Service) UpdateEndpoint(ctx context.Context, id string, p EndpointParams) (Endpoint, error) {
	var out Endpoint
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		e, err := scanEndpoint(tx.QueryRow(ctx, `SELECT `+endpointColumns+` FROM merchant_endpoints WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		if err := p.apply(&e); err != nil {
			return err
		}
		e.UpdatedAt = s.now().UTC()
		_, err = tx.Exec(ctx, `UPDATE merchant_endpoints SET url = $2, events = $3, description = $4, enabled = $5, updated_at = $6 WHERE id = $1`,
			e.ID, e.URL, e.Events, e.Description, e.Enabled, e.UpdatedAt)
		e.Secret = ""
		out = e
		return err
	})
	if errors.Is(err, ErrInvalid) {
		return Endpoint{}, err
	}
	return out, storeErr(err, "endpoint "+id)
}

// DeleteEndpoint removes an endpoint; its pending deliveries are canceled
// at their next attempt, and its delivery log stays.
func (s *Service) DeleteEndpoint(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM merchant_endpoints WHERE id = $1`, id)
	if err == nil && tag.RowsAffected() == 0 {
		err = pgx.ErrNoRows
	}
	return storeErr(err, "endpoint "+id)
}

// DeliveryFilter narrows Deliveries; empty fields match everything.
type DeliveryFilter struct {
	EndpointID, EventID, Status string
	Limit                       int // 100 if zero, at most 1000
}

const deliveryColumns = `d.id, d.event_id, e.type, d.endpoint_id, d.status, d.attempts, d.last_status_code, d.last_error,
	d.next_attempt_at, d.created_at, d.updated_at`

func scanDelivery(r interface{ Scan(...any) error }) (Delivery, error) {
	var d Delivery
	err := r.Scan(&d.ID, &d.EventID, &d.EventType, &d.EndpointID, &d.Status, &d.Attempts, &d.LastStatusCode, &d.LastError,
		&d.NextAttemptAt, &d.CreatedAt, &d.UpdatedAt)
	return d, err
}

// Deliveries lists deliveries, newest first.
func (s *Service) Deliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	f.Limit = min(f.Limit, 1000)
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM merchant_deliveries d JOIN merchant_events e ON e.id = d.event_id
		WHERE ($1 = '' OR d.endpoint_id = $1) AND ($2 = '' OR d.event_id = $2) AND ($3 = '' OR d.status = $3)
		ORDER BY d.created_at DESC, d.id LIMIT $4`, f.EndpointID, f.EventID, f.Status, f.Limit)
	if err != nil {
		return nil, storeErr(err, "deliveries")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) { return scanDelivery(r) })
	return out, storeErr(err, "deliveries")
}

// Delivery returns one delivery with every attempt.
func (s *Service) Delivery(ctx context.Context, id string) (Delivery, error) {
	d, err := scanDelivery(s.pool.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM merchant_deliveries d
		JOIN merchant_events e ON e.id = d.event_id WHERE d.id = $1`, id))
	if err != nil {
		return Delivery{}, storeErr(err, "delivery "+id)
	}
	rows, err := s.pool.Query(ctx, `SELECT n, at, duration_ms, status_code, error, response FROM merchant_attempts
		WHERE delivery_id = $1 ORDER BY n`, id)
	if err != nil {
		return Delivery{}, storeErr(err, "attempts of "+id)
	}
	d.AttemptLog, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Attempt, error) {
		var a Attempt
		err := r.Scan(&a.N, &a.At, &a.DurationMS, &a.StatusCode, &a.Error, &a.Response)
		return a, err
	})
	return d, storeErr(err, "attempts of "+id)
}

// Replay sends a failed or canceled delivery again, on a fresh schedule,
// with the same event id (receivers dedupe by it). A pending or succeeded
// one is left alone: ErrInvalid.
func (s *Service) Replay(ctx context.Context, id string) (Delivery, error) {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var status string
		if err := tx.QueryRow(ctx, `SELECT status FROM merchant_deliveries WHERE id = $1 FOR UPDATE`, id).Scan(&status); err != nil {
			return err
		}
		if status != StatusFailed && status != StatusCanceled {
			return fmt.Errorf("%w: delivery %s is %s; only failed or canceled ones are replayed", ErrInvalid, id, status)
		}
		now := s.now().UTC()
		if _, err := tx.Exec(ctx, `UPDATE merchant_deliveries SET status = 'pending', next_attempt_at = $2, updated_at = $2 WHERE id = $1`, id, now); err != nil {
			return err
		}
		_, err := s.inserter.InsertTx(ctx, tx, deliveryArgs{DeliveryID: id, Replay: now.UnixNano()}, s.insertOpts())
		return err
	})
	if errors.Is(err, ErrInvalid) {
		return Delivery{}, err
	}
	if err != nil {
		return Delivery{}, storeErr(err, "replay "+id)
	}
	s.log.Info("merchant webhook replayed", "delivery_id", id)
	return s.Delivery(ctx, id)
}

// deliveryArgs is the River job of one delivery. Replay only tells apart
// the job of a replay from the first one.
type deliveryArgs struct {
	DeliveryID string `json:"delivery_id"`
	Replay     int64  `json:"replay,omitempty"`
}

// DeliveryKind is the River job kind of a merchant webhook delivery.
const DeliveryKind = "merchant_webhook_delivery"

func (deliveryArgs) Kind() string { return DeliveryKind }

// AddWorker registers the delivery worker on the node's River workers.
func (s *Service) AddWorker(workers *river.Workers) {
	river.AddWorker(workers, &deliveryWorker{s: s})
}

type deliveryWorker struct {
	river.WorkerDefaults[deliveryArgs]
	s *Service
}

// target is what one attempt needs, read fresh each time: the endpoint's
// current URL and secret.
type target struct {
	status, eventID, eventType, endpointID string
	attempts                               int
	body                                   []byte
	url, secret                            *string
	enabled                                *bool
}

func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[deliveryArgs]) error {
	s := w.s
	id := job.Args.DeliveryID
	var t target
	err := s.pool.QueryRow(ctx, `SELECT d.status, d.event_id, e.type, d.endpoint_id, d.attempts, e.body, p.url, p.secret, p.enabled
		FROM merchant_deliveries d JOIN merchant_events e ON e.id = d.event_id
		LEFT JOIN merchant_endpoints p ON p.id = d.endpoint_id WHERE d.id = $1`, id).
		Scan(&t.status, &t.eventID, &t.eventType, &t.endpointID, &t.attempts, &t.body, &t.url, &t.secret, &t.enabled)
	if errors.Is(err, pgx.ErrNoRows) {
		return river.JobCancel(fmt.Errorf("merchant: delivery %s does not exist", id))
	}
	if err != nil {
		return fmt.Errorf("merchant: read delivery %s: %w", id, err)
	}
	log := s.log.With("delivery_id", id, "event_id", t.eventID, "event_type", t.eventType, "endpoint_id", t.endpointID)
	if t.status != StatusPending {
		// Done already (a job that ran again after a crash).
		return nil
	}
	if t.url == nil || !*t.enabled {
		_, err := s.pool.Exec(ctx, `UPDATE merchant_deliveries SET status = 'canceled', next_attempt_at = NULL, updated_at = $2 WHERE id = $1`, id, s.now().UTC())
		if err != nil {
			return fmt.Errorf("merchant: cancel delivery %s: %w", id, err)
		}
		log.Info("merchant webhook canceled: endpoint deleted or disabled")
		return river.JobCancel(errors.New("endpoint gone"))
	}
	n := t.attempts + 1
	a := s.post(ctx, id, n, t)
	final := a.StatusCode/100 == 2 || job.Attempt >= job.MaxAttempts
	status := StatusPending
	var next *time.Time
	switch {
	case a.StatusCode/100 == 2:
		status = StatusSucceeded
	case final:
		status = StatusFailed
	default:
		at := s.now().UTC().Add(s.retryAfter(job.Attempt))
		next = &at
	}
	if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO merchant_attempts (delivery_id, n, at, duration_ms, status_code, error, response)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (delivery_id, n) DO NOTHING`,
			id, n, a.At, a.DurationMS, a.StatusCode, a.Error, a.Response); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE merchant_deliveries SET status = $2, attempts = $3, last_status_code = $4, last_error = $5,
			next_attempt_at = $6, updated_at = $7 WHERE id = $1`, id, status, n, a.StatusCode, a.Error, next, s.now().UTC())
		return err
	}); err != nil {
		// The answer is lost with the record; River runs the job again and
		// the receiver, deduping by event id, sees a repeat at worst.
		return fmt.Errorf("merchant: record attempt %d of %s: %w", n, id, err)
	}
	switch status {
	case StatusSucceeded:
		log.Info("merchant webhook delivered", "attempt", n, "status_code", a.StatusCode, "duration_ms", a.DurationMS)
		return nil
	case StatusFailed:
		log.Error("merchant webhook failed: every attempt refused; replay it from the admin API", "attempt", n,
			"status_code", a.StatusCode, "err", a.Error)
		return river.JobCancel(fmt.Errorf("merchant: delivery %s failed after %d attempts", id, n))
	}
	log.Warn("merchant webhook attempt failed", "attempt", n, "status_code", a.StatusCode, "err", a.Error, "retry_at", next)
	return fmt.Errorf("merchant: attempt %d of %s: status %d %s", n, id, a.StatusCode, a.Error)
}

// post makes one signed attempt and reports the answer.
func (s *Service) post(ctx context.Context, id string, n int, t target) Attempt {
	start := s.now()
	a := Attempt{N: n, At: start.UTC()}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *t.url, bytes.NewReader(t.body))
	if err != nil {
		a.Error = err.Error()
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "guidecall-webhooks/1")
	req.Header.Set(SignatureHeader, webhook.Sign([]byte(*t.secret), start, t.body))
	req.Header.Set(EventIDHeader, t.eventID)
	req.Header.Set(EventTypeHeader, t.eventType)
	req.Header.Set(DeliveryHeader, id)
	req.Header.Set(AttemptHeader, strconv.Itoa(n))
	resp, err := s.client.Do(req)
	a.DurationMS = time.Since(start).Milliseconds()
	if err != nil {
		a.Error = err.Error()
		return a
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	a.StatusCode = resp.StatusCode
	a.Response = string(bytes.ToValidUTF8(b, []byte("?")))
	if resp.StatusCode/100 != 2 {
		a.Error = "status " + strconv.Itoa(resp.StatusCode)
	}
	return a
}

func (s *Service) retryAfter(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	if attempt > len(s.schedule) {
		return s.schedule[len(s.schedule)-1]
	}
	return s.schedule[attempt-1]
}

// NextRetry follows the service's schedule rather than River's default.
func (w *deliveryWorker) NextRetry(job *river.Job[deliveryArgs]) time.Time {
	return time.Now().Add(w.s.retryAfter(job.Attempt))
}

// Timeout bounds one attempt; the HTTP client's own timeout is shorter.
func (w *deliveryWorker) Timeout(*river.Job[deliveryArgs]) time.Duration { return 30 * time.Second }
