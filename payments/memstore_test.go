package payments_test

import (
	"testing"

	"guidecall/payments"
	"guidecall/payments/paymentstest"
)

func TestMemoryStore(t *testing.T) {
	paymentstest.RunStoreSuite(t, func(t *testing.T) payments.Store { return payments.NewMemoryStore() })
}
