package adyen

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"guidecall/payments"
)

// Event codes of the standard notifications this provider acts on; every
// other code is answered [accepted] and ignored, so Adyen does not retry it.
const (
	EventAuthorisation   = "AUTHORISATION"
	EventRefund          = "REFUND"
	EventCancelOrRefund  = "CANCEL_OR_REFUND"
	EventCancellation    = "CANCELLATION"
	EventExpire          = "EXPIRE"
	EventRefundFailed    = "REFUND_FAILED"
	EventRefundedReverse = "REFUNDED_REVERSED"
)

// Accepted is the answer Adyen expects to a notification it may stop
// sending.
const Accepted = "[accepted]"

// Notification is Adyen's standard notification body.
type Notification struct {
	Live              string `json:"live"`
	NotificationItems []struct {
		Item NotificationItem `json:"NotificationRequestItem"`
	} `json:"notificationItems"`
}

// NotificationItem is one NotificationRequestItem.
type NotificationItem struct {
	PSPReference        string            `json:"pspReference"`
	OriginalReference   string            `json:"originalReference"`
	MerchantAccountCode string            `json:"merchantAccountCode"`
	MerchantReference   string            `json:"merchantReference"`
	Amount              Amount            `json:"amount"`
	EventCode           string            `json:"eventCode"`
	EventDate           string            `json:"eventDate"`
	Success             string            `json:"success"`
	Reason              string            `json:"reason"`
	AdditionalData      map[string]string `json:"additionalData"`
}

// SigningString is the item's fields in the order Adyen signs them, empty
// ones as empty strings.
func (it NotificationItem) SigningString() string {
	return strings.Join([]string{
		it.PSPReference, it.OriginalReference, it.MerchantAccountCode, it.MerchantReference,
		strconv.FormatInt(it.Amount.Value, 10), it.Amount.Currency, it.EventCode, it.Success,
	}, ":")
}

// Sign is the base64 HMAC-SHA256 of the item under a hex key, as Adyen
// puts it in additionalData.hmacSignature. Tests and the fake sign with it.
func Sign(hexKey []byte, it NotificationItem) string {
	m := hmac.New(sha256.New, hexKey)
	m.Write([]byte(it.SigningString()))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// verify checks the item's signature against every key, in constant time
// for each.
func (p *Provider) verify(it NotificationItem) bool {
	got, err := base64.StdEncoding.DecodeString(it.AdditionalData["hmacSignature"])
	if err != nil || len(got) != sha256.Size {
		return false
	}
	ok := false
	for _, k := range p.keys {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(it.SigningString()))
		if hmac.Equal(got, m.Sum(nil)) {
			ok = true
		}
	}
	return ok
}

// WebhookAck implements payments.WebhookAcknowledger.
func (p *Provider) WebhookAck() (string, []byte) {
	return "text/plain; charset=utf-8", []byte(Accepted)
}

// ParseWebhook implements payments.Provider. Adyen sends one
// NotificationRequestItem per request; a body with any other number is
// refused. The item must be signed with the HMAC key or, during a
// rotation, the previous one; it must be for our merchant account and
// from our environment (the live flag), or it is refused with
// ErrBadWebhook.
func (p *Provider) ParseWebhook(_ http.Header, body []byte) (payments.ProviderEvent, error) {
	it, live, err := ParseNotification(body)
	if err != nil {
		return payments.ProviderEvent{}, err
	}
	if !p.verify(it) {
		return payments.ProviderEvent{}, fmt.Errorf("%w: adyen: hmacSignature of %s %s does not match", payments.ErrBadSignature, it.EventCode, it.PSPReference)
	}
	if live != (p.mode == ModeLive) {
		return payments.ProviderEvent{}, fmt.Errorf("%w: adyen: notification live=%t for a %s-mode provider", payments.ErrBadWebhook, live, p.mode)
	}
	if it.MerchantAccountCode != p.cfg.MerchantAccount {
		return payments.ProviderEvent{}, fmt.Errorf("%w: adyen: notification for merchant account %q", payments.ErrBadWebhook, it.MerchantAccountCode)
	}
	ev, err := p.event(it)
	if err != nil {
		return payments.ProviderEvent{}, err
	}
	ev.Mode = payments.ModeTest
	if live {
		ev.Mode = payments.ModeLive
	}
	return ev, nil
}

// ParseNotification reads a notification body into its one item and the
// live flag, without verifying it. Every failure wraps ErrBadWebhook or
// ErrBadSignature (no signature at all).
func ParseNotification(body []byte) (NotificationItem, bool, error) {
	var n Notification
	if err := json.Unmarshal(body, &n); err != nil {
		return NotificationItem{}, false, fmt.Errorf("%w: adyen: %w", payments.ErrBadWebhook, err)
	}
	if len(n.NotificationItems) != 1 {
		return NotificationItem{}, false, fmt.Errorf("%w: adyen: %d notification items, want 1", payments.ErrBadWebhook, len(n.NotificationItems))
	}
	var live bool
	switch n.Live {
	case "true":
		live = true
	case "false":
	default:
		return NotificationItem{}, false, fmt.Errorf("%w: adyen: live %q", payments.ErrBadWebhook, n.Live)
	}
	it := n.NotificationItems[0].Item
	if it.AdditionalData["hmacSignature"] == "" {
		return NotificationItem{}, false, fmt.Errorf("%w: adyen: notification without hmacSignature", payments.ErrBadSignature)
	}
	if it.PSPReference == "" || it.EventCode == "" || (it.Success != "true" && it.Success != "false") {
		return NotificationItem{}, false, fmt.Errorf("%w: adyen: item without pspReference, eventCode or success", payments.ErrBadWebhook)
	}
	return it, live, nil
}

