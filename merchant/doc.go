// Package merchant owns the merchant's webhooks: the endpoints an admin
// registers, each with its own signing secret and event types; the events
// sent to them (call.started, call.ended, call.rated, payment_link.created,
// payment.succeeded, payment.failed, payment.refunded,
// callback.requested); one delivery per event and endpoint; and
// every attempt of it with the receiver's answer.
//
// # What it owns
//
//   - Recording: [Service.RecordTx] inserts an event, a delivery for each
//     enabled endpoint that wants it and the River job of each delivery
//     in the caller's transaction, so the change, its event and its
//     deliveries commit together (payments calls it from the transaction
//     of every link change, through its event hook). The event id and the
//     delivery id (event × endpoint) are primary keys: recording an event
//     twice, after a crash and a relay, delivers it once.
//   - Delivery: a River job per delivery ([DeliveryKind]), run by any
//     node. Each attempt is POSTed with the endpoint's current URL and
//     secret, signed with webhook.Sign ("t=…,v1=…" in Guidecall-Signature)
//     and carrying the event id, type, delivery id and attempt number as
//     headers; its answer (status, first KiB, error, duration) is
//     recorded. Failed attempts are retried on [DefaultSchedule] (13
//     attempts over about 32 hours), then the delivery is failed and can
//     be replayed. A job that runs again after a crash POSTs again: the
//     guarantee is at least once, and receivers drop repeats by event id.
//   - The admin API ([Routes], over either store): endpoints, deliveries
//     with their attempts, replay.
//   - Shopper data in event bodies: [Service.PurgeShopperData] (retention)
//     and [Service.EraseShopper] (erasure by entry or customer id) blank
//     the shopper fields of callback.requested bodies and the rating's
//     comment and customer id in call.rated bodies; the caller (the
//     app's purge, callflow's erasure, `guidecall purge`) decides when.
//
// # What it does not own
//
//   - What the events mean or when they happen: callflow turns payments'
//     and queue's events into [Event]s and app wires the hooks.
//   - Who is an admin: the wiring mounts the routes behind the admin's
//     token.
//
// # On memory stores
//
// [MemoryService] keeps the same endpoints, deliveries, attempts and
// replays in the process and sends through a webhook.MemoryOutbox of its
// own, on the same schedule, told of each attempt through
// webhook.Observer. What is pending is lost with the process. Both
// implement [Admin], and one conformance suite (merchant_test.go) runs on
// both.
package merchant
