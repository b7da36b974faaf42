package payments

import (
	"bytes"
	"errors"
	"testing"
)

func FuzzDecodeCreateLinkRequest(f *testing.F) {
	f.Add([]byte(`{"amount":2500,"currency":"EUR","items":[{"name":"a","quantity":1,"unit_amount":2500}]}`))
	f.Add([]byte(`{"amount":12.5,"currency":"EUR"}`))
	f.Add([]byte(`{"amount":1e3}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"amount":1,"currency":"EUR","description":"a\u0000\u202Eb"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := decodeCreateLinkRequest(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, errBadRequest) {
				t.Fatalf("decode error %v does not wrap errBadRequest", err)
			}
			return
		}
		p, err := CreateLinkParams{CallID: "c", IdempotencyKey: "k", Amount: req.Amount,
			Currency: req.Currency, Items: req.Items, Description: req.Description}.validate()
		if err != nil {
			return
		}
		if p.Amount <= 0 || p.Amount > MaxAmount {
			t.Fatalf("validated amount %d", p.Amount)
		}
		if _, err := MinorUnits(p.Currency); err != nil {
			t.Fatalf("validated currency %q", p.Currency)
		}
		if len(p.Items) > 0 {
			var sum int64
			for _, it := range p.Items {
				sum += it.Quantity * it.UnitAmount
			}
			if sum != p.Amount {
				t.Fatalf("items sum %d != amount %d", sum, p.Amount)
			}
		}
	})
}
