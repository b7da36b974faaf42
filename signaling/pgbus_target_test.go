package signaling

import (
	"sync"
	"testing"
	"time"
)

// testBusTargeted: a frame for a party whose socket node B registered goes
// to B alone, inline or by the table, live or caught up after a reconnect;
// once the party registers on A, the next frame goes to A alone.
func testBusTargeted(t *testing.T) {
	t.Parallel()
	env := newBusEnv(t)
	a := env.newNode(t)
	down := make(chan struct{}, 1)
	release := make(chan struct{})
	a.bus.testHookReconnect = func() {
		select {
		case down <- struct{}{}:
		default:
		}
		<-release
	}
	a.start(t)
	var once sync.Once
	letBack := func() { once.Do(func() { close(release) }) }
	t.Cleanup(letBack) // before Stop, which would wait for the hook
	b, c := env.newNode(t), env.newNode(t)
	b.start(t)
	c.start(t)

	onB := "#replaced 1 sock_b"
	publish(t, b.bus, shopper, onB)
	a.rec.waitN(t, 1, 10*time.Second)
	b.rec.waitN(t, 1, 10*time.Second)
	size := func(i int) int {
		if i%2 == 1 {
			return 12000 // by the table
		}
		return 80
	}
	publish(t, c.bus, shopper, seqFrame(0, size(0)))
	publish(t, c.bus, shopper, seqFrame(1, size(1)))
	b.rec.waitN(t, 3, 10*time.Second)

	// While A is away, more frames for B's party: A's catch-up must not
	// read them, and they are not A's backlog.
	terminate(t, env.pool, a.bus.listenerPID())
	select {
	case <-down:
	case <-time.After(10 * time.Second):
		t.Fatal("A's listener did not notice its backend was terminated")
	}
	publish(t, c.bus, shopper, seqFrame(2, size(2)))
	publish(t, c.bus, shopper, seqFrame(3, size(3)))
	b.rec.waitN(t, 5, 10*time.Second)
	checkBacklog(t, a.bus, 0)
	letBack()

	got := drain(t, c.bus, a, b, c)
	if len(got[0]) != 1 || got[0][0].frame != onB {
		t.Errorf("A got %v, want only the replaced frame", got[0])
	}
	if n := a.bus.Frames(); n != 2 {
		t.Errorf("A's listener delivered %d frames, want 2 (replaced, last)", n)
	}
	checkSeq(t, "B", got[1][1:], shopper, 4, size)
	if len(got[2]) != 1 {
		t.Errorf("C got %v, want only the replaced frame", got[2])
	}

	// The party reconnects to A: the next frame goes to A, not B.
	onA := "#replaced 2 sock_a"
	publish(t, a.bus, shopper, onA)
	publish(t, c.bus, shopper, `{"type":"after"}`)
	marker := `{"type":"marker"}`
	publish(t, c.bus, guide, marker) // unknown party: every node
	gotA := a.rec.waitN(t, 5, 10*time.Second)
	if s := gotA[2:]; len(s) != 3 || s[0].frame != onA || s[1].frame != `{"type":"after"}` || s[2].frame != marker {
		t.Errorf("A got %v after the last frame, want replaced, after, marker", s)
	}
	gotB := b.rec.waitN(t, 8, 10*time.Second)
	if s := gotB[6:]; len(s) != 2 || s[0].frame != onA || s[1].frame != marker {
		t.Errorf("B got %v after the last frame, want replaced, marker (not the frame for A's party)", s)
	}
	if a.bus.Node() == b.bus.Node() || len(a.bus.Node()) != 16 {
		t.Errorf("node ids %q and %q", a.bus.Node(), b.bus.Node())
	}
}
