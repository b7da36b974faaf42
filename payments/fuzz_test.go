package payments

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func FuzzParseSignatureHeader(f *testing.F) {
	secret := []byte("s")
	now := time.Unix(1_700_000_000, 0)
	f.Add(SignSandbox(secret, now, []byte("{}")))
	f.Add("t=1,v1=00")
	f.Add("t=1700000000,v1=" + string(bytes.Repeat([]byte("ab"), 32)) + ",v0=x")
	f.Add("")
	f.Add(",,,=")
	f.Fuzz(func(t *testing.T, h string) {
		ts, sigs, err := parseSignatureHeader(h)
		if err != nil {
			if !errors.Is(err, ErrBadSignature) {
				t.Fatalf("error %v does not wrap ErrBadSignature", err)
			}
			return
		}
		if ts <= 0 || len(sigs) == 0 {
			t.Fatalf("accepted %q with ts=%d sigs=%d", h, ts, len(sigs))
		}
		for _, s := range sigs {
			if len(s) != 32 {
				t.Fatalf("signature of %d bytes accepted", len(s))
			}
		}
		// Whatever parses, only a header carrying the real MAC verifies.
		real := SignSandbox(secret, time.Unix(ts, 0), []byte("{}"))
		mac := real[strings.Index(real, "v1=")+3:]
		if err := VerifySandboxSignature(secret, h, []byte("{}"), time.Unix(ts, 0), SignatureTolerance); err == nil && !strings.Contains(strings.ToLower(h), mac) {
			t.Fatalf("forged header %q verified", h)
		}
	})
}

func FuzzDecodeCreateLinkRequest(f *testing.F) {
	f.Add([]byte(`{"amount":2500,"currency":"EUR","items":[{"name":"a","quantity":1,"unit_amount":2500}]}`))
	f.Add([]byte(`{"amount":12.5,"currency":"EUR"}`))
	f.Add([]byte(`{"amount":1e3}`))
	f.Add([]byte(`[]`))
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
