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
	"guidecall/queue"
)

// TestEraseCustomerThroughAdminAPI: customer A joins with a signed token
// and leaves the line for a callback, then asks for another callback with
// its token only; customer B and an anonymous shopper do the same. The
// admin API erases A (entry and both callbacks) and nobody else.
func TestEraseCustomerThroughAdminAPI(t *testing.T) {
	t.Parallel()
	node := startAppConfig(t, func(c *config.Serve) { c.CustomerTokenSecret = customerSecret }, nil)
	_, admin := accountToken(t, node, "admin@example.com", protocol.RoleAdmin)
	_, guide := accountToken(t, node, "guide@example.com", protocol.RoleGuide)
	api := node.URL() + "/api/v1"
	exp := time.Now().Add(time.Hour).Unix()
	tokenOf := func(sub string) string {
		return customerToken(t, customerSecret, jwt.MapClaims{"sub": sub, "exp": exp})
	}
	joinAs := func(name, tok string) joined {
		t.Helper()
		r := doJSON(t, "POST", api+"/queue", "", map[string]string{"currency": "EUR", "name": name, "customer_token": tok}, nil)
		var j joined
		if r.status != http.StatusCreated || json.Unmarshal(r.body, &j) != nil {
			t.Fatalf("join as %s: %d %s", name, r.status, r.body)
		}
		return j
	}
	callback := func(body map[string]string) string {
		t.Helper()
		r := doJSON(t, "POST", api+"/queues/default/callbacks", "", body, nil)
		var cb struct {
			ID string `json:"callback_id"`
		}
		if r.status != http.StatusCreated || json.Unmarshal(r.body, &cb) != nil {
			t.Fatalf("callback %v: %d %s", body, r.status, r.body)
		}
		return cb.ID
	}
	a, b, anon := joinAs("Ana", tokenOf("cust/a 1")), joinAs("Bea", tokenOf("cust-b")), joinAs("Cy", "")
	cbAEntry := callback(map[string]string{"name": "Ana", "phone": "+49 30 1234567", "entry_id": a.EntryID})
	cbAToken := callback(map[string]string{"name": "Ana", "email": "ana@shop.example", "message": "size 38?", "customer_token": tokenOf("cust/a 1")})
	cbB := callback(map[string]string{"name": "Bea", "phone": "+351 21 000 0000", "customer_token": tokenOf("cust-b")})
	cbAnon := callback(map[string]string{"name": "Cy", "phone": "+351 21 000 0001", "entry_id": anon.EntryID})
	wantError(t, doJSON(t, "POST", api+"/queues/default/callbacks", "", map[string]string{
		"name": "Eve", "phone": "+49 30 1234567", "customer_token": customerToken(t, "some-other-secret-that-is-long-enough!", jwt.MapClaims{"sub": "cust/a 1", "exp": exp}),
	}, nil), http.StatusBadRequest, "bad_customer_token", "signature")
	if cb, _ := node.Queue.Callbacks(t.Context(), ""); len(cb) != 4 {
		t.Fatalf("%d callbacks before the erasure, want 4", len(cb))
	}
	for _, id := range []string{cbAEntry, cbAToken} {
		var found bool
		cbs, _ := node.Queue.Callbacks(t.Context(), "")
		for _, cb := range cbs {
			found = found || cb.ID == id && cb.CustomerID == "cust/a 1"
		}
		if !found {
			t.Errorf("callback %s does not carry customer cust/a 1: %+v", id, cbs)
		}
	}

	path := api + "/admin/customers/cust%2Fa%201"
	if r := doJSON(t, "DELETE", path, "", nil, nil); r.status != http.StatusUnauthorized {
		t.Errorf("erasure without a token: %d", r.status)
	}
	if r := doJSON(t, "DELETE", path, guide, nil, nil); r.status != http.StatusForbidden {
		t.Errorf("erasure by a guide: %d", r.status)
	}
	r := doJSON(t, "DELETE", path, admin, nil, nil)
	if r.status != http.StatusOK || strings.TrimSpace(string(r.body)) != `{"entries":1,"callbacks":2}` {
		t.Fatalf("erasure of cust/a 1: %d %s; want 200 with 1 entry and 2 callbacks", r.status, r.body)
	}
	if r := doJSON(t, "DELETE", path, admin, nil, nil); r.status != http.StatusOK || strings.TrimSpace(string(r.body)) != `{"entries":0,"callbacks":0}` {
		t.Errorf("second erasure: %d %s; want nothing left", r.status, r.body)
	}
	if e, _ := node.Queue.Entry(t.Context(), a.EntryID); e.Name != "" || e.PageURL != "" || e.CustomerID != "" {
		t.Errorf("entry of the erased customer: %+v", e)
	}
	if e, _ := node.Queue.Entry(t.Context(), b.EntryID); e.Name != "Bea" || e.CustomerID != "cust-b" {
		t.Errorf("erasure touched cust-b's entry: %+v", e)
	}
	if e, _ := node.Queue.Entry(t.Context(), anon.EntryID); e.Name != "Cy" {
		t.Errorf("erasure touched the anonymous entry: %+v", e)
	}
	r = doJSON(t, "GET", api+"/callbacks", guide, nil, nil)
	body := string(r.body)
	if r.status != http.StatusOK || strings.Contains(body, cbAEntry) || strings.Contains(body, cbAToken) || strings.Contains(body, "ana@shop.example") ||
		!strings.Contains(body, cbB) || !strings.Contains(body, cbAnon) {
		t.Errorf("guide's callbacks after the erasure: %d %s; want only %s and %s", r.status, body, cbB, cbAnon)
	}
}

