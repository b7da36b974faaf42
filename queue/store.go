package queue

import (
	"context"
	"time"
)

// StoreTx reads and writes entries, guides and calls. Inside [Store.Tx]
// every call belongs to one transaction; on a [Store] itself each call is
// a transaction of its own. Every method returns copies: callers never
// share memory with the store.
//
// Inside a transaction, reading a record by id (EntryGet, GuideGet,
// CallGet, and the Update methods) claims it until the transaction ends:
// another transaction that reads it by id waits. Lists do not claim what
// they return. Transactions must claim records entry first, then call,
// then guide, so that two of them never wait on each other in a circle;
// the Service keeps that order in every change.
type StoreTx interface {
	// EntryCreate saves a new entry at the tail of its queue, assigning Rank.
	EntryCreate(ctx context.Context, e Entry) (Entry, error)
	EntryGet(ctx context.Context, id string) (Entry, error)
	// EntryUpdate is a read-modify-write: fn sees the current record and
	// its changes are saved only if it returns nil, whose error is then
	// returned untouched.
	EntryUpdate(ctx context.Context, id string, fn func(*Entry) error) (Entry, error)
	// EntryRequeue puts a queued-again entry at the head of its queue
	// (Rank below every other queued entry) in state waiting.
	EntryRequeue(ctx context.Context, id string) (Entry, error)
	// EntriesQueued lists the waiting and offered entries of one queue in
	// order. An empty queue name lists every queue, ordered by queue then rank.
	EntriesQueued(ctx context.Context, queue string) ([]Entry, error)

	// GuideUpsert creates the guide or refreshes its name, keeping state.
	GuideUpsert(ctx context.Context, g Guide) (Guide, error)
	GuideGet(ctx context.Context, id string) (Guide, error)
	GuideUpdate(ctx context.Context, id string, fn func(*Guide) error) (Guide, error)
	// GuidesAvailable lists online, available guides without a call,
	// longest idle first.
	GuidesAvailable(ctx context.Context) ([]Guide, error)
	// GuidesOnline lists guides with an open console.
	GuidesOnline(ctx context.Context) ([]Guide, error)

	// CallCreate saves a new call. An entry already in a live call cannot
	// get a second one, nor a guide more live calls than its capacity
	// (ErrBadState): the store checks both itself, inside the transaction.
	CallCreate(ctx context.Context, c Call) (Call, error)
	CallGet(ctx context.Context, id string) (Call, error)
	CallUpdate(ctx context.Context, id string, fn func(*Call) error) (Call, error)
	// CallsLive lists calls that have not ended.
	CallsLive(ctx context.Context) ([]Call, error)

	// CallItemAdd appends an item to its call, assigning Seq (one more
	// than the call's last). The call must exist (ErrNotFound).
	CallItemAdd(ctx context.Context, it CallItem) (CallItem, error)
	// CallItems lists a call's items in Seq order.
	CallItems(ctx context.Context, callID string) ([]CallItem, error)
	// CallsHandled lists calls of a queue (every queue when empty) that
	// connected and ended at or after since: the handle times the wait
	// estimate learns from.
	CallsHandled(ctx context.Context, queue string, since time.Time) ([]Call, error)
	// EntriesGaveUp lists entries of a queue (every queue when empty) that
	// left the line without a guide (canceled or abandoned) at or after
	// since: how soon shoppers give up, which the wait estimate learns.
	EntriesGaveUp(ctx context.Context, queue string, since time.Time) ([]Entry, error)
	// CallsDeclined lists a guide's latest offers that ended declined
	// (with the guide's reason, if any), newest first, at most limit.
	CallsDeclined(ctx context.Context, guideID string, limit int) ([]Call, error)
	// CallsOfCustomer lists the calls a guide accepted for the entries of
	// one customer (the merchant's id from a verified customer token),
	// newest offer first, at most limit: the "spoke before" of the
	// console's shopper context.
	CallsOfCustomer(ctx context.Context, customerID string, limit int) ([]Call, error)
	// CallsOfGuide lists the calls a guide accepted and that ended, with
	// their shoppers, newest accepted first, selected by q (its Text
	// already lower-cased), at most q.Limit.
	CallsOfGuide(ctx context.Context, q GuideCallsQuery) ([]GuideCall, error)

	// Queues are read without a claim: a change reads its queue's rules,
	// it does not change them.
	QueueCreate(ctx context.Context, q Queue) (Queue, error)
	QueueGet(ctx context.Context, name string) (Queue, error)
	QueueUpdate(ctx context.Context, name string, fn func(*Queue) error) (Queue, error)
	QueuesList(ctx context.Context) ([]Queue, error)

	// PresenceAppend records one change of a guide's presence;
	// PresenceHistory lists the latest limit changes, newest first.
	PresenceAppend(ctx context.Context, r PresenceRecord) error
	PresenceHistory(ctx context.Context, guideID string, limit int) ([]PresenceRecord, error)

	// Callbacks. CallbackGet claims the record inside a transaction, as
	// EntryGet does; CallbacksList lists a queue's callbacks (every
	// queue's when empty), oldest first, the closed ones only if asked.
	CallbackCreate(ctx context.Context, cb Callback) (Callback, error)
	CallbackGet(ctx context.Context, id string) (Callback, error)
	CallbackUpdate(ctx context.Context, id string, fn func(*Callback) error) (Callback, error)
	CallbacksList(ctx context.Context, queue string, withClosed bool) ([]Callback, error)

	// QualityAdd keeps a party's quality report with the call's history.
	QualityAdd(ctx context.Context, callID string, q QualityReport) error
	// QualityCount counts a call's stored reports.
	QualityCount(ctx context.Context, callID string) (int, error)
	// QualityReports lists a call's reports in the order they were added.
	QualityReports(ctx context.Context, callID string) ([]QualityReport, error)
}

