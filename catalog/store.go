package catalog

import (
	"context"
	"slices"
	"strings"
	"sync"
)

// Store keeps the feed and the saved replies. Every method is one
// transaction of its own and returns copies.
type Store interface {
	ReplyStore

	// ProductsReplace makes ps the whole feed at once: a reader sees the
	// old feed or the new one, never a mix.
	ProductsReplace(ctx context.Context, ps []Product) error
	// ProductsList lists the feed ordered by product_id then variant.
	ProductsList(ctx context.Context) ([]Product, error)
	// ProductsSearch lists at most limit products whose product_id, name
	// or variant contains q (case-insensitive), ordered by name, then
	// product_id and variant.
	ProductsSearch(ctx context.Context, q string, limit int) ([]Product, error)
}

// MemoryStore is the zero-setup Store.
type MemoryStore struct {
	mu       sync.Mutex
	products []Product
	replies  []Reply
}

// NewMemoryStore returns an empty feed.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

var _ Store = (*MemoryStore)(nil)

func (m *MemoryStore) ProductsReplace(_ context.Context, ps []Product) error {
	sorted := slices.Clone(ps)
	slices.SortFunc(sorted, byID)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.products = sorted
	return nil
}

func (m *MemoryStore) ProductsList(context.Context) ([]Product, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.products), nil
}

func (m *MemoryStore) ProductsSearch(_ context.Context, q string, limit int) ([]Product, error) {
	q = strings.ToLower(q)
	m.mu.Lock()
	var out []Product
	for _, p := range m.products {
		if strings.Contains(strings.ToLower(p.ProductID), q) || strings.Contains(strings.ToLower(p.Name), q) || strings.Contains(strings.ToLower(p.Variant), q) {
			out = append(out, p)
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, byName)
	if len(out) > limit {
		out = out[:max(limit, 0)]
	}
	return out, nil
}

// byID and byName are the orders of ProductsList and ProductsSearch,
// compared bytewise like PostgreSQL's COLLATE "C".
func byID(a, b Product) int {
	if c := strings.Compare(a.ProductID, b.ProductID); c != 0 {
		return c
	}
	return strings.Compare(a.Variant, b.Variant)
}

func byName(a, b Product) int {
	if c := strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)); c != 0 {
		return c
	}
	return byID(a, b)
}
