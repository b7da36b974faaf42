// Package turnserver runs guidecall's bundled TURN server (pion/turn v4) and
// mints the credentials clients use against it.
//
// # What it owns
//
//   - The listeners: UDPWorkers UDP sockets sharing one address through
//     SO_REUSEPORT (Linux; one socket elsewhere), each with a 4 MiB receive
//     buffer, and one TCP listener on the same port.
//   - Credentials in coturn's "use-auth-secret" (TURN REST API) format:
//     username "<unix-expiry>:<id>", password base64(HMAC-SHA1(secret,
//     username)). NewCredentials needs no Server, so an external coturn fleet
//     configured with the same secret can replace this one.
//   - The peer policy. pion admits every peer by default, which would let any
//     credential holder reach loopback, the LAN, or the cloud metadata
//     endpoint through us. PeerAllowed refuses special-purpose addresses
//     (IPv4-mapped, NAT64 and 6to4 spellings included) unless the operator
//     listed them in AllowedPeers, and always admits the server's own relay
//     address so two clients of one server can talk relay-to-relay. Because
//     a TURN permission is per IP, relay sockets additionally refuse to send
//     to the relay address on any port that is not a live relay allocation.
//   - A per-id allocation quota (MaxAllocationsPerUser), counters (Stats:
//     allocations, refusals, relayed bytes and packets each way), an
//     optional relay port range (RelayPortMin, RelayPortMax) a firewall can
//     be written for, and routing pion's logs into slog.
//   - Revocation ([Server.Revoke]): a set of credential ids refused from
//     then on (kept until every credential minted for them before has
//     expired), and the relays already allocated with one closed, which
//     makes pion delete their allocations. Credentials of other ids are
//     untouched. It is per server: whoever revokes tells every node.
//
// # What it does not own
//
// It knows nothing about calls, queues, tokens or HTTP. Who may get
// credentials, and the /api/v1/ice-servers endpoint that hands them out,
// belong to the wiring layer, which calls ICEConfig (or NewCredentials).
//
// # Limits inherited from pion/turn v4.1.4
//
//   - Relays are UDP over IPv4 only: the allocation manager always asks for
//     "udp4", so PublicIP must be IPv4. Clients may still reach the server
//     over IPv6 if ListenIP is "::".
//   - TCP relay allocations (RFC 6062, Connect/ConnectionBind) are not
//     supported by the server: those methods are unhandled, and an Allocate
//     asking for TCP transport is given a UDP relay, governed by the same
//     peer policy. TCP here means client-to-server transport only.
//   - The quota is checked and the allocation created without a common lock
//     inside pion, so a burst from one id across UDP workers can exceed the
//     quota by at most UDPWorkers-1.
//   - A refused CreatePermission comes back as an error response without an
//     ERROR-CODE attribute, and a refused ChannelBind as 401, rather than the
//     403 (Forbidden) RFC 8656 suggests; clients see a failure either way.
//   - pion's Server.Close leaves accepted TCP connections open; the listener
//     we hand it closes them, so Stop really ends every session.
//   - Credential expiry is checked on every authenticated request, as
//     coturn does; a client must fetch new credentials (ICEConfig.TTL) to
//     keep a relay past CredentialTTL.
//
// # Lifecycle
//
// New validates; Start(ctx) listens and returns; Stop is idempotent and
// closes listeners and allocations. A stopped Server is not restarted.
package turnserver
