package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"guidecall/protocol"
)

// Default token lifetimes.
const (
	DefaultAccessTTL  = 15 * time.Minute
	DefaultRefreshTTL = 12 * time.Hour
)

// TokenPair is the answer to a login or a refresh.
type TokenPair struct {
	AccessToken  string      `json:"access_token"`
	RefreshToken string      `json:"refresh_token"`
	ExpiresIn    int         `json:"expires_in"` // seconds until AccessToken expires
	TokenType    string      `json:"token_type"` // always "Bearer"
	Account      AccountView `json:"account"`
}

// Service manages accounts and logs guides and admins in.
type Service struct {
	// AccessTTL and RefreshTTL are the token lifetimes; PasswordParams is
	// used for new hashes. Change them before the Service is used.
	AccessTTL      time.Duration
	RefreshTTL     time.Duration
	PasswordParams PasswordParams

	store  AccountStore
	issuer *Issuer
	log    *slog.Logger

	dummyOnce sync.Once
	dummyHash string
}

// NewService returns a Service over store and issuer. A nil logger discards.
func NewService(store AccountStore, issuer *Issuer, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{
		AccessTTL:      DefaultAccessTTL,
		RefreshTTL:     DefaultRefreshTTL,
		PasswordParams: DefaultPasswordParams,
		store:          store,
		issuer:         issuer,
		log:            logger.With("component", "auth"),
	}
}

// Issuer returns the issuer the service signs with.
func (s *Service) Issuer() *Issuer { return s.issuer }

// AddAccount creates a guide or admin account. It is what
// `guidecall guide add` calls.
func (s *Service) AddAccount(ctx context.Context, email, name, password string, role protocol.Role) (Account, error) {
	email = NormalizeEmail(email)
	if err := ValidateEmail(email); err != nil {
		return Account{}, err
	}
	if err := validateName(name); err != nil {
		return Account{}, err
	}
	if role != protocol.RoleGuide && role != protocol.RoleAdmin {
		return Account{}, fmt.Errorf("%w: role must be %q or %q, got %q", ErrInvalidAccount, protocol.RoleGuide, protocol.RoleAdmin, role)
	}
	hash, err := s.PasswordParams.Hash(password)
	if err != nil {
		return Account{}, err
	}
	a, err := s.store.AccountCreate(ctx, Account{Email: email, Name: name, Role: role, PasswordHash: hash})
	if err != nil {
		return Account{}, fmt.Errorf("auth: add account: %w", err)
	}
	s.log.InfoContext(ctx, "account added", "account_id", a.ID, "role", a.Role)
	return a, nil
}

// Login checks email and password. An unknown email and a wrong password
// both give ErrBadCredentials, after about the same amount of work.
func (s *Service) Login(ctx context.Context, email, password string) (TokenPair, error) {
	a, err := s.store.AccountByEmail(ctx, NormalizeEmail(email))
	if errors.Is(err, ErrNotFound) {
		// Hash anyway so response time does not reveal which emails exist.
		_, _ = CheckPassword(s.dummy(), password)
		s.log.InfoContext(ctx, "login failed", "reason", "unknown email")
		return TokenPair{}, ErrBadCredentials
	}
	if err != nil {
		return TokenPair{}, fmt.Errorf("auth: login: %w", err)
	}
	ok, err := CheckPassword(a.PasswordHash, password)
	if err != nil {
		return TokenPair{}, fmt.Errorf("auth: login: account %s: %w", a.ID, err)
	}
	if !ok {
		s.log.InfoContext(ctx, "login failed", "reason", "wrong password", "account_id", a.ID)
		return TokenPair{}, ErrBadCredentials
	}
	s.log.InfoContext(ctx, "login", "account_id", a.ID, "role", a.Role)
	return s.pair(a)
}

// Refresh exchanges a refresh token for a new pair, provided the account
// still exists. The new tokens carry the account's current role.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (TokenPair, error) {
	c, err := s.issuer.Verify(refreshToken, KindRefresh)
	if err != nil {
		return TokenPair{}, err
	}
	a, err := s.store.AccountByID(ctx, c.Subject)
	if errors.Is(err, ErrNotFound) {
		return TokenPair{}, fmt.Errorf("%w: account %s no longer exists", ErrInvalidToken, c.Subject)
	}
	if err != nil {
		return TokenPair{}, fmt.Errorf("auth: refresh: %w", err)
	}
	return s.pair(a)
}

func (s *Service) pair(a Account) (TokenPair, error) {
	access, err := s.issuer.IssueAccount(a, KindAccess, s.AccessTTL)
	if err != nil {
		return TokenPair{}, err
	}
	refresh, err := s.issuer.IssueAccount(a, KindRefresh, s.RefreshTTL)
	if err != nil {
		return TokenPair{}, err
	}
	return TokenPair{
		AccessToken:  access,
		RefreshToken: refresh,
		ExpiresIn:    int(s.AccessTTL / time.Second),
		TokenType:    "Bearer",
		Account:      a.Public(),
	}, nil
}

// dummy returns a hash with the service's parameters, made on first use so
// that a service that never sees an unknown email never pays for it.
func (s *Service) dummy() string {
	s.dummyOnce.Do(func() {
		h, err := s.PasswordParams.Hash("guidecall-dummy-password")
		if err != nil {
			h, _ = OWASPPasswordParams.Hash("guidecall-dummy-password")
		}
		s.dummyHash = h
	})
	return s.dummyHash
}
