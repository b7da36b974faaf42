// Package queue owns who is waiting and who is helping: queues as records
// (hours, closed dates, waits, wrap-up, relaxation rules), queue entries,
// guides' routing profiles (queues, languages, skills, capacity) and
// presence with its history, the matcher that offers each shopper, by
// priority and then join time, to the longest-idle guide eligible for it,
// offer time-outs, re-queues, transfers, abandonment, callback requests,
// the wait estimate, and the record of every call those matches create:
// its timestamps, its items (chat messages, product cards, the shopper's
// cart: [CallItem], whose bodies the queue stores but does not read), the
// shopper's rating and the guide's wrap-up (outcome and notes,
// [Service.SaveWrapUp]); a guide's history of its calls
// ([Service.GuideCalls]) and the overview of its queues' lines
// ([Service.GuideOverview]).
// docs/routing.md states the rules.
//
// # Why calls live here
//
// DESIGN.md puts the call state machine in signaling. It lives here instead
// because a call is born from a match and, until it connects, can send its
// shopper back to the head of the queue: the entry, the guide and the call
// change together, and the store that holds one must hold all three.
// Signaling still owns the sockets: it relays SDP and ICE between the two
// parties this package names, and the call flow (package callflow) reports
// connects, drops and hang-ups back through [Service].
//
// # One transaction per change
//
// Every change — offer, accept, decline, time-out, a drop or a return,
// end, requeue, a presence change — reads and writes its entry, call and
// guide in one [Store.Tx]: on PostgreSQL a transaction whose reads by id
// lock their rows (retried on deadlock or serialization failure), on the
// [MemoryStore] one critical section whose writes are undone if it fails.
// A change either happens whole or not at all, so there is nothing to undo
// by hand and no sweep repairing half-made changes. Changes claim records
// entry first, then call, then guide, so that two never wait on each other
// in a circle; PostgreSQL's partial unique indexes refuse a second live
// call for a guide or an entry even to two leaders briefly running at once.
//
// # Events
//
// A change collects typed events ([OfferMade], [CallMatched],
// [CallFinished], ... each with an id and a time) and publishes them only
// after it commits: a change rolled back publishes nothing. Subscribers
// ([Service.Subscribe], [Service.SubscribeFunc]) each get a bounded buffer
// of their own; publishing never waits for one. A subscriber whose buffer
// is full loses events, which are counted ([Subscription.Dropped]) and
// logged, rather than stalling the matcher and every request behind the
// slowest consumer: the client fan-out can resend state on reconnect,
// whereas a stalled matcher loses every shopper's wait.
//
// Events reach each subscriber in the order of the changes that made
// them, even across goroutines: a guide hears that its offer or call ended
// before the offer its freedom made possible. That order holds for the
// events of one node; a client that hears from several nodes matches
// messages by call and offer id (the guide console does).
//
// A socket that opens is told its position ([PositionChanged]) once its
// change committed, in one computation with every socket that opened
// meanwhile; the matcher's pass tells all the positions it changed in one
// [PositionsChanged], and skips the work while the store's
// [ChangeCounter] says nothing was written (the line is kept in rank
// order by both stores, so reading it never sorts). The pass keeps what
// it told next to the line it told it for and, for a line of one queue
// and band, works positions out only from the first entry that changed
// (told.go); the memory store tallies its line so that a socket's first
// position does not read the whole line (tally.go). A PostgreSQL line is
// kept only when no writing transaction was open as it was read
// (migration 00100). A node's presence refresh ([Store.Touch], SeenAt
// alone) is not a change the counter counts (migration 00120), so an idle
// line is not read again; the matcher asks the store for shoppers nobody
// reported ([Store.EntriesUnseen]) once per [Service.TouchEvery] instead
// of reading their SeenAt off the line it keeps.
//
// Events live in memory only. What a merchant webhook will report must be
// recorded in the same transaction as the change; queue does not record
// any yet.
//
// # Call quality
//
// Each party reports its getStats() summary every 10 s during a call
// ([Service.ReportQuality], one transaction that checks the party and the
// call's state and stores the report beside the call, at most
// [MaxQualityReports] per call); [Service.CallQuality] folds them into the
// per-call summary (min, median, max per side) kept with the call's
// history, and each report is published as [QualityReported] for metrics.
//
// # Dashboard figures
//
// [Service.Stats] reads a window's history in one read ([HistoryReader]:
// the entries that joined in it, all their calls and those calls' quality
// reports) and folds it in [ComputeStats], the same code whichever store
// answered: offered, answered, abandoned, waits, handle times, ratings and
// quality, in total and per day. [Service.Live] is the service now.
// docs/dashboard.md defines each figure.
//
// The matcher tells a [MatcherObserver] of each pass and of leadership,
// for metrics, without events every subscriber would have to skip.
//
// # Cluster
//
// All state is in a [Store]. Any node may call the [Service] methods that
// react to a client (Join, Accept, SetPresence, ...). Only the node that
// holds leadership through an [Elector] runs the matcher loop, which is
// also the only place where time moves things: offer deadlines, drop grace
// periods and position updates. Losing the leader loses nothing but up to
// one tick of latency.
//
// # What it does not own
//
// Tokens (internal/auth), the WebSocket (signaling) and the message schema
// (protocol),
// money (payments), and delivery of events to clients: it publishes events
// and does not know who reads them or how a message gets to a socket.
//
// # Shopper data
//
// An entry's Name, PageURL, TransferNote and CustomerID; its calls'
// DeclineNote, WrapUpNotes, items and rating comment; and a callback's Name, Phone,
// Email, Message, Note and CustomerID are what could name a person.
// [Eraser] blanks or deletes them — past a retention period
// ([Service.PurgeShopperData]), for one entry ([Service.EraseEntry]) or
// for one customer of the merchant's ([Service.EraseCustomer]) on request
// — and keeps everything statistics read. When the purge runs is the
// app's business.
package queue
