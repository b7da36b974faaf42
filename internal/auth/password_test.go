package auth_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"guidecall/internal/auth"
)

func TestHashAndCheckPassword(t *testing.T) {
	h, err := auth.HashPassword("correct horse")
	if err != nil {
		t.Fatalf("HashPassword: %v", err)
	}
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$`)
	if !phc.MatchString(h) {
		t.Fatalf("hash %q is not a PHC argon2id string", h)
	}
	if ok, err := auth.CheckPassword(h, "correct horse"); !ok || err != nil {
		t.Fatalf("CheckPassword(right) = %v, %v", ok, err)
	}
	for _, wrong := range []string{"correct hors", "Correct horse", "", strings.Repeat("x", auth.MaxPasswordLength+1)} {
		if ok, err := auth.CheckPassword(h, wrong); ok || err != nil {
			t.Errorf("CheckPassword(%.20q) = %v, %v; want false, nil", wrong, ok, err)
		}
	}
	h2, _ := auth.HashPassword("correct horse")
	if h == h2 {
		t.Error("two hashes of one password are equal: salt not random")
	}
}

func TestHashPasswordParams(t *testing.T) {
	h, err := auth.OWASPPasswordParams.Hash("long enough")
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("OWASP hash = %q", h)
	}
	p, err := auth.PasswordParamsOf(h)
	if err != nil || p != auth.OWASPPasswordParams {
		t.Fatalf("PasswordParamsOf = %+v, %v", p, err)
	}
	// Hashes made with other parameters still verify: they are read back
	// from the string.
	if ok, err := auth.CheckPassword(h, "long enough"); !ok || err != nil {
		t.Fatalf("CheckPassword = %v, %v", ok, err)
	}
	if _, err := (auth.PasswordParams{Memory: 1 << 30, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}).Hash("long enough"); err == nil {
		t.Error("absurd memory parameter accepted")
	}
}

func TestHashPasswordLength(t *testing.T) {
	for _, pw := range []string{"", "short", "1234567", "ééééééé"} {
		if _, err := auth.HashPassword(pw); !errors.Is(err, auth.ErrWeakPassword) {
			t.Errorf("HashPassword(%q) err = %v, want ErrWeakPassword", pw, err)
		}
	}
	// Eight characters, counted as runes, is enough.
	for _, pw := range []string{"12345678", "éééééééé"} {
		if _, err := auth.HashPassword(pw); err != nil {
			t.Errorf("HashPassword(%q) err = %v", pw, err)
		}
	}
	if _, err := auth.HashPassword(strings.Repeat("x", auth.MaxPasswordLength+1)); !errors.Is(err, auth.ErrPasswordTooLong) {
		t.Errorf("long password err = %v, want ErrPasswordTooLong", err)
	}
}

func TestCheckPasswordMalformed(t *testing.T) {
	good, _ := auth.HashPassword("password1")
	parts := strings.Split(good, "$")
	join := func(p ...string) string { return strings.Join(p, "$") }
	for name, h := range map[string]string{
		"empty":          "",
		"bcrypt":         "$2a$10$abcdefghijklmnopqrstuu5Jq0nKfQ0cY8E3m5cRr0wZq1g5t4b2S",
		"argon2i":        join("", "argon2i", parts[2], parts[3], parts[4], parts[5]),
		"old version":    join("", "argon2id", "v=16", parts[3], parts[4], parts[5]),
		"bad params":     join("", "argon2id", parts[2], "m=abc", parts[4], parts[5]),
		"huge memory":    join("", "argon2id", parts[2], "m=4294967295,t=1,p=1", parts[4], parts[5]),
		"zero threads":   join("", "argon2id", parts[2], "m=64,t=1,p=0", parts[4], parts[5]),
		"huge time":      join("", "argon2id", parts[2], "m=64,t=100000,p=1", parts[4], parts[5]),
		"bad salt":       join("", "argon2id", parts[2], parts[3], "!!!", parts[5]),
		"short key":      join("", "argon2id", parts[2], parts[3], parts[4], "AAAA"),
		"extra field":    good + "$x",
		"padded base64":  join("", "argon2id", parts[2], parts[3], parts[4]+"==", parts[5]),
		"trailing param": join("", "argon2id", parts[2], parts[3]+",x=1", parts[4], parts[5]),
	} {
		ok, err := auth.CheckPassword(h, "password1")
		if ok || !errors.Is(err, auth.ErrMalformedHash) {
			t.Errorf("%s: CheckPassword = %v, %v; want false, ErrMalformedHash", name, ok, err)
		}
	}
}
