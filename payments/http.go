package payments

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/go-chi/chi/v5"

	"guidecall/internal/httpjson"
)

// CallAuthorizer decides whether the request may manage the payment links of
// callID and returns the acting user. Refusals return an error implementing
// StatusCode() int, or wrapping ErrUnauthorized or ErrForbidden.
type CallAuthorizer func(r *http.Request, callID string) (actor string, err error)

// Action is what a request to APIRoutes wants to do, for the
// CallAuthorizer to decide on (RequestAction).
type Action string

const (
	ActionRead   Action = "read"
	ActionCreate Action = "create"
	ActionRefund Action = "refund"
)

type actionKey struct{}

// RequestAction is the action of a request APIRoutes hands its
// CallAuthorizer; ActionRead for any other request.
func RequestAction(r *http.Request) Action {
	if a, ok := r.Context().Value(actionKey{}).(Action); ok {
		return a
	}
	return ActionRead
}

// Body limits.
const (
	maxCreateBody  = 64 << 10
	maxWebhookBody = 64 << 10
)

// errBadRequest marks a request that could not be read at all (400).
var errBadRequest = errors.New("payments: bad request")

// createLinkRequest is the JSON body of POST .../payment-links.
type createLinkRequest struct {
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency"`
	Items       []Item `json:"items"`
	Description string `json:"description"`
}

// decodeCreateLinkRequest reads one JSON object with no unknown fields and
// nothing after it. Amounts must be JSON integers: 12.5 is refused, not
// rounded.
func decodeCreateLinkRequest(r io.Reader) (createLinkRequest, error) {
	var req createLinkRequest
	if err := httpjson.DecodeObject(r, &req, true); err != nil {
		return createLinkRequest{}, fmt.Errorf("%w: %w", errBadRequest, err)
	}
	return req, nil
}

// decodeBody reads one JSON object with no unknown fields (httpjson: no
// null, no NUL, UTF-8 only) into v; a MaxBytesError is kept so it answers 413.
func decodeBody(r io.Reader, v any) error {
	if err := httpjson.DecodeObject(r, v, true); err != nil {
		return fmt.Errorf("%w: %w", errBadRequest, err)
	}
	return nil
}

// decodeOptionalBody is decodeBody for a body that may be left out
// entirely (a refund of everything left): nothing but blanks reads as {}.
func decodeOptionalBody(r io.Reader, v any) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("%w: %w", errBadRequest, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	return decodeBody(bytes.NewReader(data), v)
}

// APIRoutes serves a call's payment links; the wiring mounts it at
// /api/v1/calls/{callID}/payment-links (the callID URL parameter must be
// set by the mount pattern).
//
//	POST /           create (Idempotency-Key header); 201 created, 200 replay
//	GET  /           list the call's links
//	GET  /{linkID}   one link of the call
func (s *Service) APIRoutes(authorize CallAuthorizer) chi.Router {
	if authorize == nil {
		panic("payments: APIRoutes needs a CallAuthorizer")
	}
	r := chi.NewRouter()
	auth := func(action Action, next func(w http.ResponseWriter, r *http.Request, callID, actor string)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			r = r.WithContext(context.WithValue(r.Context(), actionKey{}, action))
			callID := chi.URLParam(r, "callID")
			if callID == "" {
				writeError(w, fmt.Errorf("%w: no call id in the route", errBadRequest))
				return
			}
			actor, err := authorize(r, callID)
			if err != nil {
				writeError(w, err)
				return
			}
			next(w, r, callID, actor)
		}
	}
	r.Post("/", auth(ActionCreate, s.handleCreate))
	r.Get("/", auth(ActionRead, s.handleList))
	r.Get("/{linkID}", auth(ActionRead, s.handleGet))
	r.Post("/{linkID}/refunds", auth(ActionRefund, func(w http.ResponseWriter, r *http.Request, callID, actor string) {
		s.handleRefund(w, r, callID, actor, false)
	}))
	return r
}

