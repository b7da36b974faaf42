package payments

import (
	"context"
	"net/http"
	"time"
)

// Provider is a payment provider: it hosts the checkout, reports outcomes by
// signed webhook, and answers status and refund calls. Implementations must
// be safe for concurrent use.
type Provider interface {
	// Name is the stable identifier used in webhook URLs and stored on links.
	Name() string
	// CreateLink creates a hosted checkout for one link.
	CreateLink(ctx context.Context, p ProviderLinkParams) (ProviderLink, error)
	// FetchStatus asks the provider where a link is; used by reconciliation.
	FetchStatus(ctx context.Context, ref string) (LinkStatus, error)
	// Refund refunds part or all of a paid link. A provider that takes
	// idempotency keys derives one from (LinkID, Seq), so a retry of the
	// same refund never refunds twice.
	Refund(ctx context.Context, p RefundParams) error
	// ParseWebhook verifies the signature within the provider's time
	// tolerance and returns the event. A missing, malformed, wrong or stale
	// signature returns an error wrapping ErrBadSignature.
	ParseWebhook(header http.Header, body []byte) (ProviderEvent, error)
}

// Mode is which of a provider's two worlds a link or an event belongs to:
// test money or live money. Keys of one mode never see the other's
// objects, so a link remembers the mode that made it and an event of the
// other mode is refused for it (Service.HandleWebhook). Empty is a link
// recorded before modes were, or a provider that does not say.
type Mode string

// The modes.
const (
	ModeTest Mode = "test"
	ModeLive Mode = "live"
)

// ProviderState is where a link stands at its provider, money included.
type ProviderState struct {
	Status LinkStatus
	// RefundedAmount is the total refunded so far, in the link currency's
	// minor units; 0 when nothing was, or the provider does not say.
	RefundedAmount int64
	// PaidAt is when the provider took the money, for a settled status;
	// zero when it does not say. Reconciliation applies it as the
	// payment's time, so a link that expired here first is paid only if
	// the money was taken before its expiry (the rule webhooks follow).
	PaidAt time.Time
}

// StateFetcher is a Provider that also reports the refunded total, so
// reconciliation heals a lost refund webhook's amount and not only its
// status. Reconciliation uses FetchState when a provider has it and
// FetchStatus otherwise.
type StateFetcher interface {
	FetchState(ctx context.Context, ref string) (ProviderState, error)
}

// WebhookAcknowledger is a Provider that expects its own answer to a
// webhook taken (Adyen's "[accepted]"), instead of the default JSON.
type WebhookAcknowledger interface {
	WebhookAck() (contentType string, body []byte)
}

// ProviderLinkParams is what a provider needs to create a hosted checkout.
type ProviderLinkParams struct {
	LinkID      string
	CallID      string // for the provider's metadata and logs only
	Amount      int64
	Currency    string
	Items       []Item
	Description string
	ExpiresAt   time.Time // zero means no expiry at the provider
	// ReturnURL is the page the shopper came from, already checked by the
	// caller; empty: the provider's configured return page.
	ReturnURL string
	// Country is the shopper's (ISO 3166-1 alpha-2), if known.
	Country string
	// Locale is the shopper's (BCP 47, as they joined with), if known:
	// the hosted page's language.
	Locale string
}

// CallContext is what payments learns of a link's call from the wiring:
// where its shopper came from.
type CallContext struct {
	// ReturnURL is the shopper's page, checked against the allowed
	// origins; empty when there is none or it is not allowed.
	ReturnURL string
	// Country is the shopper's (ISO 3166-1 alpha-2, upper case), from an
	// explicit field or the locale's region; empty if unknown.
	Country string
	// Locale is the shopper's locale at join (canonical BCP 47, e.g.
	// "nl-NL"); empty if unknown or not a locale.
	Locale string
}

// RefundParams is one refund of a link.
type RefundParams struct {
	Ref      string // the provider's reference of the link
	LinkID   string
	CallID   string // for logs only
	Amount   int64  // minor units, at most what is left to refund
	Currency string // the link's
	// Seq numbers the link's refunds from 1: the n-th refund of a link is
	// the same refund however often it is retried.
	Seq int
}

// ProviderLink is the provider's side of a created link.
type ProviderLink struct {
	Ref         string
	CheckoutURL string
	// Mode is the mode of the key that made the checkout.
	Mode Mode
}

// ProviderEvent is a verified provider webhook, reduced to what moves a
// link. (The events this package publishes are Event.)
type ProviderEvent struct {
	ID          string `json:"id"`
	Provider    string `json:"provider"`
	ProviderRef string `json:"provider_ref"`
	// LinkID finds the link when an event does not carry the reference
	// (a provider's refund event names the payment, not the checkout); it
	// is used only when ProviderRef is empty, and the link must belong to
	// the event's provider.
	LinkID     string     `json:"link_id,omitempty"`
	Status     LinkStatus `json:"status"`
	OccurredAt time.Time  `json:"occurred_at"`
	// RefundedAmount is, for a refund, the total refunded so far in the
	// link currency's minor units; 0 when the provider does not say.
	RefundedAmount int64 `json:"refunded_amount,omitempty"`
	// Mode is the event's own (Stripe's livemode, Adyen's live flag);
	// empty when the provider does not say.
	Mode Mode `json:"mode,omitempty"`
}
