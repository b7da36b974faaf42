package auth

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// CustomerAudience is the audience a merchant writes into a customer token
// (window.guidecall.identify), so a token the shop signs for another
// service with the same secret is not taken as one.
const CustomerAudience = "guidecall-customer"

// maxCustomerTokenTTL bounds how far ahead a merchant may set exp: a
// customer token is minted for one page view, not kept.
const maxCustomerTokenTTL = 24 * time.Hour

// ErrCustomerToken means a customer token was not signed with the
// merchant's secret, is expired, or lacks what it must carry.
var ErrCustomerToken = errors.New("auth: invalid customer token")

// Customer is a shopper the merchant's own site has signed in, as its
// backend vouched for it.
type Customer struct {
	ID   string
	Name string
}

// CustomerVerifier checks customer tokens: HS256 JWTs the merchant's
// backend signs with the secret it shares with guidecall
// (--customer-token-secret), with sub (the customer id), aud
// "guidecall-customer", exp, and optionally name.
type CustomerVerifier struct {
	secret []byte
	now    func() time.Time
	parser *jwt.Parser
}

type customerClaims struct {
	jwt.RegisteredClaims
	Name string `json:"name,omitempty"`
}

// NewCustomerVerifier returns a verifier for secret (at least
// MinSecretLength bytes); now is the clock, nil for time.Now.
func NewCustomerVerifier(secret []byte, now func() time.Time) (*CustomerVerifier, error) {
	if len(secret) < MinSecretLength {
		return nil, fmt.Errorf("%w: customer token secret of %d bytes, need at least %d", ErrShortSecret, len(secret), MinSecretLength)
	}
	if now == nil {
		now = time.Now
	}
	return &CustomerVerifier{
		secret: append([]byte(nil), secret...),
		now:    now,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithAudience(CustomerAudience),
			jwt.WithExpirationRequired(),
			jwt.WithLeeway(ClockLeeway),
			jwt.WithTimeFunc(now),
		),
	}, nil
}

// Verify returns the customer a token names.
func (v *CustomerVerifier) Verify(token string) (Customer, error) {
	if len(token) > maxTokenLength {
		return Customer{}, fmt.Errorf("%w: longer than %d bytes", ErrCustomerToken, maxTokenLength)
	}
	var c customerClaims
	if _, err := v.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return v.secret, nil }); err != nil {
		return Customer{}, fmt.Errorf("%w: %w", ErrCustomerToken, err)
	}
	switch {
	case c.Subject == "" || len(c.Subject) > 200:
		return Customer{}, fmt.Errorf("%w: sub must name the customer (1-200 bytes)", ErrCustomerToken)
	case utf8.RuneCountInString(c.Name) > 80:
		return Customer{}, fmt.Errorf("%w: name longer than 80 characters", ErrCustomerToken)
	case c.ExpiresAt.Sub(v.now()) > maxCustomerTokenTTL:
		return Customer{}, fmt.Errorf("%w: valid for more than %v", ErrCustomerToken, maxCustomerTokenTTL)
	}
	return Customer{ID: c.Subject, Name: c.Name}, nil
}
