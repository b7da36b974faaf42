package merchant

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The event types a merchant can subscribe to.
const (
	CallStarted = "call.started"
	CallEnded   = "call.ended"
	// CallRated: the shopper rated a call after it ended.
	CallRated          = "call.rated"
	PaymentLinkCreated = "payment_link.created"
	PaymentSucceeded   = "payment.succeeded"
	PaymentFailed      = "payment.failed"
	PaymentRefunded    = "payment.refunded"
	// CallbackRequested: a shopper asked to be called back.
	CallbackRequested = "callback.requested"
)

// EventTypes lists every type, for validation and the docs.
var EventTypes = []string{CallStarted, CallEnded, CallRated, PaymentLinkCreated, PaymentSucceeded, PaymentFailed, PaymentRefunded, CallbackRequested}

// Headers of every delivery.
const (
	SignatureHeader = "Guidecall-Signature"
	EventIDHeader   = "Guidecall-Event-Id"
	EventTypeHeader = "Guidecall-Event-Type"
	DeliveryHeader  = "Guidecall-Delivery-Id"
	AttemptHeader   = "Guidecall-Delivery-Attempt"
)

// Errors. HTTP handlers map them to statuses.
var (
	ErrNotFound    = errors.New("merchant: not found")
	ErrInvalid     = errors.New("merchant: invalid request")
	ErrUnavailable = errors.New("merchant: store unavailable")
)

// Event is one thing that happened, as merchants receive it. Data is the
// object it is about (a payment link, a call), already JSON.
type Event struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt time.Time       `json:"-"`
	Data      json.RawMessage `json:"data"`
}

// body is the JSON sent: the event, with created as Unix seconds.
func (e Event) body() ([]byte, error) {
	return json.Marshal(struct {
		ID      string          `json:"id"`
		Type    string          `json:"type"`
		Created int64           `json:"created"`
		Data    json.RawMessage `json:"data"`
	}{e.ID, e.Type, e.CreatedAt.Unix(), e.Data})
}

// Endpoint is a merchant URL that receives the events it subscribed to,
// signed with its own secret.
type Endpoint struct {
	ID          string    `json:"id"`
	URL         string    `json:"url"`
	Events      []string  `json:"events"` // empty: every type
	Description string    `json:"description,omitempty"`
	Enabled     bool      `json:"enabled"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// Secret is shown when the endpoint is created, never listed.
	Secret string `json:"secret,omitempty"`
}

// wants reports whether e subscribes to typ.
func (e Endpoint) wants(typ string) bool {
	return e.Enabled && (len(e.Events) == 0 || slices.Contains(e.Events, typ))
}

// Delivery statuses.
const (
	StatusPending   = "pending"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"   // every scheduled attempt failed; can be replayed
	StatusCanceled  = "canceled" // the endpoint was deleted or disabled
)

// Delivery is one event on its way to one endpoint.
type Delivery struct {
	ID             string     `json:"id"`
	EventID        string     `json:"event_id"`
	EventType      string     `json:"event_type"`
	EndpointID     string     `json:"endpoint_id"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	LastStatusCode int        `json:"last_status_code,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	NextAttemptAt  *time.Time `json:"next_attempt_at,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	AttemptLog     []Attempt  `json:"attempt_log,omitempty"`
}

// Attempt is one POST of a delivery and what the receiver answered.
type Attempt struct {
	N          int       `json:"n"`
	At         time.Time `json:"at"`
	DurationMS int64     `json:"duration_ms"`
	StatusCode int       `json:"status_code"` // 0: no answer
	Error      string    `json:"error,omitempty"`
	Response   string    `json:"response,omitempty"` // first KiB of the answer
}

// DefaultSchedule is the wait before each retry of a failed delivery: 13
// attempts over about 32 hours, so a receiver down for a whole day still
// gets everything.
var DefaultSchedule = []time.Duration{
	10 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 8 * time.Hour, 8 * time.Hour,
}

func newID(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b)
}

// deliveryID is derived from the event and the endpoint, so that recording
// the same event twice can never make a second delivery.
func deliveryID(eventID, endpointID string) string { return "whd_" + eventID + "_" + endpointID }

// EndpointParams create or change an endpoint; nil fields stay as they are.
type EndpointParams struct {
	URL         *string   `json:"url"`
	Events      *[]string `json:"events"`
	Description *string   `json:"description"`
	Enabled     *bool     `json:"enabled"`
}

func (p EndpointParams) apply(e *Endpoint) error {
	if p.URL != nil {
		u, err := url.Parse(*p.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(*p.URL) > 2048 {
			return fmt.Errorf("%w: url must be an absolute http(s) URL", ErrInvalid)
		}
		e.URL = *p.URL
	}
	if p.Events != nil {
		evs := slices.Clone(*p.Events)
		for _, t := range evs {
			if !slices.Contains(EventTypes, t) {
				return fmt.Errorf("%w: unknown event type %q (one of %s)", ErrInvalid, t, strings.Join(EventTypes, ", "))
			}
		}
		slices.Sort(evs)
		e.Events = slices.Compact(evs)
	}
	if p.Description != nil {
		if len(*p.Description) > 500 {
			return fmt.Errorf("%w: description of at most 500 bytes", ErrInvalid)
		}
		e.Description = *p.Description
	}
	if p.Enabled != nil {
		e.Enabled = *p.Enabled
	}
	if e.Events == nil {
		e.Events = []string{}
	}
	return nil
}
