package cleantext

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

var (
	// ErrNUL is returned for text containing U+0000.
	ErrNUL = errors.New("text contains a NUL character")
	// ErrInvalid is returned for text that is not UTF-8.
	ErrInvalid = errors.New("text is not valid UTF-8")
	// ErrTooLong is returned for text over its maximum length.
	ErrTooLong = errors.New("text too long")
)

// Line cleans single-line text (a name): every control character goes.
func Line(s string, maxRunes int) (string, error) { return clean(s, maxRunes, false) }

// Text cleans multi-line text (a note): tabs and newlines stay.
func Text(s string, maxRunes int) (string, error) { return clean(s, maxRunes, true) }

// HasNUL reports whether s contains U+0000.
func HasNUL(s string) bool { return strings.IndexByte(s, 0) >= 0 }

func clean(s string, maxRunes int, multiline bool) (string, error) {
	if HasNUL(s) {
		return "", ErrNUL
	}
	if !utf8.ValidString(s) {
		return "", ErrInvalid
	}
	s = strings.Map(func(r rune) rune {
		if multiline && (r == '\n' || r == '\t') {
			return r
		}
		if r == '\r' && multiline {
			return -1
		}
		if unicode.IsControl(r) || invisible(r) {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(norm.NFC.String(s))
	if n := utf8.RuneCountInString(s); maxRunes > 0 && n > maxRunes {
		return "", fmt.Errorf("%w: %d characters, at most %d", ErrTooLong, n, maxRunes)
	}
	return s, nil
}

// invisible reports the bidi controls and zero-width characters.
func invisible(r rune) bool {
	switch {
	case r == 0x061C, r == 0x200E, r == 0x200F:
		return true
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
		return true
	case r >= 0x200B && r <= 0x200D, r == 0x2060, r == 0xFEFF:
		return true
	}
	return false
}
