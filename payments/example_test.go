package payments_test

import (
	"fmt"
	"time"

	"guidecall/payments"
)

// A merchant verifies a sandbox webhook with the shared secret.
func ExampleVerifySandboxSignature() {
	secret := []byte("whsec_demo")
	body := []byte(`{"id":"evt_1","type":"payment.succeeded","ref":"sbx_1","created":1772366400}`)
	at := time.Unix(1772366400, 0)
	header := payments.SignSandbox(secret, at, body)

	fmt.Println(payments.VerifySandboxSignature(secret, header, body, at.Add(time.Minute), payments.SignatureTolerance))
	fmt.Println(payments.VerifySandboxSignature(secret, header, body, at.Add(time.Hour), payments.SignatureTolerance) != nil)
	fmt.Println(payments.Money{Amount: 1234, Currency: "KWD"})
	// Output:
	// <nil>
	// true
	// 1.234 KWD
}
