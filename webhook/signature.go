package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultTolerance is how far a signed timestamp may be from now, in either
// direction, before Verify refuses it as a replay.
const DefaultTolerance = 5 * time.Minute

// maxHeaderLen bounds the work a forged header can make Verify do.
const maxHeaderLen = 4096

// Sign returns the signature header value for body signed at t:
// "t=<unix>,v1=<hex HMAC-SHA256(secret, "<unix>.<body>")>". The scheme is
// the one Stripe uses, so a merchant's existing verification code carries
// over.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks header (a value made by Sign) against body: one of its v1
// signatures must match and its timestamp must be within tolerance of now.
// Every failure wraps ErrBadSignature.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, sigs, err := parseHeader(header)
	if err != nil {
		return err
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp %d outside tolerance", ErrBadSignature, ts)
	}
	want := mac(secret, strconv.FormatInt(ts, 10), body)
	ok := false
	for _, s := range sigs {
		// Every candidate is compared, so timing does not tell which matched.
		if hmac.Equal(s, want) {
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("%w: no matching v1 signature", ErrBadSignature)
	}
	return nil
}

// parseHeader splits "t=<unix>,v1=<hex>[,v1=<hex>...]". Unknown keys
// (future schemes such as v2) are ignored; exactly one t and at least one
// well-formed v1 are required. Several v1 values allow secret rotation.
func parseHeader(h string) (ts int64, sigs [][]byte, err error) {
	if h == "" {
		return 0, nil, fmt.Errorf("%w: missing signature header", ErrBadSignature)
	}
	if len(h) > maxHeaderLen {
		return 0, nil, fmt.Errorf("%w: header too long", ErrBadSignature)
	}
	seenT := false
	for part := range strings.SplitSeq(h, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return 0, nil, fmt.Errorf("%w: malformed element %q", ErrBadSignature, part)
		}
		switch k {
		case "t":
			if seenT {
				return 0, nil, fmt.Errorf("%w: more than one timestamp", ErrBadSignature)
			}
			seenT = true
			n, perr := strconv.ParseInt(v, 10, 64)
			if perr != nil || n <= 0 || strings.HasPrefix(v, "+") {
				return 0, nil, fmt.Errorf("%w: bad timestamp %q", ErrBadSignature, v)
			}
			ts = n
		case "v1":
			b, derr := hex.DecodeString(v)
			if derr != nil || len(b) != sha256.Size {
				return 0, nil, fmt.Errorf("%w: bad v1 signature", ErrBadSignature)
			}
			sigs = append(sigs, b)
		}
	}
	if !seenT {
		return 0, nil, fmt.Errorf("%w: no timestamp", ErrBadSignature)
	}
	if len(sigs) == 0 {
		return 0, nil, fmt.Errorf("%w: no v1 signature", ErrBadSignature)
	}
	return ts, sigs, nil
}
