package auth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"guidecall/internal/auth"
	"guidecall/protocol"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-test")

// clock is a settable time source for an Issuer.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newIssuer(t testing.TB) (*auth.Issuer, *clock) {
	t.Helper()
	c := newClock()
	iss, err := auth.NewIssuer(testSecret, c.Now)
	if err != nil {
		t.Fatalf("NewIssuer: %v", err)
	}
	return iss, c
}

var guide = auth.Account{ID: "acc-1", Email: "g@example.com", Name: "G", Role: protocol.RoleGuide}

// goodClaims are claims the issuer would accept, for forging variants.
func goodClaims(now time.Time) auth.Claims {
	return auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    auth.TokenIssuer,
			Subject:   "acc-1",
			Audience:  jwt.ClaimStrings{auth.TokenAudience},
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        "jti",
		},
		Role: protocol.RoleAdmin,
		Kind: auth.KindAccess,
	}
}

func sign(t testing.TB, m jwt.SigningMethod, c auth.Claims, key any) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", m.Alg(), err)
	}
	return s
}

func TestNewIssuerShortSecret(t *testing.T) {
	if _, err := auth.NewIssuer(make([]byte, 31), nil); !errors.Is(err, auth.ErrShortSecret) {
		t.Fatalf("NewIssuer(31 bytes) err = %v, want ErrShortSecret", err)
	}
	if _, err := auth.NewIssuer(make([]byte, 32), nil); err != nil {
		t.Fatalf("NewIssuer(32 bytes) err = %v", err)
	}
}

func TestAccountTokenRoundTrip(t *testing.T) {
	iss, clk := newIssuer(t)
	for _, kind := range []string{auth.KindAccess, auth.KindRefresh} {
		tok, err := iss.IssueAccount(guide, kind, "fam", time.Minute)
		if err != nil {
			t.Fatalf("IssueAccount(%s): %v", kind, err)
		}
		c, err := iss.Verify(tok, kind)
		if err != nil {
			t.Fatalf("Verify(%s): %v", kind, err)
		}
		if c.Subject != guide.ID || c.Role != protocol.RoleGuide || c.Kind != kind || c.EntryID != "" {
			t.Errorf("claims = %+v", c)
		}
		if c.Issuer != auth.TokenIssuer || len(c.Audience) != 1 || c.Audience[0] != auth.TokenAudience {
			t.Errorf("issuer/audience = %q/%v", c.Issuer, c.Audience)
		}
		if c.ID == "" || !c.IssuedAt.Time.Equal(clk.Now()) || !c.ExpiresAt.Time.Equal(clk.Now().Add(time.Minute)) {
			t.Errorf("jti/iat/exp = %q/%v/%v", c.ID, c.IssuedAt, c.ExpiresAt)
		}
	}
	a, _ := iss.IssueAccount(guide, auth.KindAccess, "fam", time.Minute)
	b, _ := iss.IssueAccount(guide, auth.KindAccess, "fam", time.Minute)
	ca, _ := iss.Verify(a, auth.KindAccess)
	cb, _ := iss.Verify(b, auth.KindAccess)
	if ca.ID == cb.ID {
		t.Errorf("two tokens share jti %q", ca.ID)
	}
}

func TestIssueAccountRefusesBadInput(t *testing.T) {
	iss, _ := newIssuer(t)
	cases := map[string]struct {
		a    auth.Account
		kind string
		ttl  time.Duration
	}{
		"shopper role": {auth.Account{ID: "x", Role: protocol.RoleShopper}, auth.KindAccess, time.Minute},
		"empty role":   {auth.Account{ID: "x"}, auth.KindAccess, time.Minute},
		"empty id":     {auth.Account{Role: protocol.RoleGuide}, auth.KindAccess, time.Minute},
		"bad kind":     {guide, "session", time.Minute},
		"zero ttl":     {guide, auth.KindAccess, 0},
	}
	for name, c := range cases {
		if _, err := iss.IssueAccount(c.a, c.kind, "fam", c.ttl); err == nil {
			t.Errorf("%s: IssueAccount succeeded", name)
		}
	}
	if _, err := iss.IssueShopper("", time.Minute); err == nil {
		t.Error("IssueShopper with empty entry succeeded")
	}
}

