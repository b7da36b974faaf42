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
	// Refund refunds amount (minor units) of a paid link.
	Refund(ctx context.Context, ref string, amount int64) error
	// ParseWebhook verifies the signature within the provider's time
	// tolerance and returns the event. A missing, malformed, wrong or stale
	// signature returns an error wrapping ErrBadSignature.
	ParseWebhook(header http.Header, body []byte) (ProviderEvent, error)
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
}

// ProviderLink is the provider's side of a created link.
type ProviderLink struct {
	Ref         string
	CheckoutURL string
}

// ProviderEvent is a verified provider webhook, reduced to what moves a
// link. (The events this package publishes are Event.)
type ProviderEvent struct {
	ID          string     `json:"id"`
	Provider    string     `json:"provider"`
	ProviderRef string     `json:"provider_ref"`
	Status      LinkStatus `json:"status"`
	OccurredAt  time.Time  `json:"occurred_at"`
}
