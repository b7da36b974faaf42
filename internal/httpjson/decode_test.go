package httpjson_test

import (
	"errors"
	"strings"
	"testing"

	"guidecall/internal/httpjson"
)

func TestDecodeObject(t *testing.T) {
	type body struct {
		Name string `json:"name"`
	}
	cases := []struct {
		in  string
		err error // nil: decodes; errAny: some error
	}{
		{in: `{"name":"Ada"}`},
		{in: ` {"name":"a\\u0000"}`}, // an escaped backslash, then text
		{in: `null`, err: httpjson.ErrNotObject},
		{in: `[]`, err: httpjson.ErrNotObject},
		{in: `"x"`, err: httpjson.ErrNotObject},
		{in: ``, err: httpjson.ErrNotObject},
		{in: `{"name":"a\u0000"}`, err: httpjson.ErrNUL},
		{in: `{"name":"a\\\u0000"}`, err: httpjson.ErrNUL},
		{in: `{"name":"a"} {}`, err: errAny},
		{in: `{"name":"a","x":1}`, err: errAny},
	}
	for _, c := range cases {
		var b body
		err := httpjson.DecodeObject(strings.NewReader(c.in), &b, true)
		switch {
		case c.err == nil && err != nil:
			t.Errorf("%s: err = %v", c.in, err)
		case c.err == errAny && err == nil:
			t.Errorf("%s: no error", c.in)
		case c.err != nil && c.err != errAny && !errors.Is(err, c.err):
			t.Errorf("%s: err = %v, want %v", c.in, err, c.err)
		}
	}
}

var errAny = errors.New("any")

// FuzzDecodeObject: whatever a client sends, a body that decodes is one
// JSON object without a NUL in any string of it.
func FuzzDecodeObject(f *testing.F) {
	for _, s := range []string{`{"name":"Ada"}`, `null`, `[1]`, `{"a":"\u0000"}`, `{"a":"\\u0000"}`, ` {"a":{"b":["\u0000"]}}`, `{} x`, "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var v map[string]any
		if err := httpjson.DecodeObject(strings.NewReader(in), &v, false); err != nil {
			return
		}
		if v == nil {
			t.Fatalf("%q decoded to no object", in)
		}
		var walk func(any)
		walk = func(x any) {
			switch x := x.(type) {
			case string:
				if strings.IndexByte(x, 0) >= 0 {
					t.Fatalf("%q decoded a NUL", in)
				}
			case map[string]any:
				for k, e := range x {
					walk(k)
					walk(e)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			}
		}
		walk(v)
	})
}
