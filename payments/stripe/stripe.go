package stripe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	stripego "github.com/stripe/stripe-go/v82"

	"guidecall/payments"
	"guidecall/webhook"
)

// Name is the provider name: links, webhook URL (/webhooks/stripe), logs.
const Name = "stripe"

// SignatureHeader carries Stripe's webhook signature.
const SignatureHeader = "Stripe-Signature"

// Stripe's own bounds on a Checkout Session's expires_at, measured from
// its creation. Margins keep clock skew between us and Stripe from
// turning a valid request into a refused one.
const (
	minSessionLifetime = 30*time.Minute + time.Minute
	maxSessionLifetime = 24*time.Hour - 2*time.Minute
)

// Event types this provider acts on. Every other type is answered 200 and
// ignored, so an endpoint subscribed to more than these does not pile up
// retries.
const (
	EventSessionCompleted           = "checkout.session.completed"
	EventSessionAsyncPaymentSuccess = "checkout.session.async_payment_succeeded"
	EventSessionAsyncPaymentFailed  = "checkout.session.async_payment_failed"
	EventSessionExpired             = "checkout.session.expired"
	EventChargeRefunded             = "charge.refunded"
)

// Mode is which of Stripe's two worlds a key, a session or an event is in.
type Mode string

const (
	ModeTest Mode = "test"
	ModeLive Mode = "live"
)

// KeyMode tells the mode of a secret or restricted key by its prefix.
func KeyMode(key string) (Mode, error) {
	switch {
	case strings.HasPrefix(key, "sk_test_"), strings.HasPrefix(key, "rk_test_"):
		return ModeTest, nil
	case strings.HasPrefix(key, "sk_live_"), strings.HasPrefix(key, "rk_live_"):
		return ModeLive, nil
	}
	return "", errors.New("stripe: the secret key must start with sk_test_, rk_test_, sk_live_ or rk_live_")
}

// Config configures a Provider.
type Config struct {
	SecretKey     string // sk_test_… or sk_live_…; its mode is the provider's
	WebhookSecret string // whsec_… of the endpoint that posts to /webhooks/stripe
	// APIURL replaces Stripe's API (stripe-mock in tests); empty is Stripe.
	APIURL string
	// SuccessURL and CancelURL bring the shopper back after the checkout;
	// {LINK_ID} is replaced with the link's id (and Stripe replaces
	// {CHECKOUT_SESSION_ID} itself). Both are required.
	SuccessURL string
	CancelURL  string
	// PaymentMethodTypes lists, per ISO currency code or "CUR/CC" (a
	// currency and the shopper's country, which wins), the method types a
	// session offers (card, ideal, grabpay, konbini…); "*" is the default
	// for other currencies. Empty lets Stripe choose from the dashboard's
	// settings.
	PaymentMethodTypes map[string][]string
	// MaxNetworkRetries is how often stripe-go retries a request that
	// failed on the network or with a retryable status, with the same
	// idempotency key (2 if zero; negative for none).
	MaxNetworkRetries int
	HTTPClient        *http.Client
	Logger            *slog.Logger
	Now               func() time.Time
}

// Provider is payments.Provider over Stripe Checkout Sessions: one session
// per link, never a reusable Payment Link, so each link has its own expiry
// and its own outcome.
type Provider struct {
	cfg    Config
	mode   Mode
	client *stripego.Client
	log    *slog.Logger
}

var _ payments.Provider = (*Provider)(nil)

