package queue

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"guidecall/internal/db"
)

// PostgresStore is the Store a cluster shares: entries, guides and calls in
// the tables of internal/db/migrations. Safe for concurrent use by many
// nodes.
//
// Tx is a READ COMMITTED transaction in which reading a record by id is
// SELECT ... FOR UPDATE: the row stays locked until commit, so a change
// that checks a record and then writes it cannot be overtaken by another
// node, just as two goroutines take turns on the MemoryStore's mutex. A
// deadlock (40P01) or serialization failure (40001) rolls the transaction
// back and runs fn again, up to txAttempts times. Lists take no locks;
// whatever a change decides from a list it checks again by id.
type PostgresStore struct {
	pool *pgxpool.Pool
}

// NewPostgresStore returns a store over pool, whose schema must have been
// migrated (db.Migrate).
func NewPostgresStore(pool *pgxpool.Pool) *PostgresStore {
	return &PostgresStore{pool: pool}
}

var _ Store = (*PostgresStore)(nil)

// txAttempts bounds how often Tx runs fn when Postgres keeps picking it
// as the loser of a deadlock or serialization conflict.
const txAttempts = 5

func (s *PostgresStore) Tx(ctx context.Context, fn func(ctx context.Context, tx StoreTx) error) error {
	var err, fnErr error
	for attempt := range txAttempts {
		if attempt > 0 {
			// A little jitter, so the two losers of one conflict do not
			// meet again at once.
			t := time.NewTimer(time.Duration(attempt) * time.Duration(1+rand.IntN(5)) * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return pgError(ctx.Err(), "transaction", "retry")
			case <-t.C:
			}
		}
		fnErr = nil
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			fnErr = fn(ctx, pgExec{q: tx, lock: true})
			return fnErr
		})
		if !retryable(err) {
			break
		}
	}
	switch {
	case err == nil:
		return nil
	case retryable(err):
		return fmt.Errorf("queue: postgres: transaction lost %d conflicts in a row: %w: %w", txAttempts, ErrUnavailable, err)
	case fnErr != nil:
		return fnErr // fn's own, or a driver error pgExec already mapped
	}
	return pgError(err, "transaction", "begin or commit")
}

// querier is what a pool and a transaction have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// pgExec runs the StoreTx methods on a pool (each statement its own
// transaction) or inside Tx. lock adds FOR UPDATE to reads by id.
type pgExec struct {
	q    querier
	lock bool
}

// PgxTx is the transaction a StoreTx of this store runs in, for a
// Config.TxHook that writes with the change; ok is false outside Tx.
func (x pgExec) PgxTx() (tx pgx.Tx, ok bool) {
	tx, ok = x.q.(pgx.Tx)
	return tx, ok
}

func (x pgExec) forUpdate() string {
	if x.lock {
		return " FOR UPDATE"
	}
	return ""
}

// inTx runs one method in a transaction of its own, for the Store methods
// that read and write.
func (s *PostgresStore) inTx(ctx context.Context, fn func(x pgExec) error) error {
	return s.Tx(ctx, func(_ context.Context, tx StoreTx) error { return fn(tx.(pgExec)) })
}

func (s *PostgresStore) plain() pgExec { return pgExec{q: s.pool} }

// ChangeVersion reads queue_change_seq, which a trigger moves on every
// statement that writes entries, guides or calls (migration 00085).
func (s *PostgresStore) ChangeVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.pool.QueryRow(ctx, `SELECT last_value FROM queue_change_seq`).Scan(&v); err != nil {
		return 0, pgError(err, "change version", "")
	}
	return v, nil
}

// QueuedLine asks whether any transaction that wrote entries, guides or
// calls is still open and then reads the line, in one batch (one round
// trip; each statement takes its own snapshot, the line's after the
// lock's answer): each writer holds a shared advisory lock from its first
// such write until it ends (queue_change_bump, migration 00100), so the
// exclusive one is free only when none is. The lock is taken and let go
// in one statement, without waiting; writers that arrive meanwhile wait
// for that statement only.
func (s *PostgresStore) QueuedLine(ctx context.Context) (line []Entry, settled bool, err error) {
	var b pgx.Batch
	b.Queue(`SELECT CASE
			WHEN pg_try_advisory_lock(hashtext('queue_change'), hashtext(n.nspname))
			THEN pg_advisory_unlock(hashtext('queue_change'), hashtext(n.nspname))
			ELSE false END
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.oid = 'queue_entries'::regclass`)
	// The states are written out, not parameters, so that even a generic
	// plan matches queue_entries_line_idx's predicate (00085) and reads
	// the line off that index instead of scanning the table.
	b.Queue(`SELECT ` + entryColumns + ` FROM queue_entries
		WHERE state IN ('waiting', 'offered') ORDER BY queue COLLATE "C", rank`)
	br := s.pool.SendBatch(ctx, &b)
	defer br.Close()
	if err := br.QueryRow().Scan(&settled); err != nil {
		return nil, false, pgError(err, "queue writers", "")
	}
	rows, err := br.Query()
	if err != nil {
		return nil, false, pgError(err, "queue", "")
	}
	line, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Entry, error) { return scanEntry(r) })
	if err != nil {
		return nil, false, pgError(err, "queue", "")
	}
	if err := br.Close(); err != nil {
		return nil, false, pgError(err, "queue", "")
	}
	return line, settled, nil
}

