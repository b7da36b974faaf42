// Package payments owns money and payment links for guidecall: integer
// amounts in ISO 4217 minor units, the payment-link lifecycle, the providers
// that host the checkout (the built-in sandbox now; stripe and others later)
// and the signed webhooks through which providers report outcomes.
//
// # What it owns
//
//   - Money: an amount in the currency's minor unit plus an ISO 4217 code.
//     There are no floats anywhere; [MinorUnits] is the one table of
//     exponents and [Money.String] formats with integer arithmetic only.
//   - Links: a [Link] moves only forward (see [LinkStatus.CanMoveTo]), so a
//     late, duplicated or out-of-order webhook can never move a paid link
//     back to failed.
//   - Providers: the [Provider] interface (create, fetch status, refund,
//     verify and parse a webhook). [Config.Providers] keeps its order so that
//     failover can later try them one after the other.
//   - Webhooks: [Service.HandleWebhook] verifies the signature, then applies
//     the event and records its (provider, event id) in one atomic step
//     ([Store.EventApply]): a duplicate changes nothing, and an event whose
//     apply failed is applied when the provider retries it. Events are
//     order-independent: a refund before the payment implies the payment.
//   - Storage: the [Store] interface, with [MemoryStore] (one process, lost
//     on restart) and [PostgresStore] (what a cluster shares: payment_links
//     and payment_events); every store must pass paymentstest.RunStoreSuite.
//   - The sandbox provider: [Sandbox] keeps its checkouts in a
//     [SandboxStore], [MemorySandboxStore] for one node or
//     [PostgresSandboxStore] so that any node serves, pays and refunds a
//     checkout another created (paymentstest.RunSandboxStoreSuite); it
//     delivers its webhooks with a per-event retry schedule lasting minutes.
//
// # What it does not own
//
//   - Who may send a payment link. The wiring passes a [CallAuthorizer] to
//     [Service.APIRoutes]; it decides (for example: the bearer token is the
//     guide of a connected call) and this package only enforces its answer.
//   - Delivering updates to the call parties. The [Notifier] receives every
//     changed link; the wiring fans it out to the shopper and the guide.
//   - The merchant's own outgoing webhooks, authentication, and the HTTP
//     server itself: each resource exposes a chi.Router and the wiring mounts
//     it.
//
// No other guidecall package is imported; everything from outside comes in
// through small interfaces.
package payments