// New checks cfg and returns a Provider.
func New(cfg Config) (*Provider, error) {
	mode, err := KeyMode(cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	if cfg.WebhookSecret == "" {
		return nil, errors.New("stripe: a webhook secret is required")
	}
	if cfg.SuccessURL == "" || cfg.CancelURL == "" {
		return nil, errors.New("stripe: success and cancel URLs are required")
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
	retries := int64(cfg.MaxNetworkRetries)
	switch {
	case retries == 0:
		retries = 2
	case retries < 0:
		retries = 0
	}
	log := cfg.Logger.With("provider", Name, "mode", string(mode))
	bc := &stripego.BackendConfig{
		HTTPClient:        cfg.HTTPClient,
		MaxNetworkRetries: &retries,
		LeveledLogger:     slogLeveled{log},
	}
	if cfg.APIURL != "" {
		u := strings.TrimRight(cfg.APIURL, "/")
		bc.URL = &u
	}
	c := stripego.NewClient(cfg.SecretKey, stripego.WithBackends(stripego.NewBackendsWithConfig(bc)))
	return &Provider{cfg: cfg, mode: mode, client: c, log: log}, nil
}

// Name implements payments.Provider.
func (p *Provider) Name() string { return Name }

// Mode is the mode of the provider's key.
func (p *Provider) Mode() Mode { return p.mode }

// CreateKey and RefundKey are the idempotency keys of our POSTs: derived
// from the link alone, so that any retry (stripe-go's own, a replay of the
// guide's request, another node) gets the first session or refund back
// instead of a second one.
func CreateKey(linkID string) string          { return "create-" + linkID }
func RefundKey(linkID string, seq int) string { return "refund-" + linkID + "-" + strconv.Itoa(seq) }

// CreateLink implements payments.Provider: one Checkout Session with the
// link's lines as inline price_data.
func (p *Provider) CreateLink(ctx context.Context, lp payments.ProviderLinkParams) (payments.ProviderLink, error) {
	cur := strings.ToLower(lp.Currency)
	items := lp.Items
	if len(items) == 0 {
		name := lp.Description
		if name == "" {
			name = "Payment " + lp.LinkID
		}
		items = []payments.Item{{Name: name, Quantity: 1, UnitAmount: lp.Amount}}
	}
	params := &stripego.CheckoutSessionCreateParams{
		Mode:              stripego.String(string(stripego.CheckoutSessionModePayment)),
		ClientReferenceID: stripego.String(lp.LinkID),
		SuccessURL:        stripego.String(returnURL(lp.ReturnURL, p.cfg.SuccessURL, lp.LinkID, "success")),
		CancelURL:         stripego.String(returnURL(lp.ReturnURL, p.cfg.CancelURL, lp.LinkID, "canceled")),
		// The page in the shopper's language, as they joined the call.
		Locale: stripego.String(checkoutLocale(lp.Locale)),
		// The shopper pays what the guide quoted, in the link's currency.
		AdaptivePricing: &stripego.CheckoutSessionCreateAdaptivePricingParams{Enabled: stripego.Bool(false)},
		Metadata:        map[string]string{"link_id": lp.LinkID, "call_id": lp.CallID},
		PaymentIntentData: &stripego.CheckoutSessionCreatePaymentIntentDataParams{
			// Refund events carry the charge, not the session: this is
			// how they find their link.
			Metadata: map[string]string{"link_id": lp.LinkID, "call_id": lp.CallID},
		},
	}
	if lp.Description != "" {
		params.PaymentIntentData.Description = stripego.String(lp.Description)
	}
	for _, it := range items {
		unit, err := stripeAmount(lp.Currency, it.UnitAmount)
		if err != nil {
			return payments.ProviderLink{}, err
		}
		params.LineItems = append(params.LineItems, &stripego.CheckoutSessionCreateLineItemParams{
			Quantity: stripego.Int64(it.Quantity),
			PriceData: &stripego.CheckoutSessionCreateLineItemPriceDataParams{
				Currency:    stripego.String(cur),
				UnitAmount:  stripego.Int64(unit),
				ProductData: &stripego.CheckoutSessionCreateLineItemPriceDataProductDataParams{Name: stripego.String(it.Name)},
			},
		})
	}
	for _, t := range p.methodTypes(lp.Currency, lp.Country) {
		params.PaymentMethodTypes = append(params.PaymentMethodTypes, stripego.String(t))
	}
	if exp, ok := p.sessionExpiry(lp.ExpiresAt); ok {
		params.ExpiresAt = stripego.Int64(exp.Unix())
	}
	params.SetIdempotencyKey(CreateKey(lp.LinkID))
	s, err := p.client.V1CheckoutSessions.Create(ctx, params)
	if err != nil {
		return payments.ProviderLink{}, fmt.Errorf("stripe: create checkout session: %w", err)
	}
	if s.ID == "" || s.URL == "" {
		return payments.ProviderLink{}, fmt.Errorf("stripe: checkout session without id or url")
	}
	p.log.Info("stripe checkout session created", "link_id", lp.LinkID, "call_id", lp.CallID, "provider_ref", s.ID)
	return payments.ProviderLink{Ref: s.ID, CheckoutURL: s.URL, Mode: payments.Mode(p.mode)}, nil
}

// sessionExpiry is the session's expires_at for a link expiring at
// linkExpiry, clamped into Stripe's window. A link longer than Stripe
// allows is expired by Stripe first, and its checkout.session.expired
// event expires the link. ok is false for no expiry (Stripe's default,
// 24 hours).
func (p *Provider) sessionExpiry(linkExpiry time.Time) (time.Time, bool) {
	if linkExpiry.IsZero() {
		return time.Time{}, false
	}
	now := p.cfg.Now()
	if earliest := now.Add(minSessionLifetime); linkExpiry.Before(earliest) {
		return earliest, true
	}
	if latest := now.Add(maxSessionLifetime); linkExpiry.After(latest) {
		return latest, true
	}
	return linkExpiry, true
}

// methodTypes are the types for the shopper's currency and country, then
// for the currency, then the default.
func (p *Provider) methodTypes(currency, country string) []string {
	cur := strings.ToUpper(currency)
	if t, ok := p.cfg.PaymentMethodTypes[cur+"/"+strings.ToUpper(country)]; ok && country != "" {
		return t
	}
	if t, ok := p.cfg.PaymentMethodTypes[cur]; ok {
		return t
	}
	return p.cfg.PaymentMethodTypes["*"]
}

func expand(tmpl, linkID string) string { return strings.ReplaceAll(tmpl, "{LINK_ID}", linkID) }

// returnURL is where the shopper lands after the checkout: the page they
// came from with the link's id and the outcome in its query, or the
// configured template when there is no such page (or it does not parse).
func returnURL(page, tmpl, linkID, outcome string) string {
	if page == "" {
		return expand(tmpl, linkID)
	}
	u, err := url.Parse(page)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return expand(tmpl, linkID)
	}
	q := u.Query()
	q.Set("payment_link", linkID)
	q.Set("payment", outcome)
	u.RawQuery, u.Fragment = q.Encode(), ""
	return u.String()
}

// retrieve reads a session with what tells its refunds.
func (p *Provider) retrieve(ctx context.Context, ref string) (*stripego.CheckoutSession, error) {
	if err := p.ownRef(ref); err != nil {
		return nil, err
	}
	params := &stripego.CheckoutSessionRetrieveParams{}
	params.AddExpand("payment_intent.latest_charge")
	s, err := p.client.V1CheckoutSessions.Retrieve(ctx, ref, params)
	if err != nil {
		return nil, fmt.Errorf("stripe: retrieve checkout session %s: %w", ref, err)
	}
	return s, nil
}

// FetchStatus implements payments.Provider.
func (p *Provider) FetchStatus(ctx context.Context, ref string) (payments.LinkStatus, error) {
	s, err := p.retrieve(ctx, ref)
	if err != nil {
		return "", err
	}
	return sessionStatus(s), nil
}

// FetchState implements payments.StateFetcher: the status, the refunded
// total and the creation time of the session's latest charge.
func (p *Provider) FetchState(ctx context.Context, ref string) (payments.ProviderState, error) {
	s, err := p.retrieve(ctx, ref)
	if err != nil {
		return payments.ProviderState{}, err
	}
	st := payments.ProviderState{Status: sessionStatus(s)}
	if pi := s.PaymentIntent; pi != nil && pi.LatestCharge != nil {
		st.RefundedAmount = pi.LatestCharge.AmountRefunded
		if pi.LatestCharge.Paid && pi.LatestCharge.Created > 0 {
			// When the money was taken: an expired link becomes paid
			// only for a charge made before its expiry.
			st.PaidAt = time.Unix(pi.LatestCharge.Created, 0).UTC()
		}
	}
	return st, nil
}

// sessionStatus is where a session stands, refunds included.
func sessionStatus(s *stripego.CheckoutSession) payments.LinkStatus {
	switch s.Status {
	case stripego.CheckoutSessionStatusExpired:
		return payments.StatusExpired
	case stripego.CheckoutSessionStatusComplete:
		switch s.PaymentStatus {
		case stripego.CheckoutSessionPaymentStatusUnpaid:
			// An asynchronous method (konbini, a bank debit) is under way.
			return payments.StatusProcessing
		case stripego.CheckoutSessionPaymentStatusPaid, stripego.CheckoutSessionPaymentStatusNoPaymentRequired:
			if pi := s.PaymentIntent; pi != nil {
				if pi.Status == stripego.PaymentIntentStatusCanceled {
					return payments.StatusFailed
				}
				if ch := pi.LatestCharge; ch != nil {
					return chargeStatus(ch.Amount, ch.AmountRefunded)
				}
			}
			return payments.StatusPaid
		}
	}
	return payments.StatusOpen
}

func chargeStatus(amount, refunded int64) payments.LinkStatus {
	switch {
	case refunded <= 0:
		return payments.StatusPaid
	case refunded >= amount:
		return payments.StatusRefunded
	}
	return payments.StatusPartiallyRefunded
}

// Refund implements payments.Provider: a refund of the session's payment
// intent, keyed on (link, n), so that the n-th refund happens once however
// often it is retried.
func (p *Provider) Refund(ctx context.Context, rp payments.RefundParams) error {
	if rp.Seq < 1 || rp.Amount <= 0 {
		return fmt.Errorf("%w: refund %d of %d", payments.ErrInvalidLink, rp.Seq, rp.Amount)
	}
	s, err := p.retrieve(ctx, rp.Ref)
	if err != nil {
		return err
	}
	if s.PaymentIntent == nil || s.PaymentIntent.ID == "" {
		return fmt.Errorf("%w: session %s has no payment to refund", payments.ErrInvalidTransition, rp.Ref)
	}
	cur := rp.Currency
	if s.Currency != "" {
		cur = string(s.Currency)
	}
	amount, err := stripeAmount(cur, rp.Amount)
	if err != nil {
		return err
	}
	params := &stripego.RefundCreateParams{
		PaymentIntent: stripego.String(s.PaymentIntent.ID),
		Amount:        stripego.Int64(amount),
		Metadata:      map[string]string{"link_id": rp.LinkID, "call_id": rp.CallID, "seq": strconv.Itoa(rp.Seq)},
	}
	params.SetIdempotencyKey(RefundKey(rp.LinkID, rp.Seq))
	r, err := p.client.V1Refunds.Create(ctx, params)
	if err != nil {
		return fmt.Errorf("stripe: refund %s: %w", rp.Ref, err)
	}
	p.log.Info("stripe refund created", "link_id", rp.LinkID, "call_id", rp.CallID, "provider_ref", rp.Ref,
		"refund_id", r.ID, "amount", rp.Amount, "seq", rp.Seq)
	return nil
}

// ownRef refuses a session id of the other mode: a link made with a test
// key is never looked up, refunded or moved with a live one, nor the
// reverse.
func (p *Provider) ownRef(ref string) error {
	want := "cs_" + string(p.mode) + "_"
	if !strings.HasPrefix(ref, want) {
		return fmt.Errorf("%w: session %q is not a %s-mode session", payments.ErrInvalidLink, ref, p.mode)
	}
	return nil
}

// event is the part of a Stripe event we read; the object is decoded by
// type below.
type event struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Created    int64  `json:"created"`
	Livemode   bool   `json:"livemode"`
	APIVersion string `json:"api_version"`
	Data       struct {
		Object json.RawMessage `json:"object"`
	} `json:"data"`
}