// rowScanner is what pgx.Row and pgx.Rows have in common.
type rowScanner interface {
	Scan(dest ...any) error
}

// pgError is the one place where driver errors become this package's
// errors: no row is ErrNotFound, a unique violation is ErrBadState (the
// record already exists, or a party already has a live call, as the
// MemoryStore says), and a database that cannot be reached is
// ErrUnavailable. Deadlocks and serialization failures keep their driver
// error in the chain so that Tx can see them and retry. kind and id say
// what was being read or written.
func pgError(err error, kind, id string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%s %s: %w", kind, id, ErrNotFound)
	case isUnique(err):
		return fmt.Errorf("%s %s: %w: %w", kind, id, ErrBadState, err)
	case db.IsUnavailable(err):
		return fmt.Errorf("%s %s: %w: %w", kind, id, ErrUnavailable, err)
	}
	return fmt.Errorf("queue: postgres: %s %s: %w", kind, id, err)
}

// retryable reports a conflict that running the transaction again may
// not meet: serialization failure (40001) or deadlock (40P01).
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

func isUnique(err error) bool {
	_, ok := db.UniqueViolation(err)
	return ok
}

// utc gives every time read back the same location, so records read from
// Postgres look like the ones the service builds.
func utc(t time.Time) time.Time { return t.UTC() }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}

// --- entries ---

const entryColumns = `id, queue, name, locale, currency, page_url, state, rank, joined_at,
	disconnected_at, socket_id, seen_at, call_id, left_at, left_reason,
	language, language2, skill, priority, customer_id, steps, transfer_guide, transfer_note, device, cart_value`

func scanEntry(r rowScanner) (Entry, error) {
	var e Entry
	err := r.Scan(&e.ID, &e.Queue, &e.Name, &e.Locale, &e.Currency, &e.PageURL, &e.State, &e.Rank, &e.JoinedAt,
		&e.DisconnectedAt, &e.SocketID, &e.SeenAt, &e.CallID, &e.LeftAt, &e.LeftReason,
		&e.Language, &e.Language2, &e.Skill, &e.Priority, &e.CustomerID, &e.Steps, &e.TransferGuide, &e.TransferNote, &e.Device, &e.CartValue)
	e.Steps = nilIfEmpty(e.Steps)
	e.JoinedAt, e.SeenAt = utc(e.JoinedAt), utc(e.SeenAt)
	e.DisconnectedAt, e.LeftAt = utcPtr(e.DisconnectedAt), utcPtr(e.LeftAt)
	return e, err
}

func (s *PostgresStore) EntryCreate(ctx context.Context, e Entry) (Entry, error) {
	return s.plain().EntryCreate(ctx, e)
}

func (s *PostgresStore) EntryGet(ctx context.Context, id string) (Entry, error) {
	return s.plain().EntryGet(ctx, id)
}

func (s *PostgresStore) EntryUpdate(ctx context.Context, id string, fn func(*Entry) error) (Entry, error) {
	var out Entry
	err := s.inTx(ctx, func(x pgExec) (err error) {
		out, err = x.EntryUpdate(ctx, id, fn)
		return err
	})
	return out, err
}

func (s *PostgresStore) EntryRequeue(ctx context.Context, id string) (Entry, error) {
	return s.plain().EntryRequeue(ctx, id)
}

func (s *PostgresStore) EntriesQueued(ctx context.Context, queue string) ([]Entry, error) {
	return s.plain().EntriesQueued(ctx, queue)
}

