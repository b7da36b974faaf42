package queue

import (
	"context"
	"fmt"
	"time"
)

// Shopper data is what a queue entry holds that could name a person: its
// Name and PageURL (the shop page, which may carry an order or customer
// number). Erasing an entry blanks them and keeps the rest (queue, state,
// locale, currency, timestamps, and the entry's calls), so statistics
// still count it.

// Eraser is how a Store forgets shopper data.
type Eraser interface {
	// EntriesPurge erases, at at, the shopper data of every entry that
	// left its queue (LeftAt set) before endedBefore, and returns how many
	// it erased. Entries erased already are not counted again.
	EntriesPurge(ctx context.Context, endedBefore, at time.Time) (int, error)
	// EntryErase erases one entry's shopper data, whatever its state.
	// ErrNotFound when there is no such entry.
	EntryErase(ctx context.Context, id string, at time.Time) error
	// PresencePurge deletes guides' presence changes beyond each guide's
	// newest keepMax, and those older than before beyond its newest
	// keepMin; it returns how many it deleted.
	PresencePurge(ctx context.Context, before time.Time, keepMin, keepMax int) (int, error)
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
		if e.LeftAt != nil && e.LeftAt.Before(endedBefore) && (e.Name != "" || e.PageURL != "") {
			e.Name, e.PageURL = "", ""
			n++
		}
	}
	return n, nil
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
	e.Name, e.PageURL = "", ""
	return nil
}

// EntriesPurge implements Eraser.
func (s *PostgresStore) EntriesPurge(ctx context.Context, endedBefore, at time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE queue_entries SET name = '', page_url = '', erased_at = $2
		WHERE left_at < $1 AND erased_at IS NULL`, endedBefore, at)
	if err != nil {
		return 0, pgError(err, "purge", "entries")
	}
	return int(tag.RowsAffected()), nil
}

// EntryErase implements Eraser.
func (s *PostgresStore) EntryErase(ctx context.Context, id string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE queue_entries SET name = '', page_url = '', erased_at = coalesce(erased_at, $2)
		WHERE id = $1`, id, at)
	if err != nil {
		return pgError(err, "erase entry", id)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: entry %s", ErrNotFound, id)
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
