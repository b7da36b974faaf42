package catalog

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// columns are the feed's fields, as JSON keys and as CSV header names.
var columns = []string{"product_id", "name", "variant", "image_url", "url", "price", "currency"}

// ParseJSON reads a feed as one JSON array of products. A row with an
// unknown field, a price that is not an integer, or anything else wrong is
// a *RowError naming it.
func ParseJSON(b []byte) ([]Product, error) {
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("%w: the feed is not UTF-8", ErrInvalid)
	}
	var rows []json.RawMessage
	if err := json.Unmarshal(b, &rows); err != nil {
		return nil, fmt.Errorf("%w: the feed must be a JSON array of products: %v", ErrInvalid, err)
	}
	out := make([]Product, 0, len(rows))
	for i, raw := range rows {
		var p Product
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return nil, &RowError{Row: i + 1, Field: jsonField(err), Msg: jsonMsg(err)}
		}
		out = append(out, p)
	}
	return out, checkFeed(out)
}

// jsonField names the field a decoding error is about, when it says.
func jsonField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return te.Field
	}
	if s := err.Error(); strings.HasPrefix(s, "json: unknown field ") {
		return strings.Trim(strings.TrimPrefix(s, "json: unknown field "), `"`)
	}
	return "row"
}

func jsonMsg(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "price" {
			return "must be an integer in the currency's minor unit (1299 for 12.99)"
		}
		return "must be a " + te.Type.String()
	}
	if strings.HasPrefix(err.Error(), "json: unknown field ") {
		return "not a field of a product (" + strings.Join(columns, ", ") + ")"
	}
	return "must be a JSON object: " + err.Error()
}

// ParseCSV reads a feed as CSV with a header row naming the columns (in
// any order; product_id, name, price and currency are required, variant,
// image_url and url optional).
func ParseCSV(r io.Reader) ([]Product, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 0 // every row as long as the header
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: the feed needs a header row (%s): %v", ErrInvalid, strings.Join(columns, ","), err)
	}
	at := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !slices.Contains(columns, h) {
			return nil, &RowError{Row: 0, Field: h, Msg: "not a column of the feed (" + strings.Join(columns, ", ") + ")"}
		}
		if _, dup := at[h]; dup {
			return nil, &RowError{Row: 0, Field: h, Msg: "named twice in the header"}
		}
		at[h] = i
	}
	for _, need := range []string{"product_id", "name", "price", "currency"} {
		if _, ok := at[need]; !ok {
			return nil, &RowError{Row: 0, Field: need, Msg: "missing from the header"}
		}
	}
	var out []Product
	for n := 1; ; n++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &RowError{Row: n, Field: "row", Msg: err.Error()}
		}
		if len(out) >= MaxProducts {
			return nil, fmt.Errorf("%w: more than %d products; a feed holds at most %d", ErrInvalid, MaxProducts, MaxProducts)
		}
		get := func(col string) string {
			if i, ok := at[col]; ok {
				return rec[i]
			}
			return ""
		}
		for _, v := range rec {
			if !utf8.ValidString(v) {
				return nil, &RowError{Row: n, Field: "row", Msg: "not UTF-8"}
			}
		}
		price, err := strconv.ParseInt(strings.TrimSpace(get("price")), 10, 64)
		if err != nil {
			return nil, &RowError{Row: n, Field: "price", Msg: "must be an integer in the currency's minor unit (1299 for 12.99)"}
		}
		out = append(out, Product{
			ProductID: get("product_id"), Name: get("name"), Variant: get("variant"),
			ImageURL: get("image_url"), URL: get("url"), Price: price, Currency: strings.TrimSpace(get("currency")),
		})
	}
	return out, checkFeed(out)
}