// Store keeps entries, guides and calls.
type Store interface {
	StoreTx
	Eraser
	HistoryReader

	// Tx runs fn in one transaction: everything fn writes through tx is
	// saved together when fn returns nil, and nothing is when it returns
	// an error (which Tx returns untouched). A store may run fn more than
	// once (PostgreSQL retries serialization failures and deadlocks), so
	// fn must not act outside tx. fn must not call the Store itself.
	Tx(ctx context.Context, fn func(ctx context.Context, tx StoreTx) error) error

	// Touch sets SeenAt on the entries and guides whose sockets this node
	// holds. A party the matcher had declared dropped only because nobody
	// reported it (SocketID SocketGivenUp) is reclaimed: back to connected
	// with this socket. Touch returns the ids reclaimed. A party that now
	// has another socket is left alone. It is one transaction of its own.
	Touch(ctx context.Context, entries, guides []Held, at time.Time) (reclaimedEntries, reclaimedGuides []string, err error)
	// EntriesUnseen returns the entries waiting, offered or in a call
	// whose socket is not known to be gone (no DisconnectedAt) and whose
	// SeenAt is set and before cutoff, by id: the parties whose node
	// stopped reporting them. SeenAt alone is not a change ChangeCounter
	// counts, so the matcher asks for these rather than reading them off
	// the line it keeps.
	EntriesUnseen(ctx context.Context, cutoff time.Time) ([]Entry, error)
}

// ChangeCounter is a Store that counts its writes: ChangeVersion moves
// whenever an entry, guide or call was written (it may move without one,
// after a write that rolled back), except a write of SeenAt alone (Touch
// refreshing presence): a line kept across Touch may hold older SeenAt. The matcher reads it on each pass and
// reuses what it read last while the count stands still. A store without
// it is read afresh on every pass.
//
// A write counts when it is made, which may be well before it commits
// (PostgreSQL's sequence moves at the write). QueuedLine therefore says
// with the line whether it is settled: no transaction that had written
// when the read began was still uncommitted, so the line holds every
// write a ChangeVersion read before it counts. The matcher keeps only a
// settled line.
type ChangeCounter interface {
	ChangeVersion(ctx context.Context) (int64, error)
	// QueuedLine is EntriesQueued(ctx, "") and whether it is settled.
	QueuedLine(ctx context.Context) (line []Entry, settled bool, err error)
}
