package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// frame is one protocol message as a test client sees it.
type frame struct {
	V      int             `json:"v"`
	Type   string          `json:"type"`
	CallID string          `json:"call_id,omitempty"`
	From   string          `json:"from,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
}

func (f frame) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(f.Data, v); err != nil {
		t.Fatalf("decode %s data %s: %v", f.Type, f.Data, err)
	}
}

// wsClient is a protocol client: it authenticates, then hands every frame
// to a buffered channel the test reads with next.
type wsClient struct {
	t      *testing.T
	name   string
	ws     *websocket.Conn
	frames chan frame
	done   chan struct{}
	mu     sync.Mutex

	hmu      sync.Mutex
	handlers map[string]func(frame)
}

// on routes frames of one type to fn (on the read goroutine) instead of
// the channel; media negotiation runs this way while the test waits on
// other events.
func (c *wsClient) on(typ string, fn func(frame)) {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	if c.handlers == nil {
		c.handlers = map[string]func(frame){}
	}
	c.handlers[typ] = fn
}

func dialWS(t *testing.T, name, url, token string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("%s: dial %s: %v", name, url, err)
	}
	ws.SetReadLimit(1 << 20)
	c := &wsClient{t: t, name: name, ws: ws, frames: make(chan frame, 256), done: make(chan struct{})}
	go c.readLoop()
	t.Cleanup(c.close)
	c.send("auth", "", map[string]string{"token": token})
	return c
}

func (c *wsClient) readLoop() {
	defer close(c.done)
	defer close(c.frames)
	for {
		_, b, err := c.ws.Read(context.Background())
		if err != nil {
			return
		}
		var f frame
		if err := json.Unmarshal(b, &f); err != nil {
			c.t.Errorf("%s: server sent non-JSON %q", c.name, b)
			return
		}
		c.hmu.Lock()
		fn := c.handlers[f.Type]
		c.hmu.Unlock()
		if fn != nil {
			fn(f)
			continue
		}
		c.frames <- f
	}
}

func (c *wsClient) close() {
	_ = c.ws.Close(websocket.StatusNormalClosure, "")
	<-c.done
}

func (c *wsClient) send(typ, callID string, data any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, err := json.Marshal(map[string]any{"v": 1, "type": typ, "call_id": callID, "data": data})
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Errorf("%s: send %s: %v", c.name, typ, err)
	}
}

// next returns the next frame of one of the given types, skipping others;
// it fails the test on an error frame, a closed socket or the deadline.
func (c *wsClient) next(timeout time.Duration, types ...string) frame {
	c.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				c.t.Fatalf("%s: socket closed while waiting for %v", c.name, types)
			}
			for _, typ := range types {
				if f.Type == typ {
					return f
				}
			}
			if f.Type == "error" {
				c.t.Fatalf("%s: error while waiting for %v: %s", c.name, types, f.Data)
			}
		case <-deadline:
			c.t.Fatalf("%s: no %s within %s", c.name, strings.Join(types, "|"), timeout)
		}
	}
}
