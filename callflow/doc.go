// Package callflow carries one call across the domains: it is where queue,
// signaling, payments, TURN and auth meet, so that none of them imports
// another.
//
// # What it owns
//
//   - Who may do what: one function from token claims to a party
//     (parties.go), and the rule that only the guide of a connected call
//     sends payment links while either party reads them (authorize.go).
//   - The inbound side: what each client message does to the queue, one
//     handler per type registered on the hub with the roles that may send
//     it, plus the relay check and each socket's welcome (inbound.go).
//   - The outbound side: domain events turned into protocol payload types
//     for the parties of a call (fanout.go), through the flow's own
//     subscriptions to the queue and payments, which run from
//     Flow.Start to Flow.Stop as one of the node's parts (flow.go).
//   - What merchants are told: payment and queue events turned into
//     merchant webhook events (merchant.go); app records them in the
//     transaction of the change (on memory stores, from subscriptions).
//   - What payments learns of a call (paycontext.go): the page the
//     shopper joined from, if it is on the node's or the merchant's
//     allowed origins (--allowed-origins, the same that get CORS), for
//     the checkout's way back, and
//     the shopper's country from the locale's region, for routing.
//   - The HTTP handlers for joining the queue, ICE servers (TURN only to a
//     shopper who is in a call), a call's items and the shopper's rating,
//     the admin's queue view and the erasure of one shopper's data
//     (http.go); the guide's wrap-up and history, with each call's
//     payments read from payments in one read per page of calls
//     (history_http.go), and its queue
//     overview, polled with an ETag (overview_http.go).
//   - The dashboard's figures (stats.go): the queue's and payments' own
//     figures of a window, joined by call id (a link belongs to its
//     call's day; conversion is answered calls with a link paid), and the
//     live view (docs/dashboard.md).
//   - What a chat message, product card or cart may hold, and how a stored
//     item reads as the message both parties get (items.go).
//   - Revocation across domains (revoke.go): a shopper's TURN credentials
//     are named after the call (<entry>.<call>) and revoked on every node
//     when the queue says the call finished; a guide's after the login
//     (<account>.<family>) and revoked when auth says it ended; a disabled
//     account's sockets are closed on every node through the hub.
//
// # What it does not own
//
// The state itself: entries, guides and calls are the queue's, links the
// payments', sockets the hub's, credentials the TURN server's. Building the
// node, choosing stores and running its parts belong to package app.
package callflow