// ParseWebhook implements payments.Provider. The signature is Stripe's
// t=…,v1=… scheme, checked by webhook.Verify: every v1 compared in
// constant time, and the timestamp within 5 minutes in both directions
// (stripe-go refuses only old ones; a far-future timestamp is as much a
// replay risk). An event of another mode, or of an API version whose
// shape this code was not written for, is refused with ErrBadWebhook.
func (p *Provider) ParseWebhook(header http.Header, body []byte) (payments.ProviderEvent, error) {
	if err := webhook.Verify([]byte(p.cfg.WebhookSecret), header.Get(SignatureHeader), body, p.cfg.Now(), webhook.DefaultTolerance); err != nil {
		return payments.ProviderEvent{}, fmt.Errorf("%w: %w", payments.ErrBadSignature, err)
	}
	var ev event
	if err := json.Unmarshal(body, &ev); err != nil {
		return payments.ProviderEvent{}, fmt.Errorf("%w: %w", payments.ErrBadWebhook, err)
	}
	if ev.ID == "" || ev.Type == "" {
		return payments.ProviderEvent{}, fmt.Errorf("%w: event without id or type", payments.ErrBadWebhook)
	}
	if (ev.Livemode && p.mode != ModeLive) || (!ev.Livemode && p.mode != ModeTest) {
		return payments.ProviderEvent{}, fmt.Errorf("%w: event %s livemode=%t for a %s-mode key", payments.ErrBadWebhook, ev.ID, ev.Livemode, p.mode)
	}
	if !compatibleAPIVersion(ev.APIVersion) {
		// The endpoint's API version decides the shape of every object in
		// it. Refusing makes Stripe retry, and reconciliation (which reads
		// sessions with the SDK's pinned version) heals the links meanwhile.
		p.log.Error("stripe webhook of an API version this build does not read; set the endpoint's version",
			"event_id", ev.ID, "api_version", ev.APIVersion, "want", stripego.APIVersion)
		return payments.ProviderEvent{}, fmt.Errorf("%w: api_version %q, want the %q release", payments.ErrBadWebhook, ev.APIVersion, stripego.APIVersion)
	}
	out := payments.ProviderEvent{ID: ev.ID, Provider: Name, OccurredAt: time.Unix(ev.Created, 0).UTC(), Mode: payments.ModeTest}
	if ev.Livemode {
		out.Mode = payments.ModeLive
	}
	switch ev.Type {
	case EventSessionCompleted, EventSessionAsyncPaymentSuccess, EventSessionAsyncPaymentFailed, EventSessionExpired:
		var s struct {
			ID            string            `json:"id"`
			Object        string            `json:"object"`
			PaymentStatus string            `json:"payment_status"`
			Metadata      map[string]string `json:"metadata"`
		}
		if err := json.Unmarshal(ev.Data.Object, &s); err != nil || s.Object != "checkout.session" || s.ID == "" {
			return payments.ProviderEvent{}, fmt.Errorf("%w: %s without a checkout session", payments.ErrBadWebhook, ev.Type)
		}
		if err := p.ownRef(s.ID); err != nil {
			return payments.ProviderEvent{}, fmt.Errorf("%w: %w", payments.ErrBadWebhook, err)
		}
		out.ProviderRef = s.ID
		switch ev.Type {
		case EventSessionCompleted:
			out.Status = payments.StatusPaid
			if s.PaymentStatus == string(stripego.CheckoutSessionPaymentStatusUnpaid) {
				out.Status = payments.StatusProcessing
			}
		case EventSessionAsyncPaymentSuccess:
			out.Status = payments.StatusPaid
		case EventSessionAsyncPaymentFailed:
			out.Status = payments.StatusFailed
		case EventSessionExpired:
			out.Status = payments.StatusExpired
		}
	case EventChargeRefunded:
		var ch struct {
			Object         string            `json:"object"`
			Amount         int64             `json:"amount"`
			AmountRefunded int64             `json:"amount_refunded"`
			Currency       string            `json:"currency"`
			Metadata       map[string]string `json:"metadata"`
		}
		if err := json.Unmarshal(ev.Data.Object, &ch); err != nil || ch.Object != "charge" {
			return payments.ProviderEvent{}, fmt.Errorf("%w: %s without a charge", payments.ErrBadWebhook, ev.Type)
		}
		if ch.Metadata["link_id"] == "" {
			return payments.ProviderEvent{}, fmt.Errorf("%w: %s %s: a charge not made by guidecall", payments.ErrIgnoredEvent, ev.Type, ev.ID)
		}
		out.LinkID = ch.Metadata["link_id"]
		out.Status = chargeStatus(ch.Amount, ch.AmountRefunded)
		if refunded, err := isoAmount(ch.Currency, ch.AmountRefunded); err == nil {
			out.RefundedAmount = refunded
		}
		if out.Status == payments.StatusPaid {
			return payments.ProviderEvent{}, fmt.Errorf("%w: %s %s refunds nothing", payments.ErrBadWebhook, ev.Type, ev.ID)
		}
	default:
		return payments.ProviderEvent{}, fmt.Errorf("%w: type %s", payments.ErrIgnoredEvent, ev.Type)
	}
	return out, nil
}

