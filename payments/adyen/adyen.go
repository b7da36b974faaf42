package adyen

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"guidecall/payments"
)

// Name is the provider name: links, webhook URL (/webhooks/adyen), logs.
const Name = "adyen"

// TestAPIURL is the Checkout API of Adyen's test environment, the default.
// Live traffic goes to the account's own prefixed endpoint, which has to
// be given (--adyen-api-url).
const TestAPIURL = "https://checkout-test.adyen.com/v71"

// Mode is which of Adyen's two environments the provider talks to.
type Mode string

const (
	ModeTest Mode = "test"
	ModeLive Mode = "live"
)

// APIMode tells the environment of a Checkout API base URL: Adyen's live
// endpoints are https://{prefix}-checkout-live.adyenpayments.com/…; every
// other URL (the test endpoint, a local fake) is test.
func APIMode(apiURL string) (Mode, error) {
	u, err := url.Parse(apiURL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("adyen: API URL %q is not an absolute URL", apiURL)
	}
	if strings.HasSuffix(u.Hostname(), "-checkout-live.adyenpayments.com") {
		return ModeLive, nil
	}
	return ModeTest, nil
}

// Payment link statuses of the Checkout API.
const (
	linkActive         = "active"
	linkExpired        = "expired"
	linkCompleted      = "completed"
	linkPaymentPending = "paymentPending"
)

// Config configures a Provider.
type Config struct {
	APIKey          string // sent as X-API-Key
	MerchantAccount string
	// HMACKey is the hex HMAC key of the standard notification webhook;
	// HMACKeyPrevious, when set, is still accepted: Adyen takes a while to
	// start signing with a newly generated key.
	HMACKey         string
	HMACKeyPrevious string
	// APIURL is the Checkout API base, version included (TestAPIURL if
	// empty; a local fake in tests). It decides the mode.
	APIURL string
	// ReturnURL brings the shopper back after the payment when the link
	// has no page of its own (ProviderLinkParams.ReturnURL); {LINK_ID} is
	// replaced with the link's id.
	ReturnURL string
	// Refs remembers the payment behind each link, learned from its
	// AUTHORISATION notification: refunds need it and the payment link
	// does not tell it. NewMemoryRefs if nil.
	Refs Refs
	// MaxRetries is how often a request that failed on the network or
	// with a 5xx/429 is sent again, with the same idempotency key (2 if
	// zero; negative for none).
	MaxRetries int
	HTTPClient *http.Client
	Logger     *slog.Logger
	Now        func() time.Time
}

// Provider is payments.Provider over Adyen Pay by Link: one payment link
// (a hosted page with its own expiry) per guidecall link.
type Provider struct {
	cfg     Config
	mode    Mode
	keys    [][]byte
	base    string
	retries int
	log     *slog.Logger
}

var _ payments.Provider = (*Provider)(nil)

// New checks cfg and returns a Provider.
func New(cfg Config) (*Provider, error) {
	if cfg.APIKey == "" || cfg.MerchantAccount == "" {
		return nil, errors.New("adyen: an API key and a merchant account are required")
	}
	if cfg.HMACKey == "" {
		return nil, errors.New("adyen: an HMAC key is required")
	}
	var keys [][]byte
	for _, k := range []string{cfg.HMACKey, cfg.HMACKeyPrevious} {
		if k == "" {
			continue
		}
		b, err := hex.DecodeString(k)
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("adyen: an HMAC key must be hex (as the Customer Area shows it): %w", err)
		}
		keys = append(keys, b)
	}
	if cfg.ReturnURL == "" {
		return nil, errors.New("adyen: a return URL is required")
	}
	if cfg.APIURL == "" {
		cfg.APIURL = TestAPIURL
	}
	mode, err := APIMode(cfg.APIURL)
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 20 * time.Second}
	}
	if cfg.Refs == nil {
		cfg.Refs = NewMemoryRefs()
	}
	retries := cfg.MaxRetries
	switch {
	case retries == 0:
		retries = 2
	case retries < 0:
		retries = 0
	}
	return &Provider{
		cfg: cfg, mode: mode, keys: keys, retries: retries,
		base: strings.TrimRight(cfg.APIURL, "/"),
		log:  cfg.Logger.With("provider", Name, "mode", string(mode)),
	}, nil
}

// Name implements payments.Provider.
func (p *Provider) Name() string { return Name }

// Mode is the environment of the provider's API URL.
func (p *Provider) Mode() Mode { return p.mode }

// CreateKey and RefundKey are the Idempotency-Key of our POSTs: derived
// from the link alone, so any retry (ours, a replay of the guide's
// request, another node) gets the first payment link or refund back
// instead of a second one.
func CreateKey(linkID string) string          { return "create-" + linkID }
func RefundKey(linkID string, seq int) string { return "refund-" + linkID + "-" + strconv.Itoa(seq) }

// Amount is Adyen's amount object: value in minor units.
type Amount struct {
	Value    int64  `json:"value"`
	Currency string `json:"currency"`
}

