package queue

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Shopper data is what could name a person:
//   - of an entry: its Name, PageURL (the shop page, which may carry an
//     order or customer number), TransferNote and CustomerID;
//   - of its calls: the DeclineNote and WrapUpNotes a guide wrote, the
//     items (chat, carts, the cards shown) and the rating's comment;
//   - of a callback: its Name, Phone, Email, Message, Note and CustomerID.
//
// Erasing blanks or deletes them and keeps the rest (queue, state, locale,
// currency, outcome, timestamps, rating scores, and the ids that tie
// records together), so statistics still count every entry, call and
// callback.

// Erased counts what one purge or erasure blanked.
type Erased struct {
	Entries   int `json:"entries"`
	Callbacks int `json:"callbacks"`
	// Closed are the callbacks an erasure found still open or claimed: it
	// closes them (state done, OutcomeErased), for there is nobody left to
	// call back. They are counted in Callbacks.
	Closed []Callback `json:"-"`
}

// Eraser is how a Store forgets shopper data. Each method is one
// transaction.
type Eraser interface {
	// ShopperDataPurge erases, at at, the shopper data of every entry that
	// left its queue (LeftAt set) before endedBefore, the notes of every
	// call that ended before it, and the shopper data of every callback
	// done before it. Records erased already are not counted again. Open
	// and claimed callbacks are requests still being served: they stay.
	ShopperDataPurge(ctx context.Context, endedBefore, at time.Time) (Erased, error)
	// EntryErase erases one entry's shopper data, whatever its state, with
	// its calls' notes and the callbacks it left the line for (closing
	// those not done). ErrNotFound when there is no such entry.
	EntryErase(ctx context.Context, id string, at time.Time) (Erased, error)
	// CustomerErase erases, as EntryErase does, every entry and callback
	// that carries customerID, and the callbacks of those entries. Finding
	// nothing is not an error: the counts are zero.
	CustomerErase(ctx context.Context, customerID string, at time.Time) (Erased, error)
	// PresencePurge deletes guides' presence changes beyond each guide's
	// newest keepMax, and those older than before beyond its newest
	// keepMin; it returns how many it deleted.
	PresencePurge(ctx context.Context, before time.Time, keepMin, keepMax int) (int, error)
}

// PurgeShopperData erases the shopper data of entries, calls and
// callbacks that ended more than retention ago. A retention of 0 keeps
// everything.
func (s *Service) PurgeShopperData(ctx context.Context, retention time.Duration) (Erased, error) {
	if retention <= 0 {
		return Erased{}, nil
	}
	now := s.now()
	n, err := s.store.ShopperDataPurge(ctx, now.Add(-retention), now)
	if err != nil {
		return Erased{}, fmt.Errorf("queue: purge shopper data: %w", err)
	}
	if n.Entries > 0 || n.Callbacks > 0 {
		s.log.InfoContext(ctx, "shopper data past its retention erased",
			"entries", n.Entries, "callbacks", n.Callbacks, "retention", retention.String())
	}
	return n, nil
}

// EraseEntry erases one shopper's data now (a request under GDPR art. 17).
func (s *Service) EraseEntry(ctx context.Context, entryID string) (Erased, error) {
	n, err := s.store.EntryErase(ctx, entryID, s.now())
	if err != nil {
		return Erased{}, fmt.Errorf("queue: erase entry %s: %w", entryID, err)
	}
	s.erased(n)
	s.log.InfoContext(ctx, "shopper data erased on request", "entry_id", entryID, "callbacks", n.Callbacks)
	return n, nil
}

// EraseCustomer erases every entry and callback of one customer of the
// merchant's (the sub of its signed customer tokens), and nobody else's.
// The customer id itself is erased too, so it is not logged.
func (s *Service) EraseCustomer(ctx context.Context, customerID string) (Erased, error) {
	if customerID == "" {
		return Erased{}, fmt.Errorf("%w: customer id is required", ErrInvalid)
	}
	n, err := s.store.CustomerErase(ctx, customerID, s.now())
	if err != nil {
		return Erased{}, fmt.Errorf("queue: erase a customer: %w", err)
	}
	s.erased(n)
	s.log.InfoContext(ctx, "customer's shopper data erased on request", "entries", n.Entries, "callbacks", n.Callbacks)
	return n, nil
}

