package signaling_test

import (
	"bytes"
	"errors"
	"testing"

	"guidecall/protocol"
	"guidecall/signaling"
)

func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"type":"auth","data":{"token":"x"}}`,
		`{"v":1,"type":"sdp","call_id":"c_1","from":"guide","data":{"type":"offer","sdp":"v=0"}}`,
		`{"v":1,"type":"ice","call_id":"c_1","data":{"candidate":"candidate:1"}}`,
		`{"v":1,"type":"ice","call_id":"c_1","data":{"candidate":"c","sdpMid":null,"sdpMLineIndex":70000}}`,
		`{"v":1,"type":"call.end","call_id":"c_1","data":{"reason":5}}`,
		`{"v":1,"type":"offer.accept","data":{"offer_id":"c_1"}}`,
		`{"v":2,"type":"sdp"}`,
		`{"v":1}`,
		`{"v":1,"type":"presence","data":"x"}`,
		`{"v":1,"type":"x","data":null}`,
		`[]`, `null`, `"x"`, ``, `{`, "\xff",
		`{"v":1,"type":"sdp","call_id":"c_1","data":{"type":"offer","sdp":"v=0\u0000"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := signaling.ParseMessage(b)
		if err != nil {
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code == "" {
				t.Fatalf("error %v is not a protocol error with a code", err)
			}
			return
		}
		if m.V != protocol.Version || m.Type == "" {
			t.Fatalf("accepted %q as v=%d type=%q", b, m.V, m.Type)
		}
		if m.From != "" {
			t.Fatalf("accepted %q keeping the client's from %q", b, m.From)
		}
		if bytes.Contains(b, []byte(`\u0000`)) && !bytes.Contains(b, []byte(`\\u0000`)) {
			t.Fatalf("accepted %q with a NUL", b)
		}
		if len(m.Data) > 0 && m.Data[0] != '{' {
			t.Fatalf("accepted %q with data %s", b, m.Data)
		}
		switch m.Type {
		case protocol.TypeSDP, protocol.TypeICE, protocol.TypeICERestart, protocol.TypeCallConnected, protocol.TypeCallEnd:
			if m.CallID == "" {
				t.Fatalf("accepted %q: %s without call_id", b, m.Type)
			}
		}
		// What handlers do next: decode into the type's payload. Any shape
		// is either that payload or a bad_message the sender is told.
		p := protocol.ClientPayload(m.Type)
		if p == nil {
			return
		}
		if err := m.Decode(p); err != nil {
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code != protocol.CodeBadMessage {
				t.Fatalf("decoding %s data %s: %v, want a bad_message", m.Type, m.Data, err)
			}
			return
		}
		// A decoded payload encodes again: nothing a client sends makes
		// the relay or a handler fail to answer.
		if _, err := protocol.Encode(m.Type, m.CallID, p); err != nil {
			t.Fatalf("re-encoding %s %+v: %v", m.Type, p, err)
		}
	})
}
