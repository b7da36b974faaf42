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

// TestSavedReplies: an admin keeps the merchant's replies, every guide
// sees them beside its own, and a guide can remove only its own.
func TestSavedReplies(t *testing.T) {
	t.Parallel()
	node := startApp(t, nil)
	_, admin := accountToken(t, node, "replies-admin@test.local", protocol.RoleAdmin)
	_, ann := accountToken(t, node, "replies-ann@test.local", protocol.RoleGuide)
	_, bob := accountToken(t, node, "replies-bob@test.local", protocol.RoleGuide)
	api := node.URL() + "/api/v1"
	var shop, mine struct {
		ID string `json:"reply_id"`
	}
	r := doJSON(t, "POST", api+"/admin/replies", admin, map[string]string{"title": "Sizing", "text": "This model runs small: take one size up."}, nil)
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &shop) != nil {
		t.Fatalf("admin adds: %d %s", r.status, r.body)
	}
	r = doJSON(t, "POST", api+"/replies", ann, map[string]string{"title": "Hello", "text": "Hi, I am Ann\nfrom the shop."}, nil)
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &mine) != nil {
		t.Fatalf("Ann adds: %d %s", r.status, r.body)
	}
	if r := doJSON(t, "POST", api+"/replies", ann, map[string]string{"title": "Empty", "text": " "}, nil); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "text") {
		t.Errorf("an empty text: %d %s; want 400 naming text", r.status, r.body)
	}
	list := func(tok string) (merchant, own []string) {
		t.Helper()
		r := do(t, "GET", api+"/replies", tok, nil, nil)
		var got struct {
			Merchant, Mine []struct{ Title, Text string }
		}
		if r.status != http.StatusOK || json.Unmarshal(r.body, &got) != nil {
			t.Fatalf("GET replies: %d %s", r.status, r.body)
		}
		for _, x := range got.Merchant {
			merchant = append(merchant, x.Title)
		}
		for _, x := range got.Mine {
			own = append(own, x.Title+": "+x.Text)
		}
		return merchant, own
	}
	if m, own := list(ann); strings.Join(m, ",") != "Sizing" || strings.Join(own, ",") != "Hello: Hi, I am Ann\nfrom the shop." {
		t.Errorf("Ann sees merchant %v, own %q", m, own)
	}
	if m, own := list(bob); strings.Join(m, ",") != "Sizing" || len(own) != 0 {
		t.Errorf("Bob sees merchant %v, own %v", m, own)
	}
	for _, c := range []struct {
		tok, id string
		want    int
	}{{bob, mine.ID, 404}, {ann, shop.ID, 404}, {ann, mine.ID, 204}} {
		if r := do(t, "DELETE", api+"/replies/"+c.id, c.tok, nil, nil); r.status != c.want {
			t.Errorf("DELETE %s: %d, want %d", c.id, r.status, c.want)
		}
	}
	if r := do(t, "DELETE", api+"/admin/replies/"+shop.ID, ann, nil, nil); r.status != http.StatusForbidden {
		t.Errorf("a guide deletes a merchant reply through the admin API: %d", r.status)
	}
	if r := do(t, "DELETE", api+"/admin/replies/"+shop.ID, admin, nil, nil); r.status != http.StatusNoContent {
		t.Errorf("admin deletes: %d", r.status)
	}
}
