package merchant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Shopper data in event bodies. Two events name a shopper:
// callback.requested (its data.callback) and call.rated (its data.rating:
// the shopper's comment and customer id); the others carry ids and times
// only.

// shopperObject is where an event type keeps its shopper: the object
// under data and its fields that identify the shopper or are their own
// words, blanked by the retention purge and erasure the way the queue
// blanks the callback and the rating comment themselves.
type shopperObject struct {
	key    string
	fields []string
}

var shopperObjects = map[string]shopperObject{
	CallbackRequested: {"callback", []string{"name", "phone", "email", "message", "note", "customer_id"}},
	CallRated:         {"rating", []string{"comment", "customer_id"}},
}

// shopperEventTypes are the keys of shopperObjects, for the queries.
func shopperEventTypes() []string { return []string{CallbackRequested, CallRated} }

// Match names what an erasure is about: the field of the event's shopper
// object ("entry_id" or "customer_id") and its value.
type Match struct {
	Field string
	Value string
}

// scrubBody blanks the personal fields of an event body that names a
// shopper (shopperObjects); it reports false (and the body unchanged) when
// there is nothing to blank or m is set and the body is not about m.
func scrubBody(typ string, body []byte, m *Match) ([]byte, bool, error) {
	obj, ok := shopperObjects[typ]
	if !ok {
		return body, false, nil
	}
	var ev map[string]json.RawMessage
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, false, fmt.Errorf("merchant: read event body: %w", err)
	}
	var data map[string]map[string]any
	if err := json.Unmarshal(ev["data"], &data); err != nil {
		return nil, false, fmt.Errorf("merchant: read event data: %w", err)
	}
	shopper := data[obj.key]
	if shopper == nil {
		return body, false, nil
	}
	if m != nil {
		if v, _ := shopper[m.Field].(string); v == "" || v != m.Value {
			return body, false, nil
		}
	}
	changed := false
	for _, f := range obj.fields {
		if v, ok := shopper[f].(string); ok && v != "" {
			shopper[f] = ""
			changed = true
		}
	}
	if !changed {
		return body, false, nil
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, false, fmt.Errorf("merchant: encode event data: %w", err)
	}
	ev["data"] = raw
	out, err := json.Marshal(ev)
	if err != nil {
		return nil, false, fmt.Errorf("merchant: encode event body: %w", err)
	}
	return out, true, nil
}

// PurgeShopperData blanks the shopper fields of events recorded before
// cutoff whose deliveries are all over (none pending): the retention
// purge. Event ids, types, times and the delivery log stay. It returns
// how many events it changed.
func (s *Service) PurgeShopperData(ctx context.Context, cutoff time.Time) (int, error) {
	return s.scrub(ctx, `SELECT e.id, e.type, e.body FROM merchant_events e
		WHERE e.type = ANY($1) AND e.created_at < $2
		AND NOT EXISTS (SELECT 1 FROM merchant_deliveries d WHERE d.event_id = e.id AND d.status = 'pending')
		FOR UPDATE OF e`, []any{shopperEventTypes(), cutoff}, nil)
}

// EraseShopper blanks the shopper fields of every event about m, at once
// and whatever its deliveries' state: an erasure request. A delivery still
// to come sends the blanked body.
func (s *Service) EraseShopper(ctx context.Context, m Match) (int, error) {
	return s.scrub(ctx, `SELECT id, type, body FROM merchant_events
		WHERE (type = $1 AND convert_from(body, 'UTF8')::jsonb->'data'->'callback'->>$3 = $4)
		OR (type = $2 AND convert_from(body, 'UTF8')::jsonb->'data'->'rating'->>$3 = $4) FOR UPDATE`,
		[]any{CallbackRequested, CallRated, m.Field, m.Value}, &m)
}

// EventBody is the stored body of an event, as its deliveries send it.
func (s *Service) EventBody(ctx context.Context, id string) ([]byte, error) {
	var body []byte
	err := s.pool.QueryRow(ctx, `SELECT body FROM merchant_events WHERE id = $1`, id).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("%w: event %s: %w", ErrUnavailable, id, err)
	}
	return body, nil
}

func (s *Service) scrub(ctx context.Context, query string, args []any, m *Match) (int, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("%w: select events: %w", ErrUnavailable, err)
	}
	type change struct {
		id   string
		body []byte
	}
	var changes []change
	for rows.Next() {
		var id, typ string
		var body []byte
		if err := rows.Scan(&id, &typ, &body); err != nil {
			rows.Close()
			return 0, fmt.Errorf("%w: scan event: %w", ErrUnavailable, err)
		}
		out, changed, err := scrubBody(typ, body, m)
		if err != nil {
			rows.Close()
			return 0, fmt.Errorf("event %s: %w", id, err)
		}
		if changed {
			changes = append(changes, change{id, out})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("%w: events: %w", ErrUnavailable, err)
	}
	for _, c := range changes {
		if _, err := tx.Exec(ctx, `UPDATE merchant_events SET body = $2 WHERE id = $1`, c.id, c.body); err != nil {
			return 0, fmt.Errorf("%w: update event %s: %w", ErrUnavailable, c.id, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("%w: commit: %w", ErrUnavailable, err)
	}
	return len(changes), nil
}

// PurgeShopperData: see Service.PurgeShopperData.
func (s *MemoryService) PurgeShopperData(_ context.Context, cutoff time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pending := map[string]bool{}
	for _, d := range s.deliveries {
		if d.Status == StatusPending {
			pending[d.EventID] = true
		}
	}
	return s.scrubLocked(func(id string, e memEvent) bool { return !pending[id] && e.created.Before(cutoff) }, nil)
}

// EraseShopper: see Service.EraseShopper. A send already handed to the
// memory outbox keeps the body it was given.
func (s *MemoryService) EraseShopper(_ context.Context, m Match) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.scrubLocked(func(string, memEvent) bool { return true }, &m)
}

// EventBody: see Service.EventBody.
func (s *MemoryService) EventBody(_ context.Context, id string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.events[id]
	if !ok {
		return nil, ErrNotFound
	}
	return append([]byte(nil), e.body...), nil
}

func (s *MemoryService) scrubLocked(include func(id string, e memEvent) bool, m *Match) (int, error) {
	n := 0
	for id, e := range s.events {
		if !include(id, e) {
			continue
		}
		out, changed, err := scrubBody(e.typ, e.body, m)
		if err != nil {
			return n, fmt.Errorf("event %s: %w", id, err)
		}
		if changed {
			e.body = out
			s.events[id] = e
			n++
		}
	}
	return n, nil
}