// compatibleAPIVersion accepts the release train ("2025-08-27.basil" →
// "basil") of the SDK's pinned version: Stripe keeps objects compatible
// within a train.
func compatibleAPIVersion(v string) bool {
	_, train, ok := strings.Cut(v, ".")
	_, want, _ := strings.Cut(stripego.APIVersion, ".")
	return ok && train == want
}

// stripeAmount converts an ISO 4217 minor-unit amount to Stripe's unit
// for the currency. Stripe mostly follows ISO, but counts ISK in
// hundredths and some ISO two-decimal currencies in whole units, and
// wants three-decimal amounts to end in 0; an amount that cannot be
// expressed exactly is refused rather than rounded.
func stripeAmount(currency string, amount int64) (int64, error) {
	iso, err := payments.MinorUnits(currency)
	if err != nil {
		return 0, err
	}
	cur := strings.ToUpper(currency)
	want := 2
	switch {
	case stripeZeroDecimal[cur]:
		want = 0
	case stripeThreeDecimal[cur]:
		if amount%10 != 0 {
			return 0, fmt.Errorf("%w: Stripe takes %s amounts in multiples of 10 minor units, got %d", payments.ErrInvalidLink, cur, amount)
		}
		return amount, nil
	}
	for ; iso < want; iso++ {
		amount *= 10
	}
	for ; iso > want; iso-- {
		if amount%10 != 0 {
			return 0, fmt.Errorf("%w: Stripe takes %s in units of %d decimals, %d minor units do not fit", payments.ErrInvalidLink, cur, want, amount)
		}
		amount /= 10
	}
	return amount, nil
}

