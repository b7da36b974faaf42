package app_test

import (
	"fmt"
	"net/http"
	"os"
	"testing"

	"go.uber.org/goleak"

	"guidecall/internal/auth"
)

func TestMain(m *testing.M) {
	// Real argon2id parameters cost tens of milliseconds per hash.
	auth.DefaultPasswordParams = auth.TestPasswordParams
	code := m.Run()
	// Keep-alive connections of the default client are not the node's.
	http.DefaultClient.CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
