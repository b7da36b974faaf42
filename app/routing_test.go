package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"guidecall/internal/config"
	"guidecall/protocol"
)

const customerSecret = "merchant-identity-secret-0123456789abcdef"

func wantError(t *testing.T, r response, status int, code, mention string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d (%s), want %d", r.status, r.body, status)
	}
	if got := r.errorCode(t); got != code {
		t.Errorf("code %q, want %q", got, code)
	}
	if !strings.Contains(string(r.body), mention) {
		t.Errorf("body %s does not name %q", r.body, mention)
	}
}

func TestAdminQueuesAndGuideProfiles(t *testing.T) {
	t.Parallel()
	node := startApp(t, nil)
	_, admin := accountToken(t, node, "admin@example.com", protocol.RoleAdmin)
	guide, guideTok := accountToken(t, node, "guide@example.com", protocol.RoleGuide)
	base := node.URL() + "/api/v1/admin"

	if r := doJSON(t, "GET", base+"/queues", guideTok, nil, nil); r.status != http.StatusForbidden && r.status != http.StatusUnauthorized {
		t.Errorf("a guide lists queues: %d", r.status)
	}
	r := doJSON(t, "GET", base+"/queues", admin, nil, nil)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"name":"default"`) {
		t.Fatalf("list on first start: %d %s", r.status, r.body)
	}
	wantError(t, doJSON(t, "POST", base+"/queues", admin, map[string]any{"name": "mars", "time_zone": "Mars/Olympus"}, nil),
		http.StatusBadRequest, "bad_request", "time_zone")
	wantError(t, doJSON(t, "POST", base+"/queues", admin, map[string]any{"name": "loop", "relax": []map[string]any{{"after_seconds": 60, "action": "overflow", "queue": "loop"}}}, nil),
		http.StatusBadRequest, "bad_request", "overflows into itself")
	wantError(t, doJSON(t, "POST", base+"/queues", admin, map[string]any{"name": "x", "hours": map[string]any{"mon": []map[string]string{{"open": "18:00", "close": "09:00"}}}}, nil),
		http.StatusBadRequest, "bad_request", "hours.mon")
	wantError(t, doJSON(t, "POST", base+"/queues", admin, map[string]any{"name": "x", "colour": "red"}, nil),
		http.StatusBadRequest, "bad_request", "colour")
	r = doJSON(t, "POST", base+"/queues", admin, map[string]any{
		"name": "shoes", "display_name": "Shoe advice", "time_zone": "Europe/Berlin", "max_wait_seconds": 300,
		"relax": []map[string]any{{"after_seconds": 60, "action": "drop_skill"}},
	}, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	wantError(t, doJSON(t, "POST", base+"/queues", admin, map[string]any{"name": "shoes"}, nil), http.StatusConflict, "bad_state", "already exists")
	r = doJSON(t, "PATCH", base+"/queues/shoes", admin, map[string]any{"wrap_up_seconds": 20}, nil)
	var q struct {
		DisplayName string `json:"display_name"`
		WrapUp      int    `json:"wrap_up_seconds"`
		MaxWait     int    `json:"max_wait_seconds"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &q) != nil || q.WrapUp != 20 || q.MaxWait != 300 || q.DisplayName != "Shoe advice" {
		t.Errorf("patch kept the other fields? %d %s", r.status, r.body)
	}
	wantError(t, doJSON(t, "PATCH", base+"/queues/nosuch", admin, map[string]any{"wrap_up_seconds": 20}, nil), http.StatusNotFound, "not_found", "nosuch")

	wantError(t, doJSON(t, "PUT", base+"/guides/"+guide.ID, admin, map[string]any{"languages": []string{"en"}}, nil),
		http.StatusBadRequest, "bad_request", "queues")
	wantError(t, doJSON(t, "PUT", base+"/guides/"+guide.ID, admin, map[string]any{"queues": []string{"nosuch"}}, nil),
		http.StatusBadRequest, "bad_request", "unknown queue")
	wantError(t, doJSON(t, "PUT", base+"/guides/nobody", admin, map[string]any{"queues": []string{"shoes"}}, nil),
		http.StatusNotFound, "not_found", "guide_id")
	r = doJSON(t, "PUT", base+"/guides/"+guide.ID, admin, map[string]any{"queues": []string{"shoes"}, "languages": []string{"de"}, "skills": []string{"running"}}, nil)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"languages":["de"]`) {
		t.Fatalf("set profile: %d %s", r.status, r.body)
	}
	r = doJSON(t, "GET", base+"/guides/"+guide.ID, admin, nil, nil)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"presence":"offline"`) {
		t.Errorf("read guide: %d %s", r.status, r.body)
	}
}