// refsTimeout bounds the Refs calls of one notification: ParseWebhook has
// no context of its own, and Adyen retries what we fail to answer.
const refsTimeout = 5 * time.Second

// event maps a verified item to a link event.
func (p *Provider) event(it NotificationItem) (payments.ProviderEvent, error) {
	ctx, cancel := context.WithTimeout(context.Background(), refsTimeout)
	defer cancel()
	ok := it.Success == "true"
	out := payments.ProviderEvent{
		// Adyen sends an event again with the same pspReference and code;
		// success is part of the id because a failed and a later
		// successful outcome of one code are two events.
		ID:       it.EventCode + ":" + it.PSPReference + ":" + it.Success,
		Provider: Name,
		LinkID:   it.MerchantReference,
	}
	if t, err := time.Parse(time.RFC3339, it.EventDate); err == nil {
		out.OccurredAt = t.UTC()
	}
	ignored := func(why string) (payments.ProviderEvent, error) {
		return payments.ProviderEvent{}, fmt.Errorf("%w: adyen: %s %s (success=%s): %s", payments.ErrIgnoredEvent, it.EventCode, it.PSPReference, it.Success, why)
	}
	switch it.EventCode {
	case EventAuthorisation:
		if !ok {
			// The shopper may try again on the same payment link until
			// it expires; a refused attempt ends nothing.
			return ignored("a refused attempt; the link stays open (reason " + it.Reason + ")")
		}
		if ref := it.AdditionalData["paymentLinkId"]; ref != "" {
			out.ProviderRef, out.LinkID = ref, ""
		}
		if out.LinkID == "" && out.ProviderRef == "" {
			return ignored("not a payment made by guidecall")
		}
		link := it.MerchantReference
		if link != "" {
			if err := p.cfg.Refs.RememberPayment(ctx, link, it.PSPReference); err != nil {
				// Answered 5xx: Adyen retries, and refunds need the payment.
				return payments.ProviderEvent{}, fmt.Errorf("adyen: remember payment %s of link %s: %w", it.PSPReference, link, err)
			}
		}
		out.Status = payments.StatusPaid
	case EventRefund, EventCancelOrRefund:
		if !ok {
			p.log.Error("adyen refund failed at the provider; refund by hand or retry", "link_id", it.MerchantReference,
				"psp_reference", it.PSPReference, "original_reference", it.OriginalReference, "reason", it.Reason)
			return ignored("a refund that failed")
		}
		if out.LinkID == "" {
			return ignored("not a refund made by guidecall")
		}
		refunded, err := fromAdyen(it.Amount)
		if err != nil || refunded <= 0 {
			return payments.ProviderEvent{}, fmt.Errorf("%w: adyen: refund amount %+v", payments.ErrBadWebhook, it.Amount)
		}
		total, err := p.cfg.Refs.RememberRefund(ctx, it.MerchantReference, it.PSPReference, refunded)
		if err != nil {
			return payments.ProviderEvent{}, fmt.Errorf("adyen: remember refund %s of link %s: %w", it.PSPReference, it.MerchantReference, err)
		}
		out.Status, out.RefundedAmount = payments.StatusPartiallyRefunded, total
		if it.EventCode == EventCancelOrRefund {
			out.Status = payments.StatusRefunded
		}
	case EventCancellation:
		if !ok || out.LinkID == "" {
			return ignored("nothing canceled")
		}
		// An authorisation canceled before capture: no money moved. A
		// link already paid here stays paid (forward only) and
		// reconciliation says so.
		out.Status = payments.StatusCanceled
	case EventExpire:
		if !ok || out.LinkID == "" {
			return ignored("nothing expired")
		}
		out.Status = payments.StatusExpired
	case EventRefundFailed, EventRefundedReverse:
		p.log.Error("adyen refund reversed or failed after it was accepted; refund by hand", "link_id", it.MerchantReference,
			"psp_reference", it.PSPReference, "event_code", it.EventCode, "reason", it.Reason)
		return ignored("a refund undone; the ledger never moves back")
	default:
		return ignored("an event code guidecall does not act on")
	}
	return out, nil
}

// Refs keeps, per link, the pspReference of its payment (refunds are made
// against it) and the refunds Adyen has reported (their total is the
// link's refunded amount). Implementations must be safe for concurrent
// use.
type Refs interface {
	RememberPayment(ctx context.Context, linkID, pspReference string) error
	Payment(ctx context.Context, linkID string) (string, error)
	// RememberRefund records a refund once by its pspReference and returns
	// the link's total refunded so far.
	RememberRefund(ctx context.Context, linkID, pspReference string, amount int64) (int64, error)
}

// MemoryRefs is Refs in this process's memory: lost on restart, not shared
// by a cluster.
type MemoryRefs struct {
	mu       sync.Mutex
	payments map[string]string
	refunds  map[string]map[string]int64
}

// NewMemoryRefs returns an empty MemoryRefs.
func NewMemoryRefs() *MemoryRefs {
	return &MemoryRefs{payments: map[string]string{}, refunds: map[string]map[string]int64{}}
}

// RememberPayment implements Refs.
func (m *MemoryRefs) RememberPayment(_ context.Context, linkID, psp string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.payments[linkID] = psp
	return nil
}

// Payment implements Refs; "" when none is known.
func (m *MemoryRefs) Payment(_ context.Context, linkID string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.payments[linkID], nil
}

// RememberRefund implements Refs.
func (m *MemoryRefs) RememberRefund(_ context.Context, linkID, psp string, amount int64) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.refunds[linkID]
	if r == nil {
		r = map[string]int64{}
		m.refunds[linkID] = r
	}
	r[psp] = amount
	var total int64
	for _, a := range r {
		total += a
	}
	return total, nil
}
