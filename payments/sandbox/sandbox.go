package sandbox

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"guidecall/payments"
	"guidecall/webhook"
)

// Name is the provider name of the sandbox.
const Name = "sandbox"

// SignatureHeader carries the sandbox webhook signature (webhook.Sign).
const SignatureHeader = "Guidecall-Sandbox-Signature"

// KeyName is the outbox key (webhook.Outbox.SetKey) that signs the
// sandbox's webhooks.
const KeyName = "sandbox"

// Sandbox webhook event types.
const (
	PaymentSucceeded         = "payment.succeeded"
	PaymentProcessing        = "payment.processing" // an asynchronous method is under way
	PaymentFailed            = "payment.failed"
	PaymentRefunded          = "payment.refunded"
	PaymentPartiallyRefunded = "payment.partially_refunded"
	PaymentExpired           = "payment.expired" // a scripted expiry (Script.ExpireAfterMS) came
)

var eventStatus = map[string]payments.LinkStatus{
	PaymentSucceeded:         payments.StatusPaid,
	PaymentProcessing:        payments.StatusProcessing,
	PaymentFailed:            payments.StatusFailed,
	PaymentRefunded:          payments.StatusRefunded,
	PaymentPartiallyRefunded: payments.StatusPartiallyRefunded,
	PaymentExpired:           payments.StatusExpired,
}

// Event is the JSON body of a sandbox webhook.
type Event struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Ref     string `json:"ref"`
	Created int64  `json:"created"`
	// Refunded is the total refunded so far, on refund events.
	Refunded int64 `json:"refunded,omitempty"`
	// Livemode is false on every event the sandbox sends: it moves no
	// real money. It is there, as on Stripe's events, so that a live
	// event is refused for its test links.
	Livemode bool `json:"livemode"`
}

// Config configures a Sandbox.
type Config struct {
	Secret          []byte // webhook signing secret; required for real use
	CheckoutBaseURL string // e.g. http://127.0.0.1:8080/pay/sandbox
	WebhookURL      string // e.g. http://127.0.0.1:8080/webhooks/sandbox
	// ReturnURL is the page the checkout's "Back to the shop" leads to
	// when the link has no page of its own (ProviderLinkParams.ReturnURL),
	// e.g. http://127.0.0.1:8080/shop/; the link's id and the outcome are
	// added to its query. Empty: such a checkout shows no way back.
	ReturnURL string
	Logger    *slog.Logger
	Now       func() time.Time
	// Store keeps the checkouts and, with each outcome, enqueues its
	// webhook on its outbox. Nodes of a cluster share one (a
	// PostgresStore on a webhook.RiverOutbox), as they would share a real
	// provider's account. Required.
	Store Store
	// Outbox is the Store's outbox; the Sandbox gives it its signing key.
	Outbox webhook.Outbox
	// WebhookDelay holds every webhook back this long before its first
	// attempt (test hook: lets a test kill a node between Pay and the
	// delivery deterministically).
	WebhookDelay time.Duration
}

// Sandbox is a Provider that guidecall hosts itself: a checkout page with
// Pay and Decline buttons and signed webhooks posted back to WebhookURL
// through a webhook outbox. It can be scripted to fail, delay and
// duplicate, for demos and tests.
//
// Checkouts live in Config.Store, so any Sandbox on a shared store serves,
// pays and refunds a checkout another one created. The scripted behaviour
// (FailNextCreate, delays, duplicates) belongs to each Sandbox.
type Sandbox struct {
	cfg   Config
	log   *slog.Logger
	store Store

	mu           sync.Mutex
	failNext     error
	delay        time.Duration
	dupes        int
	createDelay  time.Duration
	badSignature bool
	dropWebhooks bool
	expireAfter  time.Duration
	hold         bool
	// held are the webhooks kept back by Script.HoldWebhooks, one group
	// (an event and its scripted duplicates) per outcome, oldest first.
	held [][]webhook.Delivery
}

var _ payments.Provider = (*Sandbox)(nil)

