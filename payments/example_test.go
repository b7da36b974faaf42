package payments_test

import (
	"fmt"

	"guidecall/payments"
)

// Amounts are integers in the currency's minor unit; formatting needs no
// floats.
func ExampleMoney_String() {
	fmt.Println(payments.Money{Amount: 1234, Currency: "KWD"})
	fmt.Println(payments.Money{Amount: 1234, Currency: "JPY"})
	fmt.Println(payments.Money{Amount: 1234, Currency: "EUR"})
	// Output:
	// 1.234 KWD
	// 1234 JPY
	// 12.34 EUR
}
