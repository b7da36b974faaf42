package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"

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

// Event is something auth did that other parts act on: the app closes a
// disabled guide's sockets and revokes TURN credentials of ended sessions.
type Event interface{ authEvent() }

// SessionsRevoked says the login families of an account ended: by logout
// (one family), by reuse of a refresh token (one family), or because the
// account was disabled or removed (all of them, Disabled set: its sockets
// must close too).
type SessionsRevoked struct {
	AccountID string
	Families  []string
	Disabled  bool
	Reason    string
}

func (SessionsRevoked) authEvent() {}

// Service manages accounts and logs guides and admins in.
type Service struct {
	// AccessTTL and RefreshTTL are the token lifetimes; PasswordParams is
	// used for new hashes; Limits bound logins; Sessions keeps refresh
	// families (memory unless set). Change them before the Service is used.
	AccessTTL      time.Duration
	RefreshTTL     time.Duration
	PasswordParams PasswordParams
	Limits         LoginLimits
	Sessions       SessionStore
	// ClientIP names the client of a request for the per-address login
	// limit and the log; nil takes the connection's address.
	ClientIP func(*http.Request) string

	store  AccountStore
	issuer *Issuer
	log    *slog.Logger
	now    func() time.Time

	initOnce sync.Once
	hashes   *hashPool
	perAddr  *addressLimiter

	dummyOnce sync.Once
	dummyHash string

	subsMu sync.Mutex
	subs   []func(context.Context, Event)
}

// NewService returns a Service over store and issuer. A nil logger discards.
func NewService(store AccountStore, issuer *Issuer, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		AccessTTL:      DefaultAccessTTL,
		RefreshTTL:     DefaultRefreshTTL,
		PasswordParams: DefaultPasswordParams,
		Limits:         DefaultLoginLimits,
		Sessions:       NewMemorySessionStore(),
		store:          store,
		issuer:         issuer,
		log:            logger.With("component", "auth"),
		now:            issuer.now,
	}
	// Every verified account token is checked against the stores, so a
	// logout or a disable takes effect on the next request, not when the
	// access token expires.
	issuer.live = s.Live
	return s
}

func (s *Service) init() {
	s.initOnce.Do(func() {
		s.hashes = newHashPool(s.Limits.HashConcurrency, s.Limits.HashWait)
		s.perAddr = newAddressLimiter(s.Limits.PerAddressPerMinute, s.Limits.PerAddressBurst)
	})
}

// Issuer returns the issuer the service signs with.
func (s *Service) Issuer() *Issuer { return s.issuer }

// Subscribe calls f for every event, on the goroutine that caused it.
// Subscribe before the service is used.
func (s *Service) Subscribe(f func(context.Context, Event)) {
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	s.subs = append(s.subs, f)
}

func (s *Service) publish(ctx context.Context, e Event) {
	s.subsMu.Lock()
	subs := append([]func(context.Context, Event){}, s.subs...)
	s.subsMu.Unlock()
	for _, f := range subs {
		f(ctx, e)
	}
}