// LineItem is one line of a payment link, shown on the hosted page.
type LineItem struct {
	ID                 string `json:"id,omitempty"`
	Description        string `json:"description"`
	Quantity           int64  `json:"quantity"`
	AmountIncludingTax int64  `json:"amountIncludingTax"`
}

// CreateLinkRequest is the body of POST /paymentLinks.
type CreateLinkRequest struct {
	Reference       string            `json:"reference"`
	Amount          Amount            `json:"amount"`
	MerchantAccount string            `json:"merchantAccount"`
	ReturnURL       string            `json:"returnUrl"`
	ExpiresAt       string            `json:"expiresAt,omitempty"`
	ShopperLocale   string            `json:"shopperLocale,omitempty"`
	CountryCode     string            `json:"countryCode,omitempty"`
	Description     string            `json:"description,omitempty"`
	LineItems       []LineItem        `json:"lineItems,omitempty"`
	Metadata        map[string]string `json:"metadata,omitempty"`
}

// PaymentLink is the part of a payment link resource we read.
type PaymentLink struct {
	ID        string `json:"id"`
	URL       string `json:"url"`
	Status    string `json:"status"`
	Reference string `json:"reference"`
	ExpiresAt string `json:"expiresAt"`
}

// RefundRequest is the body of POST /payments/{pspReference}/refunds.
type RefundRequest struct {
	Amount          Amount `json:"amount"`
	MerchantAccount string `json:"merchantAccount"`
	Reference       string `json:"reference"`
}

// RefundResponse is the part of the refund answer we read. Adyen answers
// "received": the outcome comes in the REFUND notification.
type RefundResponse struct {
	PSPReference        string `json:"pspReference"`
	PaymentPSPReference string `json:"paymentPspReference"`
	Status              string `json:"status"`
}

// APIError is Adyen's error body, with the HTTP status.
type APIError struct {
	HTTPStatus   int    `json:"-"`
	Status       int    `json:"status"`
	ErrorCode    string `json:"errorCode"`
	Message      string `json:"message"`
	ErrorType    string `json:"errorType"`
	PSPReference string `json:"pspReference"`
}

func (e *APIError) Error() string {
	return fmt.Sprintf("adyen: HTTP %d %s (%s): %s", e.HTTPStatus, e.ErrorCode, e.ErrorType, e.Message)
}

// returnURL is where Adyen's page sends the shopper after paying: the
// page they joined the call from (page, already checked against the
// allowed origins by the caller, as for every provider), with the link's
// id and payment=return in its query (Adyen's return does not say the
// outcome; the page asks us) and its fragment dropped; or the configured
// template, {LINK_ID} replaced, when there is no page or it is not an
// absolute http(s) URL.
func returnURL(page, tmpl, linkID string) string {
	u, err := url.Parse(page)
	if page == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return strings.ReplaceAll(tmpl, "{LINK_ID}", linkID)
	}
	q := u.Query()
	q.Set("payment_link", linkID)
	q.Set("payment", "return")
	u.RawQuery, u.Fragment = q.Encode(), ""
	return u.String()
}

// CreateLink implements payments.Provider: one payment link, referenced
// by the link's id.
func (p *Provider) CreateLink(ctx context.Context, lp payments.ProviderLinkParams) (payments.ProviderLink, error) {
	amount, err := toAdyen(lp.Currency, lp.Amount)
	if err != nil {
		return payments.ProviderLink{}, err
	}
	req := CreateLinkRequest{
		Reference:       lp.LinkID,
		Amount:          amount,
		MerchantAccount: p.cfg.MerchantAccount,
		ReturnURL:       returnURL(lp.ReturnURL, p.cfg.ReturnURL, lp.LinkID),
		// The shopper's own, from their join: the hosted page's language
		// and the country whose payment methods it offers. Unknown, Adyen
		// decides from the shopper's browser.
		ShopperLocale: lp.Locale,
		CountryCode:   lp.Country,
		Description:   lp.Description,
		Metadata:      map[string]string{"link_id": lp.LinkID, "call_id": lp.CallID},
	}
	if !lp.ExpiresAt.IsZero() {
		req.ExpiresAt = lp.ExpiresAt.UTC().Format(time.RFC3339)
	}
	for i, it := range lp.Items {
		unit, err := toAdyen(lp.Currency, it.UnitAmount)
		if err != nil {
			return payments.ProviderLink{}, err
		}
		req.LineItems = append(req.LineItems, LineItem{
			ID: strconv.Itoa(i + 1), Description: it.Name, Quantity: it.Quantity, AmountIncludingTax: unit.Value,
		})
	}
	var pl PaymentLink
	if err := p.do(ctx, http.MethodPost, "/paymentLinks", CreateKey(lp.LinkID), req, &pl); err != nil {
		return payments.ProviderLink{}, fmt.Errorf("adyen: create payment link: %w", err)
	}
	if pl.ID == "" || pl.URL == "" {
		return payments.ProviderLink{}, fmt.Errorf("%w: adyen: payment link without id or url", payments.ErrProvider)
	}
	p.log.Info("adyen payment link created", "link_id", lp.LinkID, "call_id", lp.CallID, "provider_ref", pl.ID)
	return payments.ProviderLink{Ref: pl.ID, CheckoutURL: pl.URL, Mode: payments.Mode(p.mode)}, nil
}

