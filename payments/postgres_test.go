package payments_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"guidecall/internal/db/dbtest"
	"guidecall/payments"
	"guidecall/payments/paymentstest"
)

func TestPostgresStore(t *testing.T) {
	t.Parallel()
	dbtest.URL(t)
	paymentstest.RunStoreSuite(t, func(t *testing.T) payments.Store {
		pool, _ := dbtest.NewSchema(t)
		return payments.NewPostgresStore(pool)
	})
}

// Items round-trip through jsonb: none stays nil, an empty list stays
// empty, and a link without a provider ref does not collide with another.
func TestPostgresStoreItemsAndEmptyRefs(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.NewSchema(t)
	s := payments.NewPostgresStore(pool)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	for i, items := range [][]payments.Item{nil, {}, {{Name: "Ünïcode \"quoted\"", Quantity: 1, UnitAmount: 1}}} {
		l := payments.Link{
			ID: "pl_" + string(rune('a'+i)), CallID: "c_1", Provider: "sandbox", Amount: 1, Currency: "JPY",
			Items: items, Status: payments.StatusOpen, IdempotencyKey: "k" + string(rune('a'+i)),
			CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour),
		}
		if _, err := s.LinkCreate(ctx, l); err != nil {
			t.Fatalf("LinkCreate %d: %v", i, err)
		}
		got, err := s.LinkGet(ctx, l.ID)
		if err != nil {
			t.Fatal(err)
		}
		if (got.Items == nil) != (items == nil) || len(got.Items) != len(items) || (len(items) == 1 && got.Items[0] != items[0]) {
			t.Errorf("items %#v read back as %#v", items, got.Items)
		}
	}
	links, err := s.LinksByCall(ctx, "c_1")
	if err != nil || len(links) != 3 {
		t.Fatalf("LinksByCall = %d links, %v", len(links), err)
	}
	// Two links cannot claim one provider ref.
	if _, err := s.LinkUpdate(ctx, "pl_a", func(l *payments.Link) ([]payments.Event, error) { l.ProviderRef = "ref_1"; return nil, nil }); err != nil {
		t.Fatal(err)
	}
	_, err = s.LinkUpdate(ctx, "pl_b", func(l *payments.Link) ([]payments.Event, error) { l.ProviderRef = "ref_1"; return nil, nil })
	if !errors.Is(err, payments.ErrDuplicate) {
		t.Errorf("second link with one provider ref: err = %v, want ErrDuplicate", err)
	}
	if _, err := s.LinkUpdate(ctx, "pl_c", func(l *payments.Link) ([]payments.Event, error) { l.CallID = "other"; return nil, nil }); err == nil {
		t.Error("LinkUpdate that changes the call id succeeded")
	}
}

func TestPostgresStoreUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s := payments.NewPostgresStore(pool)
	if _, err := s.LinkGet(ctx, "pl_1"); !errors.Is(err, payments.ErrUnavailable) {
		t.Errorf("LinkGet with nothing listening: err = %v, want ErrUnavailable", err)
	}
	if _, _, err := s.EventApply(ctx, payments.ProviderEvent{ID: "evt_1", Provider: "sandbox"}, "pl_1",
		func(*payments.Link) ([]payments.Event, error) { return nil, nil }); !errors.Is(err, payments.ErrUnavailable) {
		t.Errorf("EventApply with nothing listening: err = %v, want ErrUnavailable", err)
	}
}
