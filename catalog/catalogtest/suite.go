// Package catalogtest is the conformance suite every catalog.Store passes.
package catalogtest

import (
	"context"
	"slices"
	"sync"
	"testing"

	"guidecall/catalog"
)

func ids(ps []catalog.Product) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.ProductID+"/"+p.Variant)
	}
	return out
}

// Feed is a small feed the suite and other tests use.
func Feed() []catalog.Product {
	return []catalog.Product{
		{ProductID: "sneaker", Name: "Merino wool sneaker", Variant: "EU 42", Price: 12900, Currency: "EUR", URL: "https://shop.example/p/sneaker", ImageURL: "https://shop.example/i/sneaker.jpg"},
		{ProductID: "sneaker", Name: "Merino wool sneaker", Variant: "EU 43", Price: 12900, Currency: "EUR"},
		{ProductID: "socks", Name: "Wool socks", Price: 1500, Currency: "EUR"},
		{ProductID: "trail-1", Name: "Trail runner", Variant: "Blue", Price: 15900, Currency: "EUR"},
	}
}

// RunStoreSuite runs the suite; newStore returns an empty store per test.
func RunStoreSuite(t *testing.T, newStore func(t *testing.T) catalog.Store) {
	ctx := context.Background()
	t.Run("EmptyFeed", func(t *testing.T) {
		s := newStore(t)
		if got, err := s.ProductsList(ctx); err != nil || len(got) != 0 {
			t.Fatalf("ProductsList of a new store: %v, %v", got, err)
		}
	})
	t.Run("ReplaceRoundTripInOrder", func(t *testing.T) {
		s := newStore(t)
		feed := Feed()
		slices.Reverse(feed)
		if err := s.ProductsReplace(ctx, feed); err != nil {
			t.Fatal(err)
		}
		got, err := s.ProductsList(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"sneaker/EU 42", "sneaker/EU 43", "socks/", "trail-1/Blue"}; !slices.Equal(ids(got), want) {
			t.Fatalf("ProductsList = %v, want %v", ids(got), want)
		}
		if got[0] != Feed()[0] {
			t.Errorf("round trip: %+v, want %+v", got[0], Feed()[0])
		}
	})
	t.Run("ReplaceDropsTheOldFeed", func(t *testing.T) {
		s := newStore(t)
		if err := s.ProductsReplace(ctx, Feed()); err != nil {
			t.Fatal(err)
		}
		if err := s.ProductsReplace(ctx, Feed()[2:3]); err != nil {
			t.Fatal(err)
		}
		got, _ := s.ProductsList(ctx)
		if !slices.Equal(ids(got), []string{"socks/"}) {
			t.Fatalf("after the second replace: %v", ids(got))
		}
		if err := s.ProductsReplace(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.ProductsList(ctx); len(got) != 0 {
			t.Fatalf("after an empty replace: %v", ids(got))
		}
	})
	t.Run("SearchByNameIDAndVariant", func(t *testing.T) {
		s := newStore(t)
		if err := s.ProductsReplace(ctx, Feed()); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			q     string
			limit int
			want  []string
		}{
			{"wool", 10, []string{"sneaker/EU 42", "sneaker/EU 43", "socks/"}},
			{"WOOL", 1, []string{"sneaker/EU 42"}},
			{"trail-1", 10, []string{"trail-1/Blue"}},
			{"eu 43", 10, []string{"sneaker/EU 43"}},
			{"100%", 10, []string{}},
			{"_", 10, []string{}},
			{"", 2, []string{"sneaker/EU 42", "sneaker/EU 43"}},
		} {
			got, err := s.ProductsSearch(ctx, c.q, c.limit)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), c.want) {
				t.Errorf("ProductsSearch(%q, %d) = %v, want %v", c.q, c.limit, ids(got), c.want)
			}
		}
	})
	t.Run("ConcurrentReplaceIsWhole", func(t *testing.T) {
		// Two imports racing: the feed is one of them whole, never a mix.
		s := newStore(t)
		a, b := Feed()[:2], Feed()[2:]
		var wg sync.WaitGroup
		for _, feed := range [][]catalog.Product{a, b} {
			wg.Go(func() {
				if err := s.ProductsReplace(ctx, feed); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		got, _ := s.ProductsList(ctx)
		if g := ids(got); !slices.Equal(g, ids(a)) && !slices.Equal(g, ids(b)) {
			t.Fatalf("after racing replaces the feed is %v: neither %v nor %v", g, ids(a), ids(b))
		}
	})
}
