package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// nonNil and nilIfEmpty map a Go nil list to the NOT NULL '{}' of a
// column and back, so records read from PostgreSQL look like the
// MemoryStore's.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func (s *PostgresStore) CallsHandled(ctx context.Context, queue string, since time.Time) ([]Call, error) {
	return s.plain().CallsHandled(ctx, queue, since)
}

func (x pgExec) CallsHandled(ctx context.Context, queue string, since time.Time) ([]Call, error) {
	rows, err := x.q.Query(ctx, `SELECT `+callColumns+` FROM calls
		WHERE connected_at IS NOT NULL AND ended_at >= $1 AND ($2 = '' OR queue = $2)
		ORDER BY ended_at, id COLLATE "C"`, since, queue)
	if err != nil {
		return nil, pgError(err, "calls", "handled")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Call, error) { return scanCall(r) })
	if err != nil {
		return nil, pgError(err, "calls", "handled")
	}
	return out, nil
}

func (s *PostgresStore) EntriesGaveUp(ctx context.Context, queue string, since time.Time) ([]Entry, error) {
	return s.plain().EntriesGaveUp(ctx, queue, since)
}

func (x pgExec) EntriesGaveUp(ctx context.Context, queue string, since time.Time) ([]Entry, error) {
	rows, err := x.q.Query(ctx, `SELECT `+entryColumns+` FROM queue_entries
		WHERE state IN ($3, $4) AND left_at >= $1 AND ($2 = '' OR queue = $2)
		ORDER BY left_at, id COLLATE "C"`, since, queue, EntryCanceled, EntryAbandoned)
	if err != nil {
		return nil, pgError(err, "entries", "gave up")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Entry, error) { return scanEntry(r) })
	if err != nil {
		return nil, pgError(err, "entries", "gave up")
	}
	return out, nil
}

func (s *PostgresStore) CallsDeclined(ctx context.Context, guideID string, limit int) ([]Call, error) {
	return s.plain().CallsDeclined(ctx, guideID, limit)
}

func (x pgExec) CallsDeclined(ctx context.Context, guideID string, limit int) ([]Call, error) {
	rows, err := x.q.Query(ctx, `SELECT `+callColumns+` FROM calls
		WHERE guide_id = $1 AND end_reason = $2
		ORDER BY ended_at DESC, id COLLATE "C" DESC LIMIT $3`, guideID, ReasonDeclined, limit)
	if err != nil {
		return nil, pgError(err, "calls", "declined")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Call, error) { return scanCall(r) })
	if err != nil {
		return nil, pgError(err, "calls", "declined")
	}
	return out, nil
}

// --- queues ---

const queueColumns = `name, display_name, time_zone, hours, closed_dates, max_wait_seconds,
	wrap_up_seconds, offer_timeout_seconds, relax, created_at, updated_at`

func scanQueue(r rowScanner) (Queue, error) {
	var q Queue
	var hours, relax []byte
	if err := r.Scan(&q.Name, &q.DisplayName, &q.TimeZone, &hours, &q.ClosedDates, &q.MaxWaitSeconds,
		&q.WrapUpSeconds, &q.OfferTimeoutSeconds, &relax, &q.CreatedAt, &q.UpdatedAt); err != nil {
		return Queue{}, err
	}
	if len(hours) > 0 && string(hours) != "null" {
		if err := json.Unmarshal(hours, &q.Hours); err != nil {
			return Queue{}, fmt.Errorf("queue %s hours: %w", q.Name, err)
		}
	}
	if err := json.Unmarshal(relax, &q.Relax); err != nil {
		return Queue{}, fmt.Errorf("queue %s relax: %w", q.Name, err)
	}
	q.ClosedDates, q.CreatedAt, q.UpdatedAt = nilIfEmpty(q.ClosedDates), utc(q.CreatedAt), utc(q.UpdatedAt)
	if len(q.Relax) == 0 {
		q.Relax = nil
	}
	return q, nil
}