// erased tells the guides of their queues that the callbacks an erasure
// closed are gone from their lists.
func (s *Service) erased(n Erased) {
	evs := make([]Event, 0, len(n.Closed))
	for _, cb := range n.Closed {
		evs = append(evs, CallbackChanged{EventMeta: s.meta(), Callback: cb})
	}
	if len(evs) > 0 {
		s.bus.publish(evs...)
	}
}

// entryHasShopperData reports whether e still holds anything to erase.
func entryHasShopperData(e *Entry) bool {
	return e.Name != "" || e.PageURL != "" || e.TransferNote != "" || e.CustomerID != ""
}

func eraseEntryData(e *Entry) { e.Name, e.PageURL, e.TransferNote, e.CustomerID = "", "", "", "" }

// eraseCallbackData blanks cb; with closeOpen, a callback not done is
// closed as erased.
func eraseCallbackData(cb *Callback, at time.Time, closeOpen bool) {
	cb.Name, cb.Phone, cb.Email, cb.Message, cb.Note, cb.CustomerID = "", "", "", "", "", ""
	if cb.ErasedAt == nil {
		cb.ErasedAt = &at
	}
	if closeOpen && cb.State != CallbackDone {
		cb.State, cb.Outcome, cb.DoneAt = CallbackDone, OutcomeErased, &at
	}
}

// eraseCalls forgets the items, rating comments and wrap-up notes of an
// entry's calls; s.mu is held.
func (s *MemoryStore) eraseCalls(entryID string) {
	for id, c := range s.calls {
		if c.EntryID != entryID {
			continue
		}
		delete(s.items, id)
		if c.RatingComment != "" || c.WrapUpNotes != "" {
			blank := cloneCall(*c)
			blank.RatingComment, blank.WrapUpNotes = "", ""
			s.calls[id] = &blank
		}
	}
}

