package auth_test

import (
	"testing"

	"go.uber.org/goleak"

	"guidecall/internal/auth"
)

func TestMain(m *testing.M) {
	// Real argon2id parameters cost tens of milliseconds per hash; tests
	// only need the format and the comparison.
	auth.DefaultPasswordParams = auth.TestPasswordParams
	goleak.VerifyTestMain(m)
}
