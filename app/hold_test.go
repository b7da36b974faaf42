package app_test

import (
	"testing"

	"guidecall/protocol"
	"guidecall/protocol/client/clienttest"
)

// A guide's call.hold reaches its own shopper only, as it was sent; a
// shopper, another guide, a missing on_hold and an ended call are refused.
func TestCallHold(t *testing.T) {
	t.Parallel()
	node := startApp(t, nil)
	g, s, _, _, callID := connectedCall(t, node, "hold-guide@test.local")
	other, os, _, _, otherCall := connectedCall(t, node, "hold-other@test.local")

	g.Send(protocol.TypeCallHold, callID, protocol.CallHold{OnHold: true})
	var h protocol.CallHold
	if f := s.AwaitInto(protocol.TypeCallHold, callID, &h); !h.OnHold || f.From != "" {
		t.Fatalf("shopper got %s from %q", f.Data, f.From)
	}
	g.Send(protocol.TypeCallHold, callID, protocol.CallHold{OnHold: false})
	if s.AwaitInto(protocol.TypeCallHold, callID, &h); h.OnHold {
		t.Fatal("the resume arrived as a hold")
	}

	for _, tc := range []struct {
		name   string
		send   func()
		expect func()
	}{
		{"a shopper holds", func() { s.Send(protocol.TypeCallHold, callID, protocol.CallHold{OnHold: true}) },
			func() { expectError(t, s, protocol.CodeUnknownType) }},
		{"another guide holds the call", func() { other.Send(protocol.TypeCallHold, callID, protocol.CallHold{OnHold: true}) },
			func() { expectError(t, other, protocol.CodeNotInCall) }},
		{"no call named", func() { g.Send(protocol.TypeCallHold, "", protocol.CallHold{OnHold: true}) },
			func() { expectError(t, g, protocol.CodeBadMessage) }},
		{"on_hold missing", func() { g.Send(protocol.TypeCallHold, callID, struct{}{}) },
			func() { expectError(t, g, protocol.CodeBadMessage) }},
	} {
		tc.send()
		tc.expect()
	}
	// None of the refused holds (all on_hold true) reached a shopper: the
	// next one each hears is a resume its own guide sent after them.
	g.Send(protocol.TypeCallHold, callID, protocol.CallHold{OnHold: false})
	other.Send(protocol.TypeCallHold, otherCall, protocol.CallHold{OnHold: false})
	for _, c := range []struct {
		conn *clienttest.Conn
		call string
	}{{s, callID}, {os, otherCall}} {
		if f := c.conn.AwaitInto(protocol.TypeCallHold, "", &h); h.OnHold || f.CallID != c.call {
			t.Fatalf("a refused hold reached a shopper: %s %s", f.CallID, f.Data)
		}
	}

	g.Send(protocol.TypeCallEnd, callID, protocol.CallEnd{Reason: "hangup"})
	g.Await(protocol.TypeCallEnded, callID)
	s.Await(protocol.TypeCallEnded, callID)
	g.Send(protocol.TypeCallHold, callID, protocol.CallHold{OnHold: true})
	expectError(t, g, protocol.CodeBadState)
}

// expectError waits for c's next error and checks it answers a call.hold
// with code; other frames (positions, presence) may come before it.
func expectError(t *testing.T, c *clienttest.Conn, code protocol.Code) {
	t.Helper()
	var pe protocol.Error
	c.AwaitInto(protocol.TypeError, "", &pe)
	if pe.Code != code || pe.Ref != string(protocol.TypeCallHold) {
		t.Fatalf("%s: error %+v, want %s", c.Name, pe, code)
	}
}
