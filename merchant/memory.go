package merchant

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"guidecall/webhook"
)

// Admin is what the admin API and the wiring need of merchant webhooks,
// on either store: Service (PostgreSQL, River) or MemoryService (one
// node, the memory outbox).
type Admin interface {
	CreateEndpoint(ctx context.Context, p EndpointParams) (Endpoint, error)
	Endpoints(ctx context.Context) ([]Endpoint, error)
	Endpoint(ctx context.Context, id string) (Endpoint, error)
	UpdateEndpoint(ctx context.Context, id string, p EndpointParams) (Endpoint, error)
	DeleteEndpoint(ctx context.Context, id string) error
	Deliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error)
	Delivery(ctx context.Context, id string) (Delivery, error)
	Replay(ctx context.Context, id string) (Delivery, error)
	// Record records events with their deliveries and sends them.
	Record(ctx context.Context, events ...Event) error
}

var (
	_ Admin = (*Service)(nil)
	_ Admin = (*MemoryService)(nil)
)

// MemoryConfig configures a MemoryService.
type MemoryConfig struct {
	// Schedule is the wait before each retry; DefaultSchedule if nil.
	Schedule   []time.Duration
	HTTPClient *http.Client
	Logger     *slog.Logger
	Now        func() time.Time
}

// MemoryService is merchant webhooks for a node on memory stores: the
// same endpoints, deliveries, attempts and replays as Service, kept in
// this process and sent through a webhook.MemoryOutbox of its own (on
// the merchant's schedule). What is pending is lost with the process, so
// a shop that must not lose an event runs on PostgreSQL.
type MemoryService struct {
	out      *webhook.MemoryOutbox
	schedule []time.Duration
	log      *slog.Logger
	now      func() time.Time

	mu         sync.Mutex
	endpoints  map[string]*Endpoint // with their secrets
	events     map[string]memEvent
	deliveries map[string]*memDelivery
}

type memEvent struct {
	typ  string
	body []byte
}

type memDelivery struct {
	Delivery
	sends int // enqueues (first send and replays), for the outbox's ids
}

