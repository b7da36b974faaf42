package payments_test

import (
	"errors"
	"math"
	"testing"

	"guidecall/payments"
)

func TestMinorUnits(t *testing.T) {
	for cur, want := range map[string]int{"JPY": 0, "EUR": 2, "USD": 2, "KWD": 3, "BHD": 3, "CLF": 4, "eur": 2, "KRW": 0} {
		got, err := payments.MinorUnits(cur)
		if err != nil || got != want {
			t.Errorf("MinorUnits(%q) = %d, %v; want %d", cur, got, err, want)
		}
	}
	for _, cur := range []string{"", "XXX", "XAU", "HRK", "EURO", "E", "€"} {
		if _, err := payments.MinorUnits(cur); !errors.Is(err, payments.ErrUnknownCurrency) {
			t.Errorf("MinorUnits(%q) error = %v, want ErrUnknownCurrency", cur, err)
		}
	}
}

func TestMoneyString(t *testing.T) {
	for _, tc := range []struct {
		m    payments.Money
		want string
	}{
		{payments.Money{1234, "EUR"}, "12.34 EUR"},
		{payments.Money{5, "EUR"}, "0.05 EUR"},
		{payments.Money{0, "EUR"}, "0.00 EUR"},
		{payments.Money{-1234, "EUR"}, "-12.34 EUR"},
		{payments.Money{1000, "JPY"}, "1000 JPY"},
		{payments.Money{1234, "KWD"}, "1.234 KWD"},
		{payments.Money{7, "KWD"}, "0.007 KWD"},
		{payments.Money{1234, "eur"}, "12.34 EUR"},
		{payments.Money{42, "ZZZ"}, "42 ZZZ"},
		{payments.Money{math.MinInt64, "USD"}, "-92233720368547758.08 USD"},
	} {
		if got := tc.m.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.m, got, tc.want)
		}
	}
}

func TestCanMoveTo(t *testing.T) {
	all := []payments.LinkStatus{
		payments.StatusOpen, payments.StatusPaid, payments.StatusExpired, payments.StatusCanceled,
		payments.StatusFailed, payments.StatusRefunded, payments.StatusPartiallyRefunded,
	}
	allowed := map[[2]payments.LinkStatus]bool{
		{payments.StatusOpen, payments.StatusPaid}:                           true,
		{payments.StatusOpen, payments.StatusExpired}:                        true,
		{payments.StatusOpen, payments.StatusCanceled}:                       true,
		{payments.StatusOpen, payments.StatusFailed}:                         true,
		{payments.StatusOpen, payments.StatusRefunded}:                       true,
		{payments.StatusOpen, payments.StatusPartiallyRefunded}:              true,
		{payments.StatusPaid, payments.StatusRefunded}:                       true,
		{payments.StatusPaid, payments.StatusPartiallyRefunded}:              true,
		{payments.StatusPartiallyRefunded, payments.StatusRefunded}:          true,
		{payments.StatusPartiallyRefunded, payments.StatusPartiallyRefunded}: true,
		// A payment reported after the link closed here is paid after all.
		{payments.StatusExpired, payments.StatusPaid}:              true,
		{payments.StatusExpired, payments.StatusRefunded}:          true,
		{payments.StatusExpired, payments.StatusPartiallyRefunded}: true,
		{payments.StatusFailed, payments.StatusPaid}:               true,
		{payments.StatusFailed, payments.StatusRefunded}:           true,
		{payments.StatusFailed, payments.StatusPartiallyRefunded}:  true,
	}
	for _, from := range all {
		for _, to := range all {
			if got, want := from.CanMoveTo(to), allowed[[2]payments.LinkStatus{from, to}]; got != want {
				t.Errorf("%s.CanMoveTo(%s) = %v, want %v", from, to, got, want)
			}
		}
	}
	if payments.LinkStatus("bogus").CanMoveTo(payments.StatusPaid) {
		t.Error("unknown status moved")
	}
}