func (x pgExec) EntryCreate(ctx context.Context, e Entry) (Entry, error) {
	row := x.q.QueryRow(ctx, `INSERT INTO queue_entries (`+entryColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, nextval('queue_entry_rank'), $8, $9, $10, $11, $12, $13, $14,
			$15, $16, $17, $18, $19, $20, $21, $22, $23, $24)
		RETURNING `+entryColumns,
		e.ID, e.Queue, e.Name, e.Locale, e.Currency, e.PageURL, e.State, e.JoinedAt,
		e.DisconnectedAt, e.SocketID, e.SeenAt, e.CallID, e.LeftAt, e.LeftReason,
		e.Language, e.Language2, e.Skill, e.Priority, e.CustomerID, nonNil(e.Steps), e.TransferGuide, e.TransferNote, e.Device, e.CartValue)
	got, err := scanEntry(row)
	if err != nil {
		return Entry{}, pgError(err, "entry", e.ID)
	}
	return got, nil
}

func (x pgExec) EntryGet(ctx context.Context, id string) (Entry, error) {
	e, err := scanEntry(x.q.QueryRow(ctx, `SELECT `+entryColumns+` FROM queue_entries WHERE id = $1`+x.forUpdate(), id))
	if err != nil {
		return Entry{}, pgError(err, "entry", id)
	}
	return e, nil
}

// EntryUpdate must run in a transaction (Tx, or the store's own inTx):
// the row stays locked from the read to the write.
func (x pgExec) EntryUpdate(ctx context.Context, id string, fn func(*Entry) error) (Entry, error) {
	x.lock = true
	cur, err := x.EntryGet(ctx, id)
	if err != nil {
		return Entry{}, err
	}
	work := cloneEntry(cur)
	if err := fn(&work); err != nil {
		return Entry{}, err
	}
	work.ID, work.Rank = cur.ID, cur.Rank
	if err := x.EntryPut(ctx, work); err != nil {
		return Entry{}, err
	}
	return cloneEntry(work), nil
}

// EntryPut overwrites every field of a claimed entry but its rank, without
// reading it first (recordWriter): one round trip where EntryUpdate takes
// two. A row that does not exist is ErrNotFound, as for EntryUpdate.
func (x pgExec) EntryPut(ctx context.Context, work Entry) error {
	tag, err := x.q.Exec(ctx, entryPutSQL, entryPutArgs(work)...)
	return written(tag, err, "entry", work.ID)
}

const entryPutSQL = `UPDATE queue_entries SET queue = $2, name = $3, locale = $4, currency = $5,
	page_url = $6, state = $7, joined_at = $8, disconnected_at = $9, socket_id = $10, seen_at = $11,
	call_id = $12, left_at = $13, left_reason = $14, language = $15, language2 = $16, skill = $17,
	priority = $18, customer_id = $19, steps = $20, transfer_guide = $21, transfer_note = $22, device = $23, cart_value = $24 WHERE id = $1`

func entryPutArgs(work Entry) []any {
	return []any{work.ID, work.Queue, work.Name, work.Locale, work.Currency, work.PageURL, work.State, work.JoinedAt,
		work.DisconnectedAt, work.SocketID, work.SeenAt, work.CallID, work.LeftAt, work.LeftReason,
		work.Language, work.Language2, work.Skill, work.Priority, work.CustomerID, nonNil(work.Steps),
		work.TransferGuide, work.TransferNote, work.Device, work.CartValue}
}

// PutBatch writes the records given (nil ones are skipped) in the order
// entry, call, guide as one batch: one round trip for what EntryPut,
// CallPut and GuidePut take three (batchWriter).
func (x pgExec) PutBatch(ctx context.Context, e *Entry, c *Call, g *Guide) error {
	var b pgx.Batch
	type put struct{ kind, id string }
	var puts []put
	if e != nil {
		b.Queue(entryPutSQL, entryPutArgs(*e)...)
		puts = append(puts, put{"entry", e.ID})
	}
	if c != nil {
		b.Queue(callPutSQL, callPutArgs(*c)...)
		puts = append(puts, put{"call", c.ID})
	}
	if g != nil {
		b.Queue(guidePutSQL, guidePutArgs(*g)...)
		puts = append(puts, put{"guide", g.ID})
	}
	br := x.q.SendBatch(ctx, &b)
	for _, p := range puts {
		tag, err := br.Exec()
		if err := written(tag, err, p.kind, p.id); err != nil {
			return errors.Join(err, br.Close())
		}
	}
	return pgError(br.Close(), "batch", "put")
}

// written maps the outcome of an UPDATE by id: an error, or no row
// (ErrNotFound).
func written(tag pgconn.CommandTag, err error, kind, id string) error {
	if err == nil && tag.RowsAffected() == 0 {
		err = pgx.ErrNoRows
	}
	return pgError(err, kind, id)
}

// EntryRequeue takes the next value of a descending sequence, below every
// rank ever handed out and so below the current head, without reading the
// head: two requeues racing on one queue still get distinct ranks.
func (x pgExec) EntryRequeue(ctx context.Context, id string) (Entry, error) {
	e, err := scanEntry(x.q.QueryRow(ctx, `UPDATE queue_entries
		SET rank = nextval('queue_entry_head_rank'), state = $2, call_id = ''
		WHERE id = $1 RETURNING `+entryColumns, id, EntryWaiting))
	if err != nil {
		return Entry{}, pgError(err, "entry", id)
	}
	return e, nil
}

// EntriesByID reads many entries in one query (bulkReader), without a
// claim.
func (s *PostgresStore) EntriesByID(ctx context.Context, ids []string) (map[string]Entry, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+entryColumns+` FROM queue_entries WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, pgError(err, "entries", fmt.Sprintf("%d by id", len(ids)))
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Entry, error) { return scanEntry(r) })
	if err != nil {
		return nil, pgError(err, "entries", fmt.Sprintf("%d by id", len(ids)))
	}
	out := make(map[string]Entry, len(list))
	for _, e := range list {
		out[e.ID] = e
	}
	return out, nil
}

