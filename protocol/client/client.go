package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"guidecall/protocol"
)

// ErrClosed is wrapped by an Await or Next on a connection that ended
// with nothing left to match; the error chain also holds why it ended, so
// websocket.CloseStatus reports the server's close code.
var ErrClosed = errors.New("connection ended")

// ErrBufferFull is returned by an Await that matches none of the frames
// already held while the buffer is full: no later frame can arrive until
// some are taken.
var ErrBufferFull = errors.New("receive buffer full")

// DefaultBuffer is how many received frames a Conn holds by default.
const DefaultBuffer = 4096

// Frame is one received message and when the reader took it off the
// socket (not when an Await returned it).
type Frame struct {
	protocol.Envelope
	Received time.Time
}

// DialError is a handshake the server answered over HTTP instead of
// upgrading (a connection cap, a draining node).
type DialError struct {
	Status int
	Body   string
	Err    error
}

func (e *DialError) Error() string {
	return fmt.Sprintf("websocket handshake: status %d: %s: %v", e.Status, e.Body, e.Err)
}

func (e *DialError) Unwrap() error { return e.Err }

// Option changes how Dial connects or how a Conn behaves.
type Option func(*options)

type options struct {
	header      http.Header
	readLimit   int64
	buffer      int
	failOnError bool
	onReceive   func(Frame)
	onPing      func() bool
	httpClient  *http.Client
}

// WithHeader adds an HTTP header to the handshake (Origin, or
// X-Forwarded-For to pose behind a proxy).
func WithHeader(key, value string) Option {
	return func(o *options) { o.header.Add(key, value) }
}

// WithReadLimit bounds one received frame instead of protocol.MaxFrame;
// a bigger frame ends the connection with close code 1009.
func WithReadLimit(n int64) Option { return func(o *options) { o.readLimit = n } }

// WithBuffer holds at most n received frames instead of DefaultBuffer.
// When it is full the reader stops reading until one is taken, so the
// server sees a client that does not keep up.
func WithBuffer(n int) Option { return func(o *options) { o.buffer = max(n, 1) } }

// FailOnError makes an error frame that comes before the awaited one fail
// the Await with its *protocol.Error (an Await for protocol.TypeError
// still returns the frame). Without it error frames wait in the buffer
// like any other.
func FailOnError() Option { return func(o *options) { o.failOnError = true } }

// OnReceive calls fn on the reader goroutine for every frame as it
// arrives, before it is buffered: for timing a frame at the socket.
func OnReceive(fn func(Frame)) Option { return func(o *options) { o.onReceive = fn } }

// OnPing calls fn for each ping the server sends; returning false leaves
// it unanswered, which the server's heartbeat treats as a dead peer.
func OnPing(fn func() bool) Option { return func(o *options) { o.onPing = fn } }

// WithHTTPClient makes the handshake with c (its Transport trusting a
// private certificate authority, say). c must have no Timeout: ctx
// bounds the handshake.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// Conn is one protocol socket. Its methods are safe for concurrent use.
type Conn struct {
	ws   *websocket.Conn
	opts options

	writer chan struct{} // a token: one write at a time, waited for with a ctx

	mu       sync.Mutex
	frames   []Frame
	handlers map[protocol.Type]func(Frame)
	changed  chan struct{} // closed and replaced when frames or the end change
	err      error         // why reading ended; set before done closes

	quit      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// Dial opens a socket to wsURL (ws:// or wss://) and starts its reader.
// ctx bounds the handshake only.
func Dial(ctx context.Context, wsURL string, opts ...Option) (*Conn, error) {
	o := options{header: http.Header{}, readLimit: protocol.MaxFrame, buffer: DefaultBuffer}
	for _, opt := range opts {
		opt(&o)
	}
	dopts := &websocket.DialOptions{HTTPHeader: o.header, HTTPClient: o.httpClient}
	if o.onPing != nil {
		dopts.OnPingReceived = func(context.Context, []byte) bool { return o.onPing() }
	}
	ws, resp, err := websocket.Dial(ctx, wsURL, dopts)
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			var body []byte
			if resp.Body != nil {
				body, _ = io.ReadAll(io.LimitReader(resp.Body, 4<<10))
				resp.Body.Close()
			}
			return nil, &DialError{Status: resp.StatusCode, Body: strings.TrimSpace(string(body)), Err: err}
		}
		return nil, fmt.Errorf("dial %s: %w", wsURL, err)
	}
	ws.SetReadLimit(o.readLimit)
	c := &Conn{
		ws:      ws,
		opts:    o,
		writer:  make(chan struct{}, 1),
		changed: make(chan struct{}),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go c.read()
	return c, nil
}

