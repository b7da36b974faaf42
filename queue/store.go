package queue

import (
	"context"
	"time"
)

// Store keeps entries, guides and calls. Update methods are atomic
// read-modify-write: fn sees the current record and its changes are saved
// only if it returns nil. Every method returns copies; callers never share
// memory with the store.
type Store interface {
	// EntryCreate saves a new entry at the tail of its queue, assigning Rank.
	EntryCreate(ctx context.Context, e Entry) (Entry, error)
	EntryGet(ctx context.Context, id string) (Entry, error)
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

	// Touch sets SeenAt on the entries and guides whose sockets this node
	// holds. A party the matcher had declared dropped only because nobody
	// reported it (SocketID SocketGivenUp) is reclaimed: back to connected
	// with this socket. Touch returns the ids
	// reclaimed. A party that now has another socket is left alone.
	Touch(ctx context.Context, entries, guides []Held, at time.Time) (reclaimedEntries, reclaimedGuides []string, err error)

	// CallCreate saves a new call. A guide or entry already in a live call
	// cannot get a second one (ErrBadState).
	CallCreate(ctx context.Context, c Call) (Call, error)
	CallGet(ctx context.Context, id string) (Call, error)
	CallUpdate(ctx context.Context, id string, fn func(*Call) error) (Call, error)
	// CallsLive lists calls that have not ended.
	CallsLive(ctx context.Context) ([]Call, error)
}
