package queue

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Event is something that happened in the queue, published after the
// transaction that made it happen committed. The concrete types below are
// the whole set; a subscriber switches on them.
type Event interface {
	// EventID is unique per event (ev_...), for dedupe by consumers that
	// keep what they saw.
	EventID() string
	// EventTime is when the change happened, by the Service's clock.
	EventTime() time.Time
	// Kind names the event in logs and metrics ("offer.made", ...).
	Kind() string
}

// EventMeta is what every event carries.
type EventMeta struct {
	ID string
	At time.Time
}

func (m EventMeta) EventID() string      { return m.ID }
func (m EventMeta) EventTime() time.Time { return m.At }

// OfferMade shows Entry to Call.GuideID until Call.OfferDeadline. Resent is
// true when an offer already made is shown again to a console that
// reconnected; it is not a new offer.
type OfferMade struct {
	EventMeta
	Call   Call
	Entry  Entry
	Resent bool
}

// OfferRevoked withdraws an offer from its guide: timed out, declined, or
// the guide or shopper went away (Reason).
type OfferRevoked struct {
	EventMeta
	Call   Call
	Reason string
}

// CallMatched says the guide accepted: both parties learn who the other is.
type CallMatched struct {
	EventMeta
	Call  Call
	Entry Entry
	Guide Guide
}

// CallStateChanged says an accepted call moved on (connecting, connected).
type CallStateChanged struct {
	EventMeta
	Call Call
}

// CallFinished says a call that was accepted is over; Call.EndReason and
// Call.EndedBy say why. (Its name is not CallEnded, which is the state.)
type CallFinished struct {
	EventMeta
	Call Call
}

// CallItemAdded says a party added a chat message, a product card or its
// cart to a live call.
type CallItemAdded struct {
	EventMeta
	Call Call
	Item CallItem
}

// CallRated says the shopper rated a call that ended. CustomerID is the
// merchant's customer id of the call's entry (empty for an anonymous
// shopper), so the merchant's event can be erased with the customer.
type CallRated struct {
	EventMeta
	Call       Call
	CustomerID string
}

// CallWrappedUp says the guide saved (or corrected) a call's wrap-up.
type CallWrappedUp struct {
	EventMeta
	Call Call
}

// Requeued says a call fell through before connecting and its shopper is
// back at the head of the line.
type Requeued struct {
	EventMeta
	Entry    Entry
	Reason   string
	Position Position
}

// EntryLeft says an entry ended without a call (Entry.LeftReason).
type EntryLeft struct {
	EventMeta
	Entry Entry
}

// EntryRelaxed says a waiting entry took a relaxation step (Step, as
// recorded in Entry.Steps): more guides may now take it.
type EntryRelaxed struct {
	EventMeta
	Entry Entry
	Step  string
}

// CallbackChanged says a callback request was made, claimed or closed.
type CallbackChanged struct {
	EventMeta
	Callback Callback
}

// PositionChanged tells a waiting shopper where it stands now.
type PositionChanged struct {
	EventMeta
	EntryID  string
	Position Position
}

// PositionsChanged tells many waiting shoppers where they stand now: the
// matcher's pass publishes one for all the positions it changed, so that
// a line of thousands that moves up by one is one event, which no
// subscriber's buffer drops in part.
type PositionsChanged struct {
	EventMeta
	Positions []EntryPosition
}

// EntryPosition is one shopper's position in a PositionsChanged.
type EntryPosition struct {
	EntryID  string
	Position Position
}

// Each is the batch as one PositionChanged per shopper, all with the
// batch's id and time.
func (p PositionsChanged) Each() []PositionChanged {
	out := make([]PositionChanged, len(p.Positions))
	for i, ep := range p.Positions {
		out[i] = PositionChanged{EventMeta: p.EventMeta, EntryID: ep.EntryID, Position: ep.Position}
	}
	return out
}

// PresenceChanged says a guide's status changed: by its own choice
// (Reason empty) or by the server ("missed_offers").
type PresenceChanged struct {
	EventMeta
	Guide  Guide
	Reason string
}

// PeerStatusChanged says party Lost of a live call dropped (Connected
// false; it has Grace to come back) or came back (Connected true).
type PeerStatusChanged struct {
	EventMeta
	Call      Call
	Lost      Party
	Connected bool
	Grace     time.Duration
}

func (OfferMade) Kind() string         { return "offer.made" }
func (OfferRevoked) Kind() string      { return "offer.revoked" }
func (CallMatched) Kind() string       { return "call.matched" }
func (CallStateChanged) Kind() string  { return "call.state_changed" }
func (CallFinished) Kind() string      { return "call.ended" }
func (CallItemAdded) Kind() string     { return "call.item_added" }
func (CallRated) Kind() string         { return "call.rated" }
func (CallWrappedUp) Kind() string     { return "call.wrapped_up" }
func (Requeued) Kind() string          { return "entry.requeued" }
func (EntryLeft) Kind() string         { return "entry.left" }
func (CallbackChanged) Kind() string   { return "callback.changed" }
func (EntryRelaxed) Kind() string      { return "entry.relaxed" }
func (PositionChanged) Kind() string   { return "entry.position_changed" }
func (PositionsChanged) Kind() string  { return "entry.positions_changed" }
func (PresenceChanged) Kind() string   { return "guide.presence_changed" }
func (PeerStatusChanged) Kind() string { return "call.peer_status_changed" }

// DefaultSubscriberBuffer is how many events a subscriber may fall behind
// before events for it are dropped.
const DefaultSubscriberBuffer = 4096

