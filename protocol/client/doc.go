// Package client is the one Go client of guidecall's signaling protocol
// (docs/protocol.md): the load tool, the end-to-end tests, the package
// tests and any Go program that speaks to a node use it, so none of them
// marshals an envelope by hand.
//
// A Conn has one reader goroutine that buffers every frame the server
// sends; Await takes the next frame of one type (and call), leaving the
// others for later, because the protocol does not order events of
// different kinds: a test that waits for call.matched must not lose the
// queue.position that came first. Writes go through one writer at a time.
// Close ends the reader.
//
// It owns the client side of one socket. It does not own the wire types
// (package protocol), reconnecting, or what a message means to a caller.
package client