func TestClosedQueueAndCallbacks(t *testing.T) {
	t.Parallel()
	node := startApp(t, nil)
	_, admin := accountToken(t, node, "admin@example.com", protocol.RoleAdmin)
	g1, tok1 := accountToken(t, node, "g1@example.com", protocol.RoleGuide)
	_, tok2 := accountToken(t, node, "g2@example.com", protocol.RoleGuide)
	api := node.URL() + "/api/v1"
	// A queue that is never open.
	if r := doJSON(t, "POST", api+"/admin/queues", admin, map[string]any{"name": "night", "hours": map[string]any{}}, nil); r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	wantError(t, doJSON(t, "POST", api+"/queue", "", map[string]string{"queue": "night", "currency": "EUR"}, nil),
		http.StatusConflict, "queue_closed", `"callback_url":"/api/v1/queues/night/callbacks"`)
	wantError(t, doJSON(t, "POST", api+"/queue", "", map[string]string{"queue": "nosuch", "currency": "EUR"}, nil),
		http.StatusNotFound, "not_found", "nosuch")

	r := doJSON(t, "GET", api+"/queues/night/status", "", nil, nil)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"open":false`) || !strings.Contains(string(r.body), `"callback":true`) {
		t.Errorf("status of a closed queue: %d %s", r.status, r.body)
	}
	r = doJSON(t, "GET", api+"/queues/default/status?locale=de-DE", "", nil, nil)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"eta_seconds":null`) || !strings.Contains(string(r.body), `"guides_online":0`) {
		t.Errorf("status with nobody online: %d %s", r.status, r.body)
	}

	wantError(t, doJSON(t, "POST", api+"/queues/night/callbacks", "", map[string]string{"name": "Ana"}, nil),
		http.StatusBadRequest, "bad_request", "phone")
	wantError(t, doJSON(t, "POST", api+"/queues/night/callbacks", "", map[string]string{"name": "Ana", "email": "not-an-address"}, nil),
		http.StatusBadRequest, "bad_request", "email")
	r = doJSON(t, "POST", api+"/queues/night/callbacks", "", map[string]string{"name": "Ana", "email": "ana@example.com", "message": "size 38?"}, nil)
	var cb struct {
		ID string `json:"callback_id"`
	}
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &cb) != nil || cb.ID == "" {
		t.Fatalf("request callback: %d %s", r.status, r.body)
	}
	if r := doJSON(t, "GET", api+"/callbacks", "", nil, nil); r.status != http.StatusUnauthorized {
		t.Errorf("callbacks without a token: %d", r.status)
	}
	r = doJSON(t, "GET", api+"/callbacks", tok1, nil, nil)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), cb.ID) || !strings.Contains(string(r.body), "ana@example.com") {
		t.Fatalf("guide's callbacks: %d %s", r.status, r.body)
	}
	if r := doJSON(t, "POST", api+"/callbacks/"+cb.ID+"/claim", tok1, nil, nil); r.status != http.StatusOK || !strings.Contains(string(r.body), g1.ID) {
		t.Fatalf("claim: %d %s", r.status, r.body)
	}
	wantError(t, doJSON(t, "POST", api+"/callbacks/"+cb.ID+"/claim", tok2, nil, nil), http.StatusConflict, "bad_state", "claimed")
	wantError(t, doJSON(t, "POST", api+"/callbacks/"+cb.ID+"/outcome", tok2, map[string]string{"outcome": "reached"}, nil), http.StatusForbidden, "forbidden", "another guide")
	wantError(t, doJSON(t, "POST", api+"/callbacks/"+cb.ID+"/outcome", tok1, map[string]string{"outcome": "maybe"}, nil), http.StatusBadRequest, "bad_request", "outcome")
	if r := doJSON(t, "POST", api+"/callbacks/"+cb.ID+"/outcome", tok1, map[string]string{"outcome": "reached", "note": "ordered"}, nil); r.status != http.StatusOK || !strings.Contains(string(r.body), `"state":"done"`) {
		t.Errorf("outcome: %d %s", r.status, r.body)
	}
}

func customerToken(t *testing.T, key string, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCustomerTokenSetsPriority(t *testing.T) {
	t.Parallel()
	node := startAppConfig(t, func(c *config.Serve) { c.CustomerTokenSecret = customerSecret }, nil)
	api := node.URL() + "/api/v1"
	exp := time.Now().Add(time.Hour).Unix()
	joinWith := func(tok string) response {
		return doJSON(t, "POST", api+"/queue", "", map[string]string{"currency": "EUR", "customer_token": tok}, nil)
	}
	wantError(t, joinWith(customerToken(t, "some-other-secret-that-is-long-enough!", jwt.MapClaims{"sub": "c1", "tier": "gold", "exp": exp})),
		http.StatusBadRequest, "bad_customer_token", "signature")
	wantError(t, joinWith(algNone(t, customerToken(t, customerSecret, jwt.MapClaims{"sub": "c1", "priority": 50, "exp": exp}))),
		http.StatusBadRequest, "bad_customer_token", "customer_token")
	wantError(t, joinWith(customerToken(t, customerSecret, jwt.MapClaims{"sub": "c1", "tier": "diamond", "exp": exp})),
		http.StatusBadRequest, "bad_customer_token", "tier")
	wantError(t, joinWith(customerToken(t, customerSecret, jwt.MapClaims{"sub": "c1", "priority": 500, "exp": exp})),
		http.StatusBadRequest, "bad_customer_token", "priority")
	wantError(t, joinWith(customerToken(t, customerSecret, jwt.MapClaims{"sub": "c1", "tier": "gold"})),
		http.StatusBadRequest, "bad_customer_token", "exp")
	r := joinWith(customerToken(t, customerSecret, jwt.MapClaims{"sub": "cust-42", "name": "Ana", "tier": "gold", "cart_value": 12900, "exp": exp}))
	var j joined
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &j) != nil {
		t.Fatalf("join with a good token: %d %s", r.status, r.body)
	}
	e, err := node.Queue.Entry(t.Context(), j.EntryID)
	if err != nil || e.Priority != 20 || e.CustomerID != "cust-42" {
		t.Errorf("entry %+v, %v; want priority 20 for gold", e, err)
	}
	// A body cannot set priority itself: refused, naming the field, rather
	// than silently ignored (issue 8: a priority without a valid token).
	wantError(t, doJSON(t, "POST", api+"/queue", "", map[string]any{"currency": "EUR", "priority": 99}, nil),
		http.StatusBadRequest, "bad_request", "priority")
}
