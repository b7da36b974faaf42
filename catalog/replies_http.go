package catalog

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"guidecall/internal/httpjson"
)

// MerchantReplyRoutes serves the merchant's saved replies to admins; mount
// it at /api/v1/admin/replies behind the admin token check.
//
//	GET    /       the merchant's replies
//	POST   /       {title, text}: add one
//	DELETE /{id}   remove one
func (s *Service) MerchantReplyRoutes() chi.Router {
	return s.replyRoutes(func(*http.Request) string { return merchantReplies }, false)
}

// GuideReplyRoutes serves a guide its saved replies; mount it at
// /api/v1/replies behind the guide token check. owner is the caller's
// account id.
//
//	GET    /       {"merchant": [...], "mine": [...]}
//	POST   /       {title, text}: add one of the guide's own
//	DELETE /{id}   remove one of the guide's own
func (s *Service) GuideReplyRoutes(owner Actor) chi.Router {
	return s.replyRoutes(owner, true)
}

func (s *Service) replyRoutes(owner Actor, guide bool) chi.Router {
	r := chi.NewRouter()
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		id := ""
		if guide {
			id = owner(r)
		}
		merchant, mine, err := s.Replies(r.Context(), id)
		if err != nil {
			writeReplyError(w, s, r, err)
			return
		}
		if !guide {
			httpjson.Write(w, http.StatusOK, map[string]any{"replies": merchant})
			return
		}
		httpjson.Write(w, http.StatusOK, map[string]any{"merchant": merchant, "mine": nonNilReplies(mine)})
	})
	r.Post("/", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Title string `json:"title"`
			Text  string `json:"text"`
		}
		if err := httpjson.DecodeObject(http.MaxBytesReader(w, r.Body, 16<<10), &body, true); err != nil {
			httpjson.Error(w, http.StatusBadRequest, "bad_request", "body must be {\"title\": …, \"text\": …}: "+err.Error())
			return
		}
		rep, err := s.AddReply(r.Context(), owner(r), body.Title, body.Text)
		if err != nil {
			writeReplyError(w, s, r, err)
			return
		}
		httpjson.Write(w, http.StatusCreated, rep)
	})
	r.Delete("/{replyID}", func(w http.ResponseWriter, r *http.Request) {
		if err := s.DeleteReply(r.Context(), owner(r), chi.URLParam(r, "replyID")); err != nil {
			writeReplyError(w, s, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return r
}

func nonNilReplies(rs []Reply) []Reply {
	if rs == nil {
		return []Reply{}
	}
	return rs
}

func writeReplyError(w http.ResponseWriter, s *Service, r *http.Request, err error) {
	if errors.Is(err, ErrNotFound) {
		httpjson.Error(w, http.StatusNotFound, "not_found", "no such saved reply of yours")
		return
	}
	writeError(w, s, r, err)
}
