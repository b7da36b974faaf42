package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"guidecall/internal/cleantext"
)

// Limits on what a guide can put in one link.
const (
	MaxAmount            int64 = 999_999_999_999 // minor units
	MaxItems                   = 100
	MaxItemQuantity      int64 = 10_000
	MaxItemNameLen             = 200
	MaxDescriptionLen          = 1000
	MaxIdempotencyKeyLen       = 255
	DefaultLinkTTL             = 24 * time.Hour
)

// Config configures a Service.
type Config struct {
	Store Store
	// Providers in order of preference. Only the first is used for new links
	// for now; the order is kept so that failover can try the next ones.
	// Webhooks and lookups work for all of them.
	Providers []Provider
	Logger    *slog.Logger // optional
	Now       func() time.Time
	LinkTTL   time.Duration // how long a link stays open; DefaultLinkTTL if zero
	// Reconcile tunes reconciliation; see ReconcileConfig.
	Reconcile ReconcileConfig
	// Relay tunes the republishing of events a crash kept from their
	// subscribers; see RelayConfig.
	Relay RelayConfig
	// GuideRefundWindow is how long after the payment a guide may refund;
	// DefaultGuideRefundWindow if zero.
	GuideRefundWindow time.Duration
	// Routing picks and orders the providers of a new link, with failover.
	Routing RoutingConfig
	// CallContext, if set, tells where a call's shopper came from (page,
	// country) for new links; without it, or when it fails, links use
	// the providers' defaults.
	CallContext func(ctx context.Context, callID string) (CallContext, error)
}

// Service creates payment links and applies provider webhooks to them.
type Service struct {
	store     Store
	providers []Provider
	byName    map[string]Provider
	events    *broker
	log       *slog.Logger
	now       func() time.Time
	ttl       time.Duration
	reconcile ReconcileConfig
	relay     RelayConfig
	loops     loops

	refundWindow time.Duration
	routing      RoutingConfig
	callContext  func(ctx context.Context, callID string) (CallContext, error)
	breakers     *breakers
}

