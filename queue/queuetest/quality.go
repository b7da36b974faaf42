package queuetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"guidecall/queue"
)

func report(party queue.Party, d time.Duration, rtt float64) queue.QualityReport {
	return queue.QualityReport{
		Party: party, At: at(d).UTC(), RTTMS: rtt, JitterMS: rtt / 10, PacketsLost: int64(rtt), FramesDecoded: 300,
		FramesDropped: 2, FreezeCount: 1, FrameWidth: 640, FrameHeight: 480, LocalCandidate: "relay", RemoteCandidate: "relay",
	}
}

func runQualityTests(t *testing.T, newStore func(t *testing.T) queue.Store) {
	ctx := context.Background()

	t.Run("RoundTripInOrder", func(t *testing.T) {
		s := newStore(t)
		callFixture(t, s, 1)
		mustCreateCall(t, s, call("c_1", "e_1", "g_1", "shoes", time.Second))
		want := []queue.QualityReport{
			report(queue.PartyGuide, 10*time.Second, 40), report(queue.PartyShopper, 11*time.Second, 55.5),
			report(queue.PartyGuide, 20*time.Second, 30),
		}
		for _, r := range want {
			if err := s.QualityAdd(ctx, "c_1", r); err != nil {
				t.Fatalf("QualityAdd: %v", err)
			}
		}
		got, err := s.QualityReports(ctx, "c_1")
		if err != nil {
			t.Fatalf("QualityReports: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("QualityReports:\n got  %+v\n want %+v", got, want)
		}
		if n, err := s.QualityCount(ctx, "c_1"); err != nil || n != 3 {
			t.Fatalf("QualityCount = %d, %v; want 3", n, err)
		}
		if other, err := s.QualityReports(ctx, "c_other"); err != nil || len(other) != 0 {
			t.Fatalf("reports of another call: %v, %v", other, err)
		}
	})

	t.Run("UnknownCallIsNotFound", func(t *testing.T) {
		s := newStore(t)
		if err := s.QualityAdd(ctx, "c_nope", report(queue.PartyGuide, 0, 1)); !errors.Is(err, queue.ErrNotFound) {
			t.Fatalf("QualityAdd on a missing call: %v, want ErrNotFound", err)
		}
	})

	t.Run("RolledBackWithItsTransaction", func(t *testing.T) {
		s := newStore(t)
		callFixture(t, s, 1)
		mustCreateCall(t, s, call("c_1", "e_1", "g_1", "shoes", time.Second))
		boom := errors.New("boom")
		err := s.Tx(ctx, func(ctx context.Context, tx queue.StoreTx) error {
			if err := tx.QualityAdd(ctx, "c_1", report(queue.PartyShopper, 0, 9)); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Tx: %v", err)
		}
		if got, _ := s.QualityReports(ctx, "c_1"); len(got) != 0 {
			t.Fatalf("a rolled-back report was kept: %+v", got)
		}
	})
}
