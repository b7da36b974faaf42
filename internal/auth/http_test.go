package auth_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"guidecall/internal/auth"
	"guidecall/protocol"
)

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func do(t *testing.T, h http.Handler, method, path, body, bearer string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func wantError(t *testing.T, rec *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	var e apiError
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code != code || e.Error.Message == "" {
		t.Fatalf("body = %s, want error code %q", rec.Body, code)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q", ct)
	}
}

func TestRoutesLoginRefreshMe(t *testing.T) {
	f := newFixture(t)
	h := f.svc.Routes()

	rec := do(t, h, "POST", "/login", `{"email":"guide@example.com","password":"`+guidePassword+`"}`, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("login Cache-Control = %q", rec.Header().Get("Cache-Control"))
	}
	var pair auth.TokenPair
	if err := json.Unmarshal(rec.Body.Bytes(), &pair); err != nil {
		t.Fatal(err)
	}
	if pair.AccessToken == "" || pair.RefreshToken == "" || pair.TokenType != "Bearer" || pair.ExpiresIn != 900 {
		t.Fatalf("pair = %+v", pair)
	}
	if strings.Contains(rec.Body.String(), "argon2") {
		t.Fatal("login response leaks the password hash")
	}

	rec = do(t, h, "GET", "/me", "", pair.AccessToken)
	if rec.Code != http.StatusOK {
		t.Fatalf("me: %d %s", rec.Code, rec.Body)
	}
	var me map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &me)
	if me["id"] != f.guide.ID || me["email"] != "guide@example.com" || me["role"] != "guide" {
		t.Fatalf("me = %v", me)
	}
	for k := range me {
		if strings.Contains(strings.ToLower(k), "password") || strings.Contains(strings.ToLower(k), "hash") {
			t.Fatalf("me exposes %q", k)
		}
	}
	wantError(t, do(t, h, "GET", "/me", "", pair.RefreshToken), http.StatusUnauthorized, "invalid_token")

	rec = do(t, h, "POST", "/refresh", `{"refresh_token":"`+pair.RefreshToken+`"}`, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("refresh: %d %s", rec.Code, rec.Body)
	}
	wantError(t, do(t, h, "POST", "/refresh", `{"refresh_token":"`+pair.AccessToken+`"}`, ""), http.StatusUnauthorized, "invalid_token")
	f.clk.Advance(13 * time.Hour)
	wantError(t, do(t, h, "POST", "/refresh", `{"refresh_token":"`+pair.RefreshToken+`"}`, ""), http.StatusUnauthorized, "token_expired")
}

func TestRoutesErrors(t *testing.T) {
	f := newFixture(t)
	h := f.svc.Routes()
	cases := []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"wrong password", "/login", `{"email":"guide@example.com","password":"nope-nope"}`, 401, "invalid_credentials"},
		{"unknown email", "/login", `{"email":"x@example.com","password":"nope-nope"}`, 401, "invalid_credentials"},
		{"malformed json", "/login", `{"email":`, 400, "bad_request"},
		{"not an object", "/login", `[1,2]`, 400, "bad_request"},
		{"trailing data", "/login", `{"email":"a","password":"b"} {}`, 400, "bad_request"},
		{"missing fields", "/login", `{}`, 400, "bad_request"},
		{"empty body", "/login", ``, 400, "bad_request"},
		{"body too large", "/login", `{"email":"a@example.com","password":"` + strings.Repeat("x", auth.MaxBodyBytes) + `"}`, 400, "body_too_large"},
		{"refresh malformed", "/refresh", `nope`, 400, "bad_request"},
		{"refresh missing", "/refresh", `{}`, 400, "bad_request"},
		{"refresh garbage", "/refresh", `{"refresh_token":"a.b.c"}`, 401, "invalid_token"},
		{"refresh too large", "/refresh", `{"refresh_token":"` + strings.Repeat("x", 17<<10) + `"}`, 400, "body_too_large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, do(t, h, "POST", c.path, c.body, ""), c.status, c.code)
		})
	}
	if rec := do(t, h, "GET", "/login", "", ""); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET /login = %d", rec.Code)
	}
}

