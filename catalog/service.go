package catalog

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf8"
)

// Service is the feed: import, list, search, and Open Graph previews.
type Service struct {
	store   Store
	replies ReplyStore
	log     *slog.Logger
	preview *previewer
}

// Config sets a Service up. PreviewOrigins are the origins whose pages a
// preview may fetch: the node's own and --allowed-origins.
type Config struct {
	Store          Store
	Log            *slog.Logger
	PreviewOrigins []string
}

// NewService returns the feed's service.
func NewService(cfg Config) *Service {
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	return &Service{store: cfg.Store, replies: cfg.Store, log: log.With("component", "catalog"), preview: newPreviewer(cfg.PreviewOrigins)}
}

// Replace checks a whole feed and makes it the feed, in one transaction.
func (s *Service) Replace(ctx context.Context, ps []Product, by string) error {
	if err := checkFeed(ps); err != nil {
		return err
	}
	if err := s.store.ProductsReplace(ctx, ps); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "product feed replaced", "products", len(ps), "admin_id", by)
	return nil
}

// List is the whole feed.
func (s *Service) List(ctx context.Context) ([]Product, error) { return s.store.ProductsList(ctx) }

// maxSearch bounds one search's answer.
const maxSearch = 50

// Search finds products by id, name or variant; an empty q lists the
// first ones by name, so the console can show something at once.
func (s *Service) Search(ctx context.Context, q string, limit int) ([]Product, error) {
	q = strings.TrimSpace(q)
	if utf8.RuneCountInString(q) > maxNameRunes || !utf8.ValidString(q) || strings.IndexByte(q, 0) >= 0 {
		return nil, fmt.Errorf("%w: q must be at most %d characters of text", ErrInvalid, maxNameRunes)
	}
	if limit <= 0 || limit > maxSearch {
		limit = 20
	}
	return s.store.ProductsSearch(ctx, q, limit)
}

// Preview reads a product page's Open Graph data, from a trusted origin
// only (see previewer).
func (s *Service) Preview(ctx context.Context, url, by string) (Preview, error) {
	pv, err := s.preview.fetch(ctx, url)
	if err != nil {
		s.log.InfoContext(ctx, "product preview refused or failed", "guide_id", by, "err", err)
		return Preview{}, err
	}
	return pv, nil
}
