package signaling

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"guidecall/protocol"
)

// natsURL is the NATS server of the tests (NATS_URL); without one they
// skip, unless GUIDECALL_REQUIRE_NATS=1 makes that a failure.
func natsURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("NATS_URL")
	if url == "" {
		if os.Getenv("GUIDECALL_REQUIRE_NATS") == "1" {
			t.Fatal("GUIDECALL_REQUIRE_NATS=1 but NATS_URL is not set")
		}
		t.Skip("NATS_URL not set (e.g. nats://127.0.0.1:4222); skipping the NATS bus tests")
	}
	return url
}

type natsNode struct {
	bus *NATSBus
	rec *recorder
}

func (env *busEnv) natsNode(t *testing.T, url string) *natsNode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, env.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	n := &natsNode{bus: NewNATSBus(url, pool, env.log), rec: newRecorder()}
	n.bus.Subscribe(n.rec.deliver)
	if err := n.bus.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.bus.Stop)
	return n
}

func natsPublish(t *testing.T, b *NATSBus, to Address, frame string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Publish(ctx, to, []byte(frame)); err != nil {
		t.Fatal(err)
	}
}

// waitFrame waits until frame arrived at r and returns everything r got.
// NATS keeps one publisher's order to each subscriber, so what came from
// that publisher before frame is all that will.
func waitFrame(t *testing.T, r *recorder, frame string) []busMsg {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		got := r.snapshot()
		for _, m := range got {
			if m.frame == frame {
				return got
			}
		}
		select {
		case <-r.changed:
		case <-deadline:
			t.Fatalf("%.40q did not come within 10s; got %d frames", frame, len(got))
		}
	}
}

func frames(got []busMsg) []string {
	out := make([]string, len(got))
	for i, m := range got {
		out[i] = m.frame
		if len(m.frame) > 60 {
			out[i] = fmt.Sprintf("%.40s…(%d bytes)", m.frame, len(m.frame))
		}
	}
	return out
}

func TestNATSBus(t *testing.T) {
	url := natsURL(t)
	opt := goleak.IgnoreCurrent()
	t.Run("cases", func(t *testing.T) {
		t.Run("Targeted", func(t *testing.T) { t.Parallel(); testNATSTargeted(t, url) })
		t.Run("LargeBatch", func(t *testing.T) { t.Parallel(); testNATSLargeBatch(t, url) })
		t.Run("Lifecycle", func(t *testing.T) { t.Parallel(); testNATSLifecycle(t, url) })
	})
	goleak.VerifyNone(t, opt)
}

func testNATSTargeted(t *testing.T, url string) {
	env := newBusEnv(t)
	a, b, c := env.natsNode(t, url), env.natsNode(t, url), env.natsNode(t, url)

	onB := "#replaced 1 sock_b"
	natsPublish(t, b.bus, shopper, onB)
	// Every node has it before C publishes, so it comes first everywhere.
	for _, n := range []*natsNode{a, b, c} {
		waitFrame(t, n.rec, onB)
	}
	small, large := `{"type":"small"}`, seqFrame(1, 20<<10)
	natsPublish(t, c.bus, shopper, small)
	natsPublish(t, c.bus, shopper, large)
	marker := `{"type":"marker"}`
	natsPublish(t, c.bus, guide, marker) // unknown party: every node

	if got := frames(waitFrame(t, a.rec, marker)); fmt.Sprint(got) != fmt.Sprint([]string{onB, marker}) {
		t.Errorf("A got %v, want only the replaced frame and the marker", got)
	}
	gotB := waitFrame(t, b.rec, marker)
	if want := frames([]busMsg{{shopper, onB}, {shopper, small}, {shopper, large}, {guide, marker}}); fmt.Sprint(frames(gotB)) != fmt.Sprint(want) {
		t.Errorf("B got %v, want %v", frames(gotB), want)
	}
	if n := a.bus.Frames(); n != 2 {
		t.Errorf("A received %d frames, want 2", n)
	}

	// The party reconnects to A: the next frame goes to A, not B.
	onA := "#replaced 2 sock_a"
	natsPublish(t, a.bus, shopper, onA)
	waitFrame(t, a.rec, onA)
	waitFrame(t, c.rec, onA) // C publishes after the claim is recorded
	after, marker2 := `{"type":"after"}`, `{"type":"marker2"}`
	natsPublish(t, c.bus, shopper, after)
	natsPublish(t, c.bus, guide, marker2)
	if got := frames(waitFrame(t, a.rec, marker2)); fmt.Sprint(got[2:]) != fmt.Sprint([]string{onA, after, marker2}) {
		t.Errorf("A got %v, want …, replaced, after, marker2", got)
	}
	gotB = waitFrame(t, b.rec, marker2)
	for _, m := range gotB {
		if m.frame == after {
			t.Errorf("B got the frame for the party now on A: %v", frames(gotB))
		}
	}
	if a.bus.Node() == b.bus.Node() {
		t.Errorf("two nodes with id %q", a.bus.Node())
	}
}

// testNATSLargeBatch: a batch over the server's payload limit arrives as
// several batches of whole entries, together the original.
func testNATSLargeBatch(t *testing.T, url string) {
	env := newBusEnv(t)
	a, b := env.natsNode(t, url), env.natsNode(t, url)
	var body []byte
	for i := 0; len(body) < 3<<20/2; i++ {
		body = appendNetstring(body, []byte(protocol.RoleShopper))
		body = appendNetstring(body, []byte(fmt.Sprintf("ent_%d", i)))
		body = appendNetstring(body, []byte(seqFrame(i, 300)))
	}
	natsPublish(t, a.bus, batchAddress, controlBatch+string(body))
	marker := `{"type":"marker"}`
	natsPublish(t, a.bus, guide, marker)
	got := waitFrame(t, b.rec, marker)
	var joined []byte
	for _, m := range got[:len(got)-1] {
		if m.to != batchAddress || !strings.HasPrefix(m.frame, controlBatch) {
			t.Fatalf("got %v %.40q, want batches", m.to, m.frame)
		}
		if _, ok := batchPrefix([]byte(m.frame[len(controlBatch):]), len(m.frame)); !ok {
			t.Fatalf("a piece is not whole entries")
		}
		joined = append(joined, m.frame[len(controlBatch):]...)
	}
	if len(got) < 3 || !bytes.Equal(joined, body) {
		t.Fatalf("got %d messages joining to %d bytes, want at least 2 pieces of %d bytes", len(got)-1, len(joined), len(body))
	}
}

func testNATSLifecycle(t *testing.T, url string) {
	env := newBusEnv(t)
	b := NewNATSBus(url, env.pool, env.log)
	if err := b.Publish(context.Background(), shopper, []byte("x")); err == nil {
		t.Error("publish before Start succeeded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ctx); err == nil {
		t.Error("second Start succeeded")
	}
	b.Stop()
	b.Stop()
	if err := b.Start(ctx); err == nil {
		t.Error("Start after Stop succeeded")
	}
	bad := NewNATSBus("nats://127.0.0.1:1", env.pool, env.log)
	if err := bad.Start(ctx); err == nil {
		bad.Stop()
		t.Error("Start against no server succeeded")
	}
	bad.Stop()
}