func TestMiddleware(t *testing.T) {
	iss, clk := newIssuer(t)
	var seen *auth.Claims
	h := iss.Middleware(protocol.RoleGuide, protocol.RoleAdmin)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := auth.ClaimsFrom(r.Context())
		if !ok {
			t.Error("no claims in context")
		}
		seen = c
		w.WriteHeader(http.StatusNoContent)
	}))
	guideTok, _ := iss.IssueAccount(guide, auth.KindAccess, "fam", time.Minute)
	refreshTok, _ := iss.IssueAccount(guide, auth.KindRefresh, "fam", time.Minute)
	shopperTok, _ := iss.IssueShopper("entry-1", time.Minute)

	rec := do(t, h, "GET", "/", "", guideTok)
	if rec.Code != http.StatusNoContent || seen == nil || seen.Subject != guide.ID {
		t.Fatalf("guide: %d, claims %+v", rec.Code, seen)
	}

	wantError(t, do(t, h, "GET", "/", "", ""), http.StatusUnauthorized, "unauthorized")
	wantError(t, do(t, h, "GET", "/", "", "garbage"), http.StatusUnauthorized, "invalid_token")
	wantError(t, do(t, h, "GET", "/", "", refreshTok), http.StatusUnauthorized, "invalid_token")
	wantError(t, do(t, h, "GET", "/", "", shopperTok), http.StatusForbidden, "forbidden")

	// A token in the URL is not a credential.
	wantError(t, do(t, h, "GET", "/?token="+guideTok+"&access_token="+guideTok, "", ""), http.StatusUnauthorized, "unauthorized")

	// Other schemes are ignored; the scheme name is case-insensitive.
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Basic "+guideTok)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	wantError(t, rec, http.StatusUnauthorized, "unauthorized")
	if rec.Header().Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	req.Header.Set("Authorization", "bearer "+guideTok)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent {
		t.Errorf("lower-case scheme: %d", rec.Code)
	}

	// Shopper-only route.
	shop := iss.Middleware(protocol.RoleShopper)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := auth.ClaimsFrom(r.Context())
		if c.EntryID != "entry-1" {
			t.Errorf("EntryID = %q", c.EntryID)
		}
	}))
	if rec := do(t, shop, "GET", "/", "", shopperTok); rec.Code != http.StatusOK {
		t.Errorf("shopper on shopper route: %d", rec.Code)
	}
	wantError(t, do(t, shop, "GET", "/", "", guideTok), http.StatusForbidden, "forbidden")

	// No roles: any valid access token.
	any := iss.Middleware()(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	if rec := do(t, any, "GET", "/", "", shopperTok); rec.Code != http.StatusOK {
		t.Errorf("any-role route: %d", rec.Code)
	}

	clk.Advance(time.Hour)
	wantError(t, do(t, h, "GET", "/", "", guideTok), http.StatusUnauthorized, "token_expired")
}

func TestClaimsContext(t *testing.T) {
	if _, ok := auth.ClaimsFrom(t.Context()); ok {
		t.Fatal("claims in empty context")
	}
	c := &auth.Claims{Role: protocol.RoleAdmin}
	got, ok := auth.ClaimsFrom(auth.WithClaims(t.Context(), c))
	if !ok || got != c {
		t.Fatalf("ClaimsFrom = %v, %v", got, ok)
	}
}

// TestAdminCreatesAccount: an admin adds a guide (the role defaults to
// guide); each refusal names its field first, for the dashboard's form; a
// guide may not add accounts.
func TestAdminCreatesAccount(t *testing.T) {
	f := newFixture(t)
	h := f.svc.AdminRoutes()
	login := func(email, password string) string {
		pair, err := f.svc.Login(t.Context(), email, password, "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		return pair.AccessToken
	}
	admin := login("admin@example.com", "admin-password")
	rec := do(t, h, "POST", "/", `{"email":"New.Guide@Example.com","name":"Nia","password":"a long enough password"}`, admin)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	var a map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &a)
	if a["email"] != "new.guide@example.com" || a["role"] != "guide" || a["name"] != "Nia" || a["id"] == "" || strings.Contains(rec.Body.String(), "argon2") {
		t.Fatalf("created %s", rec.Body)
	}
	if _, err := f.svc.Login(t.Context(), "new.guide@example.com", "a long enough password", "192.0.2.1"); err != nil {
		t.Fatalf("the new guide cannot log in: %v", err)
	}
	for _, c := range []struct {
		body, field string
		status      int
	}{
		{`{"email":"new.guide@example.com","name":"Again","password":"a long enough password"}`, "email", http.StatusConflict},
		{`{"email":"not an address","name":"X","password":"a long enough password"}`, "email", http.StatusBadRequest},
		{`{"email":"x@example.com","name":"","password":"a long enough password"}`, "name", http.StatusBadRequest},
		{`{"email":"x@example.com","name":"X","password":"short"}`, "password", http.StatusBadRequest},
		{`{"email":"x@example.com","name":"X","password":"a long enough password","role":"shopper"}`, "role", http.StatusBadRequest},
	} {
		rec := do(t, h, "POST", "/", c.body, admin)
		var e apiError
		_ = json.Unmarshal(rec.Body.Bytes(), &e)
		if rec.Code != c.status || !strings.HasPrefix(e.Error.Message, c.field+": ") {
			t.Errorf("%s: %d %s, want %d naming %s", c.body, rec.Code, rec.Body, c.status, c.field)
		}
	}
	guide := login("guide@example.com", guidePassword)
	wantError(t, do(t, h, "POST", "/", `{"email":"y@example.com","name":"Y","password":"a long enough password"}`, guide), http.StatusForbidden, "forbidden")
}