func queueArgs(q Queue) []any {
	var hours []byte
	if q.Hours != nil {
		hours, _ = json.Marshal(q.Hours)
	}
	relax, _ := json.Marshal(q.Relax)
	if q.Relax == nil {
		relax = []byte("[]")
	}
	return []any{q.Name, q.DisplayName, q.TimeZone, hours, nonNil(q.ClosedDates), q.MaxWaitSeconds,
		q.WrapUpSeconds, q.OfferTimeoutSeconds, relax, q.CreatedAt, q.UpdatedAt}
}

func (s *PostgresStore) QueueCreate(ctx context.Context, q Queue) (Queue, error) {
	return s.plain().QueueCreate(ctx, q)
}

func (s *PostgresStore) QueueGet(ctx context.Context, name string) (Queue, error) {
	return s.plain().QueueGet(ctx, name)
}

func (s *PostgresStore) QueueUpdate(ctx context.Context, name string, fn func(*Queue) error) (Queue, error) {
	var out Queue
	err := s.inTx(ctx, func(x pgExec) (err error) {
		out, err = x.QueueUpdate(ctx, name, fn)
		return err
	})
	return out, err
}

func (s *PostgresStore) QueuesList(ctx context.Context) ([]Queue, error) {
	return s.plain().QueuesList(ctx)
}

