// Package turnserver runs guidecall's bundled TURN server (pion/turn v5) and
// mints the credentials clients use against it.
//
// # What it owns
//
//   - The listeners: UDPWorkers UDP sockets sharing one address through
//     SO_REUSEPORT (Linux; one socket elsewhere), each with a 4 MiB receive
//     buffer, one TCP listener on the same port and, with Config.TLS, one
//     listener for TURN over TLS (turns:) that also takes plain TURN over
//     TCP (told apart by the first byte), typically on 443.
//   - Credentials in coturn's "use-auth-secret" (TURN REST API) format:
//     username "<unix-expiry>:<id>", password base64(HMAC-SHA1(secret,
//     username)). NewCredentials needs no Server, so an external coturn fleet
//     configured with the same secret can replace this one. The id is
//     pion's user id: quotas and revocation count by it.
//   - The relays: UDP (RFC 8656) and TCP (RFC 6062: Connect, ConnectionBind,
//     ConnectionAttempt; only over a TCP or TLS control connection), IPv4 at
//     PublicIP and IPv6 at RelayIPv6 when the operator gives one (RFC 6156).
//   - The peer policy. pion admits every peer by default, which would let any
//     credential holder reach loopback, the LAN, or the cloud metadata
//     endpoint through us. PeerAllowed refuses special-purpose addresses
//     (IPv4-mapped, NAT64 and 6to4 spellings included) unless the operator
//     listed them in AllowedPeers, and always admits the server's own relay
//     addresses so two clients of one server can talk relay-to-relay. pion
//     asks it on CreatePermission, ChannelBind and Connect. Because a TURN
//     permission is per IP, UDP relay sockets additionally refuse to send to
//     a relay address on any port that is not a live UDP relay, and a
//     Connect to a relay address is refused unless the port is a live TCP
//     relay.
//   - A per-id allocation cap (MaxAllocationsPerUser), counted where relay
//     sockets are made and closed, so it is exact; counters (Stats:
//     allocations, refusals, relayed bytes and packets each way), an
//     optional relay port range (RelayPortMin, RelayPortMax) a firewall can
//     be written for, and routing pion's logs into slog.
//   - The data path's speed (Linux): each UDP listener is a batchConn, the
//     net.PacketConn pion reads from, which reads with recvmmsg (up to 32
//     datagrams a call) and writes with sendmmsg (writers combine: whoever
//     holds the socket sends everything queued), with pooled buffers and
//     cached source addresses; and a fastPath relays ChannelData of UDP
//     clients on the channels pion reports bound, both ways, without
//     handing those datagrams to pion, so a relayed datagram costs no heap
//     allocation (pion's own path costs about seven; see fastpath.go).
//     One relay poller goroutine reads every UDP relay socket with
//     recvmmsg from its own epoll set (relaypoll_linux.go). Datagrams of
//     one size to one destination leave as one UDP_SEGMENT (GSO) train:
//     what one listener batch relays to one peer through one relay
//     socket, and consecutive ChannelData to one client in a listener's
//     sendmmsg (gso_linux.go); where the kernel refuses a train, they go
//     one by one from then on. Config.UnbatchedUDP turns all of it off.
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
// Certificates are loaded (and reloaded) by the caller: Config.TLS takes a
// GetCertificate function.
//
// # Limits inherited from pion/turn v5.1.3
//
//   - A refused ChannelBind comes back as 401 rather than the 403
//     (Forbidden) RFC 8656 suggests; CreatePermission and Connect get 403.
//   - An allocation this server refuses at relay creation (no relay address
//     of the asked family, no free port in the range, a quota burst that
//     raced past the 486 check) is answered 508, not 440 or 486.
//   - pion's Server.Close leaves accepted TCP connections open; the listeners
//     we hand it close them, so Stop really ends every session.
//   - Credential expiry is checked on every authenticated request, as
//     coturn does; a client must fetch new credentials (ICEConfig.TTL) to
//     keep a relay past CredentialTTL.
//
// # Lifecycle
//
// New validates; Start(ctx) listens and returns; Stop is idempotent and
// closes listeners and allocations. A stopped Server is not restarted.
package turnserver
