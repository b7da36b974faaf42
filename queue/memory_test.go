package queue_test

import (
	"testing"

	"guidecall/queue"
	"guidecall/queue/queuetest"
)

func TestMemoryStore(t *testing.T) {
	queuetest.RunStoreSuite(t, func(*testing.T) queue.Store { return queue.NewMemoryStore() })
}