// AdminRoutes serves what only an admin may do with any link; the wiring
// mounts it at /api/v1/admin/payment-links behind the admin's token.
//
//	GET  /{linkID}           one link, refunds included
//	POST /{linkID}/refunds   refund it, outside the guide's window too
func (s *Service) AdminRoutes() chi.Router {
	r := chi.NewRouter()
	r.Get("/{linkID}", func(w http.ResponseWriter, r *http.Request) {
		l, err := s.Link(r.Context(), chi.URLParam(r, "linkID"))
		if err != nil {
			writeError(w, err)
			return
		}
		httpjson.Write(w, http.StatusOK, l)
	})
	r.Post("/{linkID}/refunds", func(w http.ResponseWriter, r *http.Request) {
		s.handleRefund(w, r, "", "admin", true)
	})
	return r
}

// refundRequest is the JSON body of POST .../refunds; amount 0 or absent
// refunds everything left.
type refundRequest struct {
	Amount int64 `json:"amount"`
}

// handleRefund refunds a link of callID (any call for an admin, callID
// empty): 201 created, 200 a replay of the key, 502 the provider refused.
func (s *Service) handleRefund(w http.ResponseWriter, r *http.Request, callID, actor string, admin bool) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		writeError(w, fmt.Errorf("%w: Idempotency-Key header", ErrIdempotencyKeyRequired))
		return
	}
	var req refundRequest
	if err := decodeOptionalBody(http.MaxBytesReader(w, r.Body, maxCreateBody), &req); err != nil {
		writeError(w, err)
		return
	}
	linkID := chi.URLParam(r, "linkID")
	l, err := s.store.LinkGet(r.Context(), linkID)
	if err == nil && !admin && l.CallID != callID {
		err = ErrNotFound
	}
	if err != nil {
		writeError(w, err)
		return
	}
	rf, created, err := s.Refund(r.Context(), RequestRefund{LinkID: linkID, Amount: req.Amount, IdempotencyKey: key, RequestedBy: actor, Admin: admin})
	if err != nil {
		if code, _ := errorStatus(err); code >= 500 {
			s.log.Error("refund payment link", "link_id", linkID, "call_id", l.CallID, "err", err)
		}
		writeError(w, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	l, err = s.store.LinkGet(r.Context(), linkID)
	if err != nil {
		writeError(w, err)
		return
	}
	var link any = l
	if !admin {
		link = GuideLink{Link: l, GuideRefund: s.GuideRefundOf(l)}
	}
	httpjson.Write(w, status, map[string]any{"refund": rf, "link": link})
}

func (s *Service) handleCreate(w http.ResponseWriter, r *http.Request, callID, actor string) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		writeError(w, fmt.Errorf("%w: Idempotency-Key header", ErrIdempotencyKeyRequired))
		return
	}
	req, err := decodeCreateLinkRequest(http.MaxBytesReader(w, r.Body, maxCreateBody))
	if err != nil {
		writeError(w, err)
		return
	}
	l, created, err := s.CreateLink(r.Context(), CreateLinkParams{
		CallID:         callID,
		Amount:         req.Amount,
		Currency:       req.Currency,
		Items:          req.Items,
		Description:    req.Description,
		IdempotencyKey: key,
		CreatedBy:      actor,
	})
	if err != nil {
		if code, _ := errorStatus(err); code >= 500 {
			s.log.Error("create payment link", "call_id", callID, "err", err)
		}
		writeError(w, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	httpjson.Write(w, status, GuideLink{Link: l, GuideRefund: s.GuideRefundOf(l)})
}

func (s *Service) handleList(w http.ResponseWriter, r *http.Request, callID, _ string) {
	links, err := s.LinksByCall(r.Context(), callID)
	if err != nil {
		s.log.Error("list payment links", "call_id", callID, "err", err)
		writeError(w, err)
		return
	}
	out := make([]GuideLink, 0, len(links))
	for _, l := range links {
		out = append(out, GuideLink{Link: l, GuideRefund: s.GuideRefundOf(l)})
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"links": out})
}