// NewService checks cfg and returns a Service.
func NewService(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("payments: Config.Store is required")
	}
	if len(cfg.Providers) == 0 {
		return nil, errors.New("payments: Config.Providers needs at least one provider")
	}
	s := &Service{
		store:       cfg.Store,
		providers:   slices.Clone(cfg.Providers),
		byName:      make(map[string]Provider, len(cfg.Providers)),
		log:         cfg.Logger,
		now:         cfg.Now,
		ttl:         cfg.LinkTTL,
		reconcile:   cfg.Reconcile.withDefaults(),
		relay:       cfg.Relay.withDefaults(),
		callContext: cfg.CallContext,
	}
	for _, p := range cfg.Providers {
		if p == nil || p.Name() == "" {
			return nil, errors.New("payments: provider without a name")
		}
		if _, dup := s.byName[p.Name()]; dup {
			return nil, fmt.Errorf("payments: provider %q configured twice", p.Name())
		}
		s.byName[p.Name()] = p
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.events = &broker{log: s.log, subs: map[*subscriber]struct{}{}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.ttl <= 0 {
		s.ttl = DefaultLinkTTL
	}
	s.routing = cfg.Routing
	if s.routing.BreakerCoolDown <= 0 {
		s.routing.BreakerCoolDown = DefaultBreakerCoolDown
	}
	if s.routing.CreateTimeout <= 0 {
		s.routing.CreateTimeout = DefaultCreateTimeout
	}
	for cur, names := range s.routing.Routes {
		for _, n := range names {
			if _, ok := s.byName[n]; !ok {
				return nil, fmt.Errorf("payments: route %s names provider %q, which is not configured", cur, n)
			}
		}
	}
	s.breakers = &breakers{openTill: map[string]time.Time{}, errs: map[string]int64{}, handed: map[string]int64{}, coolDown: s.routing.BreakerCoolDown}
	s.refundWindow = cfg.GuideRefundWindow
	if s.refundWindow <= 0 {
		s.refundWindow = DefaultGuideRefundWindow
	}
	return s, nil
}

// CreateLinkParams are the parameters of Service.CreateLink.
type CreateLinkParams struct {
	CallID         string
	Amount         int64 // minor units
	Currency       string
	Items          []Item // optional; when given, they must sum to Amount
	Description    string
	IdempotencyKey string
	CreatedBy      string
}

// validate checks p and returns it with the currency normalized.
func (p CreateLinkParams) validate() (CreateLinkParams, error) {
	if p.IdempotencyKey == "" || len(p.IdempotencyKey) > MaxIdempotencyKeyLen {
		return p, fmt.Errorf("%w: 1 to %d characters", ErrIdempotencyKeyRequired, MaxIdempotencyKeyLen)
	}
	if p.CallID == "" {
		return p, fmt.Errorf("%w: call id is required", ErrInvalidLink)
	}
	if p.Amount <= 0 || p.Amount > MaxAmount {
		return p, fmt.Errorf("%w: amount must be between 1 and %d minor units", ErrInvalidLink, MaxAmount)
	}
	cur, err := NormalizeCurrency(p.Currency)
	if err != nil {
		return p, err
	}
	p.Currency = cur
	if len(p.Items) > MaxItems {
		return p, fmt.Errorf("%w: at most %d items", ErrInvalidLink, MaxItems)
	}
	desc, err := cleantext.Text(p.Description, MaxDescriptionLen)
	if err != nil {
		return p, fmt.Errorf("%w: description: %w", ErrInvalidLink, err)
	}
	p.Description = desc
	if len(p.Items) > 0 {
		var sum int64
		for i, it := range p.Items {
			name, err := cleantext.Line(it.Name, MaxItemNameLen)
			if err != nil || name == "" {
				return p, fmt.Errorf("%w: item %d: name must be 1 to %d characters", ErrInvalidLink, i, MaxItemNameLen)
			}
			if it.Quantity < 1 || it.Quantity > MaxItemQuantity {
				return p, fmt.Errorf("%w: item %d: quantity must be between 1 and %d", ErrInvalidLink, i, MaxItemQuantity)
			}
			if it.UnitAmount < 0 || it.UnitAmount > MaxAmount {
				return p, fmt.Errorf("%w: item %d: unit_amount must be between 0 and %d", ErrInvalidLink, i, MaxAmount)
			}
			// Both factors are bounded above, so the product fits in int64
			// (1e4 * 1e12 = 1e16 < 9.2e18); the running sum is checked
			// against MaxAmount after every line, so it cannot overflow
			// either.
			sum += it.Quantity * it.UnitAmount
			if sum > MaxAmount {
				return p, fmt.Errorf("%w: items sum beyond %d", ErrInvalidLink, MaxAmount)
			}
		}
		if sum != p.Amount {
			return p, fmt.Errorf("%w: items sum to %d, amount is %d", ErrInvalidLink, sum, p.Amount)
		}
		p.Items = slices.Clone(p.Items)
		for i := range p.Items {
			p.Items[i].Name, _ = cleantext.Line(p.Items[i].Name, MaxItemNameLen)
		}
	}
	return p, nil
}

// sameRequest reports whether an existing link was created from the same
// parameters, which makes a retry with the same idempotency key a replay.
func sameRequest(l Link, p CreateLinkParams) bool {
	return l.Amount == p.Amount && l.Currency == p.Currency &&
		l.Description == p.Description && slices.Equal(l.Items, p.Items)
}

func (s *Service) linkLog(l Link) *slog.Logger {
	return s.log.With("link_id", l.ID, "call_id", l.CallID)
}

// CreateLink creates a payment link at the first configured provider. A
// retry with the same call and idempotency key returns the same link with
// created=false; the same key with other parameters returns
// ErrIdempotencyConflict.
//
// The link is stored before the provider is called, so that two concurrent
// retries cannot both create a link: the store's unique (call, key) decides
// the winner. If the provider then fails, the link is marked failed and the
// error (wrapping ErrProvider) is returned; a replay of that key returns the
// failed link, and the guide sends a new one with a new key. If the provider
// succeeded but its reference could not be stored, the link stays open
// without one and a replay of the key creates the checkout again (same
// LinkID); the first reference stored wins.
func (s *Service) CreateLink(ctx context.Context, p CreateLinkParams) (Link, bool, error) {
	p, err := p.validate()
	if err != nil {
		return Link{}, false, err
	}
	if l, ok, err := s.replay(ctx, p); ok || err != nil {
		return l, false, err
	}
	maxPerCall, err := s.checkLinkLimits(ctx, p)
	if err != nil {
		return Link{}, false, err
	}

	linkID := "pl_" + uuid.NewString()
	cc := s.callContextOf(ctx, Link{ID: linkID, CallID: p.CallID})
	cands := s.candidates(ctx, p.Currency, cc.Country, linkID)
	prov := cands[0]
	now := s.now().UTC()
	l := Link{
		ID:             linkID,
		CallID:         p.CallID,
		Provider:       prov.Name(),
		Amount:         p.Amount,
		Currency:       p.Currency,
		Items:          p.Items,
		Description:    p.Description,
		Status:         StatusOpen,
		IdempotencyKey: p.IdempotencyKey,
		CreatedBy:      p.CreatedBy,
		CreatedAt:      now,
		UpdatedAt:      now,
		ExpiresAt:      now.Add(s.ttl),
	}
	if _, err := s.store.LinkCreateWithin(ctx, l, maxPerCall); err != nil {
		if errors.Is(err, ErrDuplicate) || errors.Is(err, ErrRiskLimit) {
			// Lost a race with a concurrent retry of the same request,
			// whose link may also be the one that reached the limit.
			if l, ok, err := s.replay(ctx, p); ok || err != nil {
				return l, false, err
			}
		}
		if errors.Is(err, ErrRiskLimit) {
			return Link{}, false, err
		}
		return Link{}, false, fmt.Errorf("payments: store link: %w", err)
	}
	return s.checkoutWith(ctx, prov, l, cands, cc)
}

// checkout creates l's hosted checkout at prov and stores its reference.
// first is true for the request that created l: if the provider fails, it
// marks l failed. A replay (first false) leaves the link open instead, so
// that it cannot fail a link whose first request is still under way.
//
// The reference is stored with a context of its own: once the provider has
// a checkout, the caller hanging up must not leave the link without it.
//
// failover lists, for the first request, the providers to try in order
// (prov first): while the link has no checkout anywhere, a provider that
// fails or times out hands it to the next one, so the guide still gets a
// link. Once a provider issued a checkout, the link stays with it.
func (s *Service) checkout(ctx context.Context, prov Provider, l Link, failover []Provider) (Link, bool, error) {
	return s.checkoutWith(ctx, prov, l, failover, s.callContextOf(ctx, l))
}

// checkoutWith is checkout with the call's context already known.
func (s *Service) checkoutWith(ctx context.Context, prov Provider, l Link, failover []Provider, cc CallContext) (Link, bool, error) {
	first := failover != nil
	if !first {
		failover = []Provider{prov}
	}
	log := s.linkLog(l)
	// Use a fresh context for the store: the caller's may be the one that failed.
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var pl ProviderLink
	var perr error
	for i, p := range failover {
		if i > 0 {
			moved, err := s.store.LinkUpdate(uctx, l.ID, func(x *Link) ([]Event, error) {
				if x.ProviderRef != "" || x.Status != StatusOpen {
					return nil, errNoChange // issued (or closed) meanwhile: never re-create it elsewhere
				}
				x.Provider = p.Name()
				x.UpdatedAt = s.now().UTC()
				return nil, nil
			})
			if err != nil {
				break
			}
			log.Warn("payment link failing over to the next provider", "from", prov.Name(), "to", p.Name(), "err", perr)
			s.breakers.failedOver(prov.Name())
			l = moved
		}
		prov = p
		actx, acancel := context.WithTimeout(ctx, s.routing.CreateTimeout)
		pl, perr = p.CreateLink(actx, ProviderLinkParams{
			LinkID:      l.ID,
			CallID:      l.CallID,
			Amount:      l.Amount,
			Currency:    l.Currency,
			Items:       slices.Clone(l.Items),
			Description: l.Description,
			ExpiresAt:   l.ExpiresAt,
			ReturnURL:   cc.ReturnURL,
			Country:     cc.Country,
			Locale:      cc.Locale,
		})
		acancel()
		s.breakers.record(p.Name(), perr == nil, s.now())
		if perr == nil || ctx.Err() != nil {
			break
		}
	}
	if perr != nil {
		log.Warn("provider refused payment link", "provider", prov.Name(), "err", perr)
		if first {
			var events []Event
			if _, err := s.store.LinkUpdate(uctx, l.ID, func(x *Link) ([]Event, error) {
				if x.ProviderRef != "" {
					return nil, errNoChange // a concurrent replay got a checkout
				}
				if !x.Status.CanMoveTo(StatusFailed) {
					return nil, fmt.Errorf("%w: %s -> failed", ErrInvalidTransition, x.Status)
				}
				from := x.Status
				x.Status = StatusFailed
				x.UpdatedAt = s.now().UTC()
				events = []Event{statusEvent(from, *x, x.UpdatedAt)}
				return events, nil
			}); err != nil && !errors.Is(err, errNoChange) {
				log.Error("mark link failed after provider error", "err", err)
			} else if err == nil {
				s.publish(uctx, events)
			}
		}
		return Link{}, false, fmt.Errorf("%w: %s: %w", ErrProvider, prov.Name(), perr)
	}
	var events []Event
	l, err := s.store.LinkUpdate(uctx, l.ID, func(x *Link) ([]Event, error) {
		events = nil
		if x.ProviderRef != "" {
			// A concurrent request stored its checkout first; a provider
			// keyed on the link id returned the same one anyway.
			return nil, nil
		}
		x.ProviderRef = pl.Ref
		x.CheckoutURL = pl.CheckoutURL
		x.Mode = pl.Mode
		x.UpdatedAt = s.now().UTC()
		events = []Event{LinkCreated{EventMeta: newMeta(x.UpdatedAt), Link: x.Clone()}}
		return events, nil
	})
	if err != nil {
		// The link stays open without a reference; a replay of the same
		// idempotency key creates the checkout again.
		log.Error("store provider reference", "provider", prov.Name(), "provider_ref", pl.Ref, "err", err)
		return Link{}, false, fmt.Errorf("payments: store provider reference: %w", err)
	}
	if first {
		log.Info("payment link created", "provider", prov.Name(), "provider_ref", l.ProviderRef,
			"amount", l.Money().String(), "created_by", l.CreatedBy)
	} else {
		log.Info("payment link checkout created on replay", "provider", prov.Name(), "provider_ref", l.ProviderRef)
	}
	s.publish(uctx, events)
	return l, first, nil
}

// replay looks up an earlier link for the same call and key. ok is true when
// one exists and matches p.
func (s *Service) replay(ctx context.Context, p CreateLinkParams) (Link, bool, error) {
	l, err := s.store.LinkByIdempotencyKey(ctx, p.CallID, p.IdempotencyKey)
	switch {
	case errors.Is(err, ErrNotFound):
		return Link{}, false, nil
	case err != nil:
		return Link{}, false, fmt.Errorf("payments: look up idempotency key: %w", err)
	case !sameRequest(l, p):
		return Link{}, false, fmt.Errorf("%w: link %s", ErrIdempotencyConflict, l.ID)
	}
	if l.Status == StatusOpen && l.ProviderRef == "" && (l.ExpiresAt.IsZero() || s.now().Before(l.ExpiresAt)) {
		// The first request created the link but never stored a checkout
		// (provider call or store write failed half way): make it now. The
		// provider gets the same LinkID, which a real one uses as its own
		// idempotency key.
		prov, ok := s.byName[l.Provider]
		if !ok {
			return Link{}, false, fmt.Errorf("%w: %q", ErrUnknownProvider, l.Provider)
		}
		l, _, err = s.checkout(ctx, prov, l, nil)
		return l, true, err
	}
	s.linkLog(l).Debug("payment link replayed")
	return l, true, nil
}

// errNoChange tells LinkUpdate's caller that fn decided to write nothing.
var errNoChange = errors.New("payments: no change")

// HandleWebhook verifies and applies one provider webhook:
//
//  1. the provider verifies the signature (ErrBadSignature otherwise);
//  2. an event of the other mode than its link's (test or live) is
//     refused with ErrBadWebhook;
//  3. the event is applied and recorded once per (provider, id), in one
//     atomic step (Store.EventApply): a duplicate returns nil and changes
//     nothing, and an apply that fails records nothing and returns an
//     error, so the provider's retry applies it;
//  4. the link moves only if LinkStatus.CanMoveTo allows it, so late or
//     out-of-order events never move a link back; a refund arriving before
//     the payment moves an open link straight to (partially) refunded;
//  5. the change's event (LinkStatusChanged or RefundRecorded) is
//     recorded with it and published to subscribers.
//
// An event whose reference matches no link returns ErrUnknownReference (a
// 5xx), logged at Error: every checkout is created by this service and its
// reference is stored before the checkout URL is handed out, so an unknown
// reference means a reference not stored yet or lost, and the provider's
// retries give it (or an operator) time to appear.
func (s *Service) HandleWebhook(ctx context.Context, provider string, header http.Header, body []byte) error {
	p, ok := s.byName[provider]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownProvider, provider)
	}
	ev, err := p.ParseWebhook(header, body)
	if errors.Is(err, ErrIgnoredEvent) {
		s.log.Info("webhook ignored", "provider", provider, "reason", err)
		return nil
	}
	if err != nil {
		s.log.Warn("webhook refused", "provider", provider, "err", err)
		return err
	}
	ev.Provider = provider
	if ev.ID == "" || (ev.ProviderRef == "" && ev.LinkID == "") || !ev.Status.Valid() {
		return fmt.Errorf("%w: event without id, reference or valid status", ErrBadWebhook)
	}
	var l Link
	if ev.ProviderRef != "" {
		l, err = s.store.LinkByProviderRef(ctx, provider, ev.ProviderRef)
	} else if l, err = s.store.LinkGet(ctx, ev.LinkID); err == nil && l.Provider != provider {
		// A provider may only move its own links.
		err = ErrNotFound
	}
	if errors.Is(err, ErrNotFound) {
		s.log.Error("webhook for unknown provider reference; the provider will retry",
			"provider", provider, "provider_ref", ev.ProviderRef, "link_id", ev.LinkID, "event_id", ev.ID, "event_status", string(ev.Status))
		return fmt.Errorf("%w: %s %q %q", ErrUnknownReference, provider, ev.ProviderRef, ev.LinkID)
	}
	if err != nil {
		return fmt.Errorf("payments: find link for webhook: %w", err)
	}
	log := s.linkLog(l).With("provider", provider, "event_id", ev.ID, "event_status", string(ev.Status))
	if l.Mode != "" && ev.Mode != "" && ev.Mode != l.Mode {
		// Test and live money never mix: a key changed since the link was
		// made, or an event was sent to the wrong endpoint. Refused (400)
		// rather than retried, since no retry can make it right.
		log.Warn("webhook refused: its mode is not the link's", "event_mode", string(ev.Mode), "link_mode", string(l.Mode))
		return fmt.Errorf("%w: a %s-mode event for the %s-mode link %s", ErrBadWebhook, ev.Mode, l.Mode, l.ID)
	}
	from := l.Status
	var events []Event
	updated, applied, err := s.store.EventApply(ctx, ev, l.ID, func(x *Link) ([]Event, error) {
		from = x.Status
		var merr error
		events, merr = s.moveTo(x, ev.Status, ev.OccurredAt, ev.RefundedAmount)
		return events, merr
	})
	switch {
	case errors.Is(err, errNoChange):
		if ev.Status.settled() && !from.settled() {
			// Money moved at the provider but the link had already closed
			// here (expired, canceled, failed): someone has to refund by hand.
			log.Error("payment arrived for a closed link; refund or reconcile", "link_status", string(from))
		} else {
			log.Info("stale webhook ignored", "link_status", string(from))
		}
		return nil
	case err != nil:
		return fmt.Errorf("payments: apply webhook: %w", err)
	case !applied:
		log.Info("duplicate webhook ignored")
		return nil
	}
	log.Info("payment link updated", "from", string(from), "to", string(updated.Status))
	s.publish(ctx, events)
	return nil
}

