package queue

import (
	"context"
	"time"
)

// MatcherObserver is told what the matcher loop does, for metrics. A
// matcher pass runs several times a second, which is why this is a hook
// and not an event every subscriber would have to skip. Its methods run on
// the matcher's goroutine and must not block.
type MatcherObserver interface {
	// Pass is one matcher pass on the leader, how long it took and
	// whether it failed.
	Pass(took time.Duration, err error)
	// Leading is this node becoming (true) or ceasing to be (false) the
	// matcher's leader.
	Leading(leading bool)
}

type noObserver struct{}

func (noObserver) Pass(time.Duration, error) {}
func (noObserver) Leading(bool)              {}

// LiveCalls lists the calls that have not ended, across every node.
func (s *Service) LiveCalls(ctx context.Context) ([]Call, error) {
	return s.store.CallsLive(ctx)
}