func (s *Service) handleGet(w http.ResponseWriter, r *http.Request, callID, _ string) {
	l, err := s.Link(r.Context(), chi.URLParam(r, "linkID"))
	if err == nil && l.CallID != callID {
		// Do not reveal that a link of another call exists.
		err = ErrNotFound
	}
	if err != nil {
		writeError(w, err)
		return
	}
	httpjson.Write(w, http.StatusOK, GuideLink{Link: l, GuideRefund: s.GuideRefundOf(l)})
}

// WebhookRoutes serves provider webhooks; the wiring mounts it at /webhooks.
//
//	POST /{provider}   200 applied, duplicate or stale; 400 bad signature or
//	                   payload; 404 unknown provider; 413 body over 64 KiB;
//	                   500 unknown reference, 503 store unavailable (the
//	                   provider retries both)
func (s *Service) WebhookRoutes() chi.Router {
	r := chi.NewRouter()
	r.Post("/{provider}", func(w http.ResponseWriter, r *http.Request) {
		name := chi.URLParam(r, "provider")
		if _, ok := s.byName[name]; !ok {
			writeError(w, fmt.Errorf("%w: %q", ErrUnknownProvider, name))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
		if err != nil {
			writeError(w, fmt.Errorf("%w: %w", errBadRequest, err))
			return
		}
		if err := s.HandleWebhook(r.Context(), name, r.Header, body); err != nil {
			if code, _ := errorStatus(err); code >= 500 {
				s.log.Error("webhook", "provider", name, "err", err)
			}
			writeError(w, err)
			return
		}
		if ack, ok := s.byName[name].(WebhookAcknowledger); ok {
			ctype, body := ack.WebhookAck()
			w.Header().Set("Content-Type", ctype)
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(body)
			return
		}
		httpjson.Write(w, http.StatusOK, map[string]bool{"received": true})
	})
	return r
}

// errorStatus maps an error to an HTTP status and a stable error code. It is
// the one place where domain errors become HTTP.
func errorStatus(err error) (int, string) {
	var sc interface{ StatusCode() int }
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, "body_too_large"
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized, "unauthorized"
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden, "forbidden"
	case errors.As(err, &sc) && sc.StatusCode() >= 400:
		return sc.StatusCode(), http.StatusText(sc.StatusCode())
	case errors.Is(err, errBadRequest):
		return http.StatusBadRequest, "bad_request"
	case errors.Is(err, ErrIdempotencyKeyRequired):
		return http.StatusBadRequest, "idempotency_key_required"
	case errors.Is(err, ErrBadSignature):
		return http.StatusBadRequest, "bad_signature"
	case errors.Is(err, ErrBadWebhook):
		return http.StatusBadRequest, "bad_webhook"
	case errors.Is(err, ErrIdempotencyConflict):
		return http.StatusConflict, "idempotency_conflict"
	case errors.Is(err, ErrInvalidTransition):
		return http.StatusConflict, "invalid_transition"
	case errors.Is(err, ErrUnknownCurrency):
		return http.StatusUnprocessableEntity, "unknown_currency"
	case errors.Is(err, ErrInvalidLink):
		return http.StatusUnprocessableEntity, "invalid_payment_link"
	case errors.Is(err, ErrRiskLimit):
		return http.StatusUnprocessableEntity, "risk_limit"
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrUnknownProvider):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable, "store_unavailable"
	case errors.Is(err, ErrProvider):
		return http.StatusBadGateway, "provider_error"
	case errors.Is(err, ErrUnknownReference):
		return http.StatusInternalServerError, "unknown_reference"
	}
	return http.StatusInternalServerError, "internal"
}

func writeError(w http.ResponseWriter, err error) {
	code, name := errorStatus(err)
	msg := err.Error()
	switch {
	case code == http.StatusServiceUnavailable:
		msg = "the database is unavailable; retry shortly"
	case code >= 500:
		// Internal details stay in the log.
		msg = http.StatusText(code)
	}
	httpjson.Error(w, code, name, msg)
}
