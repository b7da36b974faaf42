package adyen_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"guidecall/internal/db/dbtest"
	"guidecall/payments/adyen"
)

func TestMemoryRefs(t *testing.T) {
	runRefsSuite(t, func(t *testing.T) adyen.Refs { return adyen.NewMemoryRefs() })
}

func TestPostgresRefs(t *testing.T) {
	runRefsSuite(t, func(t *testing.T) adyen.Refs {
		pool, _ := dbtest.NewSchema(t)
		return adyen.NewPostgresRefs(pool)
	})
}

func runRefsSuite(t *testing.T, newRefs func(t *testing.T) adyen.Refs) {
	ctx := context.Background()
	t.Run("payments", func(t *testing.T) {
		r := newRefs(t)
		if psp, err := r.Payment(ctx, "lnk_a"); err != nil || psp != "" {
			t.Fatalf("unknown link: %q %v", psp, err)
		}
		for _, psp := range []string{"PSP1", "PSP2"} {
			if err := r.RememberPayment(ctx, "lnk_a", psp); err != nil {
				t.Fatal(err)
			}
		}
		if psp, err := r.Payment(ctx, "lnk_a"); err != nil || psp != "PSP2" {
			t.Fatalf("payment %q %v, want the last, PSP2", psp, err)
		}
	})
	t.Run("refunds count once each, concurrently", func(t *testing.T) {
		r := newRefs(t)
		var wg sync.WaitGroup
		totals := make(chan int64, 40)
		for i := range 20 {
			for range 2 { // each refund reported twice
				wg.Add(1)
				go func() {
					defer wg.Done()
					total, err := r.RememberRefund(ctx, "lnk_b", fmt.Sprintf("RF%d", i), 10)
					if err != nil {
						t.Error(err)
					}
					totals <- total
				}()
			}
		}
		wg.Wait()
		close(totals)
		var best int64
		for v := range totals {
			best = max(best, v)
		}
		if best != 200 {
			t.Fatalf("largest total %d, want 200 (20 refunds of 10)", best)
		}
		if total, err := r.RememberRefund(ctx, "lnk_c", "RF0", 5); err != nil || total != 5 {
			t.Fatalf("another link's total %d %v", total, err)
		}
	})
}
