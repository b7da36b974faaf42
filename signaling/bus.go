package signaling

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
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

// newNodeID names one process on a cluster's bus: 16 hex digits, safe in
// a NOTIFY channel and a NATS subject.
func newNodeID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// targetable reports whether a frame may go to the one node that holds
// its party: a client's frame for a real party. Control frames go to every
// node: a replaced frame must reach the node that held the party before,
// and batches and notices concern every node.
func targetable(to Address, frame []byte) bool {
	return to.Role != "" && !isControl(frame)
}

// claims reports whether publishing frame tells that its party's socket is
// now on the publishing node (a hub's replaced frame), so that the bus
// records the party there.
func claims(frame []byte) bool { return bytes.HasPrefix(frame, []byte(controlReplaced)) }
