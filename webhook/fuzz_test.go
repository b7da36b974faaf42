package webhook

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func FuzzParseHeader(f *testing.F) {
	secret := []byte("s")
	now := time.Unix(1_700_000_000, 0)
	f.Add(Sign(secret, now, []byte("{}")))
	f.Add("t=1,v1=00")
	f.Add("t=1700000000,v1=" + string(bytes.Repeat([]byte("ab"), 32)) + ",v0=x")
	f.Add("")
	f.Add(",,,=")
	f.Fuzz(func(t *testing.T, h string) {
		ts, sigs, err := parseHeader(h)
		if err != nil {
			if !errors.Is(err, ErrBadSignature) {
				t.Fatalf("error %v does not wrap ErrBadSignature", err)
			}
			return
		}
		if ts <= 0 || len(sigs) == 0 {
			t.Fatalf("accepted %q with ts=%d sigs=%d", h, ts, len(sigs))
		}
		for _, s := range sigs {
			if len(s) != 32 {
				t.Fatalf("signature of %d bytes accepted", len(s))
			}
		}
		// Whatever parses, only a header carrying the real MAC verifies.
		real := Sign(secret, time.Unix(ts, 0), []byte("{}"))
		mac := real[strings.Index(real, "v1=")+3:]
		if err := Verify(secret, h, []byte("{}"), time.Unix(ts, 0), DefaultTolerance); err == nil && !strings.Contains(strings.ToLower(h), mac) {
			t.Fatalf("forged header %q verified", h)
		}
	})
}
