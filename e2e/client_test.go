package e2e

import (
	"testing"

	"guidecall/protocol"
	"guidecall/protocol/client"
	"guidecall/protocol/client/clienttest"
)

// dialWS connects to a node's signaling as the holder of token, named
// name in failures; an error frame fails any wait for another message.
func dialWS(t *testing.T, name, url, token string) *clienttest.Conn {
	t.Helper()
	c, _ := dialWelcome(t, name, url, token)
	return c
}

// dialWelcome is dialWS that also returns the welcome.
func dialWelcome(t *testing.T, name, url, token string) (*clienttest.Conn, protocol.Welcome) {
	t.Helper()
	c := clienttest.Dial(t, url, client.FailOnError()).Named(name)
	return c, c.Authenticate(token)
}
