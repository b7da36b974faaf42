package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// DeliveryKind is the River job kind of a webhook delivery.
const DeliveryKind = "webhook_delivery"

// deliveryArgs is a Delivery as River stores it. Only the id makes a job
// unique, so a second enqueue of one delivery is dropped by River.
type deliveryArgs struct {
	ID     string      `json:"id" river:"unique"`
	URL    string      `json:"url"`
	Header http.Header `json:"header,omitempty"`
	Body   []byte      `json:"body"`
	Key    string      `json:"key,omitempty"`
	Attrs  []any       `json:"attrs,omitempty"`
}

func (deliveryArgs) Kind() string { return DeliveryKind }

func (a deliveryArgs) delivery() Delivery {
	return Delivery{ID: a.ID, URL: a.URL, Header: a.Header, Body: a.Body, Key: a.Key, Attrs: a.Attrs}
}

// RiverOutbox is the durable outbox: each delivery is a River job in the
// database, inserted with the caller's transaction if it has one
// (EnqueueTx), so a state change and the webhook that reports it commit
// together, and worked by whichever node's River client takes it, after a
// crash too. Its worker must be added to the node's River client
// (AddWorker); the outbox itself only inserts.
type RiverOutbox struct {
	*sender
	inserter *river.Client[pgx.Tx]
}

var _ Outbox = (*RiverOutbox)(nil)

// NewRiverOutbox returns an outbox whose jobs go into River's tables in
// schema (those of rivermigrate, applied by `guidecall migrate`).
func NewRiverOutbox(pool *pgxpool.Pool, schema string, cfg Config) (*RiverOutbox, error) {
	// A client without queues and workers only inserts: it runs nothing
	// and needs no Start.
	c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Schema: schema, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("webhook: river client: %w", err)
	}
	return &RiverOutbox{sender: newSender(cfg), inserter: c}, nil
}

func (o *RiverOutbox) insertArgs(d Delivery) (deliveryArgs, *river.InsertOpts, error) {
	if err := validate(d); err != nil {
		return deliveryArgs{}, nil, err
	}
	if d.Observer != nil {
		return deliveryArgs{}, nil, fmt.Errorf("%w: %s: a durable outbox cannot keep an Observer", ErrInvalidDelivery, d.ID)
	}
	opts := &river.InsertOpts{
		MaxAttempts: o.attempts(),
		UniqueOpts:  river.UniqueOpts{ByArgs: true},
	}
	if d.Delay > 0 {
		opts.ScheduledAt = time.Now().Add(d.Delay)
	}
	return deliveryArgs{ID: d.ID, URL: d.URL, Header: d.Header, Body: d.Body, Key: d.Key, Attrs: d.Attrs}, opts, nil
}

// Enqueue implements Outbox in a transaction of its own.
func (o *RiverOutbox) Enqueue(ctx context.Context, d Delivery) error {
	args, opts, err := o.insertArgs(d)
	if err != nil {
		return err
	}
	if _, err := o.inserter.Insert(ctx, args, opts); err != nil {
		return fmt.Errorf("webhook: enqueue %s: %w", d.ID, err)
	}
	return nil
}

// EnqueueTx records d in tx: it is delivered if and only if tx commits.
func (o *RiverOutbox) EnqueueTx(ctx context.Context, tx pgx.Tx, d Delivery) error {
	args, opts, err := o.insertArgs(d)
	if err != nil {
		return err
	}
	if _, err := o.inserter.InsertTx(ctx, tx, args, opts); err != nil {
		return fmt.Errorf("webhook: enqueue %s: %w", d.ID, err)
	}
	return nil
}

// AddWorker registers the delivery worker on the node's River workers.
func (o *RiverOutbox) AddWorker(workers *river.Workers) {
	river.AddWorker(workers, &deliveryWorker{s: o.sender})
}

// deliveryWorker makes one attempt per River attempt; River keeps the job
// and its retries, on this schedule, across restarts.
type deliveryWorker struct {
	river.WorkerDefaults[deliveryArgs]
	s *sender
}

func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[deliveryArgs]) error {
	d := job.Args.delivery()
	log := w.s.logger(d)
	err := w.s.post(ctx, d)
	switch {
	case err == nil:
		log.Debug("webhook delivered", "attempt", job.Attempt)
		w.s.observe(job.Attempt, AttemptDelivered)
		return nil
	case errors.Is(err, ErrInvalidDelivery):
		log.Error("webhook given up: cannot be sent from this node", "err", err)
		w.s.observe(job.Attempt, AttemptGivenUp)
		return river.JobCancel(err)
	case job.Attempt >= job.MaxAttempts:
		log.Error("webhook given up", "attempts", job.Attempt, "err", err)
		w.s.observe(job.Attempt, AttemptGivenUp)
		return err
	}
	w.s.observe(job.Attempt, AttemptRetry)
	wait, _ := w.s.retryAfter(job.Attempt)
	log.Warn("webhook delivery failed", "attempt", job.Attempt, "retry_in", wait, "err", err)
	return err
}

// NextRetry follows the outbox's schedule rather than River's default.
func (w *deliveryWorker) NextRetry(job *river.Job[deliveryArgs]) time.Time {
	wait, ok := w.s.retryAfter(job.Attempt)
	if !ok && len(w.s.schedule) > 0 {
		// A job inserted by a node with a longer schedule.
		wait = w.s.schedule[len(w.s.schedule)-1]
	}
	return time.Now().Add(wait)
}

// Timeout bounds one attempt; the HTTP client's own timeout is shorter.
func (w *deliveryWorker) Timeout(*river.Job[deliveryArgs]) time.Duration { return 30 * time.Second }