// Subscription is one subscriber's stream of events. Create it with
// [Service.Subscribe] or [Service.SubscribeFunc].
type Subscription struct {
	name    string
	ch      chan Event
	bus     *eventBus
	dropped atomic.Uint64
	// behind is set while events are being dropped, so a stuck
	// subscriber logs once per run of drops, not once per event.
	behind bool // guarded by bus.mu

	closeOnce sync.Once

	// For SubscribeFunc: the handler, and its goroutine's state.
	fn       func(context.Context, Event)
	fnCtx    context.Context
	mu       sync.Mutex
	closed   bool
	launched bool
	done     chan struct{} // closed when the goroutine ends
}

// launch starts SubscribeFunc's goroutine, once, unless Close came first.
func (s *Subscription) launch() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fn == nil || s.closed || s.launched {
		return
	}
	s.launched = true
	go func() {
		defer close(s.done)
		for ev := range s.ch {
			s.fn(s.fnCtx, ev)
		}
	}()
}

// Events is the stream. It is closed by Close (and by Service.Stop) after
// the events already in it.
func (s *Subscription) Events() <-chan Event { return s.ch }

// Dropped counts the events this subscriber missed because its buffer
// was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close stops the subscription. For SubscribeFunc it waits until the
// events already buffered have been handled and the goroutine has ended.
// Safe to call more than once; not from the handler itself.
func (s *Subscription) Close() {
	s.mu.Lock()
	s.closed = true
	launched := s.launched
	s.mu.Unlock()
	s.closeOnce.Do(func() {
		s.bus.mu.Lock()
		delete(s.bus.subs, s)
		close(s.ch)
		s.bus.mu.Unlock()
	})
	if launched {
		<-s.done
	}
}

// Subscribe returns a subscription holding up to buffer events (0 means
// DefaultSubscriberBuffer) that the caller drains. Publishing never waits
// for it: when the buffer is full the event is dropped for this
// subscriber, counted in Dropped and logged.
func (s *Service) Subscribe(name string, buffer int) *Subscription {
	if buffer <= 0 {
		buffer = DefaultSubscriberBuffer
	}
	sub := &Subscription{name: name, ch: make(chan Event, buffer), bus: s.bus}
	s.bus.mu.Lock()
	s.bus.subs[sub] = struct{}{}
	s.bus.mu.Unlock()
	return sub
}

// SubscribeFunc runs fn for every event, in publish order, from a
// goroutine of its own that runs from Service.Start (or now, if it has
// started) until the subscription is closed by its Close or by
// Service.Stop; events published before Start wait in the buffer. A
// service that is never started starts no goroutine. ctx is passed to fn.
func (s *Service) SubscribeFunc(ctx context.Context, name string, buffer int, fn func(context.Context, Event)) *Subscription {
	sub := s.Subscribe(name, buffer)
	sub.fn, sub.fnCtx, sub.done = fn, ctx, make(chan struct{})
	s.life.Lock()
	defer s.life.Unlock()
	if s.started {
		sub.launch()
	} else {
		s.handlers = append(s.handlers, sub)
	}
	return sub
}

// eventBus hands events to subscribers in the order of the changes that
// made them. A change takes a ticket once it holds every record it
// claimed, just before it commits, and hands its events (or none, if it
// did not commit) back with the ticket; events leave in ticket order. Two
// changes that claim a common record therefore publish in the order they
// committed (see Service.change), and a change that acts on what a list
// showed it (the matcher offering a guide another change just freed)
// claims the record again, after that change committed: the guide hears
// an offer's or a call's end before the next offer, even when the two
// changes ran on different goroutines. Nobody waits: a change whose turn
// has not come leaves its events behind for the one whose turn it is.
type eventBus struct {
	log *slog.Logger

	mu      sync.Mutex
	subs    map[*Subscription]struct{}
	next    uint64             // next ticket to hand out
	head    uint64             // the oldest ticket not yet delivered
	waiting map[uint64][]Event // finished tickets after head
}

func newEventBus(log *slog.Logger) *eventBus {
	return &eventBus{log: log, subs: map[*Subscription]struct{}{}, waiting: map[uint64][]Event{}}
}

func (b *eventBus) ticket() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.next
	b.next++
	return t
}

// finish hands in a ticket's events, delivering them and every later
// finished ticket's once all earlier ones are in. Every ticket must be
// finished, with nil events if its change failed.
func (b *eventBus) finish(t uint64, evs []Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.waiting[t] = evs
	for {
		evs, ok := b.waiting[b.head]
		if !ok {
			return
		}
		delete(b.waiting, b.head)
		b.head++
		for _, ev := range evs {
			b.deliver(ev)
		}
	}
}

// publish delivers events that follow no change of the store's (a
// position report, a reclaim after Touch), in turn with those that do.
func (b *eventBus) publish(evs ...Event) {
	b.finish(b.ticket(), evs)
}

func (b *eventBus) deliver(ev Event) {
	for sub := range b.subs {
		select {
		case sub.ch <- ev:
			if sub.behind {
				sub.behind = false
				b.log.Warn("event subscriber caught up", "subscriber", sub.name, "dropped_total", sub.dropped.Load())
			}
		default:
			n := sub.dropped.Add(1)
			if !sub.behind {
				sub.behind = true
				b.log.Warn("event subscriber fell behind; dropping its events until it catches up",
					"subscriber", sub.name, "kind", ev.Kind(), "event_id", ev.EventID(), "buffer", cap(sub.ch), "dropped_total", n)
			}
		}
	}
}

// closeAll ends every subscription, for Service.Stop.
func (b *eventBus) closeAll() {
	b.mu.Lock()
	subs := make([]*Subscription, 0, len(b.subs))
	for sub := range b.subs {
		subs = append(subs, sub)
	}
	b.mu.Unlock()
	for _, sub := range subs {
		sub.Close()
	}
}