// GuidesByID reads many guides in one query (bulkReader), without a claim.
func (s *PostgresStore) GuidesByID(ctx context.Context, ids []string) (map[string]Guide, error) {
	list, err := s.plain().queryGuides(ctx, "by id", `SELECT `+guideColumns+` FROM guides WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Guide, len(list))
	for _, g := range list {
		out[g.ID] = g
	}
	return out, nil
}

func (x pgExec) EntriesQueued(ctx context.Context, queue string) ([]Entry, error) {
	// COLLATE "C" sorts queue names byte-wise, as Go and the MemoryStore do.
	// States written out, not parameters: a generic plan then still
	// matches queue_entries_line_idx's predicate (see QueuedLine).
	rows, err := x.q.Query(ctx, `SELECT `+entryColumns+` FROM queue_entries
		WHERE state IN ('waiting', 'offered') AND ($1 = '' OR queue = $1)
		ORDER BY queue COLLATE "C", rank`, queue)
	if err != nil {
		return nil, pgError(err, "queue", queue)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Entry, error) { return scanEntry(r) })
	if err != nil {
		return nil, pgError(err, "queue", queue)
	}
	return out, nil
}

// --- guides ---

const guideColumns = `id, name, status, online, disconnected_at, socket_id, seen_at, idle_since, missed_offers, call_ids,
	queues, languages, skills, capacity, status_reason, status_since, wrap_up_until`

func scanGuide(r rowScanner) (Guide, error) {
	var g Guide
	err := r.Scan(&g.ID, &g.Name, &g.Status, &g.Online, &g.DisconnectedAt, &g.SocketID, &g.SeenAt,
		&g.IdleSince, &g.MissedOffers, &g.CallIDs,
		&g.Queues, &g.Languages, &g.Skills, &g.Capacity, &g.StatusReason, &g.StatusSince, &g.WrapUpUntil)
	g.SeenAt, g.IdleSince, g.DisconnectedAt = utc(g.SeenAt), utc(g.IdleSince), utcPtr(g.DisconnectedAt)
	g.StatusSince, g.WrapUpUntil = utc(g.StatusSince), utcPtr(g.WrapUpUntil)
	g.Languages, g.Skills, g.CallIDs = nilIfEmpty(g.Languages), nilIfEmpty(g.Skills), nilIfEmpty(g.CallIDs)
	return g, err
}

func (x pgExec) queryGuides(ctx context.Context, what, sql string, args ...any) ([]Guide, error) {
	rows, err := x.q.Query(ctx, sql, args...)
	if err != nil {
		return nil, pgError(err, "guides", what)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Guide, error) { return scanGuide(r) })
	if err != nil {
		return nil, pgError(err, "guides", what)
	}
	return out, nil
}

func (s *PostgresStore) GuideUpsert(ctx context.Context, g Guide) (Guide, error) {
	return s.plain().GuideUpsert(ctx, g)
}

func (s *PostgresStore) GuideGet(ctx context.Context, id string) (Guide, error) {
	return s.plain().GuideGet(ctx, id)
}

func (s *PostgresStore) GuideUpdate(ctx context.Context, id string, fn func(*Guide) error) (Guide, error) {
	var out Guide
	err := s.inTx(ctx, func(x pgExec) (err error) {
		out, err = x.GuideUpdate(ctx, id, fn)
		return err
	})
	return out, err
}

func (s *PostgresStore) GuidesAvailable(ctx context.Context) ([]Guide, error) {
	return s.plain().GuidesAvailable(ctx)
}

func (s *PostgresStore) GuidesOnline(ctx context.Context) ([]Guide, error) {
	return s.plain().GuidesOnline(ctx)
}

func (x pgExec) GuideUpsert(ctx context.Context, g Guide) (Guide, error) {
	got, err := scanGuide(x.q.QueryRow(ctx, `INSERT INTO guides (`+guideColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
		ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name
		RETURNING `+guideColumns,
		g.ID, g.Name, g.Status, g.Online, g.DisconnectedAt, g.SocketID, g.SeenAt, g.IdleSince, g.MissedOffers, nonNil(g.CallIDs),
		g.Queues, nonNil(g.Languages), nonNil(g.Skills), g.Capacity, g.StatusReason, g.StatusSince, g.WrapUpUntil))
	if err != nil {
		return Guide{}, pgError(err, "guide", g.ID)
	}
	return got, nil
}

