// Package protocol is guidecall's signaling wire, version 1
// (docs/protocol.md): the envelope, the one role enum, every message type
// and its payload as a Go type, and the error codes. It imports nothing of
// guidecall, so the server, the load tool, the end-to-end tests and any Go
// client share one definition and the document and the code cannot drift
// apart (golden tests decode every example of docs/protocol.md and encode
// it back).
//
// It does not own transport (signaling holds the sockets) or what a
// message does (callflow and the domains decide); package
// protocol/client is the one Go client.
package protocol
