// Package auth owns identity in guidecall: who is calling and in which role.
//
// # What it owns
//
//   - Tokens: short-lived HS256 JWTs issued and verified by an [Issuer].
//     The algorithm is pinned, so "alg: none", RS256 (key confusion) and
//     HS384/HS512 headers are refused before any key is used. Every token
//     carries an issuer, an audience, an expiry and a kind ("access" or
//     "refresh"); a refresh token is never accepted where an access token is
//     expected, and the other way round.
//   - Shopper session tokens: anonymous, access-only, and scoped to exactly
//     one queue entry through [Claims.EntryID].
//   - Passwords: argon2id in the PHC string format, compared in constant
//     time. The cost parameters are read back from each hash, so they can be
//     raised later without invalidating stored hashes.
//   - Accounts of guides and admins behind the [AccountStore] interface, with
//     a memory and a PostgreSQL implementation here and a shared
//     conformance suite in package authtest that both pass.
//   - Login and refresh over HTTP ([Service.Routes], mounted at
//     /api/v1/auth), and [Issuer.Middleware] that guards other routes by
//     role, reading the token from the Authorization header only: tokens
//     never travel in a URL, where they would end up in logs and history.
//
// Roles are [protocol.Role], the one role enum of guidecall: the claim a
// token carries is the role a socket speaks as.
//
// # What it does not own
//
// Auth answers "who is this and what role do they have", never "may this
// token reach that call". A shopper token names one queue entry; package
// callflow turns claims into a party and checks it against the entry or
// call being addressed, and that a guide is a party of the call. Auth does
// not know about calls, queues or payments.
//
// Tokens are stateless: there is no revocation list. Access tokens live 15
// minutes by default, and a refresh fails once the account is gone, which
// bounds how long a removed guide keeps access.
package auth
