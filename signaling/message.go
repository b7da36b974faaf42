package signaling

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Version is the protocol version this server speaks.
const Version = 1

// Message is one frame of the protocol: an envelope around a typed payload.
type Message struct {
	V      int    `json:"v"`
	Type   string `json:"type"`
	CallID string `json:"call_id,omitempty"`
	// From is set by the server on relayed messages: "shopper" or "guide".
	From string          `json:"from,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
}

// Message types clients send.
const (
	TypeAuth          = "auth"
	TypePresence      = "presence"
	TypeOfferAccept   = "offer.accept"
	TypeOfferDecline  = "offer.decline"
	TypeQueueCancel   = "queue.cancel"
	TypeSDP           = "sdp"
	TypeICE           = "ice"
	TypeICERestart    = "ice.restart"
	TypeCallConnected = "call.connected"
	TypeCallEnd       = "call.end"
)

// Message types the server sends.
const (
	TypeWelcome       = "welcome"
	TypeError         = "error"
	TypeQueuePosition = "queue.position"
	TypeQueueRequeued = "queue.requeued"
	TypeQueueLeft     = "queue.left"
	TypeOffer         = "offer"
	TypeOfferRevoked  = "offer.revoked"
	TypeCallMatched   = "call.matched"
	TypeCallState     = "call.state"
	TypeCallPeer      = "call.peer"
	TypeCallEnded     = "call.ended"
	TypePaymentLink   = "payment.link"
)

// relayed are the types passed through to the other party as they are.
var relayed = map[string]bool{TypeSDP: true, TypeICE: true, TypeICERestart: true}

// clientTypes are the types each role may send after auth.
var clientTypes = map[Role]map[string]bool{
	RoleShopper: {TypeQueueCancel: true, TypeSDP: true, TypeICE: true, TypeICERestart: true, TypeCallConnected: true, TypeCallEnd: true},
	RoleGuide: {TypePresence: true, TypeOfferAccept: true, TypeOfferDecline: true, TypeSDP: true, TypeICE: true,
		TypeICERestart: true, TypeCallConnected: true, TypeCallEnd: true},
}

// needsCall are the types that must name the sender's call.
var needsCall = map[string]bool{TypeSDP: true, TypeICE: true, TypeICERestart: true, TypeCallConnected: true, TypeCallEnd: true}

// ParseMessage decodes and checks one client frame. The error is an
// *Error with the code the client should see.
func ParseMessage(b []byte) (Message, error) {
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		return Message{}, Errorf(CodeBadMessage, "not a JSON message: %v", err)
	}
	if m.V != Version {
		return m, Errorf(CodeUnsupportedVersion, "protocol version %d is not supported; use %d", m.V, Version)
	}
	if m.Type == "" {
		return m, Errorf(CodeBadMessage, "message has no type")
	}
	if len(m.Data) > 0 && m.Data[0] != '{' {
		return m, Errorf(CodeBadMessage, "data must be a JSON object")
	}
	m.From = "" // only the server says who a message is from
	if needsCall[m.Type] && m.CallID == "" {
		return m, Errorf(CodeBadMessage, "%s needs call_id", m.Type)
	}
	return m, nil
}

// Decode unmarshals m.Data into v, reporting a bad_message error.
func (m Message) Decode(v any) error {
	if len(m.Data) == 0 {
		return nil
	}
	if err := json.Unmarshal(m.Data, v); err != nil {
		return Errorf(CodeBadMessage, "%s: bad data: %v", m.Type, err)
	}
	return nil
}

// encode builds a server frame.
func encode(typ, callID string, data any) ([]byte, error) {
	m := struct {
		V      int    `json:"v"`
		Type   string `json:"type"`
		CallID string `json:"call_id,omitempty"`
		Data   any    `json:"data,omitempty"`
	}{Version, typ, callID, data}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", typ, err)
	}
	return b, nil
}

// Error codes of the protocol's error message.
const (
	CodeBadMessage         = "bad_message"
	CodeUnsupportedVersion = "unsupported_version"
	CodeUnknownType        = "unknown_type"
	CodeTooLarge           = "too_large"
	CodeUnauthorized       = "unauthorized"
	CodeNotInCall          = "not_in_call"
	CodeBadState           = "bad_state"
	CodeRateLimited        = "rate_limited"
	CodeUnavailable        = "unavailable"
	CodeInternal           = "internal"
)

// Error is a protocol error: the code and message a client receives.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Ref     string `json:"ref,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds a protocol error.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// asError maps any error to what the client is told; errors that are not
// protocol errors become internal without leaking their text.
func asError(err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	return &Error{Code: CodeInternal, Message: "internal error"}
}
