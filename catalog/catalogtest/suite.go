// Package catalogtest is the conformance suite every catalog.Store passes.
package catalogtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

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

// RunReplySuite runs the saved replies' part of the suite.
func RunReplySuite(t *testing.T, newStore func(t *testing.T) catalog.Store) {
	ctx := context.Background()
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	reply := func(id, owner string, n int) catalog.Reply {
		return catalog.Reply{ID: id, Owner: owner, Title: "T " + id, Text: "Text of " + id, CreatedAt: at.Add(time.Duration(n) * time.Second)}
	}
	replyIDs := func(rs []catalog.Reply) []string {
		out := []string{}
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	t.Run("RepliesPerOwner", func(t *testing.T) {
		s := newStore(t)
		for i, r := range []catalog.Reply{reply("rp_2", "", 2), reply("rp_1", "", 1), reply("rp_g", "guide-1", 3), reply("rp_h", "guide-2", 4)} {
			if _, err := s.ReplyCreate(ctx, r); err != nil {
				t.Fatalf("create %d: %v", i, err)
			}
		}
		merchant, err := s.RepliesList(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(replyIDs(merchant), []string{"rp_1", "rp_2"}) || merchant[0] != reply("rp_1", "", 1) {
			t.Errorf("merchant replies %+v", merchant)
		}
		mine, _ := s.RepliesList(ctx, "guide-1")
		if !slices.Equal(replyIDs(mine), []string{"rp_g"}) {
			t.Errorf("guide-1's replies %v", replyIDs(mine))
		}
		if err := s.ReplyDelete(ctx, "guide-1", "rp_h"); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("guide-1 deletes guide-2's reply: %v", err)
		}
		if err := s.ReplyDelete(ctx, "guide-1", "rp_1"); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("guide-1 deletes a merchant reply: %v", err)
		}
		if err := s.ReplyDelete(ctx, "guide-2", "rp_h"); err != nil {
			t.Fatal(err)
		}
		if rs, _ := s.RepliesList(ctx, "guide-2"); len(rs) != 0 {
			t.Errorf("after delete: %v", replyIDs(rs))
		}
	})
	t.Run("RepliesCappedPerOwner", func(t *testing.T) {
		s := newStore(t)
		for i := range catalog.MaxReplies {
			if _, err := s.ReplyCreate(ctx, reply(fmt.Sprintf("rp_%03d", i), "guide-1", i)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.ReplyCreate(ctx, reply("rp_over", "guide-1", 999)); !errors.Is(err, catalog.ErrInvalid) {
			t.Errorf("reply %d: %v, want ErrInvalid", catalog.MaxReplies+1, err)
		}
		if _, err := s.ReplyCreate(ctx, reply("rp_other", "guide-2", 1)); err != nil {
			t.Errorf("another guide is not capped by the first: %v", err)
		}
	})
}