func (x pgExec) QueueCreate(ctx context.Context, q Queue) (Queue, error) {
	got, err := scanQueue(x.q.QueryRow(ctx, `INSERT INTO queues (`+queueColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING `+queueColumns, queueArgs(q)...))
	if err != nil {
		return Queue{}, pgError(err, "queue", q.Name)
	}
	return got, nil
}

// QueueGet takes no lock even inside a transaction (see StoreTx).
func (x pgExec) QueueGet(ctx context.Context, name string) (Queue, error) {
	q, err := scanQueue(x.q.QueryRow(ctx, `SELECT `+queueColumns+` FROM queues WHERE name = $1`, name))
	if err != nil {
		return Queue{}, pgError(err, "queue", name)
	}
	return q, nil
}

func (x pgExec) QueueUpdate(ctx context.Context, name string, fn func(*Queue) error) (Queue, error) {
	cur, err := scanQueue(x.q.QueryRow(ctx, `SELECT `+queueColumns+` FROM queues WHERE name = $1 FOR UPDATE`, name))
	if err != nil {
		return Queue{}, pgError(err, "queue", name)
	}
	work := cloneQueue(cur)
	if err := fn(&work); err != nil {
		return Queue{}, err
	}
	work.Name = cur.Name
	if _, err := x.q.Exec(ctx, `UPDATE queues SET display_name = $2, time_zone = $3, hours = $4,
		closed_dates = $5, max_wait_seconds = $6, wrap_up_seconds = $7, offer_timeout_seconds = $8,
		relax = $9, created_at = $10, updated_at = $11 WHERE name = $1`, queueArgs(work)...); err != nil {
		return Queue{}, pgError(err, "queue", name)
	}
	return cloneQueue(work), nil
}

func (x pgExec) QueuesList(ctx context.Context) ([]Queue, error) {
	rows, err := x.q.Query(ctx, `SELECT `+queueColumns+` FROM queues ORDER BY name COLLATE "C"`)
	if err != nil {
		return nil, pgError(err, "queues", "list")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Queue, error) { return scanQueue(r) })
	if err != nil {
		return nil, pgError(err, "queues", "list")
	}
	return out, nil
}

// --- presence history ---

func (s *PostgresStore) PresenceAppend(ctx context.Context, r PresenceRecord) error {
	return s.plain().PresenceAppend(ctx, r)
}

func (s *PostgresStore) PresenceHistory(ctx context.Context, guideID string, limit int) ([]PresenceRecord, error) {
	return s.plain().PresenceHistory(ctx, guideID, limit)
}

func (x pgExec) PresenceAppend(ctx context.Context, r PresenceRecord) error {
	if _, err := x.q.Exec(ctx, `INSERT INTO guide_presence (guide_id, state, reason, at) VALUES ($1, $2, $3, $4)`,
		r.GuideID, r.State, r.Reason, r.At); err != nil {
		return pgError(err, "presence", r.GuideID)
	}
	return nil
}

func (x pgExec) PresenceHistory(ctx context.Context, guideID string, limit int) ([]PresenceRecord, error) {
	rows, err := x.q.Query(ctx, `SELECT guide_id, state, reason, at FROM guide_presence
		WHERE guide_id = $1 ORDER BY seq DESC LIMIT $2`, guideID, limit)
	if err != nil {
		return nil, pgError(err, "presence", guideID)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PresenceRecord, error) {
		var p PresenceRecord
		err := r.Scan(&p.GuideID, &p.State, &p.Reason, &p.At)
		p.At = utc(p.At)
		return p, err
	})
	if err != nil {
		return nil, pgError(err, "presence", guideID)
	}
	return out, nil
}

// --- callbacks ---

const callbackColumns = `id, queue, name, phone, email, locale, message, window_from, window_to,
	entry_id, state, created_at, claimed_by, claimed_at, outcome, note, done_at, customer_id, erased_at`

func scanCallback(r rowScanner) (Callback, error) {
	var c Callback
	err := r.Scan(&c.ID, &c.Queue, &c.Name, &c.Phone, &c.Email, &c.Locale, &c.Message, &c.WindowFrom, &c.WindowTo,
		&c.EntryID, &c.State, &c.CreatedAt, &c.ClaimedBy, &c.ClaimedAt, &c.Outcome, &c.Note, &c.DoneAt,
		&c.CustomerID, &c.ErasedAt)
	c.CreatedAt = utc(c.CreatedAt)
	c.ErasedAt = utcPtr(c.ErasedAt)
	c.WindowFrom, c.WindowTo, c.ClaimedAt, c.DoneAt = utcPtr(c.WindowFrom), utcPtr(c.WindowTo), utcPtr(c.ClaimedAt), utcPtr(c.DoneAt)
	return c, err
}

func callbackArgs(c Callback) []any {
	return []any{c.ID, c.Queue, c.Name, c.Phone, c.Email, c.Locale, c.Message, c.WindowFrom, c.WindowTo,
		c.EntryID, c.State, c.CreatedAt, c.ClaimedBy, c.ClaimedAt, c.Outcome, c.Note, c.DoneAt,
		c.CustomerID, c.ErasedAt}
}

func (s *PostgresStore) CallbackCreate(ctx context.Context, cb Callback) (Callback, error) {
	return s.plain().CallbackCreate(ctx, cb)
}

func (s *PostgresStore) CallbackGet(ctx context.Context, id string) (Callback, error) {
	return s.plain().CallbackGet(ctx, id)
}

func (s *PostgresStore) CallbackUpdate(ctx context.Context, id string, fn func(*Callback) error) (Callback, error) {
	var out Callback
	err := s.inTx(ctx, func(x pgExec) (err error) {
		out, err = x.CallbackUpdate(ctx, id, fn)
		return err
	})
	return out, err
}

func (s *PostgresStore) CallbacksList(ctx context.Context, queue string, withClosed bool) ([]Callback, error) {
	return s.plain().CallbacksList(ctx, queue, withClosed)
}

func (x pgExec) CallbackCreate(ctx context.Context, cb Callback) (Callback, error) {
	got, err := scanCallback(x.q.QueryRow(ctx, `INSERT INTO callbacks (`+callbackColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
		RETURNING `+callbackColumns, callbackArgs(cb)...))
	if err != nil {
		return Callback{}, pgError(err, "callback", cb.ID)
	}
	return got, nil
}

func (x pgExec) CallbackGet(ctx context.Context, id string) (Callback, error) {
	c, err := scanCallback(x.q.QueryRow(ctx, `SELECT `+callbackColumns+` FROM callbacks WHERE id = $1`+x.forUpdate(), id))
	if err != nil {
		return Callback{}, pgError(err, "callback", id)
	}
	return c, nil
}

func (x pgExec) CallbackUpdate(ctx context.Context, id string, fn func(*Callback) error) (Callback, error) {
	x.lock = true
	cur, err := x.CallbackGet(ctx, id)
	if err != nil {
		return Callback{}, err
	}
	work := cloneCallback(cur)
	if err := fn(&work); err != nil {
		return Callback{}, err
	}
	work.ID = cur.ID
	if _, err := x.q.Exec(ctx, `UPDATE callbacks SET queue = $2, name = $3, phone = $4, email = $5, locale = $6,
		message = $7, window_from = $8, window_to = $9, entry_id = $10, state = $11, created_at = $12,
		claimed_by = $13, claimed_at = $14, outcome = $15, note = $16, done_at = $17,
		customer_id = $18, erased_at = $19 WHERE id = $1`,
		callbackArgs(work)...); err != nil {
		return Callback{}, pgError(err, "callback", id)
	}
	return cloneCallback(work), nil
}

func (x pgExec) CallbacksList(ctx context.Context, queue string, withClosed bool) ([]Callback, error) {
	rows, err := x.q.Query(ctx, `SELECT `+callbackColumns+` FROM callbacks
		WHERE ($1 = '' OR queue = $1) AND ($2 OR state <> 'done')
		ORDER BY created_at, id COLLATE "C"`, queue, withClosed)
	if err != nil {
		return nil, pgError(err, "callbacks", queue)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Callback, error) { return scanCallback(r) })
	if err != nil {
		return nil, pgError(err, "callbacks", queue)
	}
	return out, nil
}

