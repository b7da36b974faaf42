package signaling

import (
	"context"
	"time"

	"guidecall/protocol"
)

// Observer is told what the hub does, for metrics. Its methods are called
// on the hub's hot paths, so they must be quick and must never block.
// Message types come from clients: an Observer that uses them as labels
// must map types the protocol does not have to one value.
type Observer interface {
	// MessageIn is a client message that parsed.
	MessageIn(t protocol.Type)
	// MessageOut is a message the server sent or relayed.
	MessageOut(t protocol.Type)
	// MessageRefused is a client message answered with an error.
	MessageRefused(t protocol.Type, code protocol.Code)
	// Published is one publish on the bus and how long it took.
	Published(took time.Duration, err error)
}

type noObserver struct{}

func (noObserver) MessageIn(protocol.Type)                     {}
func (noObserver) MessageOut(protocol.Type)                    {}
func (noObserver) MessageRefused(protocol.Type, protocol.Code) {}
func (noObserver) Published(time.Duration, error)              {}

// publish sends frame on the bus and tells the observer how it went.
//
// A frame for a party whose socket this node holds is queued on it here
// and never travels the bus: in a cluster that would be a database round
// trip (and a row) for a socket a map lookup away. A newer socket of the
// party on another node replaces this one through the bus; a frame that
// reaches the old socket in between is one the client resumes from state.
func (h *Hub) publish(ctx context.Context, to Address, typ protocol.Type, frame []byte) error {
	if !isControl(frame) {
		h.mu.Lock()
		c := h.conns[to]
		h.mu.Unlock()
		if c != nil {
			c.enqueue(frame)
			h.obs.MessageOut(typ)
			return nil
		}
	}
	start := time.Now()
	err := h.bus.Publish(ctx, to, frame)
	h.obs.Published(time.Since(start), err)
	if err == nil {
		h.obs.MessageOut(typ)
	}
	return err
}

// Buffered counts the frames waiting in this node's sockets' send
// buffers: the backlog of clients that read slower than they are sent to.
func (h *Hub) Buffered() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for c := range h.all {
		n += c.buffered()
	}
	return n
}