// FetchStatus implements payments.Provider. A completed link says paid:
// refunds are known from their notifications only, and the ledger never
// moves back.
func (p *Provider) FetchStatus(ctx context.Context, ref string) (payments.LinkStatus, error) {
	if ref == "" || strings.ContainsAny(ref, "/?#") {
		return "", fmt.Errorf("%w: payment link id %q", payments.ErrInvalidLink, ref)
	}
	var pl PaymentLink
	if err := p.do(ctx, http.MethodGet, "/paymentLinks/"+url.PathEscape(ref), "", nil, &pl); err != nil {
		return "", fmt.Errorf("adyen: fetch payment link %s: %w", ref, err)
	}
	return LinkStatus(pl.Status)
}

// LinkStatus maps a payment link status to ours.
func LinkStatus(s string) (payments.LinkStatus, error) {
	switch s {
	case linkActive:
		return payments.StatusOpen, nil
	case linkPaymentPending:
		// An asynchronous method (a bank transfer, a voucher) is under way.
		return payments.StatusProcessing, nil
	case linkCompleted:
		return payments.StatusPaid, nil
	case linkExpired:
		return payments.StatusExpired, nil
	}
	return "", fmt.Errorf("%w: adyen: payment link status %q", payments.ErrProvider, s)
}

// Refund implements payments.Provider: a refund of the link's payment,
// keyed on (link, n), so the n-th refund happens once however often it is
// retried.
func (p *Provider) Refund(ctx context.Context, rp payments.RefundParams) error {
	if rp.Seq < 1 || rp.Amount <= 0 {
		return fmt.Errorf("%w: refund %d of %d", payments.ErrInvalidLink, rp.Seq, rp.Amount)
	}
	psp, err := p.cfg.Refs.Payment(ctx, rp.LinkID)
	if err != nil {
		return fmt.Errorf("adyen: payment of link %s: %w", rp.LinkID, err)
	}
	if psp == "" {
		return fmt.Errorf("%w: adyen: no authorised payment known for link %s", payments.ErrInvalidTransition, rp.LinkID)
	}
	amount, err := toAdyen(rp.Currency, rp.Amount)
	if err != nil {
		return err
	}
	req := RefundRequest{
		Amount:          amount,
		MerchantAccount: p.cfg.MerchantAccount,
		// The REFUND notification carries this back as merchantReference:
		// it is how the notification finds its link.
		Reference: rp.LinkID,
	}
	var rr RefundResponse
	if err := p.do(ctx, http.MethodPost, "/payments/"+url.PathEscape(psp)+"/refunds", RefundKey(rp.LinkID, rp.Seq), req, &rr); err != nil {
		return fmt.Errorf("adyen: refund %s: %w", rp.Ref, err)
	}
	p.log.Info("adyen refund requested", "link_id", rp.LinkID, "call_id", rp.CallID, "provider_ref", rp.Ref,
		"psp_reference", psp, "refund_psp_reference", rr.PSPReference, "amount", rp.Amount, "seq", rp.Seq)
	return nil
}

// do sends one API request, again on network errors, 5xx and 429 with the
// same idempotency key, and decodes the answer into out.
func (p *Provider) do(ctx context.Context, method, path, idemKey string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	var last error
	for attempt := 0; attempt <= p.retries; attempt++ {
		if attempt > 0 {
			wait := time.Duration(attempt) * 100 * time.Millisecond
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("%w: %w (after %w)", payments.ErrProvider, ctx.Err(), last)
			case <-t.C:
			}
		}
		retry, err := p.once(ctx, method, path, idemKey, body, out)
		if err == nil {
			return nil
		}
		last = err
		if !retry {
			break
		}
		p.log.Warn("adyen request failed; retrying with the same idempotency key", "method", method, "path", path, "attempt", attempt+1, "err", err)
	}
	return fmt.Errorf("%w: %w", payments.ErrProvider, last)
}

func (p *Provider) once(ctx context.Context, method, path, idemKey string, body []byte, out any) (retry bool, err error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, rd)
	if err != nil {
		return false, err
	}
	req.Header.Set("X-API-Key", p.cfg.APIKey)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return ctx.Err() == nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return true, err
	}
	if resp.StatusCode/100 != 2 {
		ae := &APIError{HTTPStatus: resp.StatusCode}
		_ = json.Unmarshal(b, ae)
		return resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests, ae
	}
	if err := json.Unmarshal(b, out); err != nil {
		return false, fmt.Errorf("adyen: answer of %s %s: %w", method, path, err)
	}
	return false, nil
}
