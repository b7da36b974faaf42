package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Preview is what a product page's Open Graph tags say about it. The
// price stays the page's decimal text (product:price:amount): turning it
// into minor units needs the currency's digits, which the console's money
// code has and this package does not.
type Preview struct {
	URL         string `json:"url"`
	ProductID   string `json:"product_id,omitempty"`
	Name        string `json:"name"`
	ImageURL    string `json:"image_url,omitempty"`
	PriceAmount string `json:"price_amount,omitempty"`
	Currency    string `json:"currency,omitempty"`
}

// Limits of a preview fetch.
const (
	previewTimeout   = 5 * time.Second
	previewMaxBytes  = 512 << 10
	previewRedirects = 3
)

// previewer fetches product pages, but only from trusted origins.
//
// Why only those: the node fetches the URL itself, from inside the
// merchant's network, so a URL a guide may choose freely would let anyone
// with a guide login read internal services, cloud metadata endpoints or
// admin pages the node can reach and the guide cannot (server-side request
// forgery). The origins in --allowed-origins are the merchant's own shop
// pages (the operator vouched for them to embed the widget) and the node's
// own origin serves the demo shop; every redirect is held to the same
// list, and the body and the time are bounded so a slow or huge page
// cannot tie the node up.
type previewer struct {
	allowed map[string]bool
	client  *http.Client
}

func newPreviewer(origins []string) *previewer {
	p := &previewer{allowed: map[string]bool{}}
	for _, o := range origins {
		if o = canonicalOrigin(o); o != "" {
			p.allowed[o] = true
		}
	}
	p.client = &http.Client{
		Timeout: previewTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= previewRedirects {
				return fmt.Errorf("%w: more than %d redirects", ErrInvalid, previewRedirects)
			}
			if !p.allowed[canonicalOrigin(req.URL.String())] {
				return fmt.Errorf("%w: redirected to %s", ErrNotAllowed, canonicalOrigin(req.URL.String()))
			}
			return nil
		},
	}
	return p
}

// canonicalOrigin is scheme://host[:port] in lower case without a default
// port, as config.Origins writes them; "" for anything but http(s).
func canonicalOrigin(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return ""
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		return u.Scheme + "://" + host + ":" + port
	}
	return u.Scheme + "://" + host
}

func (p *previewer) fetch(ctx context.Context, raw string) (Preview, error) {
	origin := canonicalOrigin(raw)
	if origin == "" || len(raw) > maxURLBytes {
		return Preview{}, fmt.Errorf("%w: url must be an http or https URL of at most 2048 bytes", ErrInvalid)
	}
	if !p.allowed[origin] {
		return Preview{}, fmt.Errorf("%w: %s is not one of the shop's origins (--allowed-origins)", ErrNotAllowed, origin)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return Preview{}, fmt.Errorf("%w: url: %v", ErrInvalid, err)
	}
	req.Header.Set("Accept", "text/html")
	res, err := p.client.Do(req)
	if err != nil {
		if errors.Is(err, ErrNotAllowed) || errors.Is(err, ErrInvalid) {
			return Preview{}, err
		}
		return Preview{}, fmt.Errorf("%w: fetch %s: %w", ErrFetch, origin, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return Preview{}, fmt.Errorf("%w: the page answered %d", ErrFetch, res.StatusCode)
	}
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt != "text/html" && mt != "application/xhtml+xml" {
		return Preview{}, fmt.Errorf("%w: the page is %q, not HTML", ErrInvalid, mt)
	}
	pv := openGraph(io.LimitReader(res.Body, previewMaxBytes))
	if pv.URL == "" {
		pv.URL = res.Request.URL.String()
	}
	if pv.Name == "" {
		return Preview{}, fmt.Errorf("%w: the page has no og:title or title", ErrInvalid)
	}
	return pv, nil
}

// openGraph reads the head's meta tags (og:*, product:*) and, failing
// og:title, the title. It stops at the body: the tags live in the head.
func openGraph(r io.Reader) Preview {
	var pv Preview
	var title string
	z := html.NewTokenizer(r)
	inTitle := false
	for {
		switch z.Next() {
		case html.ErrorToken:
			return finish(pv, title)
		case html.TextToken:
			if inTitle && title == "" {
				title = strings.TrimSpace(string(z.Text()))
			}
		case html.EndTagToken:
			inTitle = false
			if name, _ := z.TagName(); atom.Lookup(name) == atom.Head {
				return finish(pv, title)
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			switch atom.Lookup(name) {
			case atom.Body:
				return finish(pv, title)
			case atom.Title:
				inTitle = true
			case atom.Meta:
				var prop, content string
				for hasAttr {
					var k, v []byte
					k, v, hasAttr = z.TagAttr()
					switch string(k) {
					case "property", "name":
						prop = strings.ToLower(string(v))
					case "content":
						content = strings.TrimSpace(string(v))
					}
				}
				set := func(dst *string) {
					if *dst == "" {
						*dst = content
					}
				}
				switch prop {
				case "og:title":
					set(&pv.Name)
				case "og:image", "og:image:url", "og:image:secure_url":
					set(&pv.ImageURL)
				case "og:url":
					set(&pv.URL)
				case "product:retailer_item_id", "product:sku":
					set(&pv.ProductID)
				case "product:price:amount", "og:price:amount":
					set(&pv.PriceAmount)
				case "product:price:currency", "og:price:currency":
					set(&pv.Currency)
				}
			}
		}
	}
}

// finish drops what a card could not show: URLs that are not http(s), a
// currency that is not a code, a price that is not a decimal number.
func finish(pv Preview, title string) Preview {
	if pv.Name == "" {
		pv.Name = title
	}
	if len([]rune(pv.Name)) > maxNameRunes {
		pv.Name = string([]rune(pv.Name)[:maxNameRunes])
	}
	for _, u := range []*string{&pv.URL, &pv.ImageURL} {
		if canonicalOrigin(*u) == "" || len(*u) > maxURLBytes {
			*u = ""
		}
	}
	pv.Currency = strings.ToUpper(pv.Currency)
	if !currencyRE.MatchString(pv.Currency) {
		pv.Currency = ""
	}
	if !decimalRE.MatchString(pv.PriceAmount) {
		pv.PriceAmount = ""
	}
	if len(pv.ProductID) > maxIDBytes {
		pv.ProductID = ""
	}
	return pv
}
