package payments

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Event is what the payments service publishes: one of LinkCreated,
// LinkStatusChanged and RefundRecorded. Each has an id, unique across
// nodes and restarts (a subscriber may see one twice, after a crash, and
// can drop the repeat by id), and the time of the change.
type Event interface {
	EventID() string
	EventTime() time.Time
	// EventLink is the link as the change left it.
	EventLink() Link
	eventKind() string
}

// EventMeta is what every event carries.
type EventMeta struct {
	ID string    `json:"id"`
	At time.Time `json:"at"`
}

// EventID implements Event.
func (m EventMeta) EventID() string { return m.ID }

// EventTime implements Event.
func (m EventMeta) EventTime() time.Time { return m.At }

// LinkCreated: a link's hosted checkout exists, and the link can be shown
// to the shopper.
type LinkCreated struct {
	EventMeta
	Link Link `json:"link"`
}

// LinkStatusChanged: a link moved from one status to another (paid,
// expired, failed, canceled). Refunds are RefundRecorded instead.
type LinkStatusChanged struct {
	EventMeta
	Link Link       `json:"link"`
	From LinkStatus `json:"from"`
	To   LinkStatus `json:"to"`
}

// RefundRecorded: a link was (partially) refunded. From is open when the
// refund arrived before the payment it implies.
type RefundRecorded struct {
	EventMeta
	Link Link       `json:"link"`
	From LinkStatus `json:"from"`
	To   LinkStatus `json:"to"`
}

func (e LinkCreated) EventLink() Link       { return e.Link.Clone() }
func (e LinkStatusChanged) EventLink() Link { return e.Link.Clone() }
func (e RefundRecorded) EventLink() Link    { return e.Link.Clone() }

func (LinkCreated) eventKind() string       { return "link_created" }
func (LinkStatusChanged) eventKind() string { return "link_status_changed" }
func (RefundRecorded) eventKind() string    { return "refund_recorded" }

func newMeta(at time.Time) EventMeta {
	return EventMeta{ID: "pev_" + uuid.NewString(), At: at.UTC()}
}

// statusEvent is the event of a link that moved from to l.Status: a
// refund, or any other change of status.
func statusEvent(from LinkStatus, l Link, at time.Time) Event {
	if l.Status == StatusRefunded || l.Status == StatusPartiallyRefunded {
		return RefundRecorded{EventMeta: newMeta(at), Link: l.Clone(), From: from, To: l.Status}
	}
	return LinkStatusChanged{EventMeta: newMeta(at), Link: l.Clone(), From: from, To: l.Status}
}

// encodeEvent is how stores keep an event: its kind and its JSON.
func encodeEvent(e Event) (kind string, payload []byte, err error) {
	payload, err = json.Marshal(e)
	return e.eventKind(), payload, err
}

func decodeEvent(kind string, payload []byte) (Event, error) {
	var err error
	switch kind {
	case LinkCreated{}.eventKind():
		var e LinkCreated
		err = json.Unmarshal(payload, &e)
		return e, err
	case LinkStatusChanged{}.eventKind():
		var e LinkStatusChanged
		err = json.Unmarshal(payload, &e)
		return e, err
	case RefundRecorded{}.eventKind():
		var e RefundRecorded
		err = json.Unmarshal(payload, &e)
		return e, err
	}
	return nil, fmt.Errorf("payments: unknown event kind %q", kind)
}

// DefaultSubscriberBuffer is how many events a subscriber may fall behind
// before further ones are dropped for it (and logged).
const DefaultSubscriberBuffer = 1024

// broker hands events to subscribers, each through its own buffer and
// goroutine, so a slow subscriber delays only itself and never the
// service.
type broker struct {
	log  *slog.Logger
	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

type subscriber struct {
	name string
	ch   chan Event
	done chan struct{}
	once sync.Once
	stop chan struct{}
}

// publish offers e to every subscriber and reports how many took it.
func (b *broker) publish(e Event) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for s := range b.subs {
		select {
		case s.ch <- e:
			n++
		default:
			l := e.EventLink()
			b.log.Error("payment event dropped: subscriber too slow", "subscriber", s.name,
				"event_id", e.EventID(), "link_id", l.ID, "call_id", l.CallID)
		}
	}
	return n
}

func (b *broker) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// SubscribeConfig tunes one subscription.
type SubscribeConfig struct {
	Name   string // for the logs
	Buffer int    // DefaultSubscriberBuffer if zero
}

// Subscribe calls fn with every event the service publishes from now on,
// in order, on a goroutine of its own; fn's ctx ends when the returned
// function is called, which also waits for fn to return. Events that
// arrive while Buffer events wait are dropped for this subscriber and
// logged.
//
// On a store that records events (PostgreSQL), an event a crash kept from
// its subscribers is published again by the relay of a running service
// (see Start), so subscribers see every event at least once while some
// node runs.
func (s *Service) Subscribe(cfg SubscribeConfig, fn func(ctx context.Context, e Event)) (unsubscribe func()) {
	if cfg.Buffer <= 0 {
		cfg.Buffer = DefaultSubscriberBuffer
	}
	sub := &subscriber{name: cfg.Name, ch: make(chan Event, cfg.Buffer), done: make(chan struct{}), stop: make(chan struct{})}
	s.events.mu.Lock()
	s.events.subs[sub] = struct{}{}
	s.events.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(sub.done)
		for {
			select {
			case <-sub.stop:
				return
			case e := <-sub.ch:
				fn(ctx, e)
			}
		}
	}()
	return func() {
		sub.once.Do(func() {
			s.events.mu.Lock()
			delete(s.events.subs, sub)
			s.events.mu.Unlock()
			cancel()
			close(sub.stop)
		})
		<-sub.done
	}
}