func (x pgExec) GuideGet(ctx context.Context, id string) (Guide, error) {
	g, err := scanGuide(x.q.QueryRow(ctx, `SELECT `+guideColumns+` FROM guides WHERE id = $1`+x.forUpdate(), id))
	if err != nil {
		return Guide{}, pgError(err, "guide", id)
	}
	return g, nil
}

// GuideUpdate must run in a transaction, as EntryUpdate.
func (x pgExec) GuideUpdate(ctx context.Context, id string, fn func(*Guide) error) (Guide, error) {
	x.lock = true
	cur, err := x.GuideGet(ctx, id)
	if err != nil {
		return Guide{}, err
	}
	work := cloneGuide(cur)
	if err := fn(&work); err != nil {
		return Guide{}, err
	}
	work.ID = cur.ID
	if err := x.GuidePut(ctx, work); err != nil {
		return Guide{}, err
	}
	return cloneGuide(work), nil
}

// GuidePut overwrites a claimed guide without reading it first, as EntryPut.
func (x pgExec) GuidePut(ctx context.Context, work Guide) error {
	tag, err := x.q.Exec(ctx, guidePutSQL, guidePutArgs(work)...)
	return written(tag, err, "guide", work.ID)
}

const guidePutSQL = `UPDATE guides SET name = $2, status = $3, online = $4, disconnected_at = $5,
	socket_id = $6, seen_at = $7, idle_since = $8, missed_offers = $9, call_ids = $10, queues = $11,
	languages = $12, skills = $13, capacity = $14, status_reason = $15, status_since = $16,
	wrap_up_until = $17 WHERE id = $1`

func guidePutArgs(work Guide) []any {
	return []any{work.ID, work.Name, work.Status, work.Online, work.DisconnectedAt, work.SocketID, work.SeenAt,
		work.IdleSince, work.MissedOffers, nonNil(work.CallIDs), work.Queues, nonNil(work.Languages), nonNil(work.Skills),
		work.Capacity, work.StatusReason, work.StatusSince, work.WrapUpUntil}
}

func (x pgExec) GuidesAvailable(ctx context.Context) ([]Guide, error) {
	return x.queryGuides(ctx, "available", `SELECT `+guideColumns+` FROM guides
		WHERE online AND status = $1 AND cardinality(call_ids) < greatest(capacity, 1)
		ORDER BY idle_since, id COLLATE "C"`, GuideAvailable)
}

func (x pgExec) GuidesOnline(ctx context.Context) ([]Guide, error) {
	return x.queryGuides(ctx, "online", `SELECT `+guideColumns+` FROM guides
		WHERE online ORDER BY id COLLATE "C"`)
}

