package callflow

import (
	"encoding/json"
	"time"

	"guidecall/merchant"
	"guidecall/payments"
	"guidecall/queue"
)

// paymentLinkView is a link as merchants see it: what they need to match
// it to an order, nothing of the provider's internals beyond its name.
type paymentLinkView struct {
	ID          string          `json:"id"`
	CallID      string          `json:"call_id"`
	Provider    string          `json:"provider"`
	Status      string          `json:"status"`
	Amount      int64           `json:"amount"`
	Currency    string          `json:"currency"`
	Items       []payments.Item `json:"items,omitempty"`
	Description string          `json:"description,omitempty"`
	CheckoutURL string          `json:"checkout_url,omitempty"`
	CreatedBy   string          `json:"created_by"`
	CreatedAt   time.Time       `json:"created_at"`
	ExpiresAt   time.Time       `json:"expires_at"`
	PaidAt      *time.Time      `json:"paid_at,omitempty"`
}

func linkData(l payments.Link) json.RawMessage {
	b, _ := json.Marshal(struct {
		PaymentLink paymentLinkView `json:"payment_link"`
	}{paymentLinkView{
		ID: l.ID, CallID: l.CallID, Provider: l.Provider, Status: string(l.Status), Amount: l.Amount,
		Currency: l.Currency, Items: l.Items, Description: l.Description, CheckoutURL: l.CheckoutURL,
		CreatedBy: l.CreatedBy, CreatedAt: l.CreatedAt, ExpiresAt: l.ExpiresAt, PaidAt: l.PaidAt,
	}})
	return b
}

// MerchantPaymentEvents is what merchants are told of a payment event. Its
// ids derive from the payment event's, so the same event recorded twice
// (a relay after a crash) is one merchant event. A refund that arrives
// before the payment it implies also tells of the payment, first.
func MerchantPaymentEvents(e payments.Event) []merchant.Event {
	l := e.EventLink()
	ev := func(suffix, typ string) merchant.Event {
		return merchant.Event{ID: "evt_" + e.EventID() + suffix, Type: typ, CreatedAt: e.EventTime(), Data: linkData(l)}
	}
	switch e := e.(type) {
	case payments.LinkCreated:
		return []merchant.Event{ev("", merchant.PaymentLinkCreated)}
	case payments.LinkStatusChanged:
		switch e.To {
		case payments.StatusPaid:
			return []merchant.Event{ev("", merchant.PaymentSucceeded)}
		case payments.StatusFailed:
			return []merchant.Event{ev("", merchant.PaymentFailed)}
		}
	case payments.RefundRecorded:
		out := []merchant.Event{}
		if e.From == payments.StatusOpen || e.From == payments.StatusProcessing {
			out = append(out, ev(".paid", merchant.PaymentSucceeded))
		}
		return append(out, ev("", merchant.PaymentRefunded))
	}
	return nil
}

type callView struct {
	ID          string     `json:"id"`
	Queue       string     `json:"queue"`
	GuideID     string     `json:"guide_id"`
	EntryID     string     `json:"entry_id"`
	State       string     `json:"state"`
	JoinedAt    time.Time  `json:"joined_at"`
	AcceptedAt  *time.Time `json:"accepted_at,omitempty"`
	ConnectedAt *time.Time `json:"connected_at,omitempty"`
	EndedAt     *time.Time `json:"ended_at,omitempty"`
	EndReason   string     `json:"end_reason,omitempty"`
}

func callViewOf(c queue.Call) callView {
	return callView{ID: c.ID, Queue: c.Queue, GuideID: c.GuideID, EntryID: c.EntryID, State: string(c.State),
		JoinedAt: c.JoinedAt, AcceptedAt: c.AcceptedAt, ConnectedAt: c.ConnectedAt, EndedAt: c.EndedAt, EndReason: c.EndReason}
}

func callData(c queue.Call) json.RawMessage {
	b, _ := json.Marshal(struct {
		Call callView `json:"call"`
	}{callViewOf(c)})
	return b
}

// ratingView is a shopper's rating as merchants see it. Comment and
// customer id are the shopper's own words and identity: merchant's
// retention purge and erasure blank them (merchant/privacy.go).
type ratingView struct {
	CallID     string    `json:"call_id"`
	EntryID    string    `json:"entry_id"`
	CustomerID string    `json:"customer_id,omitempty"`
	Score      int       `json:"score"`
	Comment    string    `json:"comment"`
	RatedAt    time.Time `json:"rated_at"`
}

func ratingData(e queue.CallRated) json.RawMessage {
	r := ratingView{CallID: e.Call.ID, EntryID: e.Call.EntryID, CustomerID: e.CustomerID,
		Score: e.Call.Rating, Comment: e.Call.RatingComment, RatedAt: e.At}
	if e.Call.RatedAt != nil {
		r.RatedAt = *e.Call.RatedAt
	}
	b, _ := json.Marshal(struct {
		Call   callView   `json:"call"`
		Rating ratingView `json:"rating"`
	}{callViewOf(e.Call), r})
	return b
}

// MerchantQueueEvents is what merchants are told of a queue event:
// call.started when a guide accepted (the call is matched), call.ended
// when it finished, call.rated when its shopper rated it,
// callback.requested when a shopper asked to be called back. Ids derive
// from the call, not the queue event, so nodes that each see the event
// record it once.
func MerchantQueueEvents(e queue.Event) []merchant.Event {
	switch e := e.(type) {
	case queue.CallMatched:
		return []merchant.Event{{ID: "evt_call_started_" + e.Call.ID, Type: merchant.CallStarted, CreatedAt: e.At, Data: callData(e.Call)}}
	case queue.CallFinished:
		return []merchant.Event{{ID: "evt_call_ended_" + e.Call.ID, Type: merchant.CallEnded, CreatedAt: e.At, Data: callData(e.Call)}}
	case queue.CallRated:
		return []merchant.Event{{ID: "evt_call_rated_" + e.Call.ID, Type: merchant.CallRated, CreatedAt: e.At, Data: ratingData(e)}}
	case queue.CallbackChanged:
		if e.Callback.State != queue.CallbackOpen {
			return nil // claimed or done: the merchant heard of it when it was asked for
		}
		b, _ := json.Marshal(struct {
			Callback queue.Callback `json:"callback"`
		}{e.Callback})
		return []merchant.Event{{ID: "evt_callback_requested_" + e.Callback.ID, Type: merchant.CallbackRequested, CreatedAt: e.At, Data: b}}
	}
	return nil
}