// AddAccount creates a guide or admin account. It is what
// `guidecall guide add` calls.
func (s *Service) AddAccount(ctx context.Context, email, name, password string, role protocol.Role) (Account, error) {
	email = NormalizeEmail(email)
	if err := ValidateEmail(email); err != nil {
		return Account{}, err
	}
	name, err := CleanName(name)
	if err != nil {
		return Account{}, err
	}
	if role != protocol.RoleGuide && role != protocol.RoleAdmin {
		return Account{}, fmt.Errorf("%w: role must be %q or %q, got %q", ErrInvalidAccount, protocol.RoleGuide, protocol.RoleAdmin, role)
	}
	if err := ValidatePassword(password, email); err != nil {
		return Account{}, err
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

// Login checks email and password for a client at address (logged with
// failures, and the key of the per-address limit). An unknown email and a
// wrong password both give ErrBadCredentials, after about the same amount
// of work. Throttled attempts give a *ThrottleError (ErrThrottled or
// ErrLocked) without checking the password; a node at its bound of
// concurrent checks gives ErrBusy.
func (s *Service) Login(ctx context.Context, email, password, address string) (TokenPair, error) {
	s.init()
	now := s.now()
	log := s.log.With("address", address)
	if ok, wait := s.perAddr.allow(address, now); !ok {
		log.WarnContext(ctx, "login refused", "reason", "address rate limit")
		return TokenPair{}, &ThrottleError{Err: ErrThrottled, RetryAfter: wait}
	}
	a, err := s.store.AccountByEmail(ctx, NormalizeEmail(email))
	if errors.Is(err, ErrNotFound) {
		// Hash anyway so response time does not reveal which emails exist.
		if err := s.hashes.do(ctx, func() { _, _ = CheckPassword(s.dummy(), password) }); err != nil {
			return TokenPair{}, err
		}
		log.InfoContext(ctx, "login failed", "reason", "unknown email")
		return TokenPair{}, ErrBadCredentials
	}
	if err != nil {
		return TokenPair{}, fmt.Errorf("auth: login: %w", err)
	}
	log = log.With("account_id", a.ID)
	if a.LockedUntil != nil && a.LockedUntil.After(now) {
		log.WarnContext(ctx, "login refused", "reason", "account locked", "locked_until", *a.LockedUntil)
		return TokenPair{}, &ThrottleError{Err: ErrLocked, RetryAfter: a.LockedUntil.Sub(now)}
	}
	if a.LastFailedAt != nil {
		if next := a.LastFailedAt.Add(s.Limits.delayAfter(a.FailedLogins)); next.After(now) {
			log.WarnContext(ctx, "login refused", "reason", "too soon after failures", "failed_logins", a.FailedLogins)
			return TokenPair{}, &ThrottleError{Err: ErrThrottled, RetryAfter: next.Sub(now)}
		}
	}
	var ok bool
	var checkErr error
	if err := s.hashes.do(ctx, func() { ok, checkErr = CheckPassword(a.PasswordHash, password) }); err != nil {
		log.WarnContext(ctx, "login refused", "reason", "password checks at their bound")
		return TokenPair{}, err
	}
	if checkErr != nil {
		return TokenPair{}, fmt.Errorf("auth: login: account %s: %w", a.ID, checkErr)
	}
	if !ok || a.Disabled {
		s.loginFailed(ctx, log, a.ID, a.Disabled)
		return TokenPair{}, ErrBadCredentials
	}
	if a.FailedLogins > 0 || a.LockedUntil != nil {
		if _, err := s.store.AccountUpdate(ctx, a.ID, func(a *Account) error {
			a.FailedLogins, a.LastFailedAt, a.LockedUntil = 0, nil, nil
			return nil
		}); err != nil {
			return TokenPair{}, fmt.Errorf("auth: login: reset failures: %w", err)
		}
	}
	pair, err := s.startSession(ctx, a)
	if err != nil {
		return TokenPair{}, err
	}
	log.InfoContext(ctx, "login", "role", a.Role)
	return pair, nil
}

// loginFailed counts a wrong password and locks the account at LockAfter.
func (s *Service) loginFailed(ctx context.Context, log *slog.Logger, id string, disabled bool) {
	now := s.now()
	a, err := s.store.AccountUpdate(ctx, id, func(a *Account) error {
		a.FailedLogins++
		a.LastFailedAt = &now
		if a.FailedLogins >= s.Limits.LockAfter {
			until := now.Add(s.Limits.LockFor)
			a.LockedUntil = &until
		}
		return nil
	})
	if err != nil {
		log.ErrorContext(ctx, "count failed login", "err", err)
		return
	}
	reason := "wrong password"
	if disabled {
		reason = "account disabled"
	}
	log.WarnContext(ctx, "login failed", "reason", reason, "failed_logins", a.FailedLogins)
	if a.LockedUntil != nil && a.FailedLogins == s.Limits.LockAfter {
		log.WarnContext(ctx, "account locked after failed logins", "locked_until", *a.LockedUntil)
	}
}

// Refresh exchanges a refresh token for a new pair, provided the account
// still exists and is enabled. The token presented is consumed: presenting
// it again revokes its whole family (ErrTokenReused).
func (s *Service) Refresh(ctx context.Context, refreshToken string) (TokenPair, error) {
	c, err := s.issuer.Verify(refreshToken, KindRefresh)
	if err != nil {
		return TokenPair{}, err
	}
	if c.Family == "" {
		return TokenPair{}, fmt.Errorf("%w: refresh token without a family", ErrInvalidToken)
	}
	a, err := s.store.AccountByID(ctx, c.Subject)
	if errors.Is(err, ErrNotFound) {
		return TokenPair{}, fmt.Errorf("%w: account %s no longer exists", ErrInvalidToken, c.Subject)
	}
	if err != nil {
		return TokenPair{}, fmt.Errorf("auth: refresh: %w", err)
	}
	if a.Disabled {
		return TokenPair{}, fmt.Errorf("%w: account %s is disabled", ErrRevoked, a.ID)
	}
	pair, next, err := s.pair(a, c.Family)
	if err != nil {
		return TokenPair{}, err
	}
	if err := s.Sessions.SessionRotate(ctx, c.ID, next, s.now()); err != nil {
		if errors.Is(err, ErrTokenReused) {
			s.log.WarnContext(ctx, "refresh token reused; its family is revoked", "account_id", a.ID, "family", c.Family)
			s.publish(ctx, SessionsRevoked{AccountID: a.ID, Families: []string{c.Family}, Reason: "refresh token reused"})
		}
		return TokenPair{}, err
	}
	return pair, nil
}

// Logout revokes the family of a refresh or access token of an account.
func (s *Service) Logout(ctx context.Context, c *Claims) error {
	if c.Family == "" {
		return fmt.Errorf("%w: token without a family", ErrInvalidToken)
	}
	if err := s.Sessions.SessionRevokeFamily(ctx, c.Family, s.now()); err != nil {
		return fmt.Errorf("auth: logout: %w", err)
	}
	s.log.InfoContext(ctx, "logout", "account_id", c.Subject, "family", c.Family)
	s.publish(ctx, SessionsRevoked{AccountID: c.Subject, Families: []string{c.Family}, Reason: "logout"})
	return nil
}

// SetDisabled disables an account (revoking every login of it, which
// closes its sockets on every node through the SessionsRevoked
// subscribers) or enables it again.
func (s *Service) SetDisabled(ctx context.Context, id string, disabled bool) (Account, error) {
	a, err := s.store.AccountUpdate(ctx, id, func(a *Account) error {
		a.Disabled = disabled
		return nil
	})
	if err != nil {
		return Account{}, fmt.Errorf("auth: disable %s: %w", id, err)
	}
	if !disabled {
		s.log.InfoContext(ctx, "account enabled", "account_id", id)
		return a, nil
	}
	families, err := s.Sessions.SessionRevokeAccount(ctx, id, s.now())
	if err != nil {
		return Account{}, fmt.Errorf("auth: disable %s: revoke sessions: %w", id, err)
	}
	s.log.WarnContext(ctx, "account disabled; its logins are revoked", "account_id", id, "families", len(families))
	s.publish(ctx, SessionsRevoked{AccountID: id, Families: families, Disabled: true, Reason: "disabled"})
	return a, nil
}

// RemoveAccount deletes an account and ends every login of it, with the
// same effect on its sockets as disabling it.
func (s *Service) RemoveAccount(ctx context.Context, id string) error {
	families, err := s.Sessions.SessionRevokeAccount(ctx, id, s.now())
	if err != nil {
		return fmt.Errorf("auth: remove %s: revoke sessions: %w", id, err)
	}
	if err := s.store.AccountDelete(ctx, id); err != nil {
		return fmt.Errorf("auth: remove %s: %w", id, err)
	}
	s.log.WarnContext(ctx, "account removed; its logins are revoked", "account_id", id, "families", len(families))
	s.publish(ctx, SessionsRevoked{AccountID: id, Families: families, Disabled: true, Reason: "removed"})
	return nil
}

// Unlock lifts a lock and forgets the failures of an account.
func (s *Service) Unlock(ctx context.Context, id string) (Account, error) {
	a, err := s.store.AccountUpdate(ctx, id, func(a *Account) error {
		a.FailedLogins, a.LastFailedAt, a.LockedUntil = 0, nil, nil
		return nil
	})
	if err != nil {
		return Account{}, fmt.Errorf("auth: unlock %s: %w", id, err)
	}
	s.log.InfoContext(ctx, "account unlocked", "account_id", id)
	return a, nil
}

// Account returns one account by id, or by email when id contains "@".
func (s *Service) Account(ctx context.Context, idOrEmail string) (Account, error) {
	for _, r := range idOrEmail {
		if r == '@' {
			return s.store.AccountByEmail(ctx, idOrEmail)
		}
	}
	return s.store.AccountByID(ctx, idOrEmail)
}

// Live checks that an account token still stands: its account exists and
// is enabled, and its login family is not revoked. Shopper tokens are
// scoped to an entry and always stand here.
func (s *Service) Live(ctx context.Context, c *Claims) error {
	if c.Role == protocol.RoleShopper {
		return nil
	}
	a, err := s.store.AccountByID(ctx, c.Subject)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: account %s no longer exists", ErrRevoked, c.Subject)
	}
	if err != nil {
		return fmt.Errorf("auth: check token: %w", err)
	}
	if a.Disabled {
		return fmt.Errorf("%w: account %s is disabled", ErrRevoked, a.ID)
	}
	if c.Family == "" {
		return fmt.Errorf("%w: account token without a family", ErrInvalidToken)
	}
	live, err := s.Sessions.SessionFamilyLive(ctx, c.Family)
	if err != nil {
		return fmt.Errorf("auth: check token: %w", err)
	}
	if !live {
		return fmt.Errorf("%w: login %s ended", ErrRevoked, c.Family)
	}
	return nil
}

// PurgeSessions forgets refresh families whose tokens all expired.
func (s *Service) PurgeSessions(ctx context.Context) (int, error) {
	return s.Sessions.SessionPurge(ctx, s.now())
}

// startSession issues the first pair of a new family.
func (s *Service) startSession(ctx context.Context, a Account) (TokenPair, error) {
	pair, first, err := s.pair(a, uuid.NewString())
	if err != nil {
		return TokenPair{}, err
	}
	if err := s.Sessions.SessionStart(ctx, first); err != nil {
		return TokenPair{}, fmt.Errorf("auth: start session: %w", err)
	}
	return pair, nil
}

func (s *Service) pair(a Account, family string) (TokenPair, RefreshToken, error) {
	access, _, err := s.issuer.issueAccount(a, KindAccess, family, s.AccessTTL)
	if err != nil {
		return TokenPair{}, RefreshToken{}, err
	}
	refresh, rc, err := s.issuer.issueAccount(a, KindRefresh, family, s.RefreshTTL)
	if err != nil {
		return TokenPair{}, RefreshToken{}, err
	}
	rec := RefreshToken{ID: rc.ID, FamilyID: family, AccountID: a.ID, IssuedAt: rc.IssuedAt.Time, ExpiresAt: rc.ExpiresAt.Time}
	return TokenPair{
		AccessToken:  access,
		RefreshToken: refresh,
		ExpiresIn:    int(s.AccessTTL / time.Second),
		TokenType:    "Bearer",
		Account:      a.Public(),
	}, rec, nil
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