func (s *PostgresStore) CallsOfGuide(ctx context.Context, q GuideCallsQuery) ([]GuideCall, error) {
	return s.plain().CallsOfGuide(ctx, q)
}

// CallsOfGuide searches the same fields as GuideCall.matches; strpos on
// lower() rather than LIKE, so the guide's text needs no escaping.
func (x pgExec) CallsOfGuide(ctx context.Context, q GuideCallsQuery) ([]GuideCall, error) {
	var from, to *time.Time
	if !q.From.IsZero() {
		from = &q.From
	}
	if !q.To.IsZero() {
		to = &q.To
	}
	rows, err := x.q.Query(ctx, `SELECT `+prefixed("c.", callColumns)+`,
			coalesce(e.name, ''), coalesce(e.locale, ''), coalesce(e.currency, ''), coalesce(e.page_url, '')
		FROM calls c LEFT JOIN queue_entries e ON e.id = c.entry_id
		WHERE c.guide_id = $1 AND c.accepted_at IS NOT NULL AND c.state = $2
			AND ($3::timestamptz IS NULL OR c.accepted_at >= $3)
			AND ($4::timestamptz IS NULL OR c.accepted_at < $4)
			AND ($5 = '' OR strpos(lower(c.wrap_up_notes), $5) > 0 OR strpos(lower(c.outcome), $5) > 0
				OR strpos(lower(c.queue), $5) > 0 OR strpos(lower(coalesce(e.name, '')), $5) > 0
				OR strpos(lower(coalesce(e.page_url, '')), $5) > 0)
		ORDER BY c.accepted_at DESC, c.id COLLATE "C" DESC LIMIT $6`,
		q.GuideID, CallEnded, from, to, q.Text, q.Limit)
	if err != nil {
		return nil, pgError(err, "calls", "of guide")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (GuideCall, error) {
		var gc GuideCall
		c, err := scanCall(shopperScanner{r, &gc.Shopper})
		gc.Call = c
		return gc, err
	})
	if err != nil {
		return nil, pgError(err, "calls", "of guide")
	}
	return out, nil
}

// shopperScanner scans a call row followed by four shopper columns.
type shopperScanner struct {
	r rowScanner
	s *CallShopper
}

func (x shopperScanner) Scan(dest ...any) error {
	return x.r.Scan(append(dest, &x.s.Name, &x.s.Locale, &x.s.Currency, &x.s.PageURL)...)
}

// prefixed qualifies each column of a comma-separated list.
func prefixed(prefix, columns string) string {
	parts := strings.Split(columns, ",")
	for i, p := range parts {
		parts[i] = prefix + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}
