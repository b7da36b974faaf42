// Package app is the composition root of a guidecall node: it picks the
// stores once from config (no database URL: memory and a local bus;
// otherwise PostgreSQL, its LISTEN/NOTIFY bus or the NATS bus of
// --bus-url, and a River client for the webhook outbox and
// reconciliation), builds the domain services and the
// call flow that joins them, mounts every resource's routes on one chi
// router, and starts and stops the node's parts through one lifecycle
// contract ([Service]) in one ordered list.
//
// It also owns what every request of the node shares (hardening.go):
// nosniff, per-request body and write deadlines that spare WebSocket
// upgrades, the per-address cap on HTTP connections; and the retention
// purge's schedule (privacy.go): a River periodic job on PostgreSQL, a
// ticker in memory.
//
// It also owns the node's operations surface: the metrics listener
// (--metrics-addr, package telemetry subscribed like any consumer), HTTPS
// with a certificate reloaded on SIGHUP, HSTS and the HTTP redirect
// (tls.go), and the OpenAPI contract served at /api/openapi.json
// (openapi.json, tested against the router).
//
// It owns no domain rules and no translation between domains (that is
// package callflow): a rule found here belongs elsewhere.
package app