// applyStatus moves link id to status if that is a legal move, otherwise
// returns errNoChange. It publishes the change's event and returns the
// status the link had.
func (s *Service) applyStatus(ctx context.Context, id string, status LinkStatus, at time.Time) (Link, LinkStatus, error) {
	l, from, _, err := s.applyState(ctx, id, ProviderState{Status: status}, at)
	return l, from, err
}

// applyState is applyStatus with the provider's refunded total; it also
// returns the refunded amount before the change.
func (s *Service) applyState(ctx context.Context, id string, st ProviderState, at time.Time) (Link, LinkStatus, int64, error) {
	var events []Event
	var from LinkStatus
	var refundedFrom int64
	l, err := s.store.LinkUpdate(ctx, id, func(x *Link) ([]Event, error) {
		from, refundedFrom = x.Status, x.RefundedAmount
		var err error
		events, err = s.moveTo(x, st.Status, at, st.RefundedAmount)
		return events, err
	})
	if err == nil {
		s.publish(ctx, events)
	}
	return l, from, refundedFrom, err
}

// moveTo moves x to status if that is a legal move, otherwise returns
// errNoChange, and returns the event of the move. A link that becomes
// paid, or refunded straight from open (the refund arrived before the
// payment), gets PaidAt: at, or now if at is zero. An earlier PaidAt is
// kept.
//
// refunded is the provider's total refunded so far (0: not said): a
// refund sets RefundedAmount from it (all of Amount for refunded), never
// lowering it and never above Amount, and a further partial refund that
// refunds nothing more is no change.
func (s *Service) moveTo(x *Link, status LinkStatus, at time.Time, refunded int64) ([]Event, error) {
	if status == StatusPartiallyRefunded && refunded >= x.Amount {
		status = StatusRefunded
	}
	if !x.Status.CanMoveTo(status) {
		return nil, errNoChange
	}
	if x.Status == StatusExpired && (at.IsZero() || !at.Before(x.ExpiresAt)) {
		// Only a payment made in time, whose event came after the
		// expiry's, reopens an expired link; one made after it (or of no
		// known time) is for someone to refund.
		return nil, errNoChange
	}
	if x.Status == StatusPartiallyRefunded && status == StatusPartiallyRefunded && refunded <= x.RefundedAmount {
		return nil, errNoChange
	}
	now := s.now().UTC()
	from := x.Status
	x.Status = status
	x.UpdatedAt = now
	switch status {
	case StatusRefunded:
		x.RefundedAmount = x.Amount
	case StatusPartiallyRefunded:
		x.RefundedAmount = min(max(x.RefundedAmount, refunded), x.Amount)
	}
	if status.settled() && x.PaidAt == nil {
		paid := at.UTC()
		if at.IsZero() {
			paid = now
		}
		x.PaidAt = &paid
	}
	return []Event{statusEvent(from, *x, now)}, nil
}

