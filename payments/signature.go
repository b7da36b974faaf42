package payments

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SandboxSignatureHeader carries the sandbox webhook signature.
const SandboxSignatureHeader = "Guidecall-Sandbox-Signature"

// SignatureTolerance is how far a webhook's signed timestamp may be from
// now, in either direction, before it is refused as a replay.
const SignatureTolerance = 5 * time.Minute

// maxSignatureHeaderLen bounds the work an attacker can make us do.
const maxSignatureHeaderLen = 4096

// SignSandbox returns the signature header value for body signed at t:
// "t=<unix>,v1=<hex HMAC-SHA256(secret, "<unix>.<body>")>". The scheme is the
// one Stripe uses, so merchants' existing verification code carries over.
func SignSandbox(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(sandboxMAC(secret, ts, body))
}

func sandboxMAC(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifySandboxSignature checks header (the value of SandboxSignatureHeader)
// against body: one of its v1 signatures must match and its timestamp must be
// within tolerance of now. Every failure wraps ErrBadSignature.
func VerifySandboxSignature(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, sigs, err := parseSignatureHeader(header)
	if err != nil {
		return err
	}
	signed := time.Unix(ts, 0)
	if d := now.Sub(signed); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp %d outside tolerance", ErrBadSignature, ts)
	}
	want := sandboxMAC(secret, strconv.FormatInt(ts, 10), body)
	ok := false
	for _, s := range sigs {
		// Check every candidate so that timing does not tell which matched.
		if hmac.Equal(s, want) {
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("%w: no matching v1 signature", ErrBadSignature)
	}
	return nil
}

// parseSignatureHeader splits "t=<unix>,v1=<hex>[,v1=<hex>...]". Unknown
// keys (future schemes such as v2) are ignored; exactly one t and at least
// one well-formed v1 are required. Several v1 values allow secret rotation.
func parseSignatureHeader(h string) (ts int64, sigs [][]byte, err error) {
	if h == "" {
		return 0, nil, fmt.Errorf("%w: missing %s header", ErrBadSignature, SandboxSignatureHeader)
	}
	if len(h) > maxSignatureHeaderLen {
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