// DialAuth dials and authenticates with token, returning the welcome.
// On any failure the socket is closed.
func DialAuth(ctx context.Context, wsURL, token string, opts ...Option) (*Conn, protocol.Welcome, error) {
	c, err := Dial(ctx, wsURL, opts...)
	if err != nil {
		return nil, protocol.Welcome{}, err
	}
	welcome, err := c.Authenticate(ctx, token)
	if err != nil {
		_ = c.Close()
		return nil, protocol.Welcome{}, err
	}
	return c, welcome, nil
}

// Authenticate sends auth with token and waits for the welcome, which the
// protocol puts before anything else the server sends: any other first
// frame is an error. A refusal is returned as the server's
// *protocol.Error (the server then closes the socket with 4401).
func (c *Conn) Authenticate(ctx context.Context, token string) (protocol.Welcome, error) {
	var welcome protocol.Welcome
	if err := c.Send(ctx, protocol.TypeAuth, "", protocol.Auth{Token: token}); err != nil {
		return welcome, err
	}
	f, err := c.take(ctx, "welcome", func(Frame) bool { return true }, false)
	switch {
	case err != nil:
		return welcome, fmt.Errorf("auth: %w", err)
	case f.Type == protocol.TypeError:
		return welcome, fmt.Errorf("auth: %w", asProtocolError(f))
	case f.Type != protocol.TypeWelcome:
		return welcome, fmt.Errorf("auth: the server sent %s before welcome", f.Type)
	}
	if err := f.Decode(&welcome); err != nil {
		return welcome, fmt.Errorf("auth: %w", err)
	}
	return welcome, nil
}

// Send writes one message of type typ about callID ("" for none) with
// data as its payload (nil for none).
func (c *Conn) Send(ctx context.Context, typ protocol.Type, callID string, data any) error {
	b, err := protocol.Encode(typ, callID, data)
	if err != nil {
		return err
	}
	if err := c.write(ctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("send %s: %w", typ, err)
	}
	return nil
}

// SendRaw writes b as one text frame as it is, for tests that send what
// Send would refuse to build.
func (c *Conn) SendRaw(ctx context.Context, b []byte) error {
	return c.write(ctx, websocket.MessageText, b)
}

// SendBinary writes b as one binary frame, which the protocol does not
// allow.
func (c *Conn) SendBinary(ctx context.Context, b []byte) error {
	return c.write(ctx, websocket.MessageBinary, b)
}

func (c *Conn) write(ctx context.Context, typ websocket.MessageType, b []byte) error {
	select {
	case c.writer <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.writer }()
	return c.ws.Write(ctx, typ, b)
}

// Ping sends a WebSocket ping and waits for its pong. The server reads a
// socket in order and answers the ping only when it reads it, so once
// Ping returns the server has handled every message sent before it, and
// anything that handling sent this socket is already buffered.
func (c *Conn) Ping(ctx context.Context) error {
	if err := c.ws.Ping(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// Handle delivers every later frame of type typ to fn on the reader
// goroutine instead of the buffer (fn must not Await; it may Send); a nil
// fn undoes it. Frames of typ already buffered stay there.
func (c *Conn) Handle(typ protocol.Type, fn func(Frame)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if fn == nil {
		delete(c.handlers, typ)
		return
	}
	if c.handlers == nil {
		c.handlers = map[protocol.Type]func(Frame){}
	}
	c.handlers[typ] = fn
}

// Next returns the oldest buffered frame, waiting for one.
func (c *Conn) Next(ctx context.Context) (Frame, error) {
	return c.take(ctx, "a frame", func(Frame) bool { return true }, false)
}

// Await returns the next frame of type typ, and of call callID unless it
// is "", leaving every other frame buffered for a later Await.
func (c *Conn) Await(ctx context.Context, typ protocol.Type, callID string) (Frame, error) {
	what := string(typ)
	if callID != "" {
		what += " of call " + callID
	}
	return c.take(ctx, what, func(f Frame) bool {
		return f.Type == typ && (callID == "" || f.CallID == callID)
	}, c.opts.failOnError && typ != protocol.TypeError)
}

// AwaitInto is Await that also decodes the payload into v.
func (c *Conn) AwaitInto(ctx context.Context, typ protocol.Type, callID string, v any) (Frame, error) {
	f, err := c.Await(ctx, typ, callID)
	if err != nil {
		return f, err
	}
	return f, f.Decode(v)
}

// AwaitFunc returns the first frame match accepts, leaving every other
// frame buffered.
func (c *Conn) AwaitFunc(ctx context.Context, match func(Frame) bool) (Frame, error) {
	return c.take(ctx, "a matching frame", match, c.opts.failOnError)
}

// take removes and returns the first buffered frame that match accepts,
// or, with failOnError, fails on the first error frame before it.
func (c *Conn) take(ctx context.Context, what string, match func(Frame) bool, failOnError bool) (Frame, error) {
	for {
		c.mu.Lock()
		for i, f := range c.frames {
			isErr := failOnError && f.Type == protocol.TypeError
			if !isErr && !match(f) {
				continue
			}
			c.frames = append(c.frames[:i:i], c.frames[i+1:]...)
			c.signal()
			c.mu.Unlock()
			if isErr {
				return f, fmt.Errorf("while waiting for %s: %w", what, asProtocolError(f))
			}
			return f, nil
		}
		ended, full, changed := c.err, len(c.frames) >= c.opts.buffer, c.changed
		c.mu.Unlock()
		switch {
		case ended != nil:
			return Frame{}, fmt.Errorf("%w while waiting for %s: %w", ErrClosed, what, ended)
		case full:
			return Frame{}, fmt.Errorf("%w: none of %d frames is %s", ErrBufferFull, c.opts.buffer, what)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Frame{}, fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		}
	}
}

// Buffered returns a copy of the frames received and not yet taken.
func (c *Conn) Buffered() []Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Frame(nil), c.frames...)
}

