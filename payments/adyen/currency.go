package adyen

import (
	"fmt"
	"strings"

	"guidecall/payments"
)

// adyenDecimals are the currencies whose minor unit at Adyen differs from
// ISO 4217 (Adyen's "Currency codes and minor units" page: its table is
// leading for CLP, CVE, IDR and ISK).
var adyenDecimals = map[string]int{"CLP": 2, "CVE": 0, "IDR": 0, "ISK": 2}

// toAdyen converts an ISO 4217 minor-unit amount to Adyen's amount object.
// An amount Adyen's unit cannot express exactly is refused, never
// rounded.
func toAdyen(currency string, amount int64) (Amount, error) {
	cur := strings.ToUpper(currency)
	iso, err := payments.MinorUnits(cur)
	if err != nil {
		return Amount{}, err
	}
	want, ok := adyenDecimals[cur]
	if !ok {
		return Amount{Value: amount, Currency: cur}, nil
	}
	for ; iso < want; iso++ {
		amount *= 10
	}
	for ; iso > want; iso-- {
		if amount%10 != 0 {
			return Amount{}, fmt.Errorf("%w: Adyen takes %s in units of %d decimals, %d minor units do not fit", payments.ErrInvalidLink, cur, want, amount)
		}
		amount /= 10
	}
	return Amount{Value: amount, Currency: cur}, nil
}

// fromAdyen is toAdyen backwards: an Adyen amount in ISO 4217 minor units.
func fromAdyen(a Amount) (int64, error) {
	cur := strings.ToUpper(a.Currency)
	iso, err := payments.MinorUnits(cur)
	if err != nil {
		return 0, err
	}
	have, ok := adyenDecimals[cur]
	if !ok {
		return a.Value, nil
	}
	v := a.Value
	for ; have < iso; have++ {
		v *= 10
	}
	for ; have > iso; have-- {
		v /= 10
	}
	return v, nil
}