// LinksByCall returns the links of a call, oldest first. Open links past
// their expiry are moved to expired on the way (with their event), so a
// reader never sees a stale "open".
func (s *Service) LinksByCall(ctx context.Context, callID string) ([]Link, error) {
	links, err := s.store.LinksByCall(ctx, callID)
	if err != nil {
		return nil, fmt.Errorf("payments: links of call: %w", err)
	}
	if err := s.expireDue(ctx, links); err != nil {
		return nil, err
	}
	return links, nil
}

// LinksByCalls is LinksByCall for several calls in one store read, keyed
// by call id (a call without links has no key): a page of history.
func (s *Service) LinksByCalls(ctx context.Context, callIDs []string) (map[string][]Link, error) {
	byCall, err := s.store.LinksByCalls(ctx, callIDs)
	if err != nil {
		return nil, fmt.Errorf("payments: links of calls: %w", err)
	}
	for _, links := range byCall {
		if err := s.expireDue(ctx, links); err != nil {
			return nil, err
		}
	}
	return byCall, nil
}

// expireDue moves the open links past their expiry to expired (with their
// event), in place, so a reader never sees a stale "open".
func (s *Service) expireDue(ctx context.Context, links []Link) error {
	now := s.now()
	for i, l := range links {
		if l.Status != StatusOpen || l.ExpiresAt.IsZero() || now.Before(l.ExpiresAt) {
			continue
		}
		updated, _, err := s.applyStatus(ctx, l.ID, StatusExpired, now)
		switch {
		case errors.Is(err, errNoChange):
			if cur, err := s.store.LinkGet(ctx, l.ID); err == nil {
				links[i] = cur
			}
		case err != nil:
			return fmt.Errorf("payments: expire link: %w", err)
		default:
			s.linkLog(updated).Info("payment link expired")
			links[i] = updated
		}
	}
	return nil
}