// Discard removes the buffered frames match accepts and returns how many:
// a long-lived client that awaits only some of what it receives drops the
// rest at a point where it knows it is stale, so the buffer does not fill.
func (c *Conn) Discard(match func(Frame) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := c.frames[:0]
	for _, f := range c.frames {
		if !match(f) {
			kept = append(kept, f)
		}
	}
	n := len(c.frames) - len(kept)
	clear(c.frames[len(kept):])
	c.frames = kept
	if n > 0 {
		c.signal()
	}
	return n
}

// Done is closed once the connection has ended and the reader is gone.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is why the connection ended, nil while it is open.
func (c *Conn) Err() error {
	select {
	case <-c.done:
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.err
	default:
		return nil
	}
}

// CloseStatus waits until the connection has ended and returns the close
// code and reason the server sent: -1 and "" when it ended without a
// close frame (a dropped TCP connection).
func (c *Conn) CloseStatus(ctx context.Context) (websocket.StatusCode, string, error) {
	select {
	case <-c.done:
	case <-ctx.Done():
		return -1, "", fmt.Errorf("still open: %w", ctx.Err())
	}
	err := c.Err()
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code, ce.Reason, nil
	}
	return -1, "", nil
}

// Close closes the socket normally and waits for the reader to end. It
// may be called more than once.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		close(c.quit)
		_ = c.ws.Close(websocket.StatusNormalClosure, "")
	})
	<-c.done
	return nil
}

// read is the one reader: it buffers every frame until the socket ends.
func (c *Conn) read() {
	defer close(c.done)
	for {
		typ, b, err := c.ws.Read(context.Background())
		if err != nil {
			c.end(err)
			return
		}
		f := Frame{Received: time.Now()}
		if typ != websocket.MessageText {
			err = fmt.Errorf("server sent a binary frame of %d bytes", len(b))
		} else if err = json.Unmarshal(b, &f.Envelope); err != nil {
			err = fmt.Errorf("server sent a frame that is not an envelope: %q: %w", truncate(b), err)
		}
		if err != nil {
			_ = c.ws.Close(websocket.StatusUnsupportedData, "not a protocol frame")
			c.end(err)
			return
		}
		if c.opts.onReceive != nil {
			c.opts.onReceive(f)
		}
		c.mu.Lock()
		if fn := c.handlers[f.Type]; fn != nil {
			c.mu.Unlock()
			fn(f)
			continue
		}
		for len(c.frames) >= c.opts.buffer {
			changed := c.changed
			c.mu.Unlock()
			select {
			case <-changed:
			case <-c.quit:
				// Closing: drain until the close frame so Close does not
				// wait out the library's timeout.
				c.mu.Lock()
				c.frames = c.frames[1:]
				continue
			}
			c.mu.Lock()
		}
		c.frames = append(c.frames, f)
		c.signal()
		c.mu.Unlock()
	}
}

func (c *Conn) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
	c.signal()
}

// signal wakes every waiter; the caller holds mu.
func (c *Conn) signal() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func asProtocolError(f Frame) *protocol.Error {
	pe := &protocol.Error{}
	if err := f.Decode(pe); err != nil || pe.Code == "" {
		return &protocol.Error{Code: protocol.CodeBadMessage, Message: fmt.Sprintf("unreadable error frame %s", f.Data)}
	}
	return pe
}

func truncate(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}
