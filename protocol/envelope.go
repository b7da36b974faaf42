package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Version is the protocol version this package speaks.
const Version = 1

// MaxFrame bounds one frame in either direction.
const MaxFrame = 64 << 10

// Envelope is one frame: a typed payload and the call it concerns.
type Envelope struct {
	V      int    `json:"v"`
	Type   Type   `json:"type"`
	CallID string `json:"call_id,omitempty"`
	// From is set by the server on relayed messages: the sender's role.
	From Role            `json:"from,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
}

// Decode unmarshals the payload into v. An absent payload leaves v as is.
// The error is a bad_message *Error, what a server tells the sender.
func (e Envelope) Decode(v any) error {
	if len(e.Data) == 0 {
		return nil
	}
	if err := json.Unmarshal(e.Data, v); err != nil {
		return Errorf(CodeBadMessage, "%s: bad data: %v", e.Type, err)
	}
	return nil
}

// Encode builds one frame of type typ about callID carrying data, which
// may be nil for a message without payload.
func Encode(typ Type, callID string, data any) ([]byte, error) {
	env := Envelope{V: Version, Type: typ, CallID: callID}
	if data != nil {
		raw, err := marshal(data)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", typ, err)
		}
		env.Data = raw
	}
	return env.Marshal()
}

// Marshal encodes e as one frame, its Data as it is. Unlike json.Marshal
// it leaves <, > and & alone: a frame is never HTML, and their six-byte
// escapes would make a relayed SDP that fits the frame limit outgrow it.
func (e Envelope) Marshal() ([]byte, error) {
	b, err := marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", e.Type, err)
	}
	return b, nil
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
