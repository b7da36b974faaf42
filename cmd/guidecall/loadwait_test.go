package main

import (
	"testing"

	"guidecall/protocol"
)

// TestPositionOf reads positions from frames as the server encodes them,
// and nothing from other frames.
func TestPositionOf(t *testing.T) {
	eta := 30
	for _, tc := range []struct {
		typ  protocol.Type
		data any
		pos  int
		ok   bool
	}{
		{protocol.TypeQueuePosition, protocol.QueuePosition{Queue: "default", Position: 1}, 1, true},
		{protocol.TypeQueuePosition, protocol.QueuePosition{Queue: "position", Position: 19873, ETASeconds: &eta, GuidesOnline: 4}, 19873, true},
		{protocol.TypeWelcome, protocol.Welcome{}, 0, false},
		{protocol.TypeError, protocol.Error{Code: protocol.CodeBadMessage, Message: `"position":3`}, 0, false},
	} {
		b, err := protocol.Encode(tc.typ, "", tc.data)
		if err != nil {
			t.Fatal(err)
		}
		pos, ok := positionOf(b)
		if pos != tc.pos || ok != tc.ok {
			t.Errorf("positionOf(%s) = %d, %v; want %d, %v", b, pos, ok, tc.pos, tc.ok)
		}
		if got := frameType(b); got != tc.typ {
			t.Errorf("frameType(%s) = %q", b, got)
		}
	}
}
