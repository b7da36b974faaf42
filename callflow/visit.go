package callflow

import (
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"

	"guidecall/internal/auth"
	"guidecall/internal/httpjson"
	"guidecall/protocol"
	"guidecall/queue"
)

// visitAnswer is GET /api/v1/calls/{id}/context: the shopper's context
// panel of the guide console, whole, so that a console reloaded mid-call
// shows the same as before (docs/api.md).
type visitAnswer struct {
	CallID     string `json:"call_id"`
	State      string `json:"state"`
	Name       string `json:"name"`
	Queue      string `json:"queue"`
	Locale     string `json:"locale"`
	Currency   string `json:"currency"`
	PageURL    string `json:"page_url"`
	Device     string `json:"device"`
	CustomerID string `json:"customer_id"`
	// TransferNote is what the guide who handed the shopper over wrote
	// (the offer showed it; the call keeps showing it), "" when none did.
	TransferNote string `json:"transfer_note"`
	// Returning says the signed-in customer had an accepted call before
	// this one; PreviousCalls lists them, newest first (at most 10).
	Returning     bool              `json:"returning"`
	PreviousCalls []previousCall    `json:"previous_calls"`
	Viewing       *protocol.Product `json:"viewing"`
	Cart          visitCart         `json:"cart"`
}

type previousCall struct {
	CallID          string     `json:"call_id"`
	Queue           string     `json:"queue"`
	GuideID         string     `json:"guide_id"`
	AcceptedAt      *time.Time `json:"accepted_at"`
	EndedAt         *time.Time `json:"ended_at"`
	DurationSeconds int64      `json:"duration_seconds"`
	Rating          int        `json:"rating"`
}

// visitCart is the shopper's latest cart: its lines, how many items they
// hold and their value per currency (a cart may mix currencies; no sum
// crosses one), in minor units.
type visitCart struct {
	Lines  []protocol.CartLine `json:"lines"`
	Count  int                 `json:"count"`
	Totals []money             `json:"totals"`
}

type money struct {
	Currency string `json:"currency"`
	Amount   int64  `json:"amount"`
}

func (f *Flow) handleCallContext(w http.ResponseWriter, r *http.Request) {
	c, _ := auth.ClaimsFrom(r.Context())
	callID := chi.URLParam(r, "callID")
	v, err := f.queue.Visit(r.Context(), c.Subject, callID)
	if err != nil {
		writeCallError(w, f.log, err)
		return
	}
	items, err := f.queue.CallItems(r.Context(), queue.PartyGuide, c.Subject, callID)
	if err != nil {
		writeCallError(w, f.log, err)
		return
	}
	e := v.Entry
	out := visitAnswer{
		CallID: v.Call.ID, State: string(v.Call.State), Name: e.Name, Queue: e.Queue, Locale: e.Locale,
		Currency: e.Currency, PageURL: e.PageURL, Device: e.Device, CustomerID: e.CustomerID,
		TransferNote: e.TransferNote, Returning: len(v.Previous) > 0, PreviousCalls: []previousCall{},
		Cart: visitCart{Lines: []protocol.CartLine{}, Totals: []money{}},
	}
	for _, p := range v.Previous {
		pc := previousCall{CallID: p.ID, Queue: p.Queue, GuideID: p.GuideID, AcceptedAt: p.AcceptedAt, EndedAt: p.EndedAt, Rating: p.Rating}
		if p.AcceptedAt != nil && p.EndedAt != nil {
			pc.DurationSeconds = int64(p.EndedAt.Sub(*p.AcceptedAt).Seconds())
		}
		out.PreviousCalls = append(out.PreviousCalls, pc)
	}
	// The cart is the shopper's latest cart.update: each replaces the last.
	for _, it := range slices.Backward(items) {
		if it.Kind != queue.ItemCart {
			continue
		}
		var cart protocol.CartUpdate
		if err := json.Unmarshal(it.Body, &cart); err != nil {
			f.log.ErrorContext(r.Context(), "cart item unreadable", "call_id", callID, "item_id", it.ID, "err", err)
			break
		}
		out.Viewing = cart.Viewing
		if cart.Lines != nil {
			out.Cart = cartOf(cart.Lines)
		}
		break
	}
	httpjson.Write(w, http.StatusOK, out)
}

// cartOf counts the cart's items and sums its value per currency, in the
// order the currencies first appear. A sum that would overflow is left
// out rather than shown wrong (validation allows any non-negative price).
func cartOf(lines []protocol.CartLine) visitCart {
	out := visitCart{Lines: lines, Totals: []money{}}
	index := map[string]int{}
	overflow := map[string]bool{}
	for _, l := range lines {
		out.Count += l.Quantity
		i, ok := index[l.Currency]
		if !ok {
			i = len(out.Totals)
			index[l.Currency] = i
			out.Totals = append(out.Totals, money{Currency: l.Currency})
		}
		q := int64(l.Quantity)
		if overflow[l.Currency] || (q > 0 && l.Price > (math.MaxInt64-out.Totals[i].Amount)/q) {
			overflow[l.Currency] = true
			continue
		}
		out.Totals[i].Amount += l.Price * q
	}
	kept := out.Totals[:0]
	for _, t := range out.Totals {
		if !overflow[t.Currency] {
			kept = append(kept, t)
		}
	}
	out.Totals = kept
	return out
}