// NewMemoryService returns a MemoryService; events recorded before Start
// wait for it.
func NewMemoryService(cfg MemoryConfig) *MemoryService {
	s := &MemoryService{log: cfg.Logger, now: cfg.Now, endpoints: map[string]*Endpoint{},
		events: map[string]memEvent{}, deliveries: map[string]*memDelivery{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	schedule := slices.Clone(cfg.Schedule)
	if len(schedule) == 0 {
		schedule = slices.Clone(DefaultSchedule)
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	s.schedule = schedule
	s.out = webhook.NewMemoryOutbox(webhook.MemoryConfig{Config: webhook.Config{
		Schedule: schedule, HTTPClient: client, Logger: s.log, Now: cfg.Now,
	}})
	return s
}

// Start runs the outbox until Stop.
func (s *MemoryService) Start(ctx context.Context) error { return s.out.Start(ctx) }

// Stop ends deliveries; what is pending is dropped.
func (s *MemoryService) Stop() { s.out.Stop() }

// AdminRoutes serves the admin API (see Service.AdminRoutes).
func (s *MemoryService) AdminRoutes() chi.Router { return Routes(s) }

func keyName(endpointID string) string { return "merchant:" + endpointID }

// CreateEndpoint implements Admin.
func (s *MemoryService) CreateEndpoint(_ context.Context, p EndpointParams) (Endpoint, error) {
	if p.URL == nil {
		return Endpoint{}, fmt.Errorf("%w: url is required", ErrInvalid)
	}
	now := s.now().UTC()
	e := Endpoint{ID: newID("we_"), Enabled: true, CreatedAt: now, UpdatedAt: now, Secret: newSecret()}
	if err := p.apply(&e); err != nil {
		return Endpoint{}, err
	}
	s.out.SetKey(keyName(e.ID), webhook.Key{Header: SignatureHeader, Secret: []byte(e.Secret)})
	s.mu.Lock()
	stored := e
	s.endpoints[e.ID] = &stored
	s.mu.Unlock()
	s.log.Info("merchant webhook endpoint created", "endpoint_id", e.ID, "url", e.URL, "events", e.Events)
	return e, nil
}

// Endpoints implements Admin.
func (s *MemoryService) Endpoints(context.Context) ([]Endpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.endpointsLocked(true), nil
}

// endpointsLocked lists endpoints oldest first, secrets left out.
func (s *MemoryService) endpointsLocked(withDisabled bool) []Endpoint {
	out := []Endpoint{}
	for _, e := range s.endpoints {
		if e.Enabled || withDisabled {
			c := *e
			c.Secret, c.Events = "", slices.Clone(e.Events)
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b Endpoint) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// Endpoint implements Admin.
func (s *MemoryService) Endpoint(_ context.Context, id string) (Endpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.endpoints[id]
	if !ok {
		return Endpoint{}, fmt.Errorf("%w: endpoint %s", ErrNotFound, id)
	}
	c := *e
	c.Secret, c.Events = "", slices.Clone(e.Events)
	return c, nil
}

// UpdateEndpoint implements Admin. A delivery already pending keeps the
// URL it was queued with; disabling the endpoint cancels it at its next
// attempt.
func (s *MemoryService) UpdateEndpoint(_ context.Context, id string, p EndpointParams) (Endpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.endpoints[id]
	if !ok {
		return Endpoint{}, fmt.Errorf("%w: endpoint %s", ErrNotFound, id)
	}
	c := *e
	if err := p.apply(&c); err != nil {
		return Endpoint{}, err
	}
	c.UpdatedAt = s.now().UTC()
	*e = c
	c.Secret = ""
	return c, nil
}

// DeleteEndpoint implements Admin: its pending deliveries are canceled at
// their next attempt, and its delivery log stays.
func (s *MemoryService) DeleteEndpoint(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.endpoints[id]; !ok {
		return fmt.Errorf("%w: endpoint %s", ErrNotFound, id)
	}
	delete(s.endpoints, id)
	return nil
}

// Record implements Admin. An event already recorded (same id) is
// skipped with its deliveries, so recording twice delivers once.
func (s *MemoryService) Record(ctx context.Context, events ...Event) error {
	now := s.now().UTC()
	var sends []webhook.Delivery
	s.mu.Lock()
	endpoints := s.endpointsLocked(false)
	for _, e := range events {
		if _, dup := s.events[e.ID]; dup {
			continue
		}
		if e.CreatedAt.IsZero() {
			e.CreatedAt = now
		}
		body, err := e.body()
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("merchant: encode event %s: %w", e.ID, err)
		}
		s.events[e.ID] = memEvent{typ: e.Type, body: body}
		for _, ep := range endpoints {
			if !ep.wants(e.Type) {
				continue
			}
			next := now
			d := &memDelivery{Delivery: Delivery{ID: deliveryID(e.ID, ep.ID), EventID: e.ID, EventType: e.Type, EndpointID: ep.ID,
				Status: StatusPending, NextAttemptAt: &next, CreatedAt: now, UpdatedAt: now, AttemptLog: []Attempt{}}}
			s.deliveries[d.ID] = d
			sends = append(sends, s.sendLocked(d, ep.URL, body))
		}
	}
	s.mu.Unlock()
	return s.enqueue(ctx, sends)
}

// sendLocked is the outbox delivery of d's next send; s.mu is held.
func (s *MemoryService) sendLocked(d *memDelivery, url string, body []byte) webhook.Delivery {
	d.sends++
	return webhook.Delivery{
		ID:  d.ID + "/" + strconv.Itoa(d.sends),
		URL: url, Body: body, Key: keyName(d.EndpointID),
		Header: http.Header{
			"User-Agent": {"guidecall-webhooks/1"}, EventIDHeader: {d.EventID},
			EventTypeHeader: {d.EventType}, DeliveryHeader: {d.ID},
		},
		Attrs:    []any{"event_id", d.EventID, "event_type", d.EventType, "endpoint_id", d.EndpointID},
		Observer: &memObserver{s: s, id: d.ID},
	}
}

func (s *MemoryService) enqueue(ctx context.Context, sends []webhook.Delivery) error {
	var errs []error
	for _, w := range sends {
		if err := s.out.Enqueue(ctx, w); err != nil {
			id, _, _ := bytes.Cut([]byte(w.ID), []byte("/"))
			s.finish(string(id), StatusFailed, "not queued: "+err.Error())
			errs = append(errs, fmt.Errorf("merchant: queue delivery %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// finish ends a delivery that no attempt will follow.
func (s *MemoryService) finish(id, status, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.deliveries[id]; ok {
		d.Status, d.LastError, d.NextAttemptAt, d.UpdatedAt = status, why, nil, s.now().UTC()
	}
}

// Deliveries implements Admin.
func (s *MemoryService) Deliveries(_ context.Context, f DeliveryFilter) ([]Delivery, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	f.Limit = min(f.Limit, 1000)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Delivery{}
	for _, d := range s.deliveries {
		if (f.EndpointID == "" || d.EndpointID == f.EndpointID) && (f.EventID == "" || d.EventID == f.EventID) &&
			(f.Status == "" || d.Status == f.Status) {
			c := d.Delivery
			c.AttemptLog = nil
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b Delivery) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out[:min(len(out), f.Limit)], nil
}

// Delivery implements Admin.
func (s *MemoryService) Delivery(_ context.Context, id string) (Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deliveries[id]
	if !ok {
		return Delivery{}, fmt.Errorf("%w: delivery %s", ErrNotFound, id)
	}
	c := d.Delivery
	c.AttemptLog = slices.Clone(d.AttemptLog)
	return c, nil
}

// Replay implements Admin: a failed or canceled delivery is sent again on
// a fresh schedule with the same event id; one whose endpoint is gone or
// disabled is canceled instead.
func (s *MemoryService) Replay(ctx context.Context, id string) (Delivery, error) {
	s.mu.Lock()
	d, ok := s.deliveries[id]
	if !ok {
		s.mu.Unlock()
		return Delivery{}, fmt.Errorf("%w: delivery %s", ErrNotFound, id)
	}
	if d.Status != StatusFailed && d.Status != StatusCanceled {
		s.mu.Unlock()
		return Delivery{}, fmt.Errorf("%w: delivery %s is %s; only failed or canceled ones are replayed", ErrInvalid, id, d.Status)
	}
	now := s.now().UTC()
	d.UpdatedAt = now
	ep, ok := s.endpoints[d.EndpointID]
	if !ok || !ep.Enabled {
		d.Status, d.NextAttemptAt = StatusCanceled, nil
		s.mu.Unlock()
		s.log.Info("merchant webhook replay canceled: endpoint deleted or disabled", "delivery_id", id)
		return s.Delivery(ctx, id)
	}
	d.Status, d.NextAttemptAt = StatusPending, &now
	send := s.sendLocked(d, ep.URL, s.events[d.EventID].body)
	s.mu.Unlock()
	if err := s.enqueue(ctx, []webhook.Delivery{send}); err != nil {
		return Delivery{}, err
	}
	s.log.Info("merchant webhook replayed", "delivery_id", id)
	return s.Delivery(ctx, id)
}

// memObserver keeps one delivery's log from the outbox's attempts.
type memObserver struct {
	s  *MemoryService
	id string
}

func (o *memObserver) Attempting(_ int, h http.Header) bool {
	s := o.s
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deliveries[o.id]
	if !ok || d.Status != StatusPending {
		return false
	}
	if ep, ok := s.endpoints[d.EndpointID]; !ok || !ep.Enabled {
		d.Status, d.NextAttemptAt, d.UpdatedAt = StatusCanceled, nil, s.now().UTC()
		s.log.Info("merchant webhook canceled: endpoint deleted or disabled", "delivery_id", d.ID,
			"event_id", d.EventID, "endpoint_id", d.EndpointID)
		return false
	}
	h.Set(AttemptHeader, strconv.Itoa(d.Attempts+1))
	return true
}

func (o *memObserver) Attempted(r webhook.AttemptResult) bool {
	s := o.s
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deliveries[o.id]
	if !ok || d.Status != StatusPending {
		return false
	}
	a := Attempt{N: d.Attempts + 1, At: r.At.UTC(), DurationMS: r.Duration.Milliseconds(), StatusCode: r.StatusCode,
		Response: string(bytes.ToValidUTF8(r.Response, []byte("?")))}
	if r.Err != nil {
		a.Error = r.Err.Error()
	}
	d.AttemptLog = append(d.AttemptLog, a)
	d.Attempts, d.LastStatusCode, d.LastError, d.UpdatedAt = a.N, a.StatusCode, a.Error, s.now().UTC()
	log := s.log.With("delivery_id", d.ID, "event_id", d.EventID, "event_type", d.EventType, "endpoint_id", d.EndpointID)
	switch {
	case r.Err == nil:
		d.Status, d.NextAttemptAt = StatusSucceeded, nil
		log.Info("merchant webhook delivered", "attempt", a.N, "status_code", a.StatusCode, "duration_ms", a.DurationMS)
	case r.Final:
		d.Status, d.NextAttemptAt = StatusFailed, nil
		log.Error("merchant webhook failed: every attempt refused; replay it from the admin API", "attempt", a.N,
			"status_code", a.StatusCode, "err", a.Error)
	default:
		// The outbox waits the same schedule, counted within this send.
		next := s.now().UTC().Add(s.schedule[min(r.N, len(s.schedule))-1])
		d.NextAttemptAt = &next
		log.Warn("merchant webhook attempt failed", "attempt", a.N, "status_code", a.StatusCode, "err", a.Error, "retry_at", next)
	}
	return true
}
