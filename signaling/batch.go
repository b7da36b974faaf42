package signaling

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"guidecall/protocol"
)

// Outgoing is one server message of a SendMany.
type Outgoing struct {
	To     Address
	Type   protocol.Type
	CallID string
	Data   any
}

// maxBatchBytes bounds one batch frame on the bus; a larger SendMany
// travels as several.
const maxBatchBytes = 1 << 20

// controlBatch starts a frame that carries many frames for many parties:
// after it, for each, the role, the id and the frame, each as a netstring
// ("<length>:<bytes>"). batchAddress is where it is published: every node
// delivers the frames whose party it holds and drops the rest.
const controlBatch = "#batch "

var batchAddress = Address{Role: "", ID: "#batch"}

// SendMany delivers many server messages, each to its party on whichever
// node holds it. Those whose socket is on this node are queued here; all
// the others travel the bus together, as one message per maxBatchBytes,
// not one each: when the head of a long line leaves, every shopper behind
// it is told at the cost of one bus message, after which each node tells
// its own sockets.
func (h *Hub) SendMany(ctx context.Context, msgs []Outgoing) error {
	var errs []error
	var batch []byte
	count := 0
	flush := func() {
		if count == 0 {
			return
		}
		if err := h.publishBatch(ctx, batch, count); err != nil {
			errs = append(errs, err)
		}
		batch, count = nil, 0
	}
	for _, m := range msgs {
		frame, err := protocol.Encode(m.Type, m.CallID, m.Data)
		if err != nil {
			errs = append(errs, fmt.Errorf("signaling: encode %s for %s: %w", m.Type, m.To, err))
			continue
		}
		h.mu.Lock()
		c := h.conns[m.To]
		h.mu.Unlock()
		if c != nil {
			c.enqueue(frame)
			h.obs.MessageOut(m.Type)
			continue
		}
		if _, local := h.bus.(*LocalBus); local {
			continue // one node: a party without a socket here has none
		}
		if len(batch) > 0 && len(batch)+len(frame)+len(m.To.ID)+64 > maxBatchBytes {
			flush()
		}
		if batch == nil {
			batch = append(batch, controlBatch...)
		}
		batch = appendNetstring(batch, []byte(m.To.Role))
		batch = appendNetstring(batch, []byte(m.To.ID))
		batch = appendNetstring(batch, frame)
		count++
	}
	flush()
	return errors.Join(errs...)
}

func (h *Hub) publishBatch(ctx context.Context, batch []byte, count int) error {
	start := time.Now()
	err := h.bus.Publish(ctx, batchAddress, batch)
	h.obs.Published(time.Since(start), err)
	if err != nil {
		return fmt.Errorf("signaling: publish a batch of %d frames: %w", count, err)
	}
	return nil
}

func appendNetstring(b, v []byte) []byte {
	b = strconv.AppendInt(b, int64(len(v)), 10)
	b = append(b, ':')
	return append(b, v...)
}

// readNetstring splits one netstring off b.
func readNetstring(b []byte) (v, rest []byte, ok bool) {
	n, rest, found := bytes.Cut(b, []byte(":"))
	if !found {
		return nil, nil, false
	}
	size, err := strconv.Atoi(string(n))
	if err != nil || size < 0 || size > len(rest) {
		return nil, nil, false
	}
	return rest[:size], rest[size:], true
}

// deliverBatch queues each frame of a batch whose party this node holds.
func (h *Hub) deliverBatch(body []byte) {
	for len(body) > 0 {
		role, rest, ok1 := readNetstring(body)
		id, rest, ok2 := readNetstring(rest)
		frame, rest, ok3 := readNetstring(rest)
		if !ok1 || !ok2 || !ok3 || isControl(frame) {
			h.log.Warn("bad batch frame dropped", "left_bytes", len(body))
			return
		}
		body = rest
		to := Address{Role: protocol.Role(role), ID: string(id)}
		h.mu.Lock()
		c := h.conns[to]
		h.mu.Unlock()
		if c != nil {
			c.enqueue(frame)
		}
	}
}