func TestShopperTokenCarriesEntry(t *testing.T) {
	iss, _ := newIssuer(t)
	tok, err := iss.IssueShopper("entry-42", 5*time.Minute)
	if err != nil {
		t.Fatalf("IssueShopper: %v", err)
	}
	c, err := iss.Verify(tok, auth.KindAccess)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.Role != protocol.RoleShopper || c.EntryID != "entry-42" || c.Subject != "entry-42" || c.Kind != auth.KindAccess {
		t.Fatalf("claims = %+v", c)
	}
	if _, err := iss.Verify(tok, auth.KindRefresh); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("shopper token as refresh: err = %v", err)
	}
}

func TestVerifyRefusesForgedAndMisusedTokens(t *testing.T) {
	iss, clk := newIssuer(t)
	now := clk.Now()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	good := goodClaims(now)
	with := func(f func(*auth.Claims)) auth.Claims { c := goodClaims(now); f(&c); return c }

	noneTok := sign(t, jwt.SigningMethodNone, good, jwt.UnsafeAllowNoneSignatureType)
	refresh, _ := iss.IssueAccount(guide, auth.KindRefresh, "fam", time.Minute)
	valid := sign(t, jwt.SigningMethodHS256, good, testSecret)

	cases := map[string]string{
		"alg none":                 noneTok,
		"alg none, empty sig kept": strings.TrimSuffix(noneTok, "."),
		"alg none header, HS256 signature": func() string {
			parts := strings.Split(valid, ".")
			h := strings.Split(noneTok, ".")[0]
			return h + "." + parts[1] + "." + parts[2]
		}(),
		"other HS256 key":          sign(t, jwt.SigningMethodHS256, good, []byte("another-secret-another-secret-xx")),
		"HS512 same secret":        sign(t, jwt.SigningMethodHS512, good, testSecret),
		"HS384 same secret":        sign(t, jwt.SigningMethodHS384, good, testSecret),
		"RS256":                    sign(t, jwt.SigningMethodRS256, good, rsaKey),
		"wrong issuer":             sign(t, jwt.SigningMethodHS256, with(func(c *auth.Claims) { c.Issuer = "evil" }), testSecret),
		"wrong audience":           sign(t, jwt.SigningMethodHS256, with(func(c *auth.Claims) { c.Audience = jwt.ClaimStrings{"other"} }), testSecret),
		"no expiry":                sign(t, jwt.SigningMethodHS256, with(func(c *auth.Claims) { c.ExpiresAt = nil }), testSecret),
		"issued in future":         sign(t, jwt.SigningMethodHS256, with(func(c *auth.Claims) { c.IssuedAt = jwt.NewNumericDate(now.Add(time.Hour)) }), testSecret),
		"unknown role":             sign(t, jwt.SigningMethodHS256, with(func(c *auth.Claims) { c.Role = "root" }), testSecret),
		"no subject":               sign(t, jwt.SigningMethodHS256, with(func(c *auth.Claims) { c.Subject = "" }), testSecret),
		"shopper without entry":    sign(t, jwt.SigningMethodHS256, with(func(c *auth.Claims) { c.Role = protocol.RoleShopper }), testSecret),
		"shopper entry != subject": sign(t, jwt.SigningMethodHS256, with(func(c *auth.Claims) { c.Role, c.Subject, c.EntryID = protocol.RoleShopper, "e1", "e2" }), testSecret),
		"guide with entry scope":   sign(t, jwt.SigningMethodHS256, with(func(c *auth.Claims) { c.Role, c.EntryID = protocol.RoleGuide, "e1" }), testSecret),
		"refresh used as access":   refresh,
		"tampered payload": func() string {
			parts := strings.Split(valid, ".")
			admin := strings.Split(sign(t, jwt.SigningMethodHS256, with(func(c *auth.Claims) { c.Subject = "acc-2" }), testSecret), ".")[1]
			return parts[0] + "." + admin + "." + parts[2]
		}(),
		"empty":     "",
		"garbage":   "not.a.token",
		"too long":  valid + strings.Repeat("A", 5000),
		"two parts": strings.Join(strings.Split(valid, ".")[:2], "."),
	}
	if _, err := iss.Verify(valid, auth.KindAccess); err != nil {
		t.Fatalf("control token refused: %v", err)
	}
	for name, tok := range cases {
		c, err := iss.Verify(tok, auth.KindAccess)
		if !errors.Is(err, auth.ErrInvalidToken) {
			t.Errorf("%s: Verify = %+v, %v; want ErrInvalidToken", name, c, err)
		}
		if errors.Is(err, auth.ErrExpiredToken) {
			t.Errorf("%s: reported as expired: %v", name, err)
		}
	}
}

