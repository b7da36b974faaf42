package httpjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

var (
	// ErrNotObject is returned for a body that is not one JSON object:
	// null, an array, a string, a number, or nothing.
	ErrNotObject = errors.New("body must be a JSON object")
	// ErrNUL is returned for a body with a U+0000 anywhere (as \u0000):
	// no field of any API takes one, and PostgreSQL text cannot hold it.
	ErrNUL = errors.New("body contains a NUL character")
	// ErrNotUTF8 is returned for a body that is not UTF-8 (RFC 8259).
	ErrNotUTF8 = errors.New("body is not UTF-8")
)

// DecodeObject reads exactly one JSON object from r into v, refusing
// anything else before or after it, a NUL anywhere, bytes that are not
// UTF-8, and, when strict,
// unknown fields. r should be bounded (http.MaxBytesReader); its errors
// are returned as they are, so a *http.MaxBytesError can be told apart.
func DecodeObject(r io.Reader, v any, strict bool) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return ErrNotObject
	}
	if hasEscapedNUL(trimmed) {
		return ErrNUL
	}
	if !utf8.Valid(trimmed) {
		// encoding/json would silently turn the bad bytes into U+FFFD.
		return ErrNotUTF8
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON object")
	}
	return nil
}

// HasNUL reports whether JSON text b holds a U+0000 in a string (written
// \u0000; a raw NUL byte is not valid JSON and fails decoding anyway).
func HasNUL(b []byte) bool { return hasEscapedNUL(b) }

// hasEscapedNUL finds \u0000 outside an escaped backslash.
func hasEscapedNUL(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			continue
		}
		if b[i+1] == 'u' && i+5 < len(b) && string(b[i+2:i+6]) == "0000" {
			return true
		}
		i++ // skip the escaped character, so `\\u0000` is text, not a NUL
	}
	return false
}