// New returns a Sandbox, and sets its signing key on cfg.Outbox.
func New(cfg Config) (*Sandbox, error) {
	if cfg.Store == nil {
		return nil, errors.New("sandbox: Config.Store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Outbox != nil {
		cfg.Outbox.SetKey(KeyName, webhook.Key{Header: SignatureHeader, Secret: cfg.Secret})
	}
	cfg.CheckoutBaseURL = strings.TrimRight(cfg.CheckoutBaseURL, "/")
	return &Sandbox{cfg: cfg, log: cfg.Logger.With("provider", Name), store: cfg.Store, delay: max(cfg.WebhookDelay, 0)}, nil
}

// Name implements payments.Provider.
func (sb *Sandbox) Name() string { return Name }

// FailNextCreate makes the next CreateLink return err (nil clears it).
func (sb *Sandbox) FailNextCreate(err error) {
	sb.mu.Lock()
	sb.failNext = err
	sb.mu.Unlock()
}

// SetDeliveryDelay holds each webhook back by d before its first attempt.
func (sb *Sandbox) SetDeliveryDelay(d time.Duration) {
	sb.mu.Lock()
	sb.delay = max(d, 0)
	sb.mu.Unlock()
}

// SetDuplicateDeliveries delivers every webhook n extra times, with the
// same event id, as real providers occasionally do.
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

// CreateLink implements payments.Provider.
func (sb *Sandbox) CreateLink(ctx context.Context, p payments.ProviderLinkParams) (payments.ProviderLink, error) {
	if err := ctx.Err(); err != nil {
		return payments.ProviderLink{}, err
	}
	sb.mu.Lock()
	failNext := sb.failNext
	sb.failNext = nil
	sb.mu.Unlock()
	if failNext != nil {
		return payments.ProviderLink{}, fmt.Errorf("sandbox: scripted failure: %w", failNext)
	}
	if err := sb.waitCreateDelay(ctx); err != nil {
		return payments.ProviderLink{}, fmt.Errorf("sandbox: scripted slow create: %w", err)
	}
	ref := sb.refOf(p.LinkID)
	if c, err := sb.store.CheckoutGet(ctx, ref); err == nil {
		// A retry for the same link (its first reference was not stored):
		// the same checkout, as a real provider keyed on the link gives.
		return sb.linkOf(c), nil
	}
	p.Items = slices.Clone(p.Items)
	now := sb.cfg.Now()
	sb.mu.Lock()
	expireAfter := sb.expireAfter
	sb.mu.Unlock()
	if at := now.Add(expireAfter); expireAfter > 0 && (p.ExpiresAt.IsZero() || at.Before(p.ExpiresAt)) {
		p.ExpiresAt = at
	}
	c := Checkout{Ref: ref, Params: p, Status: payments.StatusOpen, CreatedAt: now}
	if _, err := sb.store.CheckoutCreate(ctx, c); errors.Is(err, payments.ErrDuplicate) {
		// A concurrent retry for the same link made it first.
		if c, err := sb.store.CheckoutGet(ctx, ref); err == nil {
			return sb.linkOf(c), nil
		}
	} else if err != nil {
		return payments.ProviderLink{}, fmt.Errorf("sandbox: create checkout: %w", err)
	}
	if expireAfter > 0 {
		// The expiry's webhook, due when it comes, as Stripe's
		// checkout.session.expired and Adyen's EXPIRE are. If the shopper
		// paid meanwhile it arrives after the payment and changes nothing.
		if _, err := sb.update(ctx, ref, func(c *Checkout) ([]webhook.Delivery, error) {
			return sb.deliveriesAt(*c, PaymentExpired, c.Params.ExpiresAt, expireAfter)
		}); err != nil {
			return payments.ProviderLink{}, fmt.Errorf("sandbox: schedule the scripted expiry: %w", err)
		}
	}
	sb.log.Info("sandbox checkout created", "link_id", p.LinkID, "call_id", p.CallID, "provider_ref", ref)
	return sb.linkOf(c), nil
}

// refOf is the reference of link linkID's checkout: derived from the link
// (under the webhook secret, which every node shares, so it cannot be
// guessed from the link id), so that creating a link's checkout again
// gives the same one.
func (sb *Sandbox) refOf(linkID string) string {
	m := hmac.New(sha256.New, sb.cfg.Secret)
	m.Write([]byte("sandbox checkout/" + linkID))
	return "sbx_" + hex.EncodeToString(m.Sum(nil))[:24]
}

func (sb *Sandbox) linkOf(c Checkout) payments.ProviderLink {
	return payments.ProviderLink{Ref: c.Ref, CheckoutURL: sb.cfg.CheckoutBaseURL + "/" + c.Ref, Mode: payments.ModeTest}
}

// FetchStatus implements payments.Provider.
func (sb *Sandbox) FetchStatus(ctx context.Context, ref string) (payments.LinkStatus, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	c, err := sb.store.CheckoutGet(ctx, ref)
	if err != nil {
		return "", err
	}
	return c.StatusAt(sb.cfg.Now()), nil
}

// FetchState implements payments.StateFetcher: the status, the total
// refunded and when the money was taken, for reconciliation.
func (sb *Sandbox) FetchState(ctx context.Context, ref string) (payments.ProviderState, error) {
	if err := ctx.Err(); err != nil {
		return payments.ProviderState{}, err
	}
	c, err := sb.store.CheckoutGet(ctx, ref)
	if err != nil {
		return payments.ProviderState{}, err
	}
	return payments.ProviderState{Status: c.StatusAt(sb.cfg.Now()), RefundedAmount: c.Refunded, PaidAt: c.PaidAt}, nil
}

// Refund implements payments.Provider: amount up to what is left of a paid
// link. The refund and its webhook are recorded together. A refund whose
// Seq (1 and up) the checkout has taken already is not taken again, as a
// real provider's idempotency key does; Seq 0 is never deduplicated.
func (sb *Sandbox) Refund(ctx context.Context, rp payments.RefundParams) error {
	ref, amount := rp.Ref, rp.Amount
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := sb.update(ctx, ref, func(c *Checkout) ([]webhook.Delivery, error) {
		if rp.Seq > 0 && slices.Contains(c.RefundSeqs, rp.Seq) {
			return nil, errRefundTaken
		}
		c.Status = c.StatusAt(sb.cfg.Now())
		if c.Status != payments.StatusPaid && c.Status != payments.StatusPartiallyRefunded {
			return nil, fmt.Errorf("%w: refund of a %s link", payments.ErrInvalidTransition, c.Status)
		}
		if left := c.Params.Amount - c.Refunded; amount <= 0 || amount > left {
			return nil, fmt.Errorf("%w: refund amount %d, refundable %d", payments.ErrInvalidLink, amount, left)
		}
		c.Refunded += amount
		if rp.Seq > 0 {
			c.RefundSeqs = append(c.RefundSeqs, rp.Seq)
		}
		typ := PaymentPartiallyRefunded
		c.Status = payments.StatusPartiallyRefunded
		if c.Refunded == c.Params.Amount {
			typ, c.Status = PaymentRefunded, payments.StatusRefunded
		}
		return sb.deliveries(*c, typ)
	})
	if errors.Is(err, errRefundTaken) {
		sb.log.Info("sandbox refund already taken", "link_id", rp.LinkID, "call_id", rp.CallID, "provider_ref", ref, "seq", rp.Seq)
		return nil
	}
	if err != nil {
		return err
	}
	p := c.Params
	sb.log.Info("sandbox refund", "link_id", p.LinkID, "call_id", p.CallID, "provider_ref", ref, "amount", amount)
	return nil
}

// errRefundTaken tells Refund that the checkout has taken that refund.
var errRefundTaken = errors.New("sandbox: refund already taken")

// outcome records a shopper's Pay (paid=true) or Decline on the checkout
// page, with its webhook. A decline after a payment is still reported,
// late, as payment.failed: that is how the sandbox produces out-of-order
// delivery, and the Service must ignore it. The checkout is returned as it
// now is, and also with an ErrInvalidTransition, as it was.
//
// An asynchronous method (konbini) makes a paid outcome processing, with a
// payment.processing webhook; complete later makes it paid.
func (sb *Sandbox) outcome(ctx context.Context, ref string, paid bool, method string) (Checkout, error) {
	next, typ := payments.StatusFailed, PaymentFailed
	if paid {
		next, typ = payments.StatusPaid, PaymentSucceeded
		if asyncMethod(method) {
			next, typ = payments.StatusProcessing, PaymentProcessing
		}
	}
	var refused *Checkout
	c, err := sb.update(ctx, ref, func(c *Checkout) ([]webhook.Delivery, error) {
		refused = nil
		c.Status = c.StatusAt(sb.cfg.Now())
		switch st := c.Status; {
		case st != payments.StatusExpired && st != payments.StatusCanceled && st != payments.StatusFailed && st.CanMoveTo(next):
			// A closed checkout takes no payment, although the ledger
			// accepts a payment reported late for a closed link.
			c.Status = next
			if next == payments.StatusPaid {
				c.PaidAt = sb.cfg.Now().UTC()
			}
		case !paid && st != payments.StatusExpired && st != payments.StatusCanceled:
			// A failed attempt reported after the link was settled.
		default:
			cur := c.Clone()
			refused = &cur
			return nil, fmt.Errorf("%w: %s link cannot become %s", payments.ErrInvalidTransition, st, next)
		}
		return sb.deliveries(*c, typ)
	})
	if err != nil {
		if refused != nil && errors.Is(err, payments.ErrInvalidTransition) {
			return *refused, err
		}
		return Checkout{}, err
	}
	p := c.Params
	sb.log.Info("sandbox checkout outcome", "link_id", p.LinkID, "call_id", p.CallID, "provider_ref", ref, "type", typ, "method", method)
	return c, nil
}

// complete records that an asynchronous payment arrived (the shopper paid
// at the store), with its payment.succeeded webhook.
func (sb *Sandbox) complete(ctx context.Context, ref string) (Checkout, error) {
	c, err := sb.update(ctx, ref, func(c *Checkout) ([]webhook.Delivery, error) {
		if c.Status != payments.StatusProcessing {
			return nil, fmt.Errorf("%w: a %s checkout has no payment under way", payments.ErrInvalidTransition, c.Status)
		}
		c.Status = payments.StatusPaid
		c.PaidAt = sb.cfg.Now().UTC()
		return sb.deliveries(*c, PaymentSucceeded)
	})
	if err != nil {
		return Checkout{}, err
	}
	sb.log.Info("sandbox asynchronous payment completed", "link_id", c.Params.LinkID, "call_id", c.Params.CallID, "provider_ref", ref)
	return c, nil
}

// deliveries is the webhook of one event about c, and the scripted
// duplicates of it: each its own delivery (so the outbox sends them all)
// carrying the same event id (so the receiver applies it once).
func (sb *Sandbox) deliveries(c Checkout, typ string) ([]webhook.Delivery, error) {
	return sb.deliveriesAt(c, typ, sb.cfg.Now(), 0)
}

// deliveriesAt is deliveries of an event that happens at at, each held
// back by later more than the script says.
func (sb *Sandbox) deliveriesAt(c Checkout, typ string, at time.Time, later time.Duration) ([]webhook.Delivery, error) {
	ev := Event{ID: newID("evt_"), Type: typ, Ref: c.Ref, Created: at.Unix()}
	if typ == PaymentRefunded || typ == PaymentPartiallyRefunded {
		ev.Refunded = c.Refunded
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	sb.mu.Lock()
	delay, dupes, bad, drop := sb.delay, sb.dupes, sb.badSignature, sb.dropWebhooks
	sb.mu.Unlock()
	if drop {
		sb.log.Info("sandbox webhook dropped by script", "event_id", ev.ID, "type", typ, "provider_ref", c.Ref,
			"link_id", c.Params.LinkID, "call_id", c.Params.CallID)
		return nil, nil
	}
	key := KeyName
	if bad {
		key = badKeyName
	}
	out := make([]webhook.Delivery, 0, 1+dupes)
	for i := range 1 + dupes {
		id := ev.ID
		if i > 0 {
			id = fmt.Sprintf("%s.dup%d", ev.ID, i)
		}
		out = append(out, webhook.Delivery{
			ID: id, URL: sb.cfg.WebhookURL, Body: body, Key: key,
			Delay: later + delay*time.Duration(i+1),
			Attrs: []any{"provider", Name, "event_id", ev.ID, "type", typ, "provider_ref", c.Ref,
				"link_id", c.Params.LinkID, "call_id", c.Params.CallID},
		})
	}
	return out, nil
}

// update is Store.CheckoutUpdate, except that while the script holds
// webhooks, the deliveries fn returns are kept back here instead of
// enqueued with the change (Release sends them).
func (sb *Sandbox) update(ctx context.Context, ref string, fn func(*Checkout) ([]webhook.Delivery, error)) (Checkout, error) {
	sb.mu.Lock()
	hold := sb.hold
	sb.mu.Unlock()
	if !hold {
		return sb.store.CheckoutUpdate(ctx, ref, fn)
	}
	var kept []webhook.Delivery
	c, err := sb.store.CheckoutUpdate(ctx, ref, func(c *Checkout) ([]webhook.Delivery, error) {
		ds, err := fn(c)
		kept = ds
		return nil, err
	})
	if err == nil && len(kept) > 0 {
		sb.mu.Lock()
		sb.held = append(sb.held, kept)
		n := len(sb.held)
		sb.mu.Unlock()
		sb.log.Info("sandbox webhook held by script", "link_id", c.Params.LinkID, "call_id", c.Params.CallID,
			"provider_ref", ref, "held", n)
	}
	return c, err
}

// ParseWebhook implements payments.Provider.
func (sb *Sandbox) ParseWebhook(header http.Header, body []byte) (payments.ProviderEvent, error) {
	if err := webhook.Verify(sb.cfg.Secret, header.Get(SignatureHeader), body, sb.cfg.Now(), webhook.DefaultTolerance); err != nil {
		return payments.ProviderEvent{}, fmt.Errorf("%w: %w", payments.ErrBadSignature, err)
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return payments.ProviderEvent{}, fmt.Errorf("%w: %w", payments.ErrBadWebhook, err)
	}
	st, ok := eventStatus[ev.Type]
	if !ok || ev.ID == "" || ev.Ref == "" {
		return payments.ProviderEvent{}, fmt.Errorf("%w: event %q of type %q", payments.ErrBadWebhook, ev.ID, ev.Type)
	}
	return payments.ProviderEvent{
		ID:             ev.ID,
		Provider:       Name,
		ProviderRef:    ev.Ref,
		Status:         st,
		OccurredAt:     time.Unix(ev.Created, 0).UTC(),
		RefundedAmount: ev.Refunded,
		Mode:           eventMode(ev.Livemode),
	}, nil
}

// eventMode is the mode a livemode flag names.
func eventMode(live bool) payments.Mode {
	if live {
		return payments.ModeLive
	}
	return payments.ModeTest
}