func TestAccessTokenRefusedAsRefresh(t *testing.T) {
	iss, _ := newIssuer(t)
	access, _ := iss.IssueAccount(guide, auth.KindAccess, "fam", time.Minute)
	if _, err := iss.Verify(access, auth.KindRefresh); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("access token as refresh: err = %v", err)
	}
}

func TestExpiry(t *testing.T) {
	iss, clk := newIssuer(t)
	tok, _ := iss.IssueAccount(guide, auth.KindAccess, "fam", time.Minute)

	clk.Advance(time.Minute + auth.ClockLeeway/2)
	if _, err := iss.Verify(tok, auth.KindAccess); err != nil {
		t.Fatalf("within leeway: %v", err)
	}
	clk.Advance(auth.ClockLeeway)
	_, err := iss.Verify(tok, auth.KindAccess)
	if !errors.Is(err, auth.ErrExpiredToken) || !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("expired: err = %v, want ErrExpiredToken wrapping ErrInvalidToken", err)
	}
}

func TestStrictDecodingRejectsAlternateSpelling(t *testing.T) {
	iss, _ := newIssuer(t)
	tok, _ := iss.IssueAccount(guide, auth.KindAccess, "fam", time.Minute)
	// The last character of a 43-char base64 signature carries two unused
	// bits; flipping them gives the same bytes in lax decoding.
	last := tok[len(tok)-1]
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	idx := strings.IndexByte(alphabet, last)
	alt := tok[:len(tok)-1] + string(alphabet[idx^1])
	if _, err := iss.Verify(alt, auth.KindAccess); err == nil {
		t.Fatal("alternate base64 spelling of the signature verified")
	}
}

func FuzzVerify(f *testing.F) {
	iss, clk := newIssuer(f)
	// Each fuzz worker process runs this setup again, so the accepted
	// tokens must be deterministic: fixed claims and jti, not Issue*.
	valid := sign(f, jwt.SigningMethodHS256, goodClaims(clk.Now()), testSecret)
	shopperClaims := goodClaims(clk.Now())
	shopperClaims.Role, shopperClaims.Subject, shopperClaims.EntryID = protocol.RoleShopper, "entry-1", "entry-1"
	shopper := sign(f, jwt.SigningMethodHS256, shopperClaims, testSecret)
	for _, s := range []string{
		"", ".", "..", "a.b.c", valid[:len(valid)-1], valid + "=", strings.ToUpper(valid),
		sign(f, jwt.SigningMethodNone, goodClaims(clk.Now()), jwt.UnsafeAllowNoneSignatureType),
		sign(f, jwt.SigningMethodHS512, goodClaims(clk.Now()), testSecret),
		"eyJhbGciOiJIUzI1NiJ9.e30.",
		valid, shopper,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := iss.Verify(s, auth.KindAccess)
		if err == nil {
			// Only the two genuine tokens may verify, byte for byte.
			if s != valid && s != shopper {
				t.Fatalf("forged token verified: %q -> %+v", s, c)
			}
			return
		}
		if c != nil || !errors.Is(err, auth.ErrInvalidToken) {
			t.Fatalf("Verify(%q) = %+v, %v", s, c, err)
		}
	})
}
