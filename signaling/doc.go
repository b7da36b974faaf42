// Package signaling owns the WebSocket endpoint that speaks the wire
// protocol (docs/protocol.md): authenticating a socket by its first
// message, parsing and size-limiting every frame, relaying SDP, ICE and
// ICE-restart messages to the other party of the sender's own call and
// nobody else (their data as the sender wrote it, never re-escaped),
// delivering server events to a party wherever its socket lives, heartbeats,
// and dropping slow or dead clients without blocking anyone.
//
// A party is addressed by role and id ([Address]); the [Hub] holds this
// node's sockets and hands every outgoing message to a [Bus], which reaches
// the node that holds the party: [LocalBus] on one machine, in a cluster
// [PostgresBus] (LISTEN/NOTIFY) or [NATSBus]. Both keep the bus_parties
// table, the party→node registry: each bus has a node id per process, a
// hub's replaced frame records its party on the publishing node, and a
// frame for a known party goes to that node alone (its own NOTIFY channel
// or NATS subject); control frames and unknown parties go to every node.
// Hubs also talk to each other over the
// bus in control frames no client can forge: a newer socket of a party
// replaces the older one on every node (4409), [Hub.Disconnect] closes a
// party's socket wherever it is (4403, access revoked), and [Hub.Notice]
// hands a fact to every node's [Config].Notices (a TURN credential
// revoked).
//
// The wire itself (envelope, message types, payloads, error codes) is
// package protocol's; this package parses frames into [protocol.Envelope]
// and encodes the payloads it is given.
//
// A frame for a party whose socket this node holds is queued on it
// directly, never through the bus; [Hub.SendMany] sends many parties'
// frames (a line's new positions) with the ones for other nodes' sockets
// together in one bus message. One heartbeat per hub starts each
// socket's ping in turn: no socket has a pinger goroutine or timer of its
// own. A socket that waits holds one goroutine, its reader, started once
// it is open (the HTTP handler that authenticated it returns); a writer
// runs only while frames wait for it, and the upgrade keeps 512-byte read
// and write buffers instead of the HTTP server's 4 KiB each.
// BenchmarkIdleSocket measures what a waiting socket costs.
//
// An [Observer] (the metrics) is told of messages in, out and refused by
// type and of bus publishes with their latency; [Hub.Buffered] is the
// backlog of frames waiting in sockets' send buffers.
//
// It does not own who may be in which call, queue state or money: package
// callflow registers a [Handler] per client message type with the roles
// that may send it ([Hub.Handle]), one [Route] that names the other party
// of a relayed message ([Hub.Relay]), and [Sessions] told of each socket's
// open and close (which it answers from the queue); this package only
// enforces the answers.
package signaling
