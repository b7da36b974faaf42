// Package adyen is the Adyen provider of payments: one Pay by Link payment
// link per guidecall link through the Checkout API (spoken with net/http:
// Adyen's Go library is not available here), and Adyen's HMAC-signed
// standard notifications.
//
// # What it owns
//
//   - Creating a payment link (POST /paymentLinks): the amount in Adyen's
//     minor units (ISO 4217 but for CLP, CVE, IDR and ISK; an amount that
//     does not fit is refused, never rounded), reference = the link's id, the merchant account, the
//     return URL (the shopper's page, with payment_link and
//     payment=return, else the configured template), expiresAt, shopperLocale and countryCode of the link's shopper (their locale and country at join) when known,
//     the lines, metadata with the link and call ids. Reading one
//     (GET /paymentLinks/{id}) for reconciliation: active → open,
//     paymentPending → processing, completed → paid, expired → expired.
//   - Refunds (POST /payments/{pspReference}/refunds) against the payment
//     that the link's AUTHORISATION notification named; the payment link
//     itself does not tell it, so [Refs] remembers it.
//   - Idempotency: every POST carries an Idempotency-Key derived from the
//     link alone ([CreateKey], [RefundKey]); a request that failed on the
//     network or with 5xx/429 is sent again with the same key.
//   - Notifications: one NotificationRequestItem per request, its HMAC
//     ([Sign]: HMAC-SHA256 under the hex-decoded key over the documented
//     field order, base64 in additionalData.hmacSignature) checked in
//     constant time against the key and, during a rotation, the previous
//     one; the live flag must match the provider's mode (live only on a
//     …-checkout-live.adyenpayments.com API URL) and the merchant account
//     ours. Event codes map to link statuses (AUTHORISATION paid, REFUND
//     and CANCEL_OR_REFUND refunds, CANCELLATION, EXPIRE); a refused
//     authorisation and unknown codes are accepted and ignored. Accepted
//     notifications are answered "[accepted]" ([Provider.WebhookAck]).
//   - adyentest: a local fake of those endpoints that checks each
//     request's shape, for tests.
//
// # What it does not own
//
//   - The link ledger, the order-independent application of events and
//     reconciliation: payments does those, calling this provider through
//     payments.Provider.
//   - Which provider gets a link (payments' routing).
//
// [Refs] is [PostgresRefs] when the node runs on PostgreSQL (shared by the
// cluster, kept on restart) and [MemoryRefs] on the memory store.
package adyen
