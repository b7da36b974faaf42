package callflow

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"guidecall/internal/auth"
	"guidecall/internal/httpjson"
	"guidecall/protocol"
	"guidecall/queue"
)

// maxAdminBody bounds the admin and callback request bodies.
const maxAdminBody = 64 << 10

// decodeBody reads one JSON object into v, refusing unknown fields so a
// misspelt rule is an error rather than silently ignored, and, like every
// body of the API, a NUL anywhere or bytes that are not UTF-8 (httpjson).
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := httpjson.DecodeObject(http.MaxBytesReader(w, r.Body, maxAdminBody), v, true); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpjson.Error(w, http.StatusRequestEntityTooLarge, "too_large", "body over 64 KiB")
			return false
		}
		httpjson.Error(w, http.StatusBadRequest, "bad_request", "body must be one JSON object: "+err.Error())
		return false
	}
	return true
}

// closedBody is the join refusal of a closed queue: the usual error shape
// with the next opening and where to leave a callback.
type closedBody struct {
	Error struct {
		Code        string     `json:"code"`
		Message     string     `json:"message"`
		Queue       string     `json:"queue"`
		NextOpenAt  *time.Time `json:"next_open_at"`
		CallbackURL string     `json:"callback_url"`
	} `json:"error"`
}

// writeRoutingError is writeQueueError plus the closed queue.
func (f *Flow) writeRoutingError(w http.ResponseWriter, err error) {
	var closed *queue.ClosedError
	if errors.As(err, &closed) {
		var b closedBody
		b.Error.Code, b.Error.Message, b.Error.Queue = "queue_closed", closed.Error(), closed.Queue
		b.Error.NextOpenAt = closed.NextOpen
		b.Error.CallbackURL = "/api/v1/queues/" + closed.Queue + "/callbacks"
		httpjson.Write(w, http.StatusConflict, b)
		return
	}
	if errors.Is(err, queue.ErrNotParty) {
		httpjson.Error(w, http.StatusForbidden, "forbidden", err.Error())
		return
	}
	writeQueueError(w, f.log, err)
}

func (f *Flow) handleQueueStatus(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	st, err := f.queue.QueueStatus(r.Context(), chi.URLParam(r, "name"), queue.StatusFor{
		Locale: q.Get("locale"), SecondLanguage: q.Get("second_language"), Skill: q.Get("skill"),
	})
	if err != nil {
		f.writeRoutingError(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, st)
}

func (f *Flow) handleCallbackRequest(w http.ResponseWriter, r *http.Request) {
	var p queue.CallbackParams
	if !decodeBody(w, r, &p) {
		return
	}
	p.CustomerID = ""
	if p.CustomerToken != "" {
		c, err := verifyCustomer(p.CustomerToken, f.cfg.CustomerSecret, time.Now)
		if err != nil {
			httpjson.Error(w, http.StatusBadRequest, "bad_customer_token", err.Error())
			return
		}
		p.CustomerID = c.ID
	}
	cb, err := f.queue.RequestCallback(r.Context(), chi.URLParam(r, "name"), p)
	if err != nil {
		f.writeRoutingError(w, err)
		return
	}
	// The shopper learns only that it is recorded, not other callbacks.
	httpjson.Write(w, http.StatusCreated, map[string]any{"callback_id": cb.ID, "queue": cb.Queue, "state": cb.State})
}

func subject(r *http.Request) string {
	c, _ := auth.ClaimsFrom(r.Context())
	return c.Subject
}

func (f *Flow) handleCallbacksList(w http.ResponseWriter, r *http.Request) {
	cbs, err := f.queue.Callbacks(r.Context(), subject(r))
	if err != nil {
		f.writeRoutingError(w, err)
		return
	}
	if cbs == nil {
		cbs = []queue.Callback{}
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"callbacks": cbs})
}

