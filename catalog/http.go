package catalog

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"guidecall/internal/httpjson"
)

// maxFeedBody bounds an import: 10000 rows of long URLs fit.
const maxFeedBody = 8 << 20

// Actor names who calls a route (the token's subject), for the logs; the
// wiring supplies it, since the token check is not this package's.
type Actor func(*http.Request) string

// AdminRoutes serves the feed to admins; mount it at
// /api/v1/admin/products behind the admin token check.
//
//	PUT /   replace the feed: application/json (an array) or text/csv
//	GET /   the feed
func (s *Service) AdminRoutes(actor Actor) chi.Router {
	r := chi.NewRouter()
	r.Put("/", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFeedBody))
		if err != nil {
			httpjson.Error(w, http.StatusRequestEntityTooLarge, "too_large", "the feed is over 8 MiB")
			return
		}
		var ps []Product
		switch mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt {
		case "application/json":
			ps, err = ParseJSON(body)
		case "text/csv":
			ps, err = ParseCSV(bytes.NewReader(body))
		default:
			httpjson.Error(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "send the feed as application/json or text/csv")
			return
		}
		if err == nil {
			err = s.Replace(r.Context(), ps, actor(r))
		}
		if err != nil {
			writeError(w, s, r, err)
			return
		}
		httpjson.Write(w, http.StatusOK, map[string]int{"products": len(ps)})
	})
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		ps, err := s.List(r.Context())
		if err != nil {
			writeError(w, s, r, err)
			return
		}
		httpjson.Write(w, http.StatusOK, map[string]any{"products": nonNil(ps)})
	})
	return r
}

// GuideRoutes serves the feed to guides; mount it at /api/v1/products
// behind the guide token check.
//
//	GET  /?q=&limit=   search
//	POST /preview      {url}: the Open Graph data of a shop page
func (s *Service) GuideRoutes(actor Actor) chi.Router {
	r := chi.NewRouter()
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		limit := 0
		if l := r.URL.Query().Get("limit"); l != "" {
			n, err := strconv.Atoi(l)
			if err != nil || n < 1 || n > maxSearch {
				httpjson.Error(w, http.StatusBadRequest, "bad_request", "limit must be 1 to 50")
				return
			}
			limit = n
		}
		ps, err := s.Search(r.Context(), r.URL.Query().Get("q"), limit)
		if err != nil {
			writeError(w, s, r, err)
			return
		}
		httpjson.Write(w, http.StatusOK, map[string]any{"products": nonNil(ps)})
	})
	r.Post("/preview", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			URL string `json:"url"`
		}
		if err := httpjson.DecodeObject(http.MaxBytesReader(w, r.Body, 4<<10), &body, true); err != nil {
			httpjson.Error(w, http.StatusBadRequest, "bad_request", "body must be {\"url\": \"https://…\"}: "+err.Error())
			return
		}
		pv, err := s.Preview(r.Context(), body.URL, actor(r))
		if err != nil {
			writeError(w, s, r, err)
			return
		}
		httpjson.Write(w, http.StatusOK, pv)
	})
	return r
}

func nonNil(ps []Product) []Product {
	if ps == nil {
		return []Product{}
	}
	return ps
}

// feedError is a 400 for a bad feed: the row and field besides the message.
type feedError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Row     int    `json:"row"`
		Field   string `json:"field"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, s *Service, r *http.Request, err error) {
	var re *RowError
	switch {
	case errors.As(err, &re):
		var b feedError
		b.Error.Code, b.Error.Message, b.Error.Row, b.Error.Field = "invalid_feed", err.Error(), re.Row, re.Field
		httpjson.Write(w, http.StatusBadRequest, b)
	case errors.Is(err, ErrNotAllowed):
		httpjson.Error(w, http.StatusForbidden, "origin_not_allowed", err.Error())
	case errors.Is(err, ErrInvalid):
		httpjson.Error(w, http.StatusBadRequest, "bad_request", err.Error())
	case errors.Is(err, ErrFetch):
		httpjson.Error(w, http.StatusBadGateway, "preview_failed", err.Error())
	case errors.Is(err, ErrUnavailable):
		httpjson.Error(w, http.StatusServiceUnavailable, "store_unavailable", "the database is unavailable; retry shortly")
	default:
		s.log.ErrorContext(r.Context(), "catalog request failed", "err", err)
		httpjson.Error(w, http.StatusInternalServerError, "internal", "internal error")
	}
}
