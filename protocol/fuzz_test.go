package protocol_test

import (
	"encoding/json"
	"errors"
	"testing"

	"guidecall/protocol"
)

// FuzzEnvelopeDecode feeds any frame to the decoder the way both ends read
// one: the envelope first, then its payload into the type it names. A bad
// payload must come back as a bad_message *protocol.Error, never a panic,
// and whatever decodes must encode again.
func FuzzEnvelopeDecode(f *testing.F) {
	for _, s := range []string{
		`{"v":1,"type":"auth","data":{"token":"x"}}`,
		`{"v":1,"type":"call.end","call_id":"c","data":{"reason":5}}`,
		`{"v":1,"type":"ice","data":{"candidate":"c","sdpMLineIndex":-1}}`,
		`{"v":1,"type":"queue.position","data":{"position":1e400}}`,
		`{"v":1,"type":"welcome","data":{"name":"a\u0000\u202eb"}}`,
		`{"v":1,"type":"payment.link","data":null}`,
		`null`, `[]`, `{"data":"x"}`,
	} {
		f.Add([]byte(s))
	}
	payloads := []func() any{
		func() any { return new(protocol.Auth) }, func() any { return new(protocol.CallEnd) },
		func() any { return new(protocol.ICECandidate) }, func() any { return new(protocol.SDP) },
		func() any { return new(protocol.Welcome) }, func() any { return new(protocol.Offer) },
		func() any { return new(protocol.SetPresence) }, func() any { return new(protocol.OfferReply) },
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var env protocol.Envelope
		if json.Unmarshal(b, &env) != nil {
			return
		}
		for _, mk := range payloads {
			v := mk()
			err := env.Decode(v)
			if err != nil {
				var pe *protocol.Error
				if !errors.As(err, &pe) || pe.Code != protocol.CodeBadMessage {
					t.Fatalf("Decode(%s) error %v is not bad_message", b, err)
				}
				continue
			}
			if _, err := protocol.Encode(env.Type, env.CallID, v); err != nil {
				t.Fatalf("decoded %T from %s does not encode: %v", v, b, err)
			}
		}
	})
}
