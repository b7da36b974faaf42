package app_test

import (
	"net/http"
	"strings"
	"testing"

	"guidecall/protocol"
)

// The payment admin routes are an admin's: limits, any link, its refunds.
// A memory node has the merchant webhook routes too, for admins only.
func TestPaymentAdminRoutes(t *testing.T) {
	t.Parallel()
	node := startApp(t, nil)
	_, guide := accountToken(t, node, "guide-admin-routes@test.local", protocol.RoleGuide)
	_, admin := accountToken(t, node, "admin-admin-routes@test.local", protocol.RoleAdmin)
	limits := node.URL() + "/api/v1/admin/payment-limits"
	if r := do(t, "GET", limits, guide, nil, nil); r.status != http.StatusForbidden {
		t.Fatalf("guide reads limits: %d", r.status)
	}
	if r := doJSON(t, "PUT", limits, admin, map[string]any{"max_amount": map[string]int64{"EUR": 50000}, "max_links_per_call": 3}, nil); r.status != http.StatusOK {
		t.Fatalf("admin sets limits: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", limits, admin, nil, nil); r.status != http.StatusOK || !strings.Contains(string(r.body), `"EUR":50000`) {
		t.Fatalf("admin reads limits: %d %s", r.status, r.body)
	}
	if r := doJSON(t, "PUT", limits, admin, map[string]any{"max_amount": map[string]int64{"ABC": 1}}, nil); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad currency: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", node.URL()+"/api/v1/admin/payment-links/pl_nope", admin, nil, nil); r.status != http.StatusNotFound {
		t.Fatalf("unknown link: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", node.URL()+"/api/v1/admin/webhooks/endpoints", admin, nil, nil); r.status != http.StatusOK || !strings.Contains(string(r.body), `"endpoints":[]`) {
		t.Fatalf("merchant webhooks on memory stores: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", node.URL()+"/api/v1/admin/webhooks/endpoints", guide, nil, nil); r.status != http.StatusForbidden {
		t.Fatalf("guide reads merchant webhooks: %d", r.status)
	}
}
