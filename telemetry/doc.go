// Package telemetry is a node's Prometheus metrics: one registry, fed by
// the queue's and payments' typed events (the app subscribes it like any
// other consumer), by the signaling hub's and the matcher's observer
// hooks, by the webhook outbox's attempts and by HTTP middleware, and
// read at scrape time from the TURN server's counters, the hub's sockets
// and the store's live calls and waiting entries; plus the Go runtime and
// process collectors.
//
// Names follow Prometheus conventions: the guidecall_ prefix, base units
// in names (_seconds, _bytes), _total on counters. Labels come from
// bounded sets only (queue names, roles, message types of the protocol,
// reasons, statuses, routes): never an id. A value from outside its set
// (a message type a client made up) is counted as "other".
//
// It owns the metric definitions and their labels. It does not own what
// is measured: it reads events and counters, and changes nothing.
package telemetry