// Touch runs one statement per table in one batch (one round trip, one
// implicit transaction). Each refreshes seen_at, and nothing else, of the
// parties whose socket this node holds: the change triggers do not fire on
// seen_at alone (migration 00120), so a refresh does not make the matcher
// read the line again. Each also returns the parties the matcher gave up on
// (socket SocketGivenUp) among those held, found in the same scan (their
// seen_at is written back unchanged); only when there are some does a
// second statement per table reclaim them (a transaction of its own, and a
// change the triggers count).
func (s *PostgresStore) Touch(ctx context.Context, entries, guides []Held, at time.Time) (reclaimedEntries, reclaimedGuides []string, err error) {
	var b pgx.Batch
	if len(entries) > 0 {
		ids, socks := heldColumns(entries)
		b.Queue(`WITH held AS (SELECT * FROM unnest($1::text[], $2::text[]) AS h(id, sock)),
			touched AS (
				UPDATE queue_entries e SET seen_at = CASE WHEN e.socket_id = held.sock THEN $3 ELSE e.seen_at END
				FROM held WHERE e.id = held.id AND (e.socket_id = held.sock
					OR (e.socket_id = $4 AND e.state IN ('waiting', 'offered', 'in_call')))
				RETURNING e.id, e.socket_id = $4 AS given_up)
			SELECT id FROM touched WHERE given_up`, ids, socks, at, SocketGivenUp)
	}
	if len(guides) > 0 {
		ids, socks := heldColumns(guides)
		b.Queue(`WITH held AS (SELECT * FROM unnest($1::text[], $2::text[]) AS h(id, sock)),
			touched AS (
				UPDATE guides g SET seen_at = CASE WHEN g.socket_id = held.sock THEN $3 ELSE g.seen_at END
				FROM held WHERE g.id = held.id AND (g.socket_id = held.sock OR (NOT g.online AND g.socket_id = $4))
				RETURNING g.id, NOT g.online AND g.socket_id = $4 AS given_up)
			SELECT id FROM touched WHERE given_up`, ids, socks, at, SocketGivenUp)
	}
	if b.Len() == 0 {
		return nil, nil, nil
	}
	var givenUpEntries, givenUpGuides []string
	err = func() error {
		br := s.pool.SendBatch(ctx, &b)
		defer br.Close()
		read := func() ([]string, error) {
			rows, err := br.Query()
			if err != nil {
				return nil, err
			}
			return pgx.CollectRows(rows, pgx.RowTo[string])
		}
		var err error
		if len(entries) > 0 {
			if givenUpEntries, err = read(); err != nil {
				return pgError(err, "touch", fmt.Sprintf("%d entries", len(entries)))
			}
		}
		if len(guides) > 0 {
			if givenUpGuides, err = read(); err != nil {
				return pgError(err, "touch", fmt.Sprintf("%d guides", len(guides)))
			}
		}
		if err := br.Close(); err != nil {
			return pgError(err, "touch", "batch")
		}
		return nil
	}()
	if err != nil {
		return nil, nil, err
	}
	if len(givenUpEntries) > 0 {
		ids, socks := heldColumns(heldOnly(entries, givenUpEntries))
		rows, err := s.pool.Query(ctx, `WITH held AS (SELECT * FROM unnest($1::text[], $2::text[]) AS h(id, sock))
			UPDATE queue_entries e SET socket_id = held.sock, disconnected_at = NULL, seen_at = $3
			FROM held WHERE e.id = held.id AND e.socket_id = $4
				AND e.state IN ('waiting', 'offered', 'in_call')
			RETURNING e.id`, ids, socks, at, SocketGivenUp)
		if err == nil {
			reclaimedEntries, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		if err != nil {
			return nil, nil, pgError(err, "reclaim", fmt.Sprintf("%d entries", len(ids)))
		}
	}
	if len(givenUpGuides) > 0 {
		ids, socks := heldColumns(heldOnly(guides, givenUpGuides))
		rows, err := s.pool.Query(ctx, `WITH held AS (SELECT * FROM unnest($1::text[], $2::text[]) AS h(id, sock))
			UPDATE guides g SET online = true, socket_id = held.sock, disconnected_at = NULL, seen_at = $3
			FROM held WHERE g.id = held.id AND NOT g.online AND g.socket_id = $4
			RETURNING g.id`, ids, socks, at, SocketGivenUp)
		if err == nil {
			reclaimedGuides, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		if err != nil {
			return nil, nil, pgError(err, "reclaim", fmt.Sprintf("%d guides", len(ids)))
		}
	}
	return reclaimedEntries, reclaimedGuides, nil
}

// heldOnly is the held parties whose ids are in ids.
func heldOnly(held []Held, ids []string) []Held {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	var out []Held
	for _, h := range held {
		if want[h.ID] {
			out = append(out, h)
		}
	}
	return out
}

// EntriesUnseen reads the entries waiting, offered or in a call whose
// socket is not known to be gone and whose seen_at is before cutoff: the
// ones whose node stopped reporting them.
func (s *PostgresStore) EntriesUnseen(ctx context.Context, cutoff time.Time) ([]Entry, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+entryColumns+` FROM queue_entries
		WHERE state IN ('waiting', 'offered', 'in_call') AND disconnected_at IS NULL
			AND seen_at > $1 AND seen_at < $2
		ORDER BY id COLLATE "C"`, time.Time{}, cutoff)
	if err != nil {
		return nil, pgError(err, "entries unseen", "")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Entry, error) { return scanEntry(r) })
	if err != nil {
		return nil, pgError(err, "entries unseen", "")
	}
	return out, nil
}

func heldColumns(held []Held) (ids, socks []string) {
	ids, socks = make([]string, len(held)), make([]string, len(held))
	for i, h := range held {
		ids[i], socks[i] = h.ID, h.SocketID
	}
	return ids, socks
}

// --- calls ---

