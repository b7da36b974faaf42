// Package httpjson writes guidecall's JSON answers: one content type, no
// caching (bodies carry tokens, links and personal data), and one error
// shape for every API: {"error":{"code":…,"message":…}}. It owns nothing
// else; each resource decides its own statuses and codes.
package httpjson

import (
	"encoding/json"
	"net/http"
)

// ErrorBody is the one error shape of the API.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Write sends v as JSON with status.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	// Bodies carry tokens, payment links or personal data; keep them out
	// of caches (RFC 6749 section 5.1 asks the same for tokens).
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Error sends the error shape with status, a machine-readable code and a
// message for people.
func Error(w http.ResponseWriter, status int, code, message string) {
	var b ErrorBody
	b.Error.Code, b.Error.Message = code, message
	Write(w, status, b)
}
