package turnserver

import (
	"testing"

	"go.uber.org/goleak"
)

// pion's Server.Close returns before its read loops and allocation
// goroutines finish; goleak's built-in retries give them time to exit, so a
// real leak still fails the run.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
