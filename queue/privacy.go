package queue

import (
	"context"
	"fmt"
	"time"
)

// Shopper data is what a queue entry holds that could name a person: its
// Name, PageURL (the shop page, which may carry an order or customer
// number) and CustomerID, and of the entry's calls the items (chat, carts,
// the cards shown) and the rating's comment. Erasing an entry blanks or
// deletes them and keeps the rest (queue, state, locale, currency,
// timestamps, the calls and their rating scores), so statistics still
// count it.

// Eraser is how a Store forgets shopper data.
type Eraser interface {
	// EntriesPurge erases, at at, the shopper data of every entry that
	// left its queue (LeftAt set) before endedBefore, and returns how many
	// it erased. Entries erased already are not counted again.
	EntriesPurge(ctx context.Context, endedBefore, at time.Time) (int, error)
	// EntryErase erases one entry's shopper data, whatever its state.
	// ErrNotFound when there is no such entry.
	EntryErase(ctx context.Context, id string, at time.Time) error
}

// PurgeShopperData erases the shopper data of entries that ended more than
// retention ago. A retention of 0 keeps everything.
func (s *Service) PurgeShopperData(ctx context.Context, retention time.Duration) (int, error) {
	if retention <= 0 {
		return 0, nil
	}
	now := s.now()
	n, err := s.store.EntriesPurge(ctx, now.Add(-retention), now)
	if err != nil {
		return 0, fmt.Errorf("queue: purge shopper data: %w", err)
	}
	if n > 0 {
		s.log.InfoContext(ctx, "shopper data past its retention erased", "entries", n, "retention", retention.String())
	}
	return n, nil
}

// EraseEntry erases one shopper's data now (a request under GDPR art. 17).
func (s *Service) EraseEntry(ctx context.Context, entryID string) error {
	if err := s.store.EntryErase(ctx, entryID, s.now()); err != nil {
		return fmt.Errorf("queue: erase entry %s: %w", entryID, err)
	}
	s.log.InfoContext(ctx, "shopper data erased on request", "entry_id", entryID)
	return nil
}

// EntriesPurge implements Eraser.
func (s *MemoryStore) EntriesPurge(ctx context.Context, endedBefore, _ time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.entries {
		if e.LeftAt != nil && e.LeftAt.Before(endedBefore) && (e.Name != "" || e.PageURL != "" || e.CustomerID != "") {
			e.Name, e.PageURL, e.CustomerID = "", "", ""
			s.eraseCalls(e.ID)
			n++
		}
	}
	return n, nil
}

// eraseCalls forgets the items and rating comments of an entry's calls;
// s.mu is held.
func (s *MemoryStore) eraseCalls(entryID string) {
	for id, c := range s.calls {
		if c.EntryID != entryID {
			continue
		}
		delete(s.items, id)
		if c.RatingComment != "" {
			blank := cloneCall(*c)
			blank.RatingComment = ""
			s.calls[id] = &blank
		}
	}
}

// EntryErase implements Eraser.
func (s *MemoryStore) EntryErase(ctx context.Context, id string, _ time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	if !ok {
		return fmt.Errorf("%w: entry %s", ErrNotFound, id)
	}
	e.Name, e.PageURL, e.CustomerID = "", "", ""
	s.eraseCalls(id)
	return nil
}

// EntriesPurge implements Eraser.
func (s *PostgresStore) EntriesPurge(ctx context.Context, endedBefore, at time.Time) (int, error) {
	// One statement, so entries and their calls' items go together.
	var n int
	err := s.pool.QueryRow(ctx, `WITH erased AS (
			UPDATE queue_entries SET name = '', page_url = '', customer_id = '', erased_at = $2
			WHERE left_at < $1 AND erased_at IS NULL RETURNING id
		), comments AS (
			UPDATE calls SET rating_comment = '' WHERE entry_id IN (SELECT id FROM erased) AND rating_comment <> ''
		), items AS (
			DELETE FROM call_items WHERE call_id IN (SELECT c.id FROM calls c JOIN erased e ON c.entry_id = e.id)
		)
		SELECT count(*) FROM erased`, endedBefore, at).Scan(&n)
	if err != nil {
		return 0, pgError(err, "purge", "entries")
	}
	return n, nil
}

// EntryErase implements Eraser.
func (s *PostgresStore) EntryErase(ctx context.Context, id string, at time.Time) error {
	var n int
	err := s.pool.QueryRow(ctx, `WITH erased AS (
			UPDATE queue_entries SET name = '', page_url = '', customer_id = '', erased_at = coalesce(erased_at, $2)
			WHERE id = $1 RETURNING id
		), comments AS (
			UPDATE calls SET rating_comment = '' WHERE entry_id = $1 AND rating_comment <> ''
		), items AS (
			DELETE FROM call_items WHERE call_id IN (SELECT id FROM calls WHERE entry_id = $1)
		)
		SELECT count(*) FROM erased`, id, at).Scan(&n)
	if err != nil {
		return pgError(err, "erase entry", id)
	}
	if n == 0 {
		return fmt.Errorf("%w: entry %s", ErrNotFound, id)
	}
	return nil
}
