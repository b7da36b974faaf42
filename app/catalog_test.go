package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"guidecall/protocol"
)

// TestProductFeedThroughTheAPI: an admin imports the feed as JSON and as
// CSV (each replacing the last), a bad row is refused naming its row and
// field and leaves the feed as it was, guides search it, and a preview
// reads the node's own demo page but not a page elsewhere.
func TestProductFeedThroughTheAPI(t *testing.T) {
	t.Parallel()
	node := startApp(t, nil)
	_, admin := accountToken(t, node, "feed-admin@test.local", protocol.RoleAdmin)
	_, guide := accountToken(t, node, "feed-guide@test.local", protocol.RoleGuide)
	api := node.URL() + "/api/v1"
	put := func(contentType, body string) response {
		t.Helper()
		return do(t, "PUT", api+"/admin/products", admin, strings.NewReader(body), map[string]string{"Content-Type": contentType})
	}
	search := func(q string) []string {
		t.Helper()
		r := do(t, "GET", api+"/products?q="+q, guide, nil, nil)
		var got struct {
			Products []struct {
				ProductID string `json:"product_id"`
				Variant   string `json:"variant"`
				Price     int64  `json:"price"`
			} `json:"products"`
		}
		if r.status != http.StatusOK || json.Unmarshal(r.body, &got) != nil {
			t.Fatalf("search %q: %d %s", q, r.status, r.body)
		}
		var out []string
		for _, p := range got.Products {
			out = append(out, p.ProductID+"/"+p.Variant)
		}
		return out
	}

	r := put("application/json", `[{"product_id":"sneaker","name":"Merino wool sneaker","variant":"EU 42","price":12900,"currency":"EUR"},
		{"product_id":"socks","name":"Wool socks","price":1500,"currency":"EUR"}]`)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"products":2`) {
		t.Fatalf("PUT JSON: %d %s", r.status, r.body)
	}
	if got := search("wool"); strings.Join(got, " ") != "sneaker/EU 42 socks/" {
		t.Fatalf("search wool: %v", got)
	}
	r = put("text/csv", "product_id,name,variant,price,currency\ntrail,Trail runner,Blue,15900,EUR\ntrail,Trail runner,Red,15900,EUR\n")
	if r.status != http.StatusOK {
		t.Fatalf("PUT CSV: %d %s", r.status, r.body)
	}
	if got := search("wool"); len(got) != 0 {
		t.Fatalf("the CSV replaced the feed, yet wool finds %v", got)
	}
	r = put("text/csv", "product_id,name,price,currency\nshoe,Shoe,12900,EUR\nboot,Boot,99.95,EUR\n")
	var bad struct {
		Error struct {
			Code  string
			Row   int
			Field string
		}
	}
	if r.status != http.StatusBadRequest || json.Unmarshal(r.body, &bad) != nil || bad.Error.Row != 2 || bad.Error.Field != "price" || bad.Error.Code != "invalid_feed" {
		t.Fatalf("bad CSV row: %d %s; want 400 naming row 2, price", r.status, r.body)
	}
	if got := search("trail"); strings.Join(got, " ") != "trail/Blue trail/Red" {
		t.Fatalf("a refused import changed the feed: %v", got)
	}
	if r := put("application/xml", "<feed/>"); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("PUT XML: %d", r.status)
	}
	if r := do(t, "PUT", api+"/admin/products", guide, strings.NewReader("[]"), nil); r.status != http.StatusForbidden {
		t.Errorf("a guide replaces the feed: %d", r.status)
	}
	if r := do(t, "GET", api+"/admin/products", admin, nil, nil); r.status != http.StatusOK || !strings.Contains(string(r.body), `"Trail runner"`) {
		t.Errorf("GET admin products: %d %s", r.status, r.body)
	}

	// The preview reads the node's own demo page; another origin is refused.
	r = doJSON(t, "POST", api+"/products/preview", guide, map[string]string{"url": node.URL() + "/shop/"}, nil)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"name":"Merino wool sneaker"`) || !strings.Contains(string(r.body), `"price_amount":"129.00"`) {
		t.Fatalf("preview of the demo page: %d %s", r.status, r.body)
	}
	r = doJSON(t, "POST", api+"/products/preview", guide, map[string]string{"url": "http://169.254.169.254/latest/meta-data/"}, nil)
	if r.status != http.StatusForbidden || !strings.Contains(string(r.body), "origin_not_allowed") {
		t.Fatalf("preview of a metadata address: %d %s", r.status, r.body)
	}
}
