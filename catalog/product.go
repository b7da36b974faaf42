package catalog

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"guidecall/internal/cleantext"
)

// Product is one row of the feed: the shape of a product card on the wire
// (docs/protocol.md, product.share). Price is in the currency's minor unit.
type Product struct {
	ProductID string `json:"product_id"`
	Name      string `json:"name"`
	Variant   string `json:"variant,omitempty"`
	ImageURL  string `json:"image_url,omitempty"`
	URL       string `json:"url,omitempty"`
	Price     int64  `json:"price"`
	Currency  string `json:"currency"`
}

// Limits of the feed; docs/api.md says the same.
const (
	MaxProducts  = 10000
	maxIDBytes   = 200
	maxNameRunes = 200
	maxURLBytes  = 2048
	// maxPrice matches the largest payment link amount.
	maxPrice = 999_999_999_999
)

var (
	// ErrInvalid marks a feed or a request the caller must fix; the message
	// names the row and the field.
	ErrInvalid = errors.New("catalog: invalid")
	// ErrNotAllowed is a preview of a URL outside the trusted origins.
	ErrNotAllowed = errors.New("catalog: origin not allowed")
	// ErrFetch is a product page that could not be read (down, slow,
	// not 200).
	ErrFetch = errors.New("catalog: page unreadable")
	// ErrUnavailable is a store that does not answer.
	ErrUnavailable = errors.New("catalog: store unavailable")
)

// RowError is a bad row of an imported feed: Row counts from 1 (for CSV,
// the first row after the header), Field is the column's name.
type RowError struct {
	Row   int
	Field string
	Msg   string
}

func (e *RowError) Error() string { return fmt.Sprintf("row %d: %s: %s", e.Row, e.Field, e.Msg) }

// Unwrap makes a RowError an ErrInvalid.
func (e *RowError) Unwrap() error { return ErrInvalid }

var (
	currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
	decimalRE  = regexp.MustCompile(`^[0-9]{1,12}([.,][0-9]{1,4})?$`)
)

// clean checks and normalizes one product of row n: the same rules a
// product card is held to in a call, so any feed row can be shown.
func (p *Product) clean(n int) error {
	bad := func(field, msg string) error { return &RowError{Row: n, Field: field, Msg: msg} }
	p.ProductID = strings.TrimSpace(p.ProductID)
	switch {
	case p.ProductID == "":
		return bad("product_id", "required")
	case len(p.ProductID) > maxIDBytes:
		return bad("product_id", fmt.Sprintf("longer than %d bytes", maxIDBytes))
	}
	name, err := cleantext.Line(p.Name, maxNameRunes)
	switch {
	case err != nil:
		return bad("name", err.Error())
	case name == "":
		return bad("name", "required")
	}
	p.Name = name
	if p.Variant, err = cleantext.Line(p.Variant, maxNameRunes); err != nil {
		return bad("variant", err.Error())
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"image_url", &p.ImageURL}, {"url", &p.URL}} {
		*f.v = strings.TrimSpace(*f.v)
		if *f.v == "" {
			continue
		}
		if u, err := url.Parse(*f.v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(*f.v) > maxURLBytes {
			return bad(f.name, "must be an http or https URL of at most 2048 bytes")
		}
	}
	switch {
	case p.Price < 0 || p.Price > maxPrice:
		return bad("price", "must be 0 to 999999999999 in the currency's minor unit")
	case !currencyRE.MatchString(p.Currency):
		return bad("currency", "must be an ISO 4217 code like EUR")
	}
	return nil
}

// key is what makes a row unique in the feed: a product in one variant.
func (p Product) key() string { return p.ProductID + "\x00" + p.Variant }

// checkFeed cleans every row and refuses duplicates and oversized feeds.
func checkFeed(ps []Product) error {
	if len(ps) > MaxProducts {
		return fmt.Errorf("%w: %d products; a feed holds at most %d", ErrInvalid, len(ps), MaxProducts)
	}
	seen := make(map[string]int, len(ps))
	for i := range ps {
		if err := ps[i].clean(i + 1); err != nil {
			return err
		}
		if first, dup := seen[ps[i].key()]; dup {
			return &RowError{Row: i + 1, Field: "product_id", Msg: fmt.Sprintf("%q in variant %q is row %d already", ps[i].ProductID, ps[i].Variant, first)}
		}
		seen[ps[i].key()] = i + 1
	}
	return nil
}
