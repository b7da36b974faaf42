package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"guidecall/protocol"
)

const (
	// MinSecretLength is the shortest HS256 signing secret accepted: 256
	// bits, the size of the HMAC-SHA256 output (RFC 7518 section 3.2).
	MinSecretLength = 32

	// TokenIssuer and TokenAudience are written into every token and
	// required on verification, so a token minted by another service that
	// happens to share the secret is not accepted here.
	TokenIssuer   = "guidecall"
	TokenAudience = "guidecall-api"

	// ClockLeeway absorbs small clock differences between nodes when
	// checking exp and iat.
	ClockLeeway = 10 * time.Second

	// maxTokenLength bounds the work done on a token before its signature
	// is checked. Our tokens are a few hundred bytes.
	maxTokenLength = 4096
)

// Issuer signs and verifies tokens with one HMAC secret. It is safe for
// concurrent use.
type Issuer struct {
	secret []byte
	now    func() time.Time
	parser *jwt.Parser

	previous []byte // also accepted while secrets rotate; see AcceptPrevious
	// live, set by the Service, checks an account token against the
	// stores (see Service.Live); nil admits every well-signed token.
	live func(context.Context, *Claims) error
}

// NewIssuer returns an Issuer signing with secret, which must be at least
// MinSecretLength bytes. now is the clock; nil means time.Now.
func NewIssuer(secret []byte, now func() time.Time) (*Issuer, error) {
	if len(secret) < MinSecretLength {
		return nil, fmt.Errorf("%w: %d bytes, need at least %d", ErrShortSecret, len(secret), MinSecretLength)
	}
	if now == nil {
		now = time.Now
	}
	i := &Issuer{
		secret: append([]byte(nil), secret...),
		now:    now,
	}
	i.parser = jwt.NewParser(
		// Pinning the method is what refuses "none", RS256 with the secret
		// as a public key, and any other HMAC size.
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(TokenIssuer),
		jwt.WithAudience(TokenAudience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(ClockLeeway),
		jwt.WithTimeFunc(func() time.Time { return i.now() }),
		// Without strict decoding the unused low bits of the last base64
		// character are ignored, so one token has several spellings.
		jwt.WithStrictDecoding(),
	)
	return i, nil
}

// IssueShopper returns an access token for the anonymous shopper who owns
// queue entry entryID. The token is valid for that entry only.
func (i *Issuer) IssueShopper(entryID string, ttl time.Duration) (string, error) {
	if entryID == "" {
		return "", errors.New("auth: issue shopper token: empty entry id")
	}
	return i.issue(entryID, protocol.RoleShopper, entryID, KindAccess, ttl)
}

// IssueAccount returns a token of the given kind (KindAccess or
// KindRefresh) for a guide or admin account, in the login family family.
// A Service's issuer admits it only while that family is live; tokens of
// real logins come from Service.Login.
func (i *Issuer) IssueAccount(a Account, kind, family string, ttl time.Duration) (string, error) {
	tok, _, err := i.issueAccount(a, kind, family, ttl)
	return tok, err
}

func (i *Issuer) issueAccount(a Account, kind, family string, ttl time.Duration) (string, Claims, error) {
	if a.ID == "" {
		return "", Claims{}, errors.New("auth: issue account token: empty account id")
	}
	if a.Role != protocol.RoleGuide && a.Role != protocol.RoleAdmin {
		return "", Claims{}, fmt.Errorf("auth: issue account token: role %q cannot hold an account token", a.Role)
	}
	if kind != KindAccess && kind != KindRefresh {
		return "", Claims{}, fmt.Errorf("auth: issue account token: unknown kind %q", kind)
	}
	return i.issueClaims(a.ID, a.Role, "", kind, family, ttl)
}

func (i *Issuer) issue(subject string, role protocol.Role, entryID, kind string, ttl time.Duration) (string, error) {
	tok, _, err := i.issueClaims(subject, role, entryID, kind, "", ttl)
	return tok, err
}

func (i *Issuer) issueClaims(subject string, role protocol.Role, entryID, kind, family string, ttl time.Duration) (string, Claims, error) {
	if ttl <= 0 {
		return "", Claims{}, fmt.Errorf("auth: issue token: ttl %v must be positive", ttl)
	}
	now := i.now()
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    TokenIssuer,
			Subject:   subject,
			Audience:  jwt.ClaimStrings{TokenAudience},
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        uuid.NewString(),
		},
		Role:    role,
		EntryID: entryID,
		Kind:    kind,
		Family:  family,
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(i.secret)
	if err != nil {
		return "", Claims{}, fmt.Errorf("auth: sign token: %w", err)
	}
	return s, c, nil
}

// VerifyLive is Verify followed by the Service's check that an account
// token's login and account still stand (ErrRevoked otherwise).
func (i *Issuer) VerifyLive(ctx context.Context, token, kind string) (*Claims, error) {
	c, err := i.Verify(token, kind)
	if err != nil {
		return nil, err
	}
	if i.live != nil {
		if err := i.live(ctx, c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Verify checks token's signature, algorithm, issuer, audience and expiry,
// and that it is of the given kind. Errors wrap ErrExpiredToken for an
// expired token and ErrInvalidToken for everything else (ErrExpiredToken
// wraps ErrInvalidToken too).
func (i *Issuer) Verify(token, kind string) (*Claims, error) {
	if len(token) == 0 || len(token) > maxTokenLength {
		return nil, fmt.Errorf("%w: bad length", ErrInvalidToken)
	}
	c := new(Claims)
	_, err := i.parser.ParseWithClaims(token, c, func(*jwt.Token) (any, error) {
		return i.verificationKeys(), nil
	})
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return nil, fmt.Errorf("%w: %w", ErrExpiredToken, err)
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if c.Kind != kind {
		return nil, fmt.Errorf("%w: kind %q, want %q", ErrInvalidToken, c.Kind, kind)
	}
	if c.Subject == "" {
		return nil, fmt.Errorf("%w: no subject", ErrInvalidToken)
	}
	switch c.Role {
	case protocol.RoleShopper:
		// A shopper token is an access token for exactly one entry.
		if c.Kind != KindAccess || c.EntryID == "" || c.EntryID != c.Subject {
			return nil, fmt.Errorf("%w: bad shopper scope", ErrInvalidToken)
		}
	case protocol.RoleGuide, protocol.RoleAdmin:
		if c.EntryID != "" {
			return nil, fmt.Errorf("%w: account token with entry scope", ErrInvalidToken)
		}
	default:
		return nil, fmt.Errorf("%w: unknown role %q", ErrInvalidToken, c.Role)
	}
	return c, nil
}
