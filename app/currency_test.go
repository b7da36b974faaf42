package app_test

import (
	"net/http"
	"strings"
	"testing"
)

// A join's currency is checked against payments' ISO 4217 table: a code
// of the right shape that is no currency, or not money, fails at once.
func TestJoinCurrencyIsISO4217(t *testing.T) {
	t.Parallel()
	node := startApp(t, nil)
	url := node.URL() + "/api/v1/queue"
	for _, c := range []struct {
		currency string
		want     int
		code     string
	}{
		{"ABC", http.StatusBadRequest, "unknown_currency"},
		{"XXX", http.StatusBadRequest, "unknown_currency"}, // "no currency"
		{"XAU", http.StatusBadRequest, "unknown_currency"}, // gold is not money here
		{"JPY", http.StatusCreated, ""},
		{"KWD", http.StatusCreated, ""},
		{"CLF", http.StatusCreated, ""},
	} {
		r := do(t, "POST", url, "", strings.NewReader(`{"currency":"`+c.currency+`","locale":"en-US"}`), nil)
		if r.status != c.want {
			t.Fatalf("%s: %d %s, want %d", c.currency, r.status, r.body, c.want)
		}
		if c.code != "" && r.errorCode(t) != c.code {
			t.Fatalf("%s: code %q, want %q", c.currency, r.errorCode(t), c.code)
		}
	}
}
