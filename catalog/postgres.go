package catalog

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresStore keeps the feed in catalog_products (migration 00071).
type PostgresStore struct {
	pool *pgxpool.Pool
}

// NewPostgresStore returns the Store of a cluster.
func NewPostgresStore(pool *pgxpool.Pool) *PostgresStore { return &PostgresStore{pool: pool} }

var _ Store = (*PostgresStore)(nil)

const productColumns = `product_id, name, variant, image_url, url, price, currency`

// pgErr turns a driver error into the domain's: a database that does not
// answer is ErrUnavailable, so the API says 503 and not 500.
func pgErr(err error, what string) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return fmt.Errorf("catalog %s: %w", what, err)
	}
	return fmt.Errorf("catalog %s: %w: %w", what, ErrUnavailable, err)
}

func (s *PostgresStore) ProductsReplace(ctx context.Context, ps []Product) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Two imports at once would each delete what the other had not
		// inserted yet and leave both feeds mixed: one writer at a time.
		// EXCLUSIVE still lets searches read the old feed meanwhile.
		if _, err := tx.Exec(ctx, `LOCK TABLE catalog_products IN EXCLUSIVE MODE`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM catalog_products`); err != nil {
			return err
		}
		rows := make([][]any, len(ps))
		for i, p := range ps {
			rows[i] = []any{p.ProductID, p.Name, p.Variant, p.ImageURL, p.URL, p.Price, p.Currency}
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"catalog_products"}, strings.Split(strings.ReplaceAll(productColumns, " ", ""), ","), pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		return pgErr(err, "replace")
	}
	return nil
}

func (s *PostgresStore) query(ctx context.Context, what, sql string, args ...any) ([]Product, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, pgErr(err, what)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Product, error) {
		var p Product
		err := r.Scan(&p.ProductID, &p.Name, &p.Variant, &p.ImageURL, &p.URL, &p.Price, &p.Currency)
		return p, err
	})
	if err != nil {
		return nil, pgErr(err, what)
	}
	return out, nil
}

func (s *PostgresStore) ProductsList(ctx context.Context) ([]Product, error) {
	return s.query(ctx, "list", `SELECT `+productColumns+` FROM catalog_products
		ORDER BY product_id COLLATE "C", variant COLLATE "C"`)
}

// ProductsSearch matches with strpos on lower(): q is plain text, so no
// LIKE pattern characters need escaping.
func (s *PostgresStore) ProductsSearch(ctx context.Context, q string, limit int) ([]Product, error) {
	return s.query(ctx, "search", `SELECT `+productColumns+` FROM catalog_products
		WHERE strpos(lower(product_id), lower($1)) > 0 OR strpos(lower(name), lower($1)) > 0 OR strpos(lower(variant), lower($1)) > 0
		ORDER BY lower(name) COLLATE "C", product_id COLLATE "C", variant COLLATE "C" LIMIT $2`, q, limit)
}

// --- saved replies (migration 00072) ---

func (s *PostgresStore) RepliesList(ctx context.Context, owner string) ([]Reply, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, owner, title, text, created_at FROM saved_replies
		WHERE owner = $1 ORDER BY created_at, id COLLATE "C"`, owner)
	if err != nil {
		return nil, pgErr(err, "replies")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Reply, error) {
		var x Reply
		err := r.Scan(&x.ID, &x.Owner, &x.Title, &x.Text, &x.CreatedAt)
		x.CreatedAt = x.CreatedAt.UTC()
		return x, err
	})
	if err != nil {
		return nil, pgErr(err, "replies")
	}
	return out, nil
}

// ReplyCreate counts and inserts in one transaction under a per-owner
// advisory lock, so two saves racing at the limit cannot both pass.
func (s *PostgresStore) ReplyCreate(ctx context.Context, r Reply) (Reply, error) {
	var full bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('saved_replies:' || $1))`, r.Owner); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM saved_replies WHERE owner = $1`, r.Owner).Scan(&n); err != nil {
			return err
		}
		if full = n >= MaxReplies; full {
			return nil
		}
		_, err := tx.Exec(ctx, `INSERT INTO saved_replies (id, owner, title, text, created_at) VALUES ($1, $2, $3, $4, $5)`,
			r.ID, r.Owner, r.Title, r.Text, r.CreatedAt)
		return err
	})
	if err != nil {
		return Reply{}, pgErr(err, "reply create")
	}
	if full {
		return Reply{}, fmt.Errorf("%w: at most %d saved replies each", ErrInvalid, MaxReplies)
	}
	return r, nil
}

func (s *PostgresStore) ReplyDelete(ctx context.Context, owner, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM saved_replies WHERE id = $1 AND owner = $2`, id, owner)
	if err != nil {
		return pgErr(err, "reply delete")
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("reply %s: %w", id, ErrNotFound)
	}
	return nil
}
