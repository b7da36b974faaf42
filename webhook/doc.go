// Package webhook signs, verifies and durably delivers webhooks: the
// sandbox provider's own now, the merchant's next. It knows nothing of
// payments or calls: a delivery is a URL, headers, a body and an id.
//
// # What it owns
//
//   - The signature: [Sign] and [Verify] with the
//     "t=<unix>,v1=<hex HMAC-SHA256(secret, "<unix>.<body>")>" scheme
//     (Stripe's, so merchants' verification code carries over), a time
//     tolerance against replays ([DefaultTolerance]) and constant-time
//     comparison.
//   - The outbox: [Outbox.Enqueue] records a [Delivery]; it is POSTed in
//     the background until a 2xx answer, retried on its schedule
//     ([DefaultSchedule], about ten minutes) and then given up and logged.
//     Each attempt is signed afresh with the named [Key], and reported to
//     Config.Attempted (metrics). A second delivery with the same id is
//     dropped.
//   - Two outboxes behind the interface: [MemoryOutbox] (one node; a pool
//     of goroutines from Start to Stop; lost with the process) and
//     [RiverOutbox] (PostgreSQL, a River job "webhook_delivery" per
//     delivery, inserted in the caller's transaction with
//     [RiverOutbox.EnqueueTx], so a state change and its webhook commit
//     together and survive a crash). The River outbox only inserts; its
//     worker runs on the node's River client (internal/db.Jobs).
//     A delivery on the memory outbox may carry an [Observer], asked
//     before each attempt and told its answer (merchant webhooks on
//     memory keep their delivery log with it).
//
// # What it does not own
//
//   - What a webhook says, or what happens when one is given up:
//     the sender's domain decides (payments reconciles with the provider).
//   - Receiving webhooks: receivers call [Verify].
package webhook
