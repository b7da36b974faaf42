package signaling_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"guidecall/protocol"
	"guidecall/signaling"
)

// recordingBus joins several hubs in one process as a cluster's bus would,
// and records what was published on it.
type recordingBus struct {
	mu        sync.Mutex
	delivers  []func(signaling.Address, []byte)
	published []signaling.Address
}

// busEnd is one hub's end of the shared bus.
type busEnd struct{ bus *recordingBus }

func (n busEnd) Subscribe(deliver func(signaling.Address, []byte)) {
	n.bus.mu.Lock()
	defer n.bus.mu.Unlock()
	n.bus.delivers = append(n.bus.delivers, deliver)
}

func (n busEnd) Publish(_ context.Context, to signaling.Address, frame []byte) error {
	n.bus.mu.Lock()
	n.bus.published = append(n.bus.published, to)
	ds := append([]func(signaling.Address, []byte){}, n.bus.delivers...)
	n.bus.mu.Unlock()
	for _, d := range ds {
		d(to, frame)
	}
	return nil
}

func (busEnd) Start(context.Context) error { return nil }
func (busEnd) Stop()                       {}

// clientFrames are the publishes a client frame caused, leaving out the
// hubs' own control traffic about new sockets.
func (b *recordingBus) clientFrames() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, a := range b.published {
		out = append(out, a.String())
	}
	return out
}

func (b *recordingBus) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.published = nil
}

// TestSendLocalAndBatched: a frame for a socket on the same node never
// travels the bus; frames for many parties on other nodes travel as one
// bus message, and each node delivers only its own.
func TestSendLocalAndBatched(t *testing.T) {
	t.Parallel()
	bus := &recordingBus{}
	one := newEnv(t, func(c *signaling.Config) { c.Bus = busEnd{bus} })
	two := newEnv(t, func(c *signaling.Config) { c.Bus = busEnd{bus} })
	a := one.connect(t, "tok-a")
	expectOne(t, one.ctrl.opened, "Open")
	b := two.connect(t, "tok-b")
	expectOne(t, two.ctrl.opened, "Open")
	bus.reset()

	ctx := context.Background()
	if err := one.hub.Send(ctx, shopperA.Address, protocol.TypeQueuePosition, "", protocol.QueuePosition{Position: 1}); err != nil {
		t.Fatal(err)
	}
	a.Ping() // the frame is queued before the pong
	if got := bus.clientFrames(); len(got) != 0 {
		t.Errorf("a frame for a socket on the same node went over the bus to %v", got)
	}
	if f := a.Next(); f.Type != protocol.TypeQueuePosition {
		t.Fatalf("shopper a got %s", f.Type)
	}

	// From node one: a here, b on node two, and a party nowhere.
	msgs := []signaling.Outgoing{
		{To: shopperA.Address, Type: protocol.TypeQueuePosition, Data: protocol.QueuePosition{Position: 2}},
		{To: shopperB.Address, Type: protocol.TypeQueuePosition, Data: protocol.QueuePosition{Position: 3}},
		{To: signaling.Address{Role: protocol.RoleShopper, ID: "e_gone"}, Type: protocol.TypeQueuePosition, Data: protocol.QueuePosition{Position: 4}},
	}
	if err := one.hub.SendMany(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	if got := bus.clientFrames(); len(got) != 1 || !strings.Contains(got[0], "#batch") {
		t.Errorf("bus messages %v, want one batch", got)
	}
	var pa, pb protocol.QueuePosition
	if f := a.Next(); f.Type != protocol.TypeQueuePosition || f.Decode(&pa) != nil || pa.Position != 2 {
		t.Errorf("a got %s %s, want position 2", f.Type, f.Data)
	}
	if f := b.Next(); f.Type != protocol.TypeQueuePosition || f.Decode(&pb) != nil || pb.Position != 3 {
		t.Errorf("b got %s %s, want position 3", f.Type, f.Data)
	}
	// Nothing more: the batch's other frames were not for them.
	a.ExpectNothing()
	b.ExpectNothing()
}
