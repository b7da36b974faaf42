// Package payments owns money and payment links for guidecall: integer
// amounts in ISO 4217 minor units, the payment-link lifecycle, the
// Provider interface the hosted checkouts sit behind, the verification and
// order-independent application of provider webhooks, the events of every
// change, and reconciliation with the providers.
//
// # What it owns
//
//   - Money: an amount in the currency's minor unit plus an ISO 4217 code.
//     There are no floats anywhere; [MinorUnits] is the one table of
//     exponents and [Money.String] formats with integer arithmetic only.
//   - Links: a [Link] moves only forward (see [LinkStatus.CanMoveTo]), so a
//     late, duplicated or out-of-order webhook can never move a paid link
//     back to failed; a payment reported after a failed attempt's event,
//     or after the expiry's of a link it paid in time, still makes it
//     paid. Each link remembers the mode (test or live) of the key that
//     made it, and an event of the other mode is refused for it.
//   - Providers: the [Provider] interface (create, fetch status, refund,
//     verify and parse a webhook); payments/providertest is the suite each
//     passes. Each provider is a package of its own
//     under payments (payments/sandbox, payments/stripe, payments/adyen), so its
//     dependencies stay out of this one.
//   - Routing ([RoutingConfig]): per currency, or currency and the
//     shopper's country (from [Config.CallContext]), an ordered list of providers
//     for new links; one whose create errors or times out is skipped for
//     a cool-down (its breaker is open) and the next one issues the link.
//     Failover happens only while the link has no checkout anywhere: an
//     issued link stays with its provider.
//   - Refunds ([Service.Refund]): recorded on the link under its lock
//     before the provider is asked (so they never exceed what was paid),
//     idempotent per key, the provider keyed on (link, sequence); by the
//     guide within a window, by an admin at any time. RefundedAmount
//     follows the provider's refund events. [Service.GuideRefundOf] is
//     that rule as data (what is left, when the guide's window ends),
//     given with every link of the call's routes and the guide's
//     payment.link, so the console keeps no copy of it.
//   - Risk limits ([RiskLimits]) an admin sets: the largest link per
//     currency, links per call (counted with the insert, so concurrent
//     creates cannot pass it together), refunds that need an admin.
//   - Webhooks in: [Service.HandleWebhook] verifies the signature, then
//     applies the event and records its (provider, event id) in one atomic
//     step ([Store.EventApply]): a duplicate changes nothing, and an event
//     whose apply failed is applied when the provider retries it. Events
//     are order-independent: a refund before the payment implies the
//     payment.
//   - Events out: every change publishes a typed [Event] ([LinkCreated],
//     [LinkStatusChanged], [RefundRecorded]) to the subscribers of
//     [Service.Subscribe], each behind its own bounded buffer and
//     goroutine, so the service never waits for one. The store records
//     each event in the same transaction as its change (its outbox:
//     payment_outbox on PostgreSQL); the publisher marks it published, and
//     the relay (run by [Service.Start]) publishes what a crash between
//     commit and publish left behind. Subscribers see every event at least
//     once and can drop repeats by id.
//   - Reconciliation: [Service.Reconcile] asks the providers about every
//     link that may be behind them (unchanged for a while, not final,
//     or expired or failed within ReconcileConfig.ClosedWindow, since a
//     payment taken in time still makes those paid) and
//     applies their answer through the same forward-only path, logging
//     each fix; a webhook arriving later changes nothing. It runs every
//     15s: a ticker with ReconcileConfig.Loop (one node), a River periodic
//     job on PostgreSQL ([Service.AddReconcileJob]), and once by
//     `guidecall reconcile`.
//   - Dashboard figures ([Service.Stats]): revenue per currency and
//     payment success per provider of the links of the calls the caller
//     names, by the day it gives each call.
//   - Storage: the [Store] interface, with [MemoryStore] (one process, lost
//     on restart) and [PostgresStore] (what a cluster shares: payment_links,
//     payment_events, payment_outbox); every store must pass
//     paymentstest.RunStoreSuite.
//
// # What it does not own
//
//   - Any provider's own code: the sandbox (its checkout page, its
//     checkouts, its outgoing webhooks) is payments/sandbox; Stripe is
//     payments/stripe; Adyen is payments/adyen.
//   - Sending webhooks: the webhook package signs and delivers the
//     sandbox's; package merchant records and delivers the merchant's,
//     in the transaction of each change (PostgresStore.SetEventHook).
//   - Who may send a payment link. The app passes callflow's
//     [CallAuthorizer] to [Service.APIRoutes]; it decides (the bearer token
//     is the guide of a connected call) and this package only enforces its
//     answer.
//   - What the call parties are told: package callflow subscribes and
//     turns events into protocol messages.
//   - Authentication and the HTTP server itself: each resource exposes a
//     chi.Router and the wiring mounts it.
//
// No other guidecall domain package is imported (provider packages import
// this one, never the reverse); everything from outside comes in through
// small interfaces.
package payments
