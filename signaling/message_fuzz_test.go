package signaling_test

import (
	"errors"
	"testing"

	"guidecall/signaling"
)

func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"type":"auth","data":{"token":"x"}}`,
		`{"v":1,"type":"sdp","call_id":"c_1","from":"guide","data":{"type":"offer","sdp":"v=0"}}`,
		`{"v":1,"type":"ice","call_id":"c_1","data":{"candidate":"candidate:1"}}`,
		`{"v":2,"type":"sdp"}`,
		`{"v":1}`,
		`{"v":1,"type":"presence","data":"x"}`,
		`{"v":1,"type":"x","data":null}`,
		`[]`, `null`, `"x"`, ``, `{`, "\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := signaling.ParseMessage(b)
		if err != nil {
			var pe *signaling.Error
			if !errors.As(err, &pe) || pe.Code == "" {
				t.Fatalf("error %v is not a protocol error with a code", err)
			}
			return
		}
		if m.V != signaling.Version || m.Type == "" {
			t.Fatalf("accepted %q as v=%d type=%q", b, m.V, m.Type)
		}
		if m.From != "" {
			t.Fatalf("accepted %q keeping the client's from %q", b, m.From)
		}
		if len(m.Data) > 0 && m.Data[0] != '{' {
			t.Fatalf("accepted %q with data %s", b, m.Data)
		}
		switch m.Type {
		case signaling.TypeSDP, signaling.TypeICE, signaling.TypeICERestart, signaling.TypeCallConnected, signaling.TypeCallEnd:
			if m.CallID == "" {
				t.Fatalf("accepted %q: %s without call_id", b, m.Type)
			}
		}
	})
}
