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
//   - Login, refresh and logout over HTTP ([Service.Routes], mounted at
//     /api/v1/auth), account administration ([Service.AdminRoutes]), and
//     [Issuer.Middleware] that guards other routes by role, reading the
//     token from the Authorization header only: tokens never travel in a
//     URL, where they would end up in logs and history.
//   - What a login may cost ([LoginLimits]): password checks run a few at a
//     time (argon2id holds 19 MiB each), the rest wait briefly or get
//     [ErrBusy]; attempts are limited per client address (a token bucket)
//     and per account (growing delays, then a lock an admin can lift,
//     counted in the [AccountStore] so every node sees them).
//   - Passwords policy ([ValidatePassword]): a minimum length, none of an
//     embedded list of common passwords, not the email.
//   - Logins as refresh-token families behind the [SessionStore] interface
//     (memory and PostgreSQL, one conformance suite in authtest): every
//     refresh consumes its token; a consumed token presented again revokes
//     its whole family. Every token of a login carries its family, and a
//     Service's issuer refuses an account token whose family was revoked or
//     whose account was disabled ([Service.Live]), so logout and disabling
//     take effect on the next request.
//   - Events ([Service.Subscribe]): [SessionsRevoked], which the app turns
//     into closed sockets and revoked TURN credentials.
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
// Shopper tokens are stateless: they name an entry, and the queue decides
// what that entry may still do. Account tokens are checked against the
// stores on use (one account and one family lookup per request).
package auth
