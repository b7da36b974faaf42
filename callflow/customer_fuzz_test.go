package callflow

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// FuzzVerifyCustomer feeds verifyCustomer tokens made of any header and
// any claims, signed with the merchant's secret or not, and raw strings.
// Whatever it accepts must be signed with the secret by HS256, carry its
// sub, an expiry still ahead and a priority in bounds; a token it
// accepts must fail under any other secret.
func FuzzVerifyCustomer(f *testing.F) {
	secret := []byte("merchant-identity-secret-0123456789abcdef")
	other := []byte("another-merchant-secret-0123456789abcdef")
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	exp := `"exp":` + jsonNumber(now.Add(time.Hour).Unix())
	hs256 := `{"alg":"HS256","typ":"JWT"}`
	for _, seed := range []struct {
		header, claims, raw string
		sign                bool
	}{
		{hs256, `{"sub":"cust-42","tier":"gold",` + exp + `}`, "", true},
		{hs256, `{"sub":"cust-42","priority":100,` + exp + `}`, "", true},
		{hs256, `{"sub":"cust-42","priority":101,` + exp + `}`, "", true},
		{hs256, `{"sub":"cust-42","priority":-1,` + exp + `}`, "", true},
		{hs256, `{"sub":"cust-42","priority":1.5,` + exp + `}`, "", true},
		{hs256, `{"sub":"cust-42","tier":"diamond",` + exp + `}`, "", true},
		{hs256, `{"sub":"",` + exp + `}`, "", true},
		{hs256, `{"sub":"cust-42"}`, "", true},
		{hs256, `{"sub":"cust-42","exp":1}`, "", true},
		{hs256, `{"sub":"cust-42","exp":"tomorrow"}`, "", true},
		{hs256, `{"sub":42,` + exp + `}`, "", true},
		{hs256, `{"sub":"cust-42",` + exp + `,"cart_value":"lots","name":{"x":1}}`, "", true},
		{`{"alg":"none"}`, `{"sub":"cust-42",` + exp + `}`, "", false},
		{`{"alg":"HS512"}`, `{"sub":"cust-42",` + exp + `}`, "", true},
		{hs256, `{"sub":"cust-42",` + exp + `}`, "", false},
		{"", "", "", false},
		{"", "", "a.b.c", false},
		{"", "", "....", false},
		{"", "", "eyJhbGciOiJIUzI1NiJ9.e30.", false},
	} {
		f.Add(seed.header, seed.claims, seed.raw, seed.sign)
	}
	f.Fuzz(func(t *testing.T, header, claims, raw string, sign bool) {
		token := raw
		if raw == "" {
			enc := base64.RawURLEncoding
			token = enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
			sig := []byte("not a signature")
			if sign {
				mac := hmac.New(sha256.New, secret)
				mac.Write([]byte(token))
				sig = mac.Sum(nil)
			}
			token += "." + enc.EncodeToString(sig)
		}
		got, err := verifyCustomer(token, secret, clock)
		id, prio := got.ID, got.Priority
		if err != nil {
			if id != "" || prio != 0 {
				t.Fatalf("refused token %q still returned customer %q, priority %d", token, id, prio)
			}
			if !strings.HasPrefix(err.Error(), "customer_token: ") {
				t.Fatalf("error %q does not name customer_token", err)
			}
			return
		}
		if raw != "" || !sign {
			t.Fatalf("accepted a token not signed with the secret: %q", token)
		}
		var h struct {
			Alg string `json:"alg"`
		}
		if json.Unmarshal([]byte(header), &h) != nil || h.Alg != "HS256" {
			t.Fatalf("accepted header %q", header)
		}
		var c struct {
			Sub string   `json:"sub"`
			Exp *float64 `json:"exp"`
		}
		if err := json.Unmarshal([]byte(claims), &c); err != nil {
			t.Fatalf("accepted claims that are not JSON: %q", claims)
		}
		if id == "" || id != c.Sub {
			t.Fatalf("customer %q from claims %q", id, claims)
		}
		if c.Exp == nil || !time.Unix(int64(*c.Exp), 0).After(now.Add(-time.Minute)) {
			t.Fatalf("accepted claims without an expiry ahead: %q", claims)
		}
		if prio < 0 || prio > maxPriority {
			t.Fatalf("priority %d out of bounds from %q", prio, claims)
		}
		if _, err := verifyCustomer(token, other, clock); err == nil {
			t.Fatalf("a token signed with one secret passed under another: %q", token)
		}
	})
}

func jsonNumber(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
