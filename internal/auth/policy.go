package auth

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

//go:embed common_passwords.txt
var commonPasswordsText string

var commonPasswords = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(commonPasswordsText, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			m[line] = true
		}
	}
	return m
})

// ValidatePassword is the policy for a new password of the account email:
// at least MinPasswordLength characters, at most MaxPasswordLength bytes,
// not on the embedded list of common passwords, and neither the email nor
// its local part (compared ignoring case and surrounding spaces).
func ValidatePassword(password, email string) error {
	if utf8.RuneCountInString(password) < MinPasswordLength {
		return fmt.Errorf("%w: need at least %d characters", ErrWeakPassword, MinPasswordLength)
	}
	if len(password) > MaxPasswordLength {
		return fmt.Errorf("%w: at most %d bytes", ErrPasswordTooLong, MaxPasswordLength)
	}
	p := strings.ToLower(strings.TrimSpace(password))
	if commonPasswords()[p] {
		return fmt.Errorf("%w: it is one of the most common passwords", ErrCommonPassword)
	}
	email = NormalizeEmail(email)
	local, _, _ := strings.Cut(email, "@")
	if email != "" && (p == email || p == local) {
		return fmt.Errorf("%w: it is the account's email", ErrCommonPassword)
	}
	return nil
}