const callColumns = `id, entry_id, guide_id, queue, state, offer_deadline, joined_at, offered_at,
	accepted_at, connected_at, ended_at, end_reason, ended_by, decline_note, rating, rating_comment, rated_at,
	outcome, wrap_up_notes, wrapped_up_at`

func scanCall(r rowScanner) (Call, error) {
	var c Call
	err := r.Scan(&c.ID, &c.EntryID, &c.GuideID, &c.Queue, &c.State, &c.OfferDeadline, &c.JoinedAt, &c.OfferedAt,
		&c.AcceptedAt, &c.ConnectedAt, &c.EndedAt, &c.EndReason, &c.EndedBy, &c.DeclineNote, &c.Rating, &c.RatingComment, &c.RatedAt,
		&c.Outcome, &c.WrapUpNotes, &c.WrappedUpAt)
	c.OfferDeadline, c.JoinedAt, c.OfferedAt = utc(c.OfferDeadline), utc(c.JoinedAt), utc(c.OfferedAt)
	c.AcceptedAt, c.ConnectedAt, c.EndedAt = utcPtr(c.AcceptedAt), utcPtr(c.ConnectedAt), utcPtr(c.EndedAt)
	c.RatedAt, c.WrappedUpAt = utcPtr(c.RatedAt), utcPtr(c.WrappedUpAt)
	return c, err
}

func (s *PostgresStore) CallCreate(ctx context.Context, c Call) (Call, error) {
	return s.plain().CallCreate(ctx, c)
}

func (s *PostgresStore) CallGet(ctx context.Context, id string) (Call, error) {
	return s.plain().CallGet(ctx, id)
}

func (s *PostgresStore) CallUpdate(ctx context.Context, id string, fn func(*Call) error) (Call, error) {
	var out Call
	err := s.inTx(ctx, func(x pgExec) (err error) {
		out, err = x.CallUpdate(ctx, id, fn)
		return err
	})
	return out, err
}

func (s *PostgresStore) CallsLive(ctx context.Context) ([]Call, error) {
	return s.plain().CallsLive(ctx)
}

// claimsCallsAtOnce says that this store's transactions are callClaimers.
func (s *PostgresStore) claimsCallsAtOnce() {}

// CallClaim claims a call and its two parties, entry first, then the
// call, then the guide (StoreTx's order), from the call's id alone: three
// SELECT ... FOR UPDATE in one batch, one round trip where reading the
// call and then claiming each record took four. The statements run in
// the batch's order, so the locks are taken in that order. A call's
// parties never change, so the ids its row names are the right ones.
func (x pgExec) CallClaim(ctx context.Context, callID string) (Entry, Call, Guide, error) {
	x.lock = true
	var b pgx.Batch
	b.Queue(`SELECT `+entryColumns+` FROM queue_entries
		WHERE id = (SELECT entry_id FROM calls WHERE id = $1)`+x.forUpdate(), callID)
	b.Queue(`SELECT `+callColumns+` FROM calls WHERE id = $1`+x.forUpdate(), callID)
	b.Queue(`SELECT `+guideColumns+` FROM guides
		WHERE id = (SELECT guide_id FROM calls WHERE id = $1)`+x.forUpdate(), callID)
	br := x.q.SendBatch(ctx, &b)
	e, errE := scanEntry(br.QueryRow())
	c, errC := scanCall(br.QueryRow())
	g, errG := scanGuide(br.QueryRow())
	errClose := br.Close()
	switch {
	case errC != nil:
		return Entry{}, Call{}, Guide{}, pgError(errors.Join(errC, errClose), "call", callID)
	case errE != nil:
		return Entry{}, Call{}, Guide{}, pgError(errors.Join(errE, errClose), "entry", c.EntryID)
	case errG != nil:
		return Entry{}, Call{}, Guide{}, pgError(errors.Join(errG, errClose), "guide", c.GuideID)
	case errClose != nil:
		return Entry{}, Call{}, Guide{}, pgError(errClose, "call", callID)
	}
	return e, c, g, nil
}