// ShopperDataPurge implements Eraser.
func (s *MemoryStore) ShopperDataPurge(ctx context.Context, endedBefore, at time.Time) (Erased, error) {
	if err := ctx.Err(); err != nil {
		return Erased{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var n Erased
	// Records are replaced, never changed in place (see memTx).
	for id, e := range s.entries {
		if e.LeftAt != nil && e.LeftAt.Before(endedBefore) && entryHasShopperData(e) {
			c := cloneEntry(*e)
			eraseEntryData(&c)
			s.entries[id] = &c
			s.eraseCalls(id)
			n.Entries++
		}
	}
	for id, c := range s.calls {
		if c.EndedAt != nil && c.EndedAt.Before(endedBefore) && c.DeclineNote != "" {
			cc := cloneCall(*c)
			cc.DeclineNote = ""
			s.calls[id] = &cc
		}
	}
	for id, cb := range s.callbacks {
		if cb.State == CallbackDone && cb.DoneAt != nil && cb.DoneAt.Before(endedBefore) && cb.ErasedAt == nil {
			c := cloneCallback(*cb)
			eraseCallbackData(&c, at, false)
			s.callbacks[id] = &c
			n.Callbacks++
		}
	}
	return n, nil
}

// EntryErase implements Eraser.
func (s *MemoryStore) EntryErase(ctx context.Context, id string, at time.Time) (Erased, error) {
	if err := ctx.Err(); err != nil {
		return Erased{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.entries[id]; !ok {
		return Erased{}, fmt.Errorf("%w: entry %s", ErrNotFound, id)
	}
	return s.eraseLocked(map[string]bool{id: true}, "", at), nil
}

// CustomerErase implements Eraser.
func (s *MemoryStore) CustomerErase(ctx context.Context, customerID string, at time.Time) (Erased, error) {
	if err := ctx.Err(); err != nil {
		return Erased{}, err
	}
	if customerID == "" {
		return Erased{}, fmt.Errorf("%w: customer id is required", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := map[string]bool{}
	for id, e := range s.entries {
		if e.CustomerID == customerID {
			ids[id] = true
		}
	}
	return s.eraseLocked(ids, customerID, at), nil
}

// eraseLocked erases the entries named, their calls' notes, and the
// callbacks of those entries or of customerID (when not empty).
func (s *MemoryStore) eraseLocked(entries map[string]bool, customerID string, at time.Time) Erased {
	n := Erased{Entries: len(entries)}
	s.snap, s.snapOK = nil, false
	for id := range entries {
		c := cloneEntry(*s.entries[id])
		eraseEntryData(&c)
		s.entries[id] = &c
		s.eraseCalls(id)
	}
	for id, c := range s.calls {
		if entries[c.EntryID] && c.DeclineNote != "" {
			cc := cloneCall(*c)
			cc.DeclineNote = ""
			s.calls[id] = &cc
		}
	}
	for id, cb := range s.callbacks {
		if cb.ErasedAt != nil || !(entries[cb.EntryID] || customerID != "" && cb.CustomerID == customerID) {
			continue
		}
		c := cloneCallback(*cb)
		open := c.State != CallbackDone
		eraseCallbackData(&c, at, true)
		s.callbacks[id] = &c
		n.Callbacks++
		if open {
			n.Closed = append(n.Closed, cloneCallback(c))
		}
	}
	return n
}

// ShopperDataPurge implements Eraser.
func (s *PostgresStore) ShopperDataPurge(ctx context.Context, endedBefore, at time.Time) (Erased, error) {
	var n Erased
	err := s.inTx(ctx, func(x pgExec) error {
		rows, err := x.q.Query(ctx, `UPDATE queue_entries
			SET name = '', page_url = '', transfer_note = '', customer_id = '', erased_at = $2
			WHERE left_at < $1 AND erased_at IS NULL RETURNING id`, endedBefore, at)
		if err != nil {
			return pgError(err, "purge", "entries")
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return pgError(err, "purge", "entries")
		}
		n.Entries = len(ids)
		if err := x.eraseCallItems(ctx, ids); err != nil {
			return err
		}
		if _, err := x.q.Exec(ctx, `UPDATE calls SET decline_note = ''
			WHERE ended_at < $1 AND decline_note <> ''`, endedBefore); err != nil {
			return pgError(err, "purge", "call notes")
		}
		tag, err := x.q.Exec(ctx, `UPDATE callbacks
			SET name = '', phone = '', email = '', message = '', note = '', customer_id = '', erased_at = $2
			WHERE done_at < $1 AND state = 'done' AND erased_at IS NULL`, endedBefore, at)
		if err != nil {
			return pgError(err, "purge", "callbacks")
		}
		n.Callbacks = int(tag.RowsAffected())
		return nil
	})
	return n, err
}

// EntryErase implements Eraser.
func (s *PostgresStore) EntryErase(ctx context.Context, id string, at time.Time) (Erased, error) {
	var n Erased
	err := s.inTx(ctx, func(x pgExec) error {
		tag, err := x.q.Exec(ctx, `UPDATE queue_entries
			SET name = '', page_url = '', transfer_note = '', customer_id = '', erased_at = coalesce(erased_at, $2)
			WHERE id = $1`, id, at)
		if err != nil {
			return pgError(err, "erase entry", id)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: entry %s", ErrNotFound, id)
		}
		n, err = x.eraseRest(ctx, []string{id}, "", at)
		n.Entries = 1
		return err
	})
	return n, err
}

// CustomerErase implements Eraser.
func (s *PostgresStore) CustomerErase(ctx context.Context, customerID string, at time.Time) (Erased, error) {
	if customerID == "" {
		return Erased{}, fmt.Errorf("%w: customer id is required", ErrInvalid)
	}
	var n Erased
	err := s.inTx(ctx, func(x pgExec) error {
		rows, err := x.q.Query(ctx, `UPDATE queue_entries
			SET name = '', page_url = '', transfer_note = '', customer_id = '', erased_at = coalesce(erased_at, $2)
			WHERE customer_id = $1 RETURNING id`, customerID, at)
		if err != nil {
			return pgError(err, "erase customer", "entries")
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return pgError(err, "erase customer", "entries")
		}
		n, err = x.eraseRest(ctx, ids, customerID, at)
		n.Entries = len(ids)
		return err
	})
	return n, err
}

// eraseRest erases the call notes of entries and the callbacks of entries
// or of customerID (when not empty), closing those not done.
func (x pgExec) eraseRest(ctx context.Context, entries []string, customerID string, at time.Time) (Erased, error) {
	var n Erased
	if _, err := x.q.Exec(ctx, `UPDATE calls SET decline_note = ''
		WHERE entry_id = ANY($1) AND decline_note <> ''`, entries); err != nil {
		return n, pgError(err, "erase", "call notes")
	}
	if err := x.eraseCallItems(ctx, entries); err != nil {
		return n, err
	}
	const match = `(entry_id = ANY($1) OR ($2 <> '' AND customer_id = $2)) AND erased_at IS NULL`
	const blank = `name = '', phone = '', email = '', message = '', note = '', customer_id = '', erased_at = $3`
	rows, err := x.q.Query(ctx, `UPDATE callbacks SET `+blank+`, state = 'done', outcome = '`+OutcomeErased+`', done_at = $3
		WHERE `+match+` AND state <> 'done' RETURNING `+callbackColumns, entries, customerID, at)
	if err != nil {
		return n, pgError(err, "erase", "callbacks")
	}
	n.Closed, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Callback, error) { return scanCallback(r) })
	if err != nil {
		return n, pgError(err, "erase", "callbacks")
	}
	tag, err := x.q.Exec(ctx, `UPDATE callbacks SET `+blank+` WHERE `+match+` AND state = 'done'`, entries, customerID, at)
	if err != nil {
		return n, pgError(err, "erase", "callbacks")
	}
	n.Callbacks = len(n.Closed) + int(tag.RowsAffected())
	return n, nil
}

// eraseCallItems deletes the items and blanks the rating comments and
// wrap-up notes of the calls of entries.
func (x pgExec) eraseCallItems(ctx context.Context, entries []string) error {
	if _, err := x.q.Exec(ctx, `UPDATE calls SET rating_comment = '', wrap_up_notes = ''
		WHERE entry_id = ANY($1) AND (rating_comment <> '' OR wrap_up_notes <> '')`, entries); err != nil {
		return pgError(err, "erase", "rating comments")
	}
	if _, err := x.q.Exec(ctx, `DELETE FROM call_items
		WHERE call_id IN (SELECT id FROM calls WHERE entry_id = ANY($1))`, entries); err != nil {
		return pgError(err, "erase", "call items")
	}
	return nil
}

// PresencePurge implements Eraser.
func (s *MemoryStore) PresencePurge(ctx context.Context, before time.Time, keepMin, keepMax int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	newer := map[string]int{} // changes of the guide seen so far, newest first
	keep := make([]bool, len(s.presence))
	n := 0
	for i := len(s.presence) - 1; i >= 0; i-- {
		r := s.presence[i]
		rank := newer[r.GuideID]
		newer[r.GuideID]++
		if rank >= keepMax || (rank >= keepMin && r.At.Before(before)) {
			n++
			continue
		}
		keep[i] = true
	}
	if n == 0 {
		return 0, nil
	}
	kept := make([]PresenceRecord, 0, len(s.presence)-n)
	for i, r := range s.presence {
		if keep[i] {
			kept = append(kept, r)
		}
	}
	s.presence = kept
	return n, nil
}

// PresencePurge implements Eraser: one statement, ranking each guide's
// changes newest first.
func (s *PostgresStore) PresencePurge(ctx context.Context, before time.Time, keepMin, keepMax int) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM guide_presence p USING (
			SELECT seq, row_number() OVER (PARTITION BY guide_id ORDER BY seq DESC) AS rank FROM guide_presence
		) r
		WHERE p.seq = r.seq AND (r.rank > $1 OR (r.rank > $2 AND p.at < $3))`, keepMax, keepMin, before)
	if err != nil {
		return 0, pgError(err, "purge", "guide presence")
	}
	return int(tag.RowsAffected()), nil
}

// A guide's presence history is bounded: its newest PresenceKeepMax
// changes at most, and of those older than the retention only the newest
// PresenceKeepMin (what the admin guide read shows).
const (
	PresenceKeepMin = 20
	PresenceKeepMax = 1000
)

// PurgePresence bounds the guides' presence history (see PresenceKeepMax);
// a retention of 0 keeps changes of any age up to PresenceKeepMax a guide.
func (s *Service) PurgePresence(ctx context.Context, retention time.Duration) (int, error) {
	var before time.Time // the zero time: nothing is older
	if retention > 0 {
		before = s.now().Add(-retention)
	}
	n, err := s.store.PresencePurge(ctx, before, PresenceKeepMin, PresenceKeepMax)
	if err != nil {
		return 0, fmt.Errorf("queue: purge presence history: %w", err)
	}
	if n > 0 {
		s.log.InfoContext(ctx, "old presence history deleted", "changes", n, "retention", retention.String())
	}
	return n, nil
}
