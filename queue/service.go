package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"sync"
	"time"

	"guidecall/internal/cleantext"
)

// Config configures a Service. Zero durations take the defaults noted.
type Config struct {
	Store Store
	// Elector picks the node that runs the matcher; nil means SoleLeader.
	Elector Elector
	Logger  *slog.Logger
	Now     func() time.Time

	OfferTimeout    time.Duration // 15s: how long a guide has to accept
	MaxMissedOffers int           // 2: missed offers in a row before a guide is set away
	ReconnectGrace  time.Duration // 20s: how long a dropped party may take to come back
	Tick            time.Duration // 200ms: matcher loop period when nothing wakes it
	AvgCallDuration time.Duration // 3m: used for ETAs until history says better
	// ConnectTimeout ends an accepted call whose media never came up (2m).
	ConnectTimeout time.Duration
	// StaleAfter is how old a party's SeenAt may get before the matcher
	// takes its node for dead and its socket for dropped (15s; nodes
	// refresh every StaleAfter/3).
	StaleAfter time.Duration
	// Observer is told of each matcher pass and of leadership changes,
	// for metrics; nil tells nobody.
	Observer MatcherObserver
	// TxHook, if set, is called with the events of every change inside
	// the change's transaction: what it writes through tx commits with the
	// change (merchant webhooks, issue 9). An error fails the change.
	TxHook func(ctx context.Context, tx StoreTx, events []Event) error
}

// Service runs the queue: client-driven changes from any node, and the
// matcher loop on the leader.
type Service struct {
	cfg   Config
	store Store
	bus   *eventBus
	log   *slog.Logger
	now   func() time.Time
	wake  chan struct{}

	// toldLine is what each waiting shopper was last told (told.go);
	// only the matcher loop touches it, and it is rebuilt on a new leader.
	toldLine toldLine
	// pass is what the matcher's passes read last (matcher.go).
	pass passCache

	// handles caches recent handle times per queue for the estimate.
	handles handleTimes
	// batches groups the sockets that opened, to tell them their
	// positions together (positions.go).
	batches *positionBatches

	// leadSince is when this node last became leader; only the loop
	// touches it.
	leadSince time.Time
	// unseenAt is when the matcher last asked the store for shoppers
	// nobody reported (settlePresence); only the loop touches it.
	unseenAt time.Time

	life     sync.Mutex
	started  bool
	handlers []*Subscription // SubscribeFunc's, waiting for Start
	stopOnce sync.Once
	stop     context.CancelFunc
	done     chan struct{}
}

// NewService checks cfg and fills in defaults.
func NewService(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("queue: Store is required")
	}
	if cfg.Elector == nil {
		cfg.Elector = SoleLeader{}
	}
	if cfg.Observer == nil {
		cfg.Observer = noObserver{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.OfferTimeout <= 0 {
		cfg.OfferTimeout = 15 * time.Second
	}
	if cfg.MaxMissedOffers <= 0 {
		cfg.MaxMissedOffers = 2
	}
	if cfg.ReconnectGrace <= 0 {
		cfg.ReconnectGrace = 20 * time.Second
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 200 * time.Millisecond
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 2 * time.Minute
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = 15 * time.Second
	}
	if cfg.AvgCallDuration <= 0 {
		cfg.AvgCallDuration = 3 * time.Minute
	}
	log := cfg.Logger.With("component", "queue")
	return &Service{
		cfg:     cfg,
		store:   cfg.Store,
		bus:     newEventBus(log),
		log:     log,
		now:     cfg.Now,
		wake:    make(chan struct{}, 1),
		handles: handleTimes{stats: map[string]handleStat{}},
		batches: newPositionBatches(),
	}, nil
}

// TouchEvery is how often a node should Touch the parties it holds.
func (s *Service) TouchEvery() time.Duration { return s.cfg.StaleAfter / 3 }

// ReconnectGrace is how long a dropped party keeps its place or call.
func (s *Service) ReconnectGrace() time.Duration { return s.cfg.ReconnectGrace }

// Start runs the matcher loop in the background until Stop. It competes
// for leadership through the Elector and only matches while it leads.
func (s *Service) Start(ctx context.Context) error {
	s.life.Lock()
	defer s.life.Unlock()
	if s.started {
		return errors.New("queue: service already started")
	}
	s.started = true
	if _, err := s.queueRecord(ctx, s.store, DefaultQueue); err != nil {
		// Not fatal: the first join or status of "default" tries again.
		s.log.WarnContext(ctx, "could not make sure the default queue exists", "queue", DefaultQueue, "err", err)
	}
	for _, sub := range s.handlers {
		sub.launch()
	}
	s.handlers = nil
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = cancel
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		s.run(ctx)
	}()
	return nil
}

// Stop ends the matcher loop and waits for it, and for the elector to give
// leadership back, then closes every subscription (waiting for the
// goroutines of SubscribeFunc). Safe to call twice, and before Start.
func (s *Service) Stop() {
	s.life.Lock()
	defer s.life.Unlock()
	s.stopOnce.Do(func() {
		if s.stop != nil {
			s.stop()
			<-s.done
		}
		if w, ok := s.cfg.Elector.(interface{ Wait() }); ok {
			w.Wait()
		}
		s.bus.closeAll()
	})
}