func (x pgExec) CallCreate(ctx context.Context, c Call) (Call, error) {
	got, err := scanCall(x.q.QueryRow(ctx, `INSERT INTO calls (`+callColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
		RETURNING `+callColumns,
		c.ID, c.EntryID, c.GuideID, c.Queue, c.State, c.OfferDeadline, c.JoinedAt, c.OfferedAt,
		c.AcceptedAt, c.ConnectedAt, c.EndedAt, c.EndReason, c.EndedBy, c.DeclineNote, c.Rating, c.RatingComment, c.RatedAt,
		c.Outcome, c.WrapUpNotes, c.WrappedUpAt))
	if err != nil {
		return Call{}, pgError(err, "call", c.ID)
	}
	return got, nil
}

func (x pgExec) CallGet(ctx context.Context, id string) (Call, error) {
	c, err := scanCall(x.q.QueryRow(ctx, `SELECT `+callColumns+` FROM calls WHERE id = $1`+x.forUpdate(), id))
	if err != nil {
		return Call{}, pgError(err, "call", id)
	}
	return c, nil
}

// CallUpdate must run in a transaction, as EntryUpdate.
func (x pgExec) CallUpdate(ctx context.Context, id string, fn func(*Call) error) (Call, error) {
	x.lock = true
	cur, err := x.CallGet(ctx, id)
	if err != nil {
		return Call{}, err
	}
	work := cloneCall(cur)
	if err := fn(&work); err != nil {
		return Call{}, err
	}
	work.ID = cur.ID
	if err := x.CallPut(ctx, work); err != nil {
		return Call{}, err
	}
	return cloneCall(work), nil
}

// CallPut overwrites a claimed call without reading it first, as EntryPut.
func (x pgExec) CallPut(ctx context.Context, work Call) error {
	tag, err := x.q.Exec(ctx, callPutSQL, callPutArgs(work)...)
	return written(tag, err, "call", work.ID)
}

const callPutSQL = `UPDATE calls SET entry_id = $2, guide_id = $3, queue = $4, state = $5,
	offer_deadline = $6, joined_at = $7, offered_at = $8, accepted_at = $9, connected_at = $10,
	ended_at = $11, end_reason = $12, ended_by = $13, decline_note = $14, rating = $15, rating_comment = $16,
	rated_at = $17, outcome = $18, wrap_up_notes = $19, wrapped_up_at = $20 WHERE id = $1`

func callPutArgs(work Call) []any {
	return []any{work.ID, work.EntryID, work.GuideID, work.Queue, work.State, work.OfferDeadline, work.JoinedAt,
		work.OfferedAt, work.AcceptedAt, work.ConnectedAt, work.EndedAt, work.EndReason, work.EndedBy, work.DeclineNote,
		work.Rating, work.RatingComment, work.RatedAt, work.Outcome, work.WrapUpNotes, work.WrappedUpAt}
}

func (s *PostgresStore) CallItemAdd(ctx context.Context, it CallItem) (CallItem, error) {
	var out CallItem
	err := s.inTx(ctx, func(x pgExec) (err error) {
		out, err = x.CallItemAdd(ctx, it)
		return err
	})
	return out, err
}

func (s *PostgresStore) CallItems(ctx context.Context, callID string) ([]CallItem, error) {
	return s.plain().CallItems(ctx, callID)
}

// CallItemAdd locks the call's row, so two items of one call never get the
// same seq; items of different calls do not wait for each other.
func (x pgExec) CallItemAdd(ctx context.Context, it CallItem) (CallItem, error) {
	x.lock = true
	if _, err := x.CallGet(ctx, it.CallID); err != nil {
		return CallItem{}, err
	}
	err := x.q.QueryRow(ctx, `INSERT INTO call_items (id, call_id, seq, kind, from_party, body, created_at)
		VALUES ($1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM call_items WHERE call_id = $2), $3, $4, $5, $6)
		RETURNING seq`, it.ID, it.CallID, it.Kind, it.From, []byte(it.Body), it.At).Scan(&it.Seq)
	if err != nil {
		return CallItem{}, pgError(err, "call item", it.ID)
	}
	it.At = utc(it.At)
	return it, nil
}

func (x pgExec) CallItems(ctx context.Context, callID string) ([]CallItem, error) {
	rows, err := x.q.Query(ctx, `SELECT id, call_id, seq, kind, from_party, body, created_at FROM call_items
		WHERE call_id = $1 ORDER BY seq`, callID)
	if err != nil {
		return nil, pgError(err, "call items", callID)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CallItem, error) {
		var it CallItem
		var body []byte
		err := r.Scan(&it.ID, &it.CallID, &it.Seq, &it.Kind, &it.From, &body, &it.At)
		it.Body, it.At = body, utc(it.At)
		return it, err
	})
	if err != nil {
		return nil, pgError(err, "call items", callID)
	}
	return out, nil
}

func (x pgExec) CallsLive(ctx context.Context) ([]Call, error) {
	rows, err := x.q.Query(ctx, `SELECT `+callColumns+` FROM calls
		WHERE state NOT IN ($1, '') ORDER BY offered_at, id COLLATE "C"`, CallEnded)
	if err != nil {
		return nil, pgError(err, "calls", "live")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Call, error) { return scanCall(r) })
	if err != nil {
		return nil, pgError(err, "calls", "live")
	}
	return out, nil
}