// isoAmount is stripeAmount backwards: a Stripe amount in ISO 4217 minor
// units of currency.
func isoAmount(currency string, amount int64) (int64, error) {
	iso, err := payments.MinorUnits(currency)
	if err != nil {
		return 0, err
	}
	cur := strings.ToUpper(currency)
	have := 2
	switch {
	case stripeZeroDecimal[cur]:
		have = 0
	case stripeThreeDecimal[cur]:
		return amount, nil
	}
	for ; have < iso; have++ {
		amount *= 10
	}
	for ; have > iso; have-- {
		amount /= 10
	}
	return amount, nil
}

// Stripe's currency rules (its "Supported currencies" page).
var (
	stripeZeroDecimal = map[string]bool{
		"BIF": true, "CLP": true, "DJF": true, "GNF": true, "JPY": true, "KMF": true, "KRW": true, "MGA": true,
		"PYG": true, "RWF": true, "UGX": true, "VND": true, "VUV": true, "XAF": true, "XOF": true, "XPF": true,
	}
	stripeThreeDecimal = map[string]bool{"BHD": true, "JOD": true, "KWD": true, "OMR": true, "TND": true}
)

// slogLeveled hands stripe-go's own log lines (retries, errors) to slog.
type slogLeveled struct{ log *slog.Logger }

func (l slogLeveled) Debugf(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l slogLeveled) Infof(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l slogLeveled) Warnf(format string, v ...any)  { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l slogLeveled) Errorf(format string, v ...any) { l.log.Warn(fmt.Sprintf(format, v...)) }
