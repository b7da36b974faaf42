package callflow

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"guidecall/internal/httpjson"
	"guidecall/protocol"
	"guidecall/queue"
)

// wrapUpBody is the guide's wrap-up of a call, as sent and as answered.
type wrapUpBody struct {
	Outcome queue.Outcome `json:"outcome"`
	Notes   string        `json:"notes"`
}

// handleWrapUp keeps the guide's outcome and notes with a call it held
// that has ended.
func (f *Flow) handleWrapUp(w http.ResponseWriter, r *http.Request) {
	var body wrapUpBody
	if !decodeBody(w, r, &body) {
		return
	}
	if body.Outcome == "" {
		httpjson.Error(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("outcome: required, one of %v", queue.Outcomes))
		return
	}
	c, err := f.queue.SaveWrapUp(r.Context(), subject(r), chi.URLParam(r, "callID"), queue.WrapUp{Outcome: body.Outcome, Notes: strings.TrimSpace(body.Notes)})
	if err != nil {
		writeCallError(w, f.log, err)
		return
	}
	httpjson.Write(w, http.StatusOK, map[string]any{
		"call_id": c.ID, "outcome": c.Outcome, "notes": c.WrapUpNotes, "wrapped_up_at": c.WrappedUpAt,
	})
}

// historyPayment is a payment link of a past call as the guide's history
// shows it.
type historyPayment struct {
	LinkID         string     `json:"link_id"`
	Amount         int64      `json:"amount"`
	Currency       string     `json:"currency"`
	Description    string     `json:"description,omitempty"`
	Status         string     `json:"status"`
	RefundedAmount int64      `json:"refunded_amount"`
	CreatedAt      time.Time  `json:"created_at"`
	PaidAt         *time.Time `json:"paid_at,omitempty"`
}

// historyCall is one row of GET /guide/calls.
type historyCall struct {
	CallID          string            `json:"call_id"`
	Queue           string            `json:"queue"`
	Shopper         queue.CallShopper `json:"shopper"`
	AcceptedAt      *time.Time        `json:"accepted_at"`
	EndedAt         *time.Time        `json:"ended_at"`
	DurationSeconds int64             `json:"duration_seconds"`
	EndReason       string            `json:"end_reason"`
	Outcome         queue.Outcome     `json:"outcome,omitempty"`
	Notes           string            `json:"notes,omitempty"`
	WrappedUpAt     *time.Time        `json:"wrapped_up_at,omitempty"`
	Rating          int               `json:"rating,omitempty"`
	RatingComment   string            `json:"rating_comment,omitempty"`
	Payments        []historyPayment  `json:"payments"`
}

// parseBound reads from= or to= as RFC 3339 or a date; a date means the
// start of that day (UTC) for from and the end of it for to, so
// from=2026-12-01&to=2026-12-01 is that whole day.
func parseBound(field, v string, end bool) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	d, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q is neither RFC 3339 nor a date like 2026-12-01", field, v)
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

// handleGuideCalls is the signed-in guide's history: calls it answered,
// newest first, with outcome, notes, rating and the payments of each.
// Payments come from the payments domain, joined here: one read for the
// page of calls, not one per call.
func (f *Flow) handleGuideCalls(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	q := queue.GuideCallsQuery{GuideID: subject(r), Text: qs.Get("q"), Limit: 50}
	var err error
	if q.From, err = parseBound("from", qs.Get("from"), false); err == nil {
		q.To, err = parseBound("to", qs.Get("to"), true)
	}
	if err == nil && qs.Get("limit") != "" {
		if q.Limit, err = strconv.Atoi(qs.Get("limit")); err != nil || q.Limit < 1 || q.Limit > queue.MaxHistory {
			err = fmt.Errorf("limit: must be 1-%d", queue.MaxHistory)
		}
	}
	if err != nil {
		httpjson.Error(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	calls, err := f.queue.GuideCalls(r.Context(), q)
	if err != nil {
		writeQueueError(w, f.log, err)
		return
	}
	ids := make([]string, len(calls))
	for i, c := range calls {
		ids[i] = c.ID
	}
	linksOf, err := f.payments.LinksByCalls(r.Context(), ids)
	if err != nil {
		f.log.ErrorContext(r.Context(), "history: payments of calls", "calls", len(ids), "err", err)
		httpjson.Error(w, http.StatusInternalServerError, "internal", "internal error")
		return
	}
	out := make([]historyCall, 0, len(calls))
	for _, c := range calls {
		h := historyCall{
			CallID: c.ID, Queue: c.Queue, Shopper: c.Shopper, AcceptedAt: c.AcceptedAt, EndedAt: c.EndedAt,
			EndReason: c.EndReason, Outcome: c.Outcome, Notes: c.WrapUpNotes, WrappedUpAt: c.WrappedUpAt,
			Rating: c.Rating, RatingComment: c.RatingComment, Payments: []historyPayment{},
		}
		if c.AcceptedAt != nil && c.EndedAt != nil {
			h.DurationSeconds = int64(c.EndedAt.Sub(*c.AcceptedAt).Round(time.Second) / time.Second)
		}
		for _, l := range linksOf[c.ID] {
			h.Payments = append(h.Payments, historyPayment{
				LinkID: l.ID, Amount: l.Amount, Currency: l.Currency, Description: l.Description,
				Status: string(l.Status), RefundedAmount: l.RefundedAmount, CreatedAt: l.CreatedAt, PaidAt: l.PaidAt,
			})
		}
		out = append(out, h)
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"calls": out})
}

// historyRoutes mounts the guide's wrap-up, history and queue overview on r.
func (f *Flow) historyRoutes(r chi.Router) {
	guide := f.cfg.Issuer.Middleware(protocol.RoleGuide)
	r.With(guide).Put("/calls/{callID}/wrap-up", f.handleWrapUp)
	r.With(guide).Get("/guide/calls", f.handleGuideCalls)
	r.With(guide).Get("/guide/queue", f.handleGuideOverview)
}
