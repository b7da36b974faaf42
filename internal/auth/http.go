package auth

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"guidecall/internal/httpjson"
	"guidecall/protocol"
)

// MaxBodyBytes bounds the request bodies the auth routes read.
const MaxBodyBytes = 16 << 10

// errorBody is the JSON error shape shared by every guidecall API:
// {"error":{"code":"...","message":"..."}}.

func writeError(w http.ResponseWriter, status int, code, message string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="guidecall"`)
	}
	httpjson.Error(w, status, code, message)
}

// BearerToken returns the token of an "Authorization: Bearer <token>"
// header. Tokens in the URL are deliberately not looked at.
func BearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// Middleware admits requests carrying a valid access token whose role is
// one of roles (any role when roles is empty) and puts its *Claims in the
// request context. A missing or invalid token gets 401, a wrong role 403.
func (i *Issuer) Middleware(roles ...protocol.Role) func(http.Handler) http.Handler {
	roles = slices.Clone(roles)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok, ok := BearerToken(r)
			if !ok {
				writeError(w, http.StatusUnauthorized, "unauthorized", "missing bearer token")
				return
			}
			c, err := i.Verify(tok, KindAccess)
			if err != nil {
				if errors.Is(err, ErrExpiredToken) {
					writeError(w, http.StatusUnauthorized, "token_expired", "token expired")
					return
				}
				writeError(w, http.StatusUnauthorized, "invalid_token", "invalid token")
				return
			}
			if len(roles) > 0 && !slices.Contains(roles, c.Role) {
				writeError(w, http.StatusForbidden, "forbidden", "role not allowed")
				return
			}
			next.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), c)))
		})
	}
}

// Routes returns the auth API, mounted at /api/v1/auth:
//
//	POST /login   {"email","password"}  -> 200 TokenPair
//	POST /refresh {"refresh_token"}     -> 200 TokenPair
//	GET  /me      (bearer, guide|admin) -> 200 AccountView
func (s *Service) Routes() chi.Router {
	r := chi.NewRouter()
	r.Post("/login", s.handleLogin)
	r.Post("/refresh", s.handleRefresh)
	r.With(s.issuer.Middleware(protocol.RoleGuide, protocol.RoleAdmin)).Get("/me", s.handleMe)
	return r
}

func (s *Service) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Email == "" || req.Password == "" {
		writeError(w, http.StatusBadRequest, "bad_request", "email and password are required")
		return
	}
	pair, err := s.Login(r.Context(), req.Email, req.Password)
	if errors.Is(err, ErrBadCredentials) {
		writeError(w, http.StatusUnauthorized, "invalid_credentials", "wrong email or password")
		return
	}
	if errors.Is(err, ErrUnavailable) {
		writeError(w, http.StatusServiceUnavailable, "store_unavailable", "the database is unavailable; retry shortly")
		return
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "login", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "internal error")
		return
	}
	httpjson.Write(w, http.StatusOK, pair)
}

func (s *Service) handleRefresh(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.RefreshToken == "" {
		writeError(w, http.StatusBadRequest, "bad_request", "refresh_token is required")
		return
	}
	pair, err := s.Refresh(r.Context(), req.RefreshToken)
	if errors.Is(err, ErrExpiredToken) {
		writeError(w, http.StatusUnauthorized, "token_expired", "refresh token expired")
		return
	}
	if errors.Is(err, ErrInvalidToken) {
		writeError(w, http.StatusUnauthorized, "invalid_token", "invalid refresh token")
		return
	}
	if errors.Is(err, ErrUnavailable) {
		writeError(w, http.StatusServiceUnavailable, "store_unavailable", "the database is unavailable; retry shortly")
		return
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "refresh", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "internal error")
		return
	}
	httpjson.Write(w, http.StatusOK, pair)
}

func (s *Service) handleMe(w http.ResponseWriter, r *http.Request) {
	c, _ := ClaimsFrom(r.Context())
	a, err := s.store.AccountByID(r.Context(), c.Subject)
	if errors.Is(err, ErrNotFound) {
		writeError(w, http.StatusUnauthorized, "invalid_token", "account no longer exists")
		return
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "me", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "internal error")
		return
	}
	httpjson.Write(w, http.StatusOK, a.Public())
}

// decodeBody reads one JSON object of at most MaxBodyBytes into v, or
// writes a 400 and returns false.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	err := dec.Decode(v)
	if err == nil {
		// Exactly one value: trailing garbage is malformed too.
		if dec.Decode(&struct{}{}) != io.EOF {
			err = errors.New("trailing data")
		}
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusBadRequest, "body_too_large", "request body exceeds 16 KiB")
			return false
		}
		writeError(w, http.StatusBadRequest, "bad_request", "malformed JSON body")
		return false
	}
	return true
}
