// Package clienttest binds a protocol client to a test: every step is
// bounded, a failed step fails the test, and the socket closes when the
// test ends. The package tests and the end-to-end tests use it; it adds
// no protocol behaviour of its own (that is package client's).
package clienttest

import (
	"context"
	"testing"
	"time"

	"github.com/coder/websocket"

	"guidecall/protocol"
	"guidecall/protocol/client"
)

// DefaultTimeout bounds each step of a Conn unless Within says otherwise.
const DefaultTimeout = 10 * time.Second

// Conn is a protocol client failing t on any error.
type Conn struct {
	// Client is the connection itself, for what the helpers do not cover.
	Client *client.Conn
	// Name prefixes every failure, to tell the parties of a test apart.
	Name string

	t       testing.TB
	timeout time.Duration
}

// Dial connects to wsURL without authenticating; the socket closes when
// the test ends.
func Dial(t testing.TB, wsURL string, opts ...client.Option) *Conn {
	t.Helper()
	c, err := TryDial(t, wsURL, opts...)
	if err != nil {
		t.Fatalf("dial %s: %v", wsURL, err)
	}
	return c
}

// TryDial is Dial that returns the error, for a test that expects the
// handshake to be refused (see client.DialError).
func TryDial(t testing.TB, wsURL string, opts ...client.Option) (*Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	cc, err := client.Dial(ctx, wsURL, opts...)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = cc.Close() })
	return &Conn{Client: cc, Name: "client", t: t, timeout: DefaultTimeout}, nil
}

// DialAuth connects and authenticates with token, and returns the welcome.
func DialAuth(t testing.TB, wsURL, token string, opts ...client.Option) (*Conn, protocol.Welcome) {
	t.Helper()
	c := Dial(t, wsURL, opts...)
	return c, c.Authenticate(token)
}

// Authenticate sends auth with token and returns the welcome, which must
// be the first frame.
func (c *Conn) Authenticate(token string) protocol.Welcome {
	c.t.Helper()
	ctx, cancel := c.step()
	defer cancel()
	welcome, err := c.Client.Authenticate(ctx, token)
	if err != nil {
		c.t.Fatalf("%s: %v", c.Name, err)
	}
	return welcome
}

// Named sets the name failures are reported under.
func (c *Conn) Named(name string) *Conn {
	c.Name = name
	return c
}

// Within returns the same connection with each step bounded by d.
func (c *Conn) Within(d time.Duration) *Conn {
	cp := *c
	cp.timeout = d
	return &cp
}

// On returns the same connection reporting failures to t (a subtest).
func (c *Conn) On(t testing.TB) *Conn {
	cp := *c
	cp.t = t
	return &cp
}

func (c *Conn) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.timeout)
}

// Send sends one message. A failure is reported with Errorf, not Fatalf,
// since Send may run on a goroutine of the test's (a pion callback); the
// error is returned for a caller that must stop.
func (c *Conn) Send(typ protocol.Type, callID string, data any) error {
	c.t.Helper()
	ctx, cancel := c.step()
	defer cancel()
	err := c.Client.Send(ctx, typ, callID, data)
	if err != nil {
		c.t.Errorf("%s: %v", c.Name, err)
	}
	return err
}

// SendRaw writes b as one text frame; failures as for Send.
func (c *Conn) SendRaw(b []byte) error {
	c.t.Helper()
	ctx, cancel := c.step()
	defer cancel()
	err := c.Client.SendRaw(ctx, b)
	if err != nil {
		c.t.Errorf("%s: write: %v", c.Name, err)
	}
	return err
}

// Await returns the next frame of type typ (and of call callID unless it
// is ""), keeping the others.
func (c *Conn) Await(typ protocol.Type, callID string) client.Frame {
	c.t.Helper()
	ctx, cancel := c.step()
	defer cancel()
	f, err := c.Client.Await(ctx, typ, callID)
	if err != nil {
		c.t.Fatalf("%s: %v", c.Name, err)
	}
	return f
}

// AwaitInto is Await that decodes the payload into v.
func (c *Conn) AwaitInto(typ protocol.Type, callID string, v any) client.Frame {
	c.t.Helper()
	f := c.Await(typ, callID)
	if err := f.Decode(v); err != nil {
		c.t.Fatalf("%s: %v", c.Name, err)
	}
	return f
}

// Next returns the oldest frame not yet taken, whatever it is.
func (c *Conn) Next() client.Frame {
	c.t.Helper()
	ctx, cancel := c.step()
	defer cancel()
	f, err := c.Client.Next(ctx)
	if err != nil {
		c.t.Fatalf("%s: %v", c.Name, err)
	}
	return f
}

// ExpectError checks that the next frame is an error with code, answering
// a message of type ref ("" for none).
func (c *Conn) ExpectError(code protocol.Code, ref protocol.Type) {
	c.t.Helper()
	f := c.Next()
	var pe protocol.Error
	if err := f.Decode(&pe); err != nil || f.Type != protocol.TypeError {
		c.t.Fatalf("%s: got %s %s, want error %s", c.Name, f.Type, f.Data, code)
	}
	if pe.Code != code || pe.Ref != string(ref) {
		c.t.Fatalf("%s: error %+v, want code %q ref %q", c.Name, pe, code, ref)
	}
}

// ExpectClosed waits for the socket to end and checks the close code the
// server sent; frames still buffered are left alone.
func (c *Conn) ExpectClosed(code websocket.StatusCode) {
	c.t.Helper()
	ctx, cancel := c.step()
	defer cancel()
	got, reason, err := c.Client.CloseStatus(ctx)
	if err != nil {
		c.t.Fatalf("%s: %v", c.Name, err)
	}
	if got != code {
		c.t.Fatalf("%s: closed with %v %q (%v), want %v", c.Name, got, reason, c.Client.Err(), code)
	}
}

// ExpectOpen fails the test if the socket has ended.
func (c *Conn) ExpectOpen() {
	c.t.Helper()
	if err := c.Client.Err(); err != nil {
		c.t.Fatalf("%s: socket ended: %v", c.Name, err)
	}
}

// Ping waits until the server has read everything sent before it (see
// client.Conn.Ping).
func (c *Conn) Ping() {
	c.t.Helper()
	ctx, cancel := c.step()
	defer cancel()
	if err := c.Client.Ping(ctx); err != nil {
		c.t.Fatalf("%s: %v", c.Name, err)
	}
}

// ExpectNothing checks that no frame is buffered: after a Ping, or after
// an Await of a frame that must come after any the test forbids.
func (c *Conn) ExpectNothing() {
	c.t.Helper()
	if b := c.Client.Buffered(); len(b) > 0 {
		c.t.Fatalf("%s: unexpected %s %s (and %d more)", c.Name, b[0].Type, b[0].Data, len(b)-1)
	}
}

// Close closes the socket now rather than when the test ends.
func (c *Conn) Close() {
	_ = c.Client.Close()
}
