package catalog

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const productPage = `<!doctype html><html><head><title>Fallback title</title>
<meta property="og:title" content="Merino wool sneaker">
<meta property="og:image" content="https://shop.example/i/sneaker.jpg">
<meta property="og:url" content="https://shop.example/p/sneaker">
<meta property="product:retailer_item_id" content="sneaker-42">
<meta property="product:price:amount" content="129.00">
<meta property="product:price:currency" content="eur">
<meta property="og:image:secure_url" content="javascript:alert(1)">
</head><body><meta property="og:title" content="not in the head"></body></html>`

func TestPreviewReadsOpenGraphFromTrustedOriginsOnly(t *testing.T) {
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/p/sneaker":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(productPage))
		case "/away":
			http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
		case "/json":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{}`))
		case "/huge":
			w.Header().Set("Content-Type", "text/html")
			// The head never ends: the reader stops at the size limit.
			_, _ = w.Write([]byte("<html><head><title>Big</title>" + strings.Repeat("<meta name=x content=y>", previewMaxBytes/10)))
		default:
			http.NotFound(w, r)
		}
	}))
	defer shop.Close()
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the untrusted server was fetched: %s", r.URL)
	}))
	defer internal.Close()

	s := NewService(Config{Store: NewMemoryStore(), PreviewOrigins: []string{strings.ToUpper(shop.URL[:4]) + shop.URL[4:]}})
	ctx := context.Background()
	pv, err := s.Preview(ctx, shop.URL+"/p/sneaker", "g_1")
	if err != nil {
		t.Fatal(err)
	}
	want := Preview{URL: "https://shop.example/p/sneaker", ProductID: "sneaker-42", Name: "Merino wool sneaker", ImageURL: "https://shop.example/i/sneaker.jpg", PriceAmount: "129.00", Currency: "EUR"}
	if pv != want {
		t.Errorf("preview %+v, want %+v", pv, want)
	}
	if pv, err := s.Preview(ctx, shop.URL+"/huge", "g_1"); err != nil || pv.Name != "Big" {
		t.Errorf("huge page: %+v, %v; want its title within the limit", pv, err)
	}
	for _, c := range []struct {
		url  string
		want error
	}{
		{internal.URL + "/admin", ErrNotAllowed},
		{shop.URL + "/away?to=" + internal.URL + "/metadata", ErrNotAllowed},
		{"file:///etc/passwd", ErrInvalid},
		{"http://169.254.169.254/latest/meta-data/", ErrNotAllowed},
		{shop.URL + "/json", ErrInvalid},
		{shop.URL + "/missing", ErrFetch},
	} {
		if _, err := s.Preview(ctx, c.url, "g_1"); !errors.Is(err, c.want) {
			t.Errorf("Preview(%s): %v, want %v", c.url, err, c.want)
		}
	}
}
