package protocol

import "fmt"

// Code is the machine-readable part of an error message.
type Code string

// Error codes of the error message.
const (
	CodeBadMessage         Code = "bad_message"
	CodeUnsupportedVersion Code = "unsupported_version"
	CodeUnknownType        Code = "unknown_type"
	CodeTooLarge           Code = "too_large"
	CodeUnauthorized       Code = "unauthorized"
	CodeNotInCall          Code = "not_in_call"
	CodeBadState           Code = "bad_state"
	CodeRateLimited        Code = "rate_limited"
	CodeUnavailable        Code = "unavailable"
	CodeInternal           Code = "internal"
)

// Error is the payload of an error message, and a Go error: a handler
// returns one to choose what the client is told.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	// Ref names the message the error answers, when the client gave one.
	Ref string `json:"ref,omitempty"`
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Errorf builds an error message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}