func (f *Flow) handleCallbackClaim(w http.ResponseWriter, r *http.Request) {
	cb, err := f.queue.ClaimCallback(r.Context(), subject(r), chi.URLParam(r, "id"))
	if err != nil {
		f.writeRoutingError(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, cb)
}

func (f *Flow) handleCallbackOutcome(w http.ResponseWriter, r *http.Request) {
	var p struct {
		Outcome string `json:"outcome"`
		Note    string `json:"note"`
	}
	if !decodeBody(w, r, &p) {
		return
	}
	cb, err := f.queue.CallbackOutcome(r.Context(), subject(r), chi.URLParam(r, "id"), p.Outcome, p.Note)
	if err != nil {
		f.writeRoutingError(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, cb)
}

func (f *Flow) handleQueuesList(w http.ResponseWriter, r *http.Request) {
	qs, err := f.queue.Queues(r.Context())
	if err != nil {
		f.writeRoutingError(w, err)
		return
	}
	if qs == nil {
		qs = []queue.Queue{}
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"queues": qs})
}

func (f *Flow) handleQueueCreate(w http.ResponseWriter, r *http.Request) {
	var q queue.Queue
	if !decodeBody(w, r, &q) {
		return
	}
	out, err := f.queue.CreateQueue(r.Context(), q)
	if err != nil {
		f.writeRoutingError(w, err)
		return
	}
	httpjson.Write(w, http.StatusCreated, out)
}

func (f *Flow) handleQueueGet(w http.ResponseWriter, r *http.Request) {
	q, err := f.queue.Queue(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		f.writeRoutingError(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, q)
}

// handleQueuePatch merges the body's fields onto the record: a field the
// body leaves out keeps its value; "hours": null means around the clock.
func (f *Flow) handleQueuePatch(w http.ResponseWriter, r *http.Request) {
	var raw json.RawMessage
	if !decodeBody(w, r, &raw) {
		return
	}
	out, err := f.queue.UpdateQueue(r.Context(), chi.URLParam(r, "name"), func(q *queue.Queue) error {
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(q); err != nil {
			return errors.Join(queue.ErrInvalid, err)
		}
		return nil
	})
	if err != nil {
		f.writeRoutingError(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, out)
}

func (f *Flow) handleGuideGet(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	g, err := f.queue.Guide(r.Context(), id)
	if err != nil {
		f.writeRoutingError(w, err)
		return
	}
	hist, err := f.queue.PresenceHistory(r.Context(), id, 20)
	if err != nil {
		f.writeRoutingError(w, err)
		return
	}
	declined, err := f.queue.Declines(r.Context(), id, 20)
	if err != nil {
		f.writeRoutingError(w, err)
		return
	}
	declines := make([]declineView, 0, len(declined))
	for _, c := range declined {
		declines = append(declines, declineView{CallID: c.ID, EntryID: c.EntryID, Queue: c.Queue, OfferedAt: c.OfferedAt, At: c.EndedAt, Reason: c.DeclineNote})
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"guide": g, "presence": g.Presence(), "history": hist, "declines": declines})
}

// declineView is one offer the guide declined, as the admin guide read
// shows it; Reason is the guide's own, empty when none was given.
type declineView struct {
	CallID    string     `json:"call_id"`
	EntryID   string     `json:"entry_id"`
	Queue     string     `json:"queue"`
	OfferedAt time.Time  `json:"offered_at"`
	At        *time.Time `json:"declined_at"`
	Reason    string     `json:"reason"`
}

func (f *Flow) handleGuideProfile(w http.ResponseWriter, r *http.Request) {
	var p queue.Profile
	if !decodeBody(w, r, &p) {
		return
	}
	id := chi.URLParam(r, "id")
	if f.cfg.Accounts != nil {
		_, err := f.cfg.Accounts.AccountByID(r.Context(), id)
		switch {
		case errors.Is(err, auth.ErrNotFound):
			httpjson.Error(w, http.StatusNotFound, "not_found", "guide_id: no account "+id)
			return
		case err != nil:
			f.log.WarnContext(r.Context(), "read account", "guide_id", id, "err", err)
			httpjson.Error(w, http.StatusServiceUnavailable, "unavailable", "the database is unavailable; retry shortly")
			return
		}
	}
	g, err := f.queue.SetProfile(r.Context(), id, p)
	if err != nil {
		f.writeRoutingError(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, g)
}

// handleTransferTargets lists where the guide may hand its call's shopper:
// queues and colleagues, for the console's transfer picker.
func (f *Flow) handleTransferTargets(w http.ResponseWriter, r *http.Request) {
	tt, err := f.queue.TransferTargets(r.Context(), subject(r), chi.URLParam(r, "callID"))
	if err != nil {
		f.writeRoutingError(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, tt)
}

// routingRoutes mounts the routing part of /api/v1 on r.
func (f *Flow) routingRoutes(r chi.Router) {
	r.Get("/queues/{name}/status", f.handleQueueStatus)
	r.With(f.joins.middleware).Post("/queues/{name}/callbacks", f.handleCallbackRequest)
	guides := f.cfg.Issuer.Middleware(protocol.RoleGuide, protocol.RoleAdmin)
	r.With(guides).Get("/callbacks", f.handleCallbacksList)
	r.With(guides).Get("/calls/{callID}/transfer-targets", f.handleTransferTargets)
	r.With(f.cfg.Issuer.Middleware(protocol.RoleGuide)).Post("/callbacks/{id}/claim", f.handleCallbackClaim)
	r.With(f.cfg.Issuer.Middleware(protocol.RoleGuide)).Post("/callbacks/{id}/outcome", f.handleCallbackOutcome)
	admin := f.cfg.Issuer.Middleware(protocol.RoleAdmin)
	r.With(admin).Get("/admin/queues", f.handleQueuesList)
	r.With(admin).Post("/admin/queues", f.handleQueueCreate)
	r.With(admin).Get("/admin/queues/{name}", f.handleQueueGet)
	r.With(admin).Patch("/admin/queues/{name}", f.handleQueuePatch)
	r.With(admin).Get("/admin/guides/{id}", f.handleGuideGet)
	r.With(admin).Put("/admin/guides/{id}", f.handleGuideProfile)
}
