// Package queue owns who is waiting and who is helping: queue entries,
// guide presence and capacity, the matcher that offers the longest-waiting
// shopper to the longest-idle available guide, offer time-outs, re-queues,
// abandonment, and the record of every call those matches create.
//
// # Why calls live here
//
// DESIGN.md puts the call state machine in signaling. It lives here instead
// because a call is born from a match and, until it connects, can send its
// shopper back to the head of the queue: the entry, the guide and the call
// change together, and the store that holds one must hold all three (one
// transaction in Postgres). Signaling still owns the wire: it relays SDP
// and ICE between the two parties this package names, and reports
// connects, drops and hang-ups back through [Service].
//
// # Cluster
//
// All state is in a [Store]. Any node may call the [Service] methods that
// react to a client (Join, Accept, SetPresence, ...). Only the node that
// holds leadership through an [Elector] runs the matcher loop, which is
// also the only place where time moves things: offer deadlines, drop grace
// periods and position updates. Losing the leader loses nothing but up to
// one tick of latency.
//
// # What it does not own
//
// Tokens (internal/auth), the WebSocket and message schema (signaling),
// money (payments), and delivery of events to clients: it calls a
// [Notifier] and does not care how the message gets to the socket.
package queue
