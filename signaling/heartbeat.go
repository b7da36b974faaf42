package signaling

import "time"

// heartbeatSlots is how many turns one heartbeat period is cut into: each
// socket is pinged in its own turn, so that ten thousand sockets are not
// pinged, and do not answer, in the same millisecond.
const heartbeatSlots = 16

// heartbeat is the hub's one timer for every socket's pings: each turn it
// starts a ping on each open socket of that turn. It runs while the hub holds sockets and ends when stop closes
// (the last socket went).
func (h *Hub) heartbeat(stop chan struct{}) {
	t := time.NewTicker(max(h.cfg.Heartbeat/heartbeatSlots, time.Millisecond))
	defer t.Stop()
	slot := 0
	var due []*conn
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		slot = (slot + 1) % heartbeatSlots
		due = due[:0]
		h.mu.Lock()
		for c := range h.all {
			if c.slot == slot {
				due = append(due, c)
			}
		}
		h.mu.Unlock()
		for _, c := range due {
			c.startPing()
		}
	}
}