// Link returns one link, expiring it first if its time is up.
func (s *Service) Link(ctx context.Context, id string) (Link, error) {
	l, err := s.store.LinkGet(ctx, id)
	if err != nil {
		return Link{}, err
	}
	if l.Status == StatusOpen && !l.ExpiresAt.IsZero() && !s.now().Before(l.ExpiresAt) {
		if updated, _, err := s.applyStatus(ctx, id, StatusExpired, s.now()); err == nil {
			s.linkLog(updated).Info("payment link expired")
			return updated, nil
		}
		return s.store.LinkGet(ctx, id)
	}
	return l, nil
}

// SyncLink asks the link's provider for its status and applies it under the
// same forward-only rule as webhooks; Reconcile runs it over every link that
// may be behind its provider.
func (s *Service) SyncLink(ctx context.Context, id string) (Link, error) {
	l, err := s.store.LinkGet(ctx, id)
	if err != nil {
		return Link{}, err
	}
	l, _, err = s.syncLink(ctx, l)
	return l, err
}

// syncLink is SyncLink of a link read already. fixed reports whether it
// moved, and from where.
func (s *Service) syncLink(ctx context.Context, l Link) (Link, *Fix, error) {
	p, ok := s.byName[l.Provider]
	if !ok {
		return Link{}, nil, fmt.Errorf("%w: %q", ErrUnknownProvider, l.Provider)
	}
	if l.ProviderRef == "" {
		return l, nil, nil
	}
	var st ProviderState
	var err error
	if sf, ok := p.(StateFetcher); ok {
		st, err = sf.FetchState(ctx, l.ProviderRef)
	} else {
		st.Status, err = p.FetchStatus(ctx, l.ProviderRef)
	}
	if err != nil {
		return Link{}, nil, fmt.Errorf("%w: %s: %w", ErrProvider, p.Name(), err)
	}
	// The payment's time, if the provider gave it: what lets an expired
	// link become paid (moveTo), as a paid event's time does.
	updated, from, refundedFrom, err := s.applyState(ctx, l.ID, st, st.PaidAt)
	if errors.Is(err, errNoChange) {
		if cur, err := s.store.LinkGet(ctx, l.ID); err == nil {
			l = cur
		}
		return l, nil, nil
	}
	if err != nil {
		return Link{}, nil, err
	}
	fix := &Fix{LinkID: updated.ID, CallID: updated.CallID, Provider: updated.Provider, From: from, To: updated.Status,
		RefundedFrom: refundedFrom, RefundedTo: updated.RefundedAmount}
	s.linkLog(updated).Warn("payment link reconciled with its provider", "provider", updated.Provider,
		"from", string(from), "to", string(updated.Status), "refunded_from", refundedFrom, "refunded_to", updated.RefundedAmount)
	return updated, fix, nil
}

// publish hands events to the subscribers and, once some subscriber has
// taken them, marks them published in the store. Events nobody in this
// process took (a `guidecall reconcile` run has no subscriber) stay for
// the relay of a node that has subscribers.
func (s *Service) publish(ctx context.Context, events []Event) {
	if len(events) == 0 {
		return
	}
	ids := make([]string, 0, len(events))
	for _, e := range events {
		if s.events.publish(e) > 0 {
			ids = append(ids, e.EventID())
		}
	}
	if len(ids) == 0 {
		return
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.store.OutboxPublished(mctx, ids); err != nil {
		// The relay publishes them again later; subscribers drop repeats by id.
		s.log.Warn("mark payment events published", "events", len(ids), "err", err)
	}
}

// callContextOf asks the wiring about l's call; a failure costs only the
// shopper's way back to their page, so it is logged and the link goes on.
func (s *Service) callContextOf(ctx context.Context, l Link) CallContext {
	if s.callContext == nil {
		return CallContext{}
	}
	cc, err := s.callContext(ctx, l.CallID)
	if err != nil {
		s.linkLog(l).Warn("call context unavailable; the provider's default return page is used", "err", err)
		return CallContext{}
	}
	return cc
}
