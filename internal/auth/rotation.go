package auth

import (
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// AcceptPrevious makes the Issuer also accept tokens signed with the
// secret it replaces, while signing only with the new one: rotating the
// secret then logs nobody out. Run every node with the new secret and the
// old as previous until the longest-lived token signed with the old one
// has expired (the refresh token's lifetime), then drop the previous.
// Call it before the Issuer is used.
func (i *Issuer) AcceptPrevious(secret []byte) error {
	if len(secret) < MinSecretLength {
		return fmt.Errorf("%w: previous secret of %d bytes, need at least %d", ErrShortSecret, len(secret), MinSecretLength)
	}
	i.previous = append([]byte(nil), secret...)
	return nil
}

// verificationKeys are the keys a signature may verify with: the current
// secret, then the previous one.
func (i *Issuer) verificationKeys() any {
	if i.previous == nil {
		return i.secret
	}
	return jwt.VerificationKeySet{Keys: []jwt.VerificationKey{i.secret, i.previous}}
}