// opTimeout bounds one client-driven change. A change runs to its end even
// when the request or socket that asked for it goes away: a socket that
// closes is exactly when its disconnect must be recorded.
const opTimeout = 10 * time.Second

func detach(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
}

func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Service) run(ctx context.Context) {
	for ctx.Err() == nil {
		leadCtx, err := s.cfg.Elector.Lead(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("matcher leadership attempt failed", "err", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		s.log.Info("matcher leading on this node")
		s.cfg.Observer.Leading(true)
		s.toldLine = toldLine{}
		s.pass = passCache{}
		s.leadSince = s.now()
		s.unseenAt = time.Time{}
		s.lead(leadCtx)
		s.cfg.Observer.Leading(false)
		if ctx.Err() == nil {
			s.log.Warn("matcher leadership lost")
		}
	}
}

func (s *Service) lead(ctx context.Context) {
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		// A tick finishes what it started even if leadership ends meanwhile
		// (see detach); the next leader's tick finds nothing left to do.
		tctx, cancel := detach(ctx)
		start := time.Now()
		err := s.Tick(tctx)
		s.cfg.Observer.Pass(time.Since(start), err)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("matcher tick failed", "err", err)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

var queueNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
var localeRE = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}$`)
var currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)

// MaxCartValue bounds a shopper's cart value in minor units (ten billion
// in a two-digit currency): more is a mistake, not a cart.
const MaxCartValue = 1_000_000_000_000

// JoinParams is what a shopper's widget sends.
type JoinParams struct {
	Queue    string `json:"queue"`
	Locale   string `json:"locale"`
	Currency string `json:"currency"`
	PageURL  string `json:"page_url"`
	Name     string `json:"name"`
	// SecondLanguage is a second BCP 47 tag the shopper also speaks.
	SecondLanguage string `json:"second_language,omitempty"`
	// Skill is the product category the shopper asks about.
	Skill string `json:"skill,omitempty"`
	// Device is phone, tablet or desktop, as the widget read its user agent.
	Device string `json:"device,omitempty"`
	// CartValue is the shopper's cart in minor units of Currency, as the
	// widget added up its setContext cart; the caller replaces it with the
	// customer token's cart_value claim when that has one.
	CartValue *int64 `json:"cart_value,omitempty"`
	// CustomerToken is the merchant's signed token; the caller verifies
	// it and sets Priority and CustomerID, which a body never sets.
	CustomerToken string `json:"customer_token,omitempty"`
	Priority      int    `json:"-"`
	CustomerID    string `json:"-"`
}

func (p *JoinParams) validate() error {
	if p.Queue == "" {
		p.Queue = "default"
	}
	if p.Locale == "" {
		p.Locale = "en"
	}
	switch {
	case !queueNameRE.MatchString(p.Queue):
		return fmt.Errorf("%w: queue must be 1-64 of a-z, 0-9, - and _", ErrInvalid)
	case !localeRE.MatchString(p.Locale):
		return fmt.Errorf("%w: locale %q is not a BCP 47 tag", ErrInvalid, p.Locale)
	case !currencyRE.MatchString(p.Currency):
		return fmt.Errorf("%w: currency must be an ISO 4217 code like EUR", ErrInvalid)
	case len(p.PageURL) > 2048:
		return fmt.Errorf("%w: page_url longer than 2048 bytes", ErrInvalid)
	case len(p.CustomerID) > 200:
		return fmt.Errorf("%w: customer id longer than 200 bytes", ErrInvalid)
	case len(p.Name) > 80:
		return fmt.Errorf("%w: name longer than 80 bytes", ErrInvalid)
	case cleantext.HasNUL(p.PageURL):
		return fmt.Errorf("%w: page_url: %w", ErrInvalid, cleantext.ErrNUL)
	case p.SecondLanguage != "" && !localeRE.MatchString(p.SecondLanguage):
		return fmt.Errorf("%w: second_language %q is not a BCP 47 tag", ErrInvalid, p.SecondLanguage)
	case p.Skill != "" && !skillRE.MatchString(p.Skill):
		return fmt.Errorf("%w: skill must be 1-64 of a-z, 0-9, - and _", ErrInvalid)
	case p.Device != "" && p.Device != DevicePhone && p.Device != DeviceTablet && p.Device != DeviceDesktop:
		return fmt.Errorf("%w: device must be phone, tablet or desktop", ErrInvalid)
	case p.CartValue != nil && (*p.CartValue < 0 || *p.CartValue > MaxCartValue):
		return fmt.Errorf("%w: cart_value must be 0-%d minor units", ErrInvalid, int64(MaxCartValue))
	}
	// The guide reads the name: one spelling, nothing invisible.
	name, err := cleantext.Line(p.Name, 80)
	if err != nil {
		return fmt.Errorf("%w: name: %w", ErrInvalid, err)
	}
	p.Name = name
	if p.PageURL != "" {
		u, err := url.Parse(p.PageURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return fmt.Errorf("%w: page_url must be an http(s) URL", ErrInvalid)
		}
	}
	return nil
}

// Join puts a shopper at the tail of a queue. The entry counts as
// disconnected until its socket arrives, so a widget that never connects
// is abandoned after the grace period rather than blocking the line.
func (s *Service) Join(ctx context.Context, p JoinParams) (Entry, error) {
	if err := p.validate(); err != nil {
		return Entry{}, err
	}
	now := s.now()
	q, err := s.queueRecord(ctx, s.store, p.Queue)
	if err != nil {
		return Entry{}, err
	}
	if !q.OpenAt(now) {
		ce := &ClosedError{Queue: q.Name}
		if next, ok := q.NextOpening(now); ok {
			ce.NextOpen = &next
		}
		return Entry{}, ce
	}
	e, err := s.store.EntryCreate(ctx, Entry{
		ID: newID("e_"), Queue: p.Queue, Name: p.Name, Locale: p.Locale,
		Currency: p.Currency, PageURL: p.PageURL, State: EntryWaiting,
		JoinedAt: now, DisconnectedAt: &now,
		Language: primaryLanguage(p.Locale), Language2: primaryLanguage(p.SecondLanguage), Skill: p.Skill,
		Priority: p.Priority, CustomerID: p.CustomerID, Device: p.Device, CartValue: p.CartValue,
	})
	if err != nil {
		return Entry{}, fmt.Errorf("join %s: %w", p.Queue, err)
	}
	s.log.InfoContext(ctx, "shopper joined", "entry_id", e.ID, "queue", e.Queue, "locale", e.Locale, "priority", e.Priority)
	return e, nil
}

// Entry returns one entry.
func (s *Service) Entry(ctx context.Context, id string) (Entry, error) {
	return s.store.EntryGet(ctx, id)
}

// Waiting lists a queue's entries in line, in order, with positions.
func (s *Service) Waiting(ctx context.Context, queue string) ([]Entry, error) {
	return s.store.EntriesQueued(ctx, queue)
}

// ShopperConnected marks the shopper's socket open and returns its entry
// and, when it is in a live call, that call (for resume). socketID names
// the socket so that a late close of an older one is ignored.
func (s *Service) ShopperConnected(ctx context.Context, entryID, socketID string) (Entry, *Call, error) {
	ctx, cancel := detach(ctx)
	defer cancel()
	var out Entry
	var live *Call
	err := s.entryChange(ctx, entryID, func(ctx context.Context, t *txn, p *parties) error {
		e := *p.e
		if !e.State.Queued() && e.State != EntryInCall {
			return fmt.Errorf("entry %s is %s: %w", e.ID, e.State, ErrBadState)
		}
		e.DisconnectedAt, e.SocketID, e.SeenAt = nil, socketID, s.now()
		if err := t.putEntry(ctx, e); err != nil {
			return err
		}
		out = e
		t.afterCommit(func() { s.log.InfoContext(ctx, "shopper connected", "entry_id", e.ID, "state", e.State) })
		if e.State.Queued() {
			// Told once committed, with the sockets that open meanwhile
			// (positions.go): not inside the change, which would hold the
			// store for a read of the whole line on every join.
			t.afterCommit(func() { s.tellPosition(ctx, e.ID) })
			t.afterCommit(s.poke)
			return nil
		}
		if p.c != nil && p.c.State.Live() {
			c := *p.c
			live = &c
			t.emit(PeerStatusChanged{EventMeta: s.meta(), Call: c, Lost: PartyShopper, Connected: true})
		}
		return nil
	})
	if err != nil {
		return Entry{}, nil, err
	}
	return out, live, nil
}

// ShopperDisconnected starts the shopper's grace period, unless a newer
// socket has taken over.
func (s *Service) ShopperDisconnected(ctx context.Context, entryID, socketID string) {
	ctx, cancel := detach(ctx)
	defer cancel()
	err := s.entryChange(ctx, entryID, func(ctx context.Context, t *txn, p *parties) error {
		e := *p.e
		if e.SocketID != socketID {
			return nil // a newer socket took over; this close is old news
		}
		e.SocketID = ""
		if e.DisconnectedAt == nil {
			now := s.now()
			e.DisconnectedAt = &now
		}
		if err := t.putEntry(ctx, e); err != nil {
			return err
		}
		t.afterCommit(func() { s.log.InfoContext(ctx, "shopper disconnected", "entry_id", e.ID, "state", e.State) })
		s.shopperGone(t, e, p)
		return nil
	})
	if err != nil {
		s.log.WarnContext(ctx, "mark shopper disconnected", "entry_id", entryID, "err", err)
	}
}

// shopperGone tells the guide of a live call that its shopper dropped.
func (s *Service) shopperGone(t *txn, e Entry, p *parties) {
	if e.State != EntryInCall || p.c == nil || !p.c.State.Live() {
		return
	}
	t.emit(PeerStatusChanged{EventMeta: s.meta(), Call: *p.c, Lost: PartyShopper, Grace: s.cfg.ReconnectGrace})
}

// Touch records that this node still holds these parties' sockets, and
// brings back those the matcher had given up on while nobody could report
// them (a database outage longer than StaleAfter), telling their peers.
func (s *Service) Touch(ctx context.Context, entries, guides []Held) error {
	ctx, cancel := detach(ctx)
	defer cancel()
	if len(entries) == 0 && len(guides) == 0 {
		return nil
	}
	backEntries, backGuides, err := s.store.Touch(ctx, entries, guides, s.now())
	if err != nil {
		return err
	}
	var evs []Event
	defer func() { s.bus.publish(evs...) }()
	for _, id := range backEntries {
		s.log.InfoContext(ctx, "shopper reported again after being given up; reconnected", "entry_id", id)
		if e, err := s.store.EntryGet(ctx, id); err == nil && e.State == EntryInCall {
			if c, err := s.store.CallGet(ctx, e.CallID); err == nil && c.State.Live() {
				evs = append(evs, PeerStatusChanged{EventMeta: s.meta(), Call: c, Lost: PartyShopper, Connected: true})
			}
		}
	}
	for _, id := range backGuides {
		s.log.InfoContext(ctx, "guide reported again after being given up; reconnected", "guide_id", id)
		g, err := s.store.GuideGet(ctx, id)
		if err != nil {
			continue
		}
		for _, callID := range g.CallIDs {
			if c, err := s.store.CallGet(ctx, callID); err == nil && c.State.Live() && c.State != CallOffered {
				evs = append(evs, PeerStatusChanged{EventMeta: s.meta(), Call: c, Lost: PartyGuide, Connected: true})
			}
		}
	}
	if len(backGuides) > 0 {
		s.poke()
	}
	return nil
}

// Cancel takes a shopper out of line, or hangs up its call.
func (s *Service) Cancel(ctx context.Context, entryID string) error {
	ctx, cancel := detach(ctx)
	defer cancel()
	return s.entryChange(ctx, entryID, func(ctx context.Context, t *txn, p *parties) error {
		if p.e.State == EntryInCall && p.c != nil {
			return s.endCall(ctx, t, p, ReasonHangup, string(PartyShopper))
		}
		return s.leaveQueue(ctx, t, p, EntryCanceled, ReasonCanceled)
	})
}

// leaveQueue ends an entry that never got a call, withdrawing its offer.
func (s *Service) leaveQueue(ctx context.Context, t *txn, p *parties, state EntryState, reason string) error {
	e := *p.e
	if !e.State.Queued() {
		return fmt.Errorf("entry %s is %s: %w", e.ID, e.State, ErrBadState)
	}
	offered := e.State == EntryOffered
	now := s.now()
	e.State, e.LeftAt, e.LeftReason = state, &now, reason
	if err := t.putEntry(ctx, e); err != nil {
		return err
	}
	*p.e = e
	t.afterCommit(func() { s.log.InfoContext(ctx, "shopper left the queue", "entry_id", e.ID, "reason", reason) })
	if offered && p.c != nil && p.c.State == CallOffered {
		if err := s.endOffer(ctx, t, p, ReasonShopperLost, false); err != nil {
			return err
		}
	}
	t.emit(EntryLeft{EventMeta: s.meta(), Entry: e})
	t.afterCommit(s.poke)
	return nil
}

// GuideConnected registers a console socket and returns the guide and the
// accepted calls it holds, oldest first (its pending offers are sent again
// as OfferMade events).
func (s *Service) GuideConnected(ctx context.Context, guideID, name, socketID string) (Guide, []Call, error) {
	ctx, cancel := detach(ctx)
	defer cancel()
	// Creating the row is a change of its own: nothing else can refer to
	// a guide before it exists.
	if _, err := s.store.GuideUpsert(ctx, Guide{ID: guideID, Name: name, Status: GuideAway, IdleSince: s.now(), Capacity: 1}); err != nil {
		return Guide{}, nil, err
	}
	var out Guide
	var live []Call
	err := s.guideChange(ctx, guideID, func(ctx context.Context, t *txn, p *guideParties) error {
		g := *p.g
		before := g.Presence()
		g.Online, g.DisconnectedAt, g.SocketID, g.SeenAt = true, nil, socketID, s.now()
		if err := s.notePresence(ctx, t, before, &g, PresenceConnected); err != nil {
			return err
		}
		if err := t.putGuide(ctx, g); err != nil {
			return err
		}
		out, live = g, nil
		t.afterCommit(func() {
			s.log.InfoContext(ctx, "guide connected", "guide_id", g.ID, "status", g.Status)
			s.poke()
		})
		for _, h := range p.held {
			switch {
			case !h.c.State.Live():
			case h.c.State == CallOffered:
				t.emit(OfferMade{EventMeta: s.meta(), Call: *h.c, Entry: *h.e, Resent: true})
			default:
				live = append(live, *h.c)
				t.emit(PeerStatusChanged{EventMeta: s.meta(), Call: *h.c, Lost: PartyGuide, Connected: true})
			}
		}
		return nil
	})
	if err != nil {
		return Guide{}, nil, err
	}
	return out, live, nil
}

// GuideDisconnected starts the guide's grace period, unless a newer socket
// has taken over. A pending offer is withdrawn at once: the shopper should
// not wait on a console that is gone.
func (s *Service) GuideDisconnected(ctx context.Context, guideID, socketID string) {
	ctx, cancel := detach(ctx)
	defer cancel()
	err := s.guideChange(ctx, guideID, func(ctx context.Context, t *txn, p *guideParties) error {
		g := *p.g
		if g.SocketID != socketID {
			return nil // a newer socket took over
		}
		before := g.Presence()
		g.Online, g.SocketID = false, ""
		if g.DisconnectedAt == nil {
			now := s.now()
			g.DisconnectedAt = &now
		}
		if err := s.notePresence(ctx, t, before, &g, PresenceSocketLost); err != nil {
			return err
		}
		if err := t.putGuide(ctx, g); err != nil {
			return err
		}
		*p.g = g
		t.afterCommit(func() { s.log.InfoContext(ctx, "guide disconnected", "guide_id", g.ID, "call_ids", g.CallIDs) })
		return s.guideGoneAll(ctx, t, p)
	})
	if err != nil {
		s.log.WarnContext(ctx, "mark guide disconnected", "guide_id", guideID, "err", err)
	}
}

// guideGone withdraws a dropped guide's offer or warns its shopper.
func (s *Service) guideGone(ctx context.Context, t *txn, p *parties) error {
	if p.c == nil || !p.c.State.Live() {
		return nil
	}
	if p.c.State == CallOffered {
		return s.endOffer(ctx, t, p, ReasonGuideLost, false)
	}
	t.emit(PeerStatusChanged{EventMeta: s.meta(), Call: *p.c, Lost: PartyGuide, Grace: s.cfg.ReconnectGrace})
	return nil
}

// guideGoneAll does guideGone for each call a dropped guide holds.
func (s *Service) guideGoneAll(ctx context.Context, t *txn, gp *guideParties) error {
	for _, p := range gp.held {
		if err := s.guideGone(ctx, t, p); err != nil {
			return err
		}
	}
	return nil
}

// SetPresence records the guide's choice. Going away with an offer
// pending declines it.
// A guide in wrap-up that says available ends its wrap-up early.
func (s *Service) SetPresence(ctx context.Context, guideID string, status GuideStatus) (Guide, error) {
	ctx, cancel := detach(ctx)
	defer cancel()
	if status != GuideAvailable && status != GuideAway {
		return Guide{}, fmt.Errorf("%w: status must be available or away", ErrInvalid)
	}
	var out Guide
	err := s.guideChange(ctx, guideID, func(ctx context.Context, t *txn, p *guideParties) error {
		g := *p.g
		before := g.Presence()
		if g.Status != status && status == GuideAvailable {
			g.IdleSince = s.now()
			g.MissedOffers = 0
		}
		g.Status, g.WrapUpUntil = status, nil
		if err := s.notePresence(ctx, t, before, &g, PresenceChosen); err != nil {
			return err
		}
		if err := t.putGuide(ctx, g); err != nil {
			return err
		}
		*p.g, out = g, g
		t.afterCommit(func() {
			s.log.InfoContext(ctx, "guide presence", "guide_id", g.ID, "status", status)
			s.poke()
		})
		t.emit(PresenceChanged{EventMeta: s.meta(), Guide: g})
		if status != GuideAway {
			return nil
		}
		for _, h := range p.held {
			if h.c.State == CallOffered {
				if err := s.endOffer(ctx, t, h, ReasonDeclined, false); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return Guide{}, err
	}
	return out, nil
}

// Accept turns an offer into a call. Call, entry and guide change together,
// so a shopper who left meanwhile has already taken the offer with it.
func (s *Service) Accept(ctx context.Context, guideID, callID string) (Call, error) {
	ctx, cancel := detach(ctx)
	defer cancel()
	var out Call
	err := s.callChange(ctx, callID, func(ctx context.Context, t *txn, p *parties) error {
		now := s.now()
		c, e, g := *p.c, *p.e, *p.g
		if c.GuideID != guideID {
			return ErrNotParty
		}
		if c.State != CallOffered || now.After(c.OfferDeadline) {
			return fmt.Errorf("offer %s is %s: %w", c.ID, c.State, ErrBadState)
		}
		if e.State != EntryOffered || e.CallID != c.ID || !g.Holds(c.ID) {
			return fmt.Errorf("offer %s: entry %s is %s, guide holds %q: %w", c.ID, e.ID, e.State, g.CallIDs, ErrBadState)
		}
		c.State, c.AcceptedAt = CallAccepted, &now
		e.State = EntryInCall
		g.MissedOffers = 0
		if err := t.putAll(ctx, &e, &c, &g); err != nil {
			return err
		}
		out = c
		t.emit(CallMatched{EventMeta: s.meta(), Call: c, Entry: e, Guide: g})
		t.afterCommit(func() {
			s.log.InfoContext(ctx, "offer accepted", "call_id", c.ID, "entry_id", c.EntryID, "guide_id", guideID,
				"offer_to_accept_ms", now.Sub(c.OfferedAt).Milliseconds())
			s.poke()
		})
		return nil
	})
	if err != nil {
		return Call{}, err
	}
	return out, nil
}

// Decline hands the offer back with the guide's reason (note, may be
// empty; kept on the call); the shopper keeps its place.
func (s *Service) Decline(ctx context.Context, guideID, callID, note string) error {
	ctx, cancel := detach(ctx)
	defer cancel()
	if len(note) > 200 {
		return fmt.Errorf("%w: reason longer than 200 bytes", ErrInvalid)
	}
	// Whoever reads the call's history reads the reason (cleantext).
	note, err := cleantext.Line(note, 200)
	if err != nil {
		return fmt.Errorf("%w: reason: %w", ErrInvalid, err)
	}
	return s.callChange(ctx, callID, func(ctx context.Context, t *txn, p *parties) error {
		if p.c.GuideID != guideID {
			return ErrNotParty
		}
		if p.c.State != CallOffered {
			return fmt.Errorf("offer %s is %s: %w", p.c.ID, p.c.State, ErrBadState)
		}
		p.c.DeclineNote = note
		return s.endOffer(ctx, t, p, ReasonDeclined, false)
	})
}

// endOffer withdraws p's offered call: the call ends with reason, the
// guide is freed (counting a miss when missed), and the entry, if still
// offered, waits again in its old place. The guide hears the offer is
// gone before anything its freedom leads to: those come from later
// changes, and events leave in the order of their changes.
func (s *Service) endOffer(ctx context.Context, t *txn, p *parties, reason string, missed bool) error {
	now := s.now()
	c := *p.c
	c.State, c.EndedAt, c.EndReason = CallEnded, &now, reason
	if e := *p.e; e.State == EntryOffered && e.CallID == c.ID {
		e.State, e.CallID = EntryWaiting, ""
		if err := t.putEntry(ctx, e); err != nil {
			return err
		}
		*p.e = e
	}
	if err := t.putCall(ctx, c); err != nil {
		return err
	}
	*p.c = c
	t.emit(OfferRevoked{EventMeta: s.meta(), Call: c, Reason: reason})
	g := *p.g
	setAway := false
	if g.release(c.ID) { // else the guide never held it: charge nothing
		if missed || reason == ReasonDeclined {
			// The offer moves on: behind every other free guide, so the
			// next pass does not hand the same shopper straight back.
			g.IdleSince = now
		}
		if missed {
			g.MissedOffers++
			if g.MissedOffers >= s.cfg.MaxMissedOffers && g.Status == GuideAvailable {
				g.Status, setAway = GuideAway, true
			}
		}
		if setAway {
			if err := s.notePresence(ctx, t, PresenceAvailable, &g, PresenceMissedOffers); err != nil {
				return err
			}
		}
		if err := t.putGuide(ctx, g); err != nil {
			return err
		}
		*p.g = g
	}
	t.afterCommit(func() {
		s.log.InfoContext(ctx, "offer withdrawn", "call_id", c.ID, "entry_id", c.EntryID, "guide_id", c.GuideID, "reason", reason)
		if setAway {
			s.log.InfoContext(ctx, "guide set away after missed offers", "guide_id", g.ID, "missed", g.MissedOffers)
		}
		s.poke()
	})
	if setAway {
		t.emit(PresenceChanged{EventMeta: s.meta(), Guide: g, Reason: PresenceMissedOffers})
	}
	return nil
}

// Call returns a call after checking that the party named is one of its
// two sides. partyID is the entry id for shoppers, the guide id for guides.
func (s *Service) Call(ctx context.Context, party Party, partyID, callID string) (Call, error) {
	c, err := s.store.CallGet(ctx, callID)
	if errors.Is(err, ErrNotFound) {
		return Call{}, ErrNotParty // do not tell strangers which calls exist
	}
	if err != nil {
		return Call{}, err
	}
	if !isParty(c, party, partyID) {
		return Call{}, ErrNotParty
	}
	return c, nil
}

func isParty(c Call, party Party, partyID string) bool {
	switch party {
	case PartyShopper:
		return c.EntryID == partyID
	case PartyGuide:
		return c.GuideID == partyID
	}
	return false
}

// Signaled moves an accepted call to connecting on its first SDP.
func (s *Service) Signaled(ctx context.Context, callID string) {
	ctx, cancel := detach(ctx)
	defer cancel()
	err := s.change(ctx, func(ctx context.Context, t *txn) error {
		c, err := t.CallUpdate(ctx, callID, func(c *Call) error {
			if c.State != CallAccepted {
				return ErrBadState
			}
			c.State = CallConnecting
			return nil
		})
		if err != nil {
			return err
		}
		t.emit(CallStateChanged{EventMeta: s.meta(), Call: c})
		return nil
	})
	if err != nil && !errors.Is(err, ErrBadState) {
		s.log.WarnContext(ctx, "mark call connecting", "call_id", callID, "err", err)
	}
}

// Connected records that one side's peer connection is up; the first
// report moves the call to connected.
func (s *Service) Connected(ctx context.Context, party Party, partyID, callID string) (Call, error) {
	ctx, cancel := detach(ctx)
	defer cancel()
	var out Call
	err := s.change(ctx, func(ctx context.Context, t *txn) error {
		now := s.now()
		changed := false
		c, err := t.CallUpdate(ctx, callID, func(c *Call) error {
			if !isParty(*c, party, partyID) {
				return ErrNotParty
			}
			switch c.State {
			case CallAccepted, CallConnecting:
				c.State, c.ConnectedAt, changed = CallConnected, &now, true
			case CallConnected:
			default:
				return fmt.Errorf("call %s is %s: %w", c.ID, c.State, ErrBadState)
			}
			return nil
		})
		if err != nil {
			return err
		}
		out = c
		if changed {
			t.emit(CallStateChanged{EventMeta: s.meta(), Call: c})
			t.afterCommit(func() {
				s.log.InfoContext(ctx, "call connected", "call_id", c.ID, "entry_id", c.EntryID, "guide_id", c.GuideID,
					"accept_to_connect_ms", now.Sub(*c.AcceptedAt).Milliseconds())
			})
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return Call{}, ErrNotParty
	}
	if err != nil {
		return Call{}, err
	}
	return out, nil
}

// EndCall hangs up a live call on behalf of one of its parties. An offer
// not yet accepted is declined by its guide or given up by its shopper.
func (s *Service) EndCall(ctx context.Context, party Party, partyID, callID, reason string) (Call, error) {
	ctx, cancel := detach(ctx)
	defer cancel()
	var c, out Call
	claimed := false
	err := s.callChange(ctx, callID, func(ctx context.Context, t *txn, p *parties) error {
		claimed = true
		if !isParty(*p.c, party, partyID) {
			return ErrNotParty
		}
		c = *p.c
		if p.c.State == CallOffered {
			if party == PartyGuide {
				return s.endOffer(ctx, t, p, ReasonDeclined, false)
			}
			return s.leaveQueue(ctx, t, p, EntryCanceled, ReasonCanceled)
		}
		if err := s.endCall(ctx, t, p, reason, string(party)); err != nil {
			return err
		}
		out = *p.c
		return nil
	})
	if errors.Is(err, ErrNotFound) && !claimed {
		return Call{}, ErrNotParty // do not tell strangers which calls exist
	}
	if err != nil {
		return Call{}, err
	}
	if out.ID == "" {
		return c, nil
	}
	return out, nil
}

// endCall ends an accepted call for good and frees both sides.
func (s *Service) endCall(ctx context.Context, t *txn, p *parties, reason, by string) error {
	c := *p.c
	if !c.State.Live() || c.State == CallOffered {
		return fmt.Errorf("call %s is %s: %w", c.ID, c.State, ErrBadState)
	}
	now := s.now()
	c.State, c.EndedAt, c.EndReason, c.EndedBy = CallEnded, &now, reason, by
	e := *p.e
	e.State, e.LeftAt, e.LeftReason = EntryDone, &now, reason
	// The guide is freed in the same write (release's effect, at once).
	g := *p.g
	var freed *Guide
	if g.release(c.ID) {
		g.IdleSince = now
		freed = &g
	}
	if err := t.putAll(ctx, &e, &c, freed); err != nil {
		return err
	}
	*p.e, *p.c, *p.g = e, c, g
	t.emit(CallFinished{EventMeta: s.meta(), Call: c})
	if err := s.wrapUp(ctx, t, p, now); err != nil {
		return err
	}
	t.afterCommit(func() {
		s.log.InfoContext(ctx, "call ended", "call_id", c.ID, "entry_id", c.EntryID, "guide_id", c.GuideID, "reason", reason, "by", by)
		s.poke()
	})
	return nil
}

// release frees the guide of p's call and restarts its idle clock.
func (s *Service) release(ctx context.Context, t *txn, p *parties, now time.Time) error {
	g := *p.g
	if !g.release(p.c.ID) {
		return nil
	}
	g.IdleSince = now
	if err := t.putGuide(ctx, g); err != nil {
		return err
	}
	*p.g = g
	return nil
}

// requeue ends a call that never connected because the guide went away
// and puts its shopper back at the head of the line.
func (s *Service) requeue(ctx context.Context, t *txn, p *parties) error {
	c := *p.c
	if c.State != CallAccepted && c.State != CallConnecting {
		return fmt.Errorf("call %s is %s: %w", c.ID, c.State, ErrBadState)
	}
	now := s.now()
	c.State, c.EndedAt, c.EndReason, c.EndedBy = CallEnded, &now, ReasonGuideLost, string(PartyGuide)
	e, err := t.EntryRequeue(ctx, c.EntryID)
	if err != nil {
		return err
	}
	if err := t.putCall(ctx, c); err != nil {
		return err
	}
	*p.e, *p.c = e, c
	t.emit(CallFinished{EventMeta: s.meta(), Call: c})
	if err := s.release(ctx, t, p, now); err != nil {
		return err
	}
	pos, _ := s.position(ctx, t, e)
	t.emit(Requeued{EventMeta: s.meta(), Entry: e, Reason: ReasonGuideLost, Position: pos})
	t.afterCommit(func() {
		s.log.InfoContext(ctx, "shopper requeued at head", "call_id", c.ID, "entry_id", e.ID, "guide_id", c.GuideID)
		s.poke()
	})
	return nil
}

// position computes where an entry stands and how long it may wait.
func (s *Service) position(ctx context.Context, tx StoreTx, e Entry) (Position, error) {
	line, err := tx.EntriesQueued(ctx, "")
	if err != nil {
		return Position{}, err
	}
	online, err := tx.GuidesOnline(ctx)
	if err != nil {
		return Position{}, err
	}
	live, err := tx.CallsLive(ctx)
	if err != nil {
		return Position{}, err
	}
	queues := map[string]Queue{}
	if q, err := tx.QueueGet(ctx, e.Queue); err == nil {
		queues[q.Name] = q
	} else if !errors.Is(err, ErrNotFound) {
		return Position{}, err
	}
	model := s.waitModel(ctx, tx, online, live, queues)
	ahead := competition(matchOrder(line), online)
	pos := 0
	for _, o := range line {
		if o.Queue != e.Queue {
			continue
		}
		pos++
		if o.ID == e.ID {
			return s.positionAt(o, pos, ahead[o.ID], model, queues[o.Queue]), nil
		}
	}
	return Position{}, ErrNotFound
}

// waitModel is the estimate over these guides and calls, each queue's
// handle times read (from the cache, mostly) through tx.
func (s *Service) waitModel(ctx context.Context, tx StoreTx, guides []Guide, live []Call, queues map[string]Queue) *waitModel {
	return newWaitModel(s.now(), guides, live, func(name string) (handleStat, time.Duration) {
		return s.handleTime(ctx, tx, name), time.Duration(queues[name].WrapUpSeconds) * time.Second
	})
}

// positionAt tells a shopper at pos in its queue's line, with ahead
// entries before it competing for its guides, how long it may wait, and
// whether a callback is the better offer.
func (s *Service) positionAt(e Entry, pos, ahead int, model *waitModel, q Queue) Position {
	eta, n := relaxedETA(e, ahead, model, q, s.now())
	p := Position{Queue: e.Queue, Position: pos, ETASeconds: eta, GuidesOnline: n}
	p.Callback = eta == nil
	if max := time.Duration(q.MaxWaitSeconds) * time.Second; max > 0 && eta != nil {
		waited := s.now().Sub(e.JoinedAt)
		p.Callback = waited+time.Duration(*eta)*time.Second > max
	}
	return p
}

// CallRecord returns a call without a party check, for the wiring's own
// fan-out (payment updates go to both parties).
func (s *Service) CallRecord(ctx context.Context, id string) (Call, error) {
	return s.store.CallGet(ctx, id)
}

// AddCallItem adds what a party said or showed to its live call and
// publishes CallItemAdded. A call that holds MaxCallItems takes no more
// (ErrBadState).
func (s *Service) AddCallItem(ctx context.Context, party Party, partyID, callID string, kind CallItemKind, body []byte) (CallItem, error) {
	ctx, cancel := detach(ctx)
	defer cancel()
	var out CallItem
	err := s.change(ctx, func(ctx context.Context, t *txn) error {
		c, err := t.CallGet(ctx, callID)
		if err != nil {
			return err
		}
		if !isParty(c, party, partyID) {
			return ErrNotParty
		}
		switch c.State {
		case CallAccepted, CallConnecting, CallConnected:
		default:
			return fmt.Errorf("call %s is %s: %w", c.ID, c.State, ErrBadState)
		}
		it, err := t.CallItemAdd(ctx, CallItem{ID: newID("it_"), CallID: c.ID, Kind: kind, From: party, Body: body, At: s.now()})
		if err != nil {
			return err
		}
		if it.Seq > MaxCallItems {
			return fmt.Errorf("call %s holds %d items already: %w", c.ID, MaxCallItems, ErrBadState)
		}
		out = it
		t.emit(CallItemAdded{EventMeta: s.meta(), Call: c, Item: it})
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return CallItem{}, ErrNotParty
	}
	return out, err
}

// CallItems lists a call's items for one of its parties.
func (s *Service) CallItems(ctx context.Context, party Party, partyID, callID string) ([]CallItem, error) {
	if _, err := s.Call(ctx, party, partyID, callID); err != nil {
		return nil, err
	}
	return s.store.CallItems(ctx, callID)
}

// RateCall stores the shopper's 1-5 rating and comment of a call that was
// accepted and has ended, once, and publishes CallRated.
func (s *Service) RateCall(ctx context.Context, entryID, callID string, rating int, comment string) (Call, error) {
	if rating < 1 || rating > 5 {
		return Call{}, fmt.Errorf("%w: rating must be 1 to 5", ErrInvalid)
	}
	if len(comment) > 2000 {
		return Call{}, fmt.Errorf("%w: comment longer than 2000 bytes", ErrInvalid)
	}
	ctx, cancel := detach(ctx)
	defer cancel()
	var out Call
	err := s.change(ctx, func(ctx context.Context, t *txn) error {
		now := s.now()
		c, err := t.CallUpdate(ctx, callID, func(c *Call) error {
			switch {
			case !isParty(*c, PartyShopper, entryID):
				return ErrNotParty
			case c.State != CallEnded || c.AcceptedAt == nil:
				return fmt.Errorf("call %s is %s, not a call that ended: %w", c.ID, c.State, ErrBadState)
			case c.Rating != 0:
				return fmt.Errorf("call %s is rated already: %w", c.ID, ErrBadState)
			}
			c.Rating, c.RatingComment, c.RatedAt = rating, comment, &now
			return nil
		})
		if err != nil {
			return err
		}
		out = c
		e, err := t.EntryGet(ctx, c.EntryID)
		if err != nil {
			return fmt.Errorf("entry of call %s: %w", c.ID, err)
		}
		t.emit(CallRated{EventMeta: s.meta(), Call: c, CustomerID: e.CustomerID})
		t.afterCommit(func() {
			s.log.InfoContext(ctx, "call rated", "call_id", c.ID, "entry_id", c.EntryID, "guide_id", c.GuideID, "rating", rating)
		})
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return Call{}, ErrNotParty
	}
	return out, err
}
