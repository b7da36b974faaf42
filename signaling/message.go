package signaling

import (
	"encoding/json"
	"errors"

	"guidecall/internal/httpjson"
	"guidecall/protocol"
)

// ParseMessage decodes and checks one client frame. The error is a
// *protocol.Error with the code the client should see.
func ParseMessage(b []byte) (protocol.Envelope, error) {
	var m protocol.Envelope
	if err := json.Unmarshal(b, &m); err != nil {
		return protocol.Envelope{}, protocol.Errorf(protocol.CodeBadMessage, "not a JSON message: %v", err)
	}
	if m.V != protocol.Version {
		return m, protocol.Errorf(protocol.CodeUnsupportedVersion, "protocol version %d is not supported; use %d", m.V, protocol.Version)
	}
	if m.Type == "" {
		return m, protocol.Errorf(protocol.CodeBadMessage, "message has no type")
	}
	if len(m.Data) > 0 && m.Data[0] != '{' {
		return m, protocol.Errorf(protocol.CodeBadMessage, "data must be a JSON object")
	}
	if httpjson.HasNUL(b) {
		// Nothing of the protocol takes a NUL, and the other party would
		// be shown or stored whatever it is relayed.
		return m, protocol.Errorf(protocol.CodeBadMessage, "message contains a NUL character")
	}
	m.From = "" // only the server says who a message is from
	if m.Type.NeedsCall() && m.CallID == "" {
		return m, protocol.Errorf(protocol.CodeBadMessage, "%s needs call_id", m.Type)
	}
	return m, nil
}

// asError maps any error to what the client is told; errors that are not
// protocol errors become internal without leaking their text.
func asError(err error) *protocol.Error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe
	}
	return &protocol.Error{Code: protocol.CodeInternal, Message: "internal error"}
}
