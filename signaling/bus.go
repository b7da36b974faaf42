package signaling

import (
	"context"
	"sync"

	"guidecall/protocol"
)

// Address names one party: a shopper by its queue entry id, a guide by
// its account id. Role is the side the party takes in calls, shopper or
// guide: an admin connects as a guide.
type Address struct {
	Role protocol.Role
	ID   string
}

func (a Address) String() string { return string(a.Role) + ":" + a.ID }

// Bus carries frames to whichever node holds a party's socket.
type Bus interface {
	// Publish sends frame to the party to. Delivery is best effort: a party
	// with no socket anywhere simply misses it, and resumes from state.
	Publish(ctx context.Context, to Address, frame []byte) error
	// Subscribe sets the function that delivers frames arriving for this
	// node's sockets. It is called once, before Start.
	Subscribe(deliver func(to Address, frame []byte))
	Start(ctx context.Context) error
	Stop()
}

// LocalBus is the Bus of a single node: publish is a direct call.
type LocalBus struct {
	mu      sync.RWMutex
	deliver func(Address, []byte)
}

func (b *LocalBus) Subscribe(deliver func(Address, []byte)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.deliver = deliver
}

func (b *LocalBus) Publish(_ context.Context, to Address, frame []byte) error {
	b.mu.RLock()
	deliver := b.deliver
	b.mu.RUnlock()
	if deliver != nil {
		deliver(to, frame)
	}
	return nil
}

func (b *LocalBus) Start(context.Context) error { return nil }
func (b *LocalBus) Stop()                       {}
