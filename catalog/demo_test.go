package catalog

import (
	"context"
	"testing"
)

func TestSeedDemoFillsOnlyWhatIsEmpty(t *testing.T) {
	ctx := context.Background()
	s := NewService(Config{Store: NewMemoryStore()})
	if err := s.SeedDemo(ctx, "http://127.0.0.1:8080"); err != nil {
		t.Fatal(err)
	}
	ps, _ := s.List(ctx)
	merchant, _, _ := s.Replies(ctx, "")
	if len(ps) != 7 || len(merchant) != 3 {
		t.Fatalf("seeded %d products and %d replies, want 7 and 3", len(ps), len(merchant))
	}
	if err := s.Replace(ctx, ps[:1], "admin"); err != nil {
		t.Fatal(err)
	}
	if err := s.SeedDemo(ctx, "http://127.0.0.1:8080"); err != nil {
		t.Fatal(err)
	}
	ps, _ = s.List(ctx)
	merchant, _, _ = s.Replies(ctx, "")
	if len(ps) != 1 || len(merchant) != 3 {
		t.Fatalf("a second seed changed the merchant's feed (%d products) or replies (%d)", len(ps), len(merchant))
	}
}
