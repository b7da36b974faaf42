package cleantext_test

import (
	"errors"
	"testing"
	"unicode/utf8"

	"guidecall/internal/cleantext"
)

func TestLine(t *testing.T) {
	cases := []struct {
		in, want string
		err      error
	}{
		{in: "  Ada  ", want: "Ada"},
		{in: "Zoe\u0301", want: "Zoé"}, // NFD to NFC
		{in: "Bob\u202Egnp.exe", want: "Bobgnp.exe"},
		{in: "Ev\u200Be", want: "Eve"},
		{in: "A\u2066B\u2069\u200F", want: "AB"},
		{in: "line\nbreak\ttab\x07bell\u0085", want: "linebreaktabbell"},
		{in: "\uFEFFbom", want: "bom"},
		{in: "nul\x00", err: cleantext.ErrNUL},
		{in: "bad\xff", err: cleantext.ErrInvalid},
		{in: "ééééé", want: "ééééé"},
		{in: "éééééé", err: cleantext.ErrTooLong},
	}
	for _, c := range cases {
		got, err := cleantext.Line(c.in, 5)
		if c.err != cleantext.ErrTooLong && len(c.want) > 5 {
			got, err = cleantext.Line(c.in, 100)
		}
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("Line(%q) err = %v, want %v", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Line(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestTextKeepsLines(t *testing.T) {
	got, err := cleantext.Text("one\r\ntwo\tthree\u202E", 100)
	if err != nil || got != "one\ntwo\tthree" {
		t.Errorf("Text = %q, %v", got, err)
	}
}

func FuzzLine(f *testing.F) {
	for _, s := range []string{"Ada", "Zoe\u0301", "a\u202Eb", "\x00", "\xff", "e\u200Dx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := cleantext.Line(s, 0)
		if err != nil {
			return
		}
		if !utf8.ValidString(got) || cleantext.HasNUL(got) {
			t.Fatalf("Line(%q) = %q: not clean", s, got)
		}
		for _, r := range got {
			if r < 0x20 || (r >= 0x7f && r < 0xa0) || r == 0x202E || r == 0x200B {
				t.Fatalf("Line(%q) = %q keeps %U", s, got, r)
			}
		}
		again, err := cleantext.Line(got, 0)
		if err != nil || again != got {
			t.Fatalf("Line is not idempotent on %q: %q, %v", got, again, err)
		}
	})
}
