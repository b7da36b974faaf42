package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

const (
	// MinPasswordLength is counted in characters (runes), not bytes.
	MinPasswordLength = 8
	// MaxPasswordLength is counted in bytes; it keeps a login request from
	// making us hash megabytes.
	MaxPasswordLength = 1024
)

// PasswordParams are argon2id cost parameters.
type PasswordParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// OWASPPasswordParams is the OWASP Password Storage Cheat Sheet's argon2id
// setting: m=19 MiB, t=2, p=1.
var OWASPPasswordParams = PasswordParams{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// TestPasswordParams are cheap and only fit for tests.
var TestPasswordParams = PasswordParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// DefaultPasswordParams is what HashPassword uses. Tests of other packages
// may set it to TestPasswordParams in TestMain, before any test runs.
var DefaultPasswordParams = OWASPPasswordParams

// Limits on parameters read back from a stored hash, so that a corrupt or
// hostile row cannot make a check allocate gigabytes or spin for minutes.
const (
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 64
	maxKeyLen    = 128
	maxSaltLen   = 64
)

var b64 = base64.RawStdEncoding

// HashPassword hashes password with DefaultPasswordParams.
func HashPassword(password string) (string, error) {
	return DefaultPasswordParams.Hash(password)
}

// Hash returns the argon2id PHC string of password under p:
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<threads>$<salt>$<hash>.
func (p PasswordParams) Hash(password string) (string, error) {
	if utf8.RuneCountInString(password) < MinPasswordLength {
		return "", fmt.Errorf("%w: need at least %d characters", ErrWeakPassword, MinPasswordLength)
	}
	if len(password) > MaxPasswordLength {
		return "", fmt.Errorf("%w: at most %d bytes", ErrPasswordTooLong, MaxPasswordLength)
	}
	if p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemoryKiB || p.Time < 1 || p.Time > maxTime ||
		p.Threads < 1 || p.SaltLen < 8 || p.SaltLen > maxSaltLen || p.KeyLen < 16 || p.KeyLen > maxKeyLen {
		return "", fmt.Errorf("auth: bad password params %+v", p)
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: password salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches hash, comparing in
// constant time. It returns an error wrapping ErrMalformedHash only when
// hash cannot be read; a wrong password is (false, nil).
func CheckPassword(hash, password string) (bool, error) {
	p, salt, key, err := parsePHC(hash)
	if err != nil {
		return false, err
	}
	if len(password) > MaxPasswordLength {
		return false, nil
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// PasswordParamsOf returns the parameters a hash was made with, so that a
// caller can tell whether it should be rehashed with stronger ones.
func PasswordParamsOf(hash string) (PasswordParams, error) {
	p, _, _, err := parsePHC(hash)
	return p, err
}

func parsePHC(hash string) (PasswordParams, []byte, []byte, error) {
	var p PasswordParams
	bad := func(why string) (PasswordParams, []byte, []byte, error) {
		return PasswordParams{}, nil, nil, fmt.Errorf("%w: %s", ErrMalformedHash, why)
	}
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" {
		return bad("not a PHC string")
	}
	if parts[1] != "argon2id" {
		return bad("algorithm is not argon2id")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || parts[2] != fmt.Sprintf("v=%d", v) {
		return bad("bad version field")
	}
	if v != argon2.Version {
		return bad("unsupported argon2 version")
	}
	var threads uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &threads); err != nil ||
		parts[3] != fmt.Sprintf("m=%d,t=%d,p=%d", p.Memory, p.Time, threads) {
		return bad("bad parameter field")
	}
	if threads < 1 || threads > 255 || p.Time < 1 || p.Time > maxTime || p.Memory < 8*threads || p.Memory > maxMemoryKiB {
		return bad("parameters out of range")
	}
	p.Threads = uint8(threads)
	salt, err := b64.Strict().DecodeString(parts[4])
	if err != nil || len(salt) < 8 || len(salt) > maxSaltLen {
		return bad("bad salt")
	}
	key, err := b64.Strict().DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > maxKeyLen {
		return bad("bad key")
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}
