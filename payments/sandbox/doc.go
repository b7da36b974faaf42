// Package sandbox is the payment provider guidecall hosts itself, for demos,
// development and tests: a checkout page with Pay and Decline buttons, and
// signed webhooks (the t=,v1= scheme of the webhook package, in the
// Guidecall-Sandbox-Signature header) posted back to /webhooks/sandbox. It
// implements payments.Provider and can be scripted ([Script], also from
// the admin API) to fail or slow its creates, to let its checkouts expire
// (with a payment.expired webhook), and to send its webhooks late, twice,
// badly signed, never, or held back and released one by one in the order
// asked ([Sandbox.Release]: true out-of-order delivery). Every event says
// "livemode": false: a link the sandbox made is a test link.
//
// # What it owns
//
//   - The provider's own record of each checkout ([Checkout]) in a
//     [Store]: [MemoryStore] for one node, [PostgresStore]
//     (sandbox_checkouts) so any node of a cluster serves, pays and
//     refunds a checkout another created, as with a real hosted provider.
//     Both pass sandboxtest.RunStoreSuite.
//   - The outcome of Pay, Decline and Refund together with the webhook
//     that reports it: [Store.CheckoutUpdate] enqueues the deliveries in
//     the same step as the change, on PostgreSQL in the same transaction
//     (a River job), so a node killed right after Pay answered 200 loses
//     nothing: after the restart River delivers the webhook.
//   - The checkout pages ([Sandbox.CheckoutRoutes]): the payment methods
//     a real checkout offers for the currency ([MethodsFor]: card; iDEAL
//     for EUR; GrabPay for SGD and MYR; konbini for JPY, which leaves the
//     checkout processing until the store payment arrives), in the
//     shopper's language (en, de, fr, es, ja) with amounts formatted for
//     it.
//
// # What it does not own
//
//   - Delivery, retries and backoff: the webhook outbox does them.
//   - What a link is and how a webhook moves it: payments does.
//   - Reconciliation: payments asks [Sandbox.FetchStatus].
package sandbox
