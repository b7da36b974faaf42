package signaling_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind: every
// socket's reader, writer and pinger must end with the socket.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
