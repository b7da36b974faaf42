package auth

import (
	"context"
	"errors"
	"net"
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
			c, err := i.VerifyLive(r.Context(), tok, KindAccess)
			if err != nil {
				switch {
				case errors.Is(err, ErrExpiredToken):
					writeError(w, http.StatusUnauthorized, "token_expired", "token expired")
				case errors.Is(err, ErrRevoked):
					writeError(w, http.StatusUnauthorized, "token_revoked", "this login has ended; log in again")
				case errors.Is(err, ErrInvalidToken):
					writeError(w, http.StatusUnauthorized, "invalid_token", "invalid token")
				case errors.Is(err, ErrUnavailable):
					writeError(w, http.StatusServiceUnavailable, "store_unavailable", "the database is unavailable; retry shortly")
				default:
					writeError(w, http.StatusInternalServerError, "internal", "internal error")
				}
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
//	POST /login   {"email","password"}  -> 200 TokenPair; 429 throttled or locked; 503 busy
//	POST /refresh {"refresh_token"}     -> 200 TokenPair (the old refresh token is used up)
//	POST /logout  {"refresh_token"}     -> 204, the login's tokens revoked
//	GET  /me      (bearer, guide|admin) -> 200 AccountView
func (s *Service) Routes() chi.Router {
	r := chi.NewRouter()
	r.Post("/login", s.handleLogin)
	r.Post("/refresh", s.handleRefresh)
	r.Post("/logout", s.handleLogout)
	r.With(s.issuer.Middleware(protocol.RoleGuide, protocol.RoleAdmin)).Get("/me", s.handleMe)
	return r
}

// AdminRoutes returns account administration, mounted at
// /api/v1/admin/accounts behind an admin token:
//
//	GET  /              -> 200 {"accounts":[AccountView]}
//	POST /{id}/disable  -> 200 AccountView; the account's logins end and its sockets close
//	POST /{id}/enable   -> 200 AccountView
//	POST /{id}/unlock   -> 200 AccountView; failed logins forgotten
//	DELETE /{id}        -> 204; the account is gone, its logins end and its sockets close
func (s *Service) AdminRoutes() chi.Router {
	r := chi.NewRouter()
	r.Use(s.issuer.Middleware(protocol.RoleAdmin))
	r.Get("/", s.handleList)
	r.Post("/", s.handleCreate)
	r.Post("/{id}/disable", s.adminChange(func(ctx context.Context, id string) (Account, error) { return s.SetDisabled(ctx, id, true) }))
	r.Post("/{id}/enable", s.adminChange(func(ctx context.Context, id string) (Account, error) { return s.SetDisabled(ctx, id, false) }))
	r.Post("/{id}/unlock", s.adminChange(s.Unlock))
	r.Delete("/{id}", s.handleRemove)
	return r
}

// handleCreate adds a guide or admin account (the dashboard's "add a
// guide", `guidecall guide add` on the command line). A refusal names the
// field first in its message, so a form can show it beside that input.
func (s *Service) handleCreate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Email    string        `json:"email"`
		Name     string        `json:"name"`
		Password string        `json:"password"`
		Role     protocol.Role `json:"role"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Role == "" {
		req.Role = protocol.RoleGuide
	}
	a, err := s.AddAccount(r.Context(), req.Email, req.Name, req.Password, req.Role)
	if err != nil {
		field, status, code := accountField(err)
		if field == "" {
			s.writeStoreError(w, r, "add account", err)
			return
		}
		msg := strings.TrimPrefix(err.Error(), "auth: ")
		if code == "duplicate_email" {
			msg = "an account with this email exists"
		}
		writeError(w, status, code, field+": "+msg)
		return
	}
	c, _ := ClaimsFrom(r.Context())
	s.log.InfoContext(r.Context(), "admin added account", "account_id", a.ID, "role", a.Role, "by", c.Subject)
	httpjson.Write(w, http.StatusCreated, a.Public())
}

// accountField names the field a refused new account is refused for, with
// the answer's status and code; "" when the refusal is not the input's.
func accountField(err error) (field string, status int, code string) {
	msg := err.Error()
	switch {
	case errors.Is(err, ErrDuplicateEmail):
		return "email", http.StatusConflict, "duplicate_email"
	case errors.Is(err, ErrWeakPassword), errors.Is(err, ErrPasswordTooLong), errors.Is(err, ErrCommonPassword):
		return "password", http.StatusBadRequest, "weak_password"
	case !errors.Is(err, ErrInvalidAccount):
		return "", 0, ""
	case strings.Contains(msg, "email"):
		return "email", http.StatusBadRequest, "bad_request"
	case strings.Contains(msg, "name"):
		return "name", http.StatusBadRequest, "bad_request"
	}
	return "role", http.StatusBadRequest, "bad_request"
}

func (s *Service) handleRemove(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "id")
	c, _ := ClaimsFrom(r.Context())
	if c.Subject == id {
		writeError(w, http.StatusConflict, "bad_state", "an admin cannot remove their own account")
		return
	}
	if err := s.RemoveAccount(r.Context(), id); err != nil {
		s.writeStoreError(w, r, "remove account", err)
		return
	}
	s.log.InfoContext(r.Context(), "admin removed account", "account_id", id, "by", c.Subject)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) handleList(w http.ResponseWriter, r *http.Request) {
	list, err := s.store.AccountList(r.Context())
	if err != nil {
		s.writeStoreError(w, r, "list accounts", err)
		return
	}
	out := make([]AccountView, 0, len(list))
	for _, a := range list {
		out = append(out, a.Public())
	}
	httpjson.Write(w, http.StatusOK, map[string]any{"accounts": out})
}

func (s *Service) adminChange(change func(context.Context, string) (Account, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := chi.URLParam(r, "id")
		c, _ := ClaimsFrom(r.Context())
		if c != nil && c.Subject == id && strings.HasSuffix(r.URL.Path, "/disable") {
			writeError(w, http.StatusConflict, "bad_state", "an admin cannot disable their own account")
			return
		}
		a, err := change(r.Context(), id)
		if err != nil {
			s.writeStoreError(w, r, "change account", err)
			return
		}
		s.log.InfoContext(r.Context(), "admin changed account", "account_id", id, "by", c.Subject, "path", r.URL.Path)
		httpjson.Write(w, http.StatusOK, a.Public())
	}
}

func (s *Service) writeStoreError(w http.ResponseWriter, r *http.Request, what string, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "no such account")
	case errors.Is(err, ErrUnavailable):
		writeError(w, http.StatusServiceUnavailable, "store_unavailable", "the database is unavailable; retry shortly")
	default:
		s.log.ErrorContext(r.Context(), what, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "internal error")
	}
}

func (s *Service) clientAddress(r *http.Request) string {
	if s.ClientIP != nil {
		return s.ClientIP(r)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
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
	pair, err := s.Login(r.Context(), req.Email, req.Password, s.clientAddress(r))
	switch {
	case err == nil:
		httpjson.Write(w, http.StatusOK, pair)
	case errors.Is(err, ErrBadCredentials):
		writeError(w, http.StatusUnauthorized, "invalid_credentials", "wrong email or password")
	case errors.Is(err, ErrLocked):
		setRetryAfter(w, RetryAfterOf(err))
		writeError(w, http.StatusTooManyRequests, "account_locked", "too many failed logins: this account is locked for a while, or until an admin unlocks it")
	case errors.Is(err, ErrThrottled):
		setRetryAfter(w, RetryAfterOf(err))
		writeError(w, http.StatusTooManyRequests, "rate_limited", "too many login attempts; retry later")
	case errors.Is(err, ErrBusy):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "busy", "too many logins in progress; retry shortly")
	case errors.Is(err, ErrUnavailable):
		writeError(w, http.StatusServiceUnavailable, "store_unavailable", "the database is unavailable; retry shortly")
	case r.Context().Err() != nil:
		// The client went away while waiting for a password check.
	default:
		s.log.ErrorContext(r.Context(), "login", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "internal error")
	}
}

func (s *Service) handleLogout(w http.ResponseWriter, r *http.Request) {
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
	c, err := s.issuer.Verify(req.RefreshToken, KindRefresh)
	if errors.Is(err, ErrExpiredToken) {
		// Nothing left to revoke that could still be used.
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err != nil {
		writeError(w, http.StatusUnauthorized, "invalid_token", "invalid refresh token")
		return
	}
	if err := s.Logout(r.Context(), c); err != nil {
		if errors.Is(err, ErrInvalidToken) {
			writeError(w, http.StatusUnauthorized, "invalid_token", "invalid refresh token")
			return
		}
		s.writeStoreError(w, r, "logout", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
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
	if errors.Is(err, ErrTokenReused) {
		writeError(w, http.StatusUnauthorized, "token_reused", "this refresh token was already used; the login is revoked")
		return
	}
	if errors.Is(err, ErrRevoked) {
		writeError(w, http.StatusUnauthorized, "token_revoked", "this login has ended; log in again")
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
	err := httpjson.DecodeObject(http.MaxBytesReader(w, r.Body, MaxBodyBytes), v, false)
	if err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			writeError(w, http.StatusBadRequest, "body_too_large", "request body exceeds 16 KiB")
		case errors.Is(err, httpjson.ErrNUL), errors.Is(err, httpjson.ErrNotObject), errors.Is(err, httpjson.ErrNotUTF8):
			writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		default:
			writeError(w, http.StatusBadRequest, "bad_request", "malformed JSON body")
		}
		return false
	}
	return true
}
