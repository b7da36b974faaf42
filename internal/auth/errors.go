package auth

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidToken is returned for any token that does not verify: bad
	// format, signature, algorithm, issuer, audience, kind or claims.
	ErrInvalidToken = errors.New("auth: invalid token")

	// ErrExpiredToken is returned for a well-signed token past its expiry.
	// It wraps ErrInvalidToken, so errors.Is(err, ErrInvalidToken) holds
	// for it too; callers that only need "reject" can test the one.
	ErrExpiredToken = fmt.Errorf("%w: expired", ErrInvalidToken)

	// ErrWeakPassword is returned when a new password is shorter than
	// MinPasswordLength characters.
	ErrWeakPassword = errors.New("auth: password too short")

	// ErrPasswordTooLong is returned when a new password is longer than
	// MaxPasswordLength bytes.
	ErrPasswordTooLong = errors.New("auth: password too long")

	// ErrMalformedHash is returned when a stored password hash is not an
	// argon2id PHC string this package can read.
	ErrMalformedHash = errors.New("auth: malformed password hash")

	// ErrBadCredentials is returned by Login for an unknown email and for a
	// wrong password alike, so that the two cannot be told apart.
	ErrBadCredentials = errors.New("auth: bad credentials")

	// ErrNotFound is returned by an AccountStore when no account matches.
	ErrNotFound = errors.New("auth: account not found")

	// ErrUnavailable is returned by an AccountStore that cannot reach its
	// database right now (refused, dropped, shutting down); the request may
	// succeed if retried later, so HTTP handlers should answer 503.
	ErrUnavailable = errors.New("auth: account store unavailable")

	// ErrDuplicateEmail is returned by AccountStore.AccountCreate when an
	// account with the same email (compared case-insensitively) exists.
	ErrDuplicateEmail = errors.New("auth: duplicate email")

	// ErrDuplicateID is returned by AccountStore.AccountCreate when an
	// account with the same id exists.
	ErrDuplicateID = errors.New("auth: duplicate account id")

	// ErrInvalidAccount is returned when an account's email, name or role
	// is not acceptable.
	ErrInvalidAccount = errors.New("auth: invalid account")

	// ErrShortSecret is returned by NewIssuer for a secret under
	// MinSecretLength bytes.
	ErrShortSecret = errors.New("auth: signing secret too short")
)

var (
	// ErrTokenReused is returned when a refresh token already exchanged is
	// presented again: it was copied, so its whole family is revoked.
	ErrTokenReused = fmt.Errorf("%w: refresh token reused", ErrInvalidToken)

	// ErrRevoked is returned for a token of a revoked family or of a
	// disabled account.
	ErrRevoked = fmt.Errorf("%w: revoked", ErrInvalidToken)

	// ErrBusy is returned by Login when no password check could start
	// within LoginLimits.HashWait: the node is at its bound of concurrent
	// hashes. HTTP answers 503 with Retry-After.
	ErrBusy = errors.New("auth: too many logins in progress")

	// ErrThrottled is returned by Login while a client address or an
	// account must wait before its next attempt; RetryAfter says how long.
	ErrThrottled = errors.New("auth: too many login attempts")

	// ErrLocked is returned by Login while an account is locked after
	// repeated failures, until LockedUntil or an admin unlocks it.
	ErrLocked = errors.New("auth: account locked")

	// ErrCommonPassword is returned for a new password that is on the
	// embedded list of common passwords or is the account's email.
	ErrCommonPassword = errors.New("auth: password is too common, or is the email")
)
