package callflow

import (
	"testing"
	"time"

	"guidecall/queue"
)

func TestWrapUpLeftCountsFromTheEventTime(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	until := at.Add(42 * time.Second)
	cases := []struct {
		name string
		g    queue.Guide
		want int64
	}{
		{"in wrap-up", queue.Guide{Status: queue.GuideWrapUp, WrapUpUntil: &until}, 42000},
		{"over, not yet settled", queue.Guide{Status: queue.GuideWrapUp, WrapUpUntil: &at}, 0},
		{"available with a stale time", queue.Guide{Status: queue.GuideAvailable, WrapUpUntil: &until}, 0},
		{"wrap-up without an end", queue.Guide{Status: queue.GuideWrapUp}, 0},
	}
	for _, c := range cases {
		if got := wrapUpLeft(c.g, at); got != c.want {
			t.Errorf("%s: %d ms, want %d", c.name, got, c.want)
		}
	}
}