// TestRoutingBodiesRefuseNULAndCleanText: every routing body refuses a NUL
// with 400 and stores nothing; the text people read is cleaned.
func TestRoutingBodiesRefuseNULAndCleanText(t *testing.T) {
	t.Parallel()
	node := startApp(t, nil)
	_, admin := accountToken(t, node, "admin@example.com", protocol.RoleAdmin)
	g, guide := accountToken(t, node, "guide@example.com", protocol.RoleGuide)
	api := node.URL() + "/api/v1"
	raw := func(method, url, token, body string) response {
		t.Helper()
		return do(t, method, url, token, strings.NewReader(body), nil)
	}
	for name, req := range map[string][3]string{
		"callback name":         {"POST", "/queues/default/callbacks", `{"name":"Ana\u0000","phone":"+49 30 1234567"}`},
		"callback message":      {"POST", "/queues/default/callbacks", `{"name":"Ana","phone":"+49 30 1234567","message":"\u0000"}`},
		"callback null":         {"POST", "/queues/default/callbacks", `null`},
		"queue display name":    {"POST", "/admin/queues", `{"name":"nul","display_name":"Shoes\u0000"}`},
		"queue patch":           {"PATCH", "/admin/queues/default", `{"display_name":"\u0000"}`},
		"guide profile":         {"PUT", "/admin/guides/" + g.ID, `{"queues":["default\u0000"]}`},
		"callback outcome note": {"POST", "/callbacks/cb_x/outcome", `{"outcome":"reached","note":"\u0000"}`},
	} {
		token := admin
		if strings.HasPrefix(req[1], "/callbacks/") {
			token = guide
		}
		if r := raw(req[0], api+req[1], token, req[2]); r.status != http.StatusBadRequest {
			t.Errorf("%s with a NUL: %d %s, want 400", name, r.status, r.body)
		}
	}
	if cbs, _ := node.Queue.Callbacks(t.Context(), ""); len(cbs) != 0 {
		t.Errorf("refused callbacks stored: %+v", cbs)
	}
	if _, err := node.Queue.Queue(t.Context(), "nul"); err == nil {
		t.Errorf("a refused queue was stored")
	}
	if q, _ := node.Queue.Queue(t.Context(), "default"); strings.ContainsRune(q.DisplayName, 0) {
		t.Errorf("a refused patch was stored: %q", q.DisplayName)
	}

	const dirty, clean = "\u202eSam\u200b O\u0308zil\u2069\u0007", "Sam Özil"
	r := doJSON(t, "POST", api+"/admin/queues", admin, map[string]string{"name": "bidi", "display_name": dirty}, nil)
	var q queue.Queue
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &q) != nil || q.DisplayName != clean {
		t.Errorf("queue with display name %q: %d %s; want %q", dirty, r.status, r.body, clean)
	}
	r = doJSON(t, "POST", api+"/queues/default/callbacks", "", map[string]string{"name": dirty, "phone": "+49 30 1234567", "message": dirty}, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("callback: %d %s", r.status, r.body)
	}
	cbs, _ := node.Queue.Callbacks(t.Context(), "")
	if len(cbs) != 1 || cbs[0].Name != clean || cbs[0].Message != clean {
		t.Errorf("stored callbacks %+v; want name and message %q", cbs, clean)
	}
}

// TestPrivacySettingsForTheWidget: what the widget shows before it asks
// for the camera comes from --privacy-notice-url and --retention.
func TestPrivacySettingsForTheWidget(t *testing.T) {
	t.Parallel()
	node := startAppConfig(t, func(c *config.Serve) {
		c.PrivacyNoticeURL, c.Retention = "https://shop.example/privacy", 14*24*time.Hour
	}, nil)
	r := doJSON(t, "GET", node.URL()+"/api/v1/privacy", "", nil, nil)
	var got struct {
		NoticeURL     string `json:"notice_url"`
		RetentionDays int    `json:"retention_days"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &got) != nil || got.NoticeURL != "https://shop.example/privacy" || got.RetentionDays != 14 {
		t.Errorf("GET /api/v1/privacy: %d %s; want the notice and 14 days", r.status, r.body)
	}
}
