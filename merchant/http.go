package merchant

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"guidecall/internal/httpjson"
)

// AdminRoutes serves the merchant webhook admin API; the wiring mounts it
// behind the admin's token.
//
//	POST   /endpoints                  {url, events?, description?} -> 201 Endpoint with its secret
//	GET    /endpoints                  -> 200 {endpoints}
//	GET    /endpoints/{id}             -> 200 Endpoint
//	PATCH  /endpoints/{id}             {url?, events?, description?, enabled?} -> 200 Endpoint
//	DELETE /endpoints/{id}             -> 204
//	GET    /deliveries?endpoint_id=&event_id=&status=&limit= -> 200 {deliveries}
//	GET    /deliveries/{id}            -> 200 Delivery with attempt_log
//	POST   /deliveries/{id}/replay     -> 202 Delivery (failed or canceled ones only; 409 otherwise)
func (s *Service) AdminRoutes() chi.Router { return Routes(s) }

// Routes serves the admin API of either store (see Service.AdminRoutes).
func Routes(s Admin) chi.Router {
	r := chi.NewRouter()
	r.Post("/endpoints", func(w http.ResponseWriter, r *http.Request) {
		var p EndpointParams
		if !decode(w, r, &p) {
			return
		}
		e, err := s.CreateEndpoint(r.Context(), p)
		respond(w, http.StatusCreated, e, err)
	})
	r.Get("/endpoints", func(w http.ResponseWriter, r *http.Request) {
		eps, err := s.Endpoints(r.Context())
		respond(w, http.StatusOK, map[string]any{"endpoints": eps}, err)
	})
	r.Get("/endpoints/{id}", func(w http.ResponseWriter, r *http.Request) {
		e, err := s.Endpoint(r.Context(), chi.URLParam(r, "id"))
		respond(w, http.StatusOK, e, err)
	})
	r.Patch("/endpoints/{id}", func(w http.ResponseWriter, r *http.Request) {
		var p EndpointParams
		if !decode(w, r, &p) {
			return
		}
		e, err := s.UpdateEndpoint(r.Context(), chi.URLParam(r, "id"), p)
		respond(w, http.StatusOK, e, err)
	})
	r.Delete("/endpoints/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.DeleteEndpoint(r.Context(), chi.URLParam(r, "id")); err != nil {
			respond(w, 0, nil, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	r.Get("/deliveries", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit, _ := strconv.Atoi(q.Get("limit"))
		ds, err := s.Deliveries(r.Context(), DeliveryFilter{EndpointID: q.Get("endpoint_id"), EventID: q.Get("event_id"), Status: q.Get("status"), Limit: limit})
		respond(w, http.StatusOK, map[string]any{"deliveries": ds}, err)
	})
	r.Get("/deliveries/{id}", func(w http.ResponseWriter, r *http.Request) {
		d, err := s.Delivery(r.Context(), chi.URLParam(r, "id"))
		respond(w, http.StatusOK, d, err)
	})
	r.Post("/deliveries/{id}/replay", func(w http.ResponseWriter, r *http.Request) {
		d, err := s.Replay(r.Context(), chi.URLParam(r, "id"))
		respond(w, http.StatusAccepted, d, err)
	})
	return r
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		httpjson.Error(w, http.StatusBadRequest, "bad_request", "invalid JSON: "+err.Error())
		return false
	}
	return true
}

func respond(w http.ResponseWriter, status int, v any, err error) {
	switch {
	case err == nil:
		httpjson.Write(w, status, v)
	case errors.Is(err, ErrInvalid):
		code := http.StatusUnprocessableEntity
		if status == http.StatusAccepted {
			code = http.StatusConflict // a replay of a delivery in the wrong state
		}
		httpjson.Error(w, code, "invalid", err.Error())
	case errors.Is(err, ErrNotFound):
		httpjson.Error(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, ErrUnavailable):
		httpjson.Error(w, http.StatusServiceUnavailable, "store_unavailable", "the database is unavailable; retry shortly")
	default:
		httpjson.Error(w, http.StatusInternalServerError, "internal", http.StatusText(http.StatusInternalServerError))
	}
}
