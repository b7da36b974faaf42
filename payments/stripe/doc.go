// Package stripe is the Stripe provider of payments: one Checkout Session
// per payment link through stripe-go, and Stripe's signed webhooks.
//
// # What it owns
//
//   - Creating a session for a link: inline price_data per line, the
//     link's currency with adaptive pricing off, metadata and
//     client_reference_id carrying the link and call ids (on the payment
//     intent too, so refund events find their link), expires_at within
//     Stripe's 30 min – 24 h window, success and cancel URLs, payment
//     method types per currency, and the page's locale: the shopper's
//     BCP 47 locale mapped to the nearest of Stripe's, "auto" when Stripe
//     has none of their language.
//   - Idempotency: every POST carries a key derived from the link alone
//     ([CreateKey], [RefundKey]), so no retry of ours (stripe-go's, a
//     replayed request, another node) makes a second session or refund.
//   - Webhooks: the Stripe-Signature check (webhook.Verify: every v1 in
//     constant time, 5 minutes of tolerance both ways), the mode check
//     (a test key refuses live events and live sessions, and the
//     reverse), the API version check (the release train of the SDK's
//     pinned version), and the mapping of checkout.session.completed
//     (paid, or processing for asynchronous methods),
//     checkout.session.async_payment_succeeded / _failed,
//     checkout.session.expired and charge.refunded to link statuses.
//     Other event types are answered 200 and ignored.
//   - Stripe's unit for each currency where it differs from ISO 4217.
//
// # What it does not own
//
//   - The link ledger, the order-independent application of events and
//     reconciliation: payments does those, calling this provider through
//     payments.Provider.
//   - Which provider gets a link.
package stripe
