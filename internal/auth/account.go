package auth

import (
	"cmp"
	"context"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"guidecall/internal/cleantext"

	"guidecall/protocol"
)

// Account is a guide or an admin. Email is stored lowercase.
type Account struct {
	ID    string
	Email string
	Name  string
	Role  protocol.Role
	// PasswordHash is an argon2id PHC string. It is never serialized.
	PasswordHash string `json:"-"`
	CreatedAt    time.Time
	// Disabled accounts cannot log in, refresh or hold a socket.
	Disabled bool
	// FailedLogins counts wrong passwords since the last success or
	// unlock; LastFailedAt is the latest. LockedUntil, when in the future,
	// refuses every login until then (see LoginLimits).
	FailedLogins int
	LastFailedAt *time.Time
	LockedUntil  *time.Time
}

// AccountView is the public view of an account, safe to send to clients.
type AccountView struct {
	ID        string        `json:"id"`
	Email     string        `json:"email"`
	Name      string        `json:"name"`
	Role      protocol.Role `json:"role"`
	CreatedAt time.Time     `json:"created_at"`
	Disabled  bool          `json:"disabled,omitempty"`
	// LockedUntil is set while failed logins lock the account.
	LockedUntil *time.Time `json:"locked_until,omitempty"`
}

// Public returns the account without its password hash.
func (a Account) Public() AccountView {
	return AccountView{ID: a.ID, Email: a.Email, Name: a.Name, Role: a.Role, CreatedAt: a.CreatedAt,
		Disabled: a.Disabled, LockedUntil: a.LockedUntil}
}

// AccountStore keeps accounts. Implementations compare emails
// case-insensitively and must pass authtest.RunAccountStoreSuite.
type AccountStore interface {
	// AccountCreate stores a. An empty ID is filled with a new UUID and a
	// zero CreatedAt with the current time; the stored account is
	// returned. A duplicate email gives ErrDuplicateEmail.
	AccountCreate(ctx context.Context, a Account) (Account, error)
	// AccountByEmail gives ErrNotFound when no account has that email.
	AccountByEmail(ctx context.Context, email string) (Account, error)
	// AccountByID gives ErrNotFound when no account has that id.
	AccountByID(ctx context.Context, id string) (Account, error)
	// AccountList returns all accounts, oldest CreatedAt first, ties by ID.
	AccountList(ctx context.Context) ([]Account, error)
	// AccountUpdate reads the account id, lets change edit its Disabled,
	// FailedLogins, LastFailedAt and LockedUntil, and stores the result, all
	// in one transaction (other fields are kept as they were). An error
	// from change is returned and nothing is written. ErrNotFound when no
	// account has that id.
	AccountUpdate(ctx context.Context, id string, change func(*Account) error) (Account, error)
	// AccountDelete removes an account. ErrNotFound when there is none.
	AccountDelete(ctx context.Context, id string) error
}

// NormalizeEmail returns email as stored and looked up: trimmed and
// lowercased.
func NormalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// ValidateEmail checks that email (already normalized) is a bare address.
func ValidateEmail(email string) error {
	if email == "" || len(email) > 254 {
		return fmt.Errorf("%w: email length", ErrInvalidAccount)
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email {
		return fmt.Errorf("%w: email %q is not a plain address", ErrInvalidAccount, email)
	}
	return nil
}

// CleanName returns a guide's or admin's display name as shown to
// shoppers: cleaned by package cleantext (NUL refused; controls, bidi and
// zero-width characters stripped; NFC), 1 to 200 characters.
func CleanName(name string) (string, error) {
	clean, err := cleantext.Line(name, 200)
	if err != nil {
		return "", fmt.Errorf("%w: name: %w", ErrInvalidAccount, err)
	}
	if clean == "" {
		return "", fmt.Errorf("%w: name must be 1 to 200 characters", ErrInvalidAccount)
	}
	return clean, nil
}

// MemoryAccountStore is an AccountStore held in memory, the zero-setup
// default. It is safe for concurrent use.
type MemoryAccountStore struct {
	mu      sync.RWMutex
	byID    map[string]Account
	byEmail map[string]string // normalized email -> id
	now     func() time.Time
}

// NewMemoryAccountStore returns an empty store.
func NewMemoryAccountStore() *MemoryAccountStore {
	return &MemoryAccountStore{
		byID:    make(map[string]Account),
		byEmail: make(map[string]string),
		now:     time.Now,
	}
}

var _ AccountStore = (*MemoryAccountStore)(nil)

// AccountCreate implements AccountStore.
func (s *MemoryAccountStore) AccountCreate(ctx context.Context, a Account) (Account, error) {
	if err := ctx.Err(); err != nil {
		return Account{}, err
	}
	a.Email = NormalizeEmail(a.Email)
	if a.Email == "" {
		return Account{}, fmt.Errorf("%w: empty email", ErrInvalidAccount)
	}
	if a.ID == "" {
		a.ID = uuid.NewString()
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = s.now()
	}
	// Postgres keeps microseconds; do the same so both stores return
	// identical values.
	a.CreatedAt = a.CreatedAt.UTC().Truncate(time.Microsecond)

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byEmail[a.Email]; ok {
		return Account{}, fmt.Errorf("%w: %s", ErrDuplicateEmail, a.Email)
	}
	if _, ok := s.byID[a.ID]; ok {
		return Account{}, fmt.Errorf("%w: %s", ErrDuplicateID, a.ID)
	}
	s.byID[a.ID] = a
	s.byEmail[a.Email] = a.ID
	return a, nil
}

// AccountByEmail implements AccountStore.
func (s *MemoryAccountStore) AccountByEmail(ctx context.Context, email string) (Account, error) {
	if err := ctx.Err(); err != nil {
		return Account{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.byEmail[NormalizeEmail(email)]
	if !ok {
		return Account{}, ErrNotFound
	}
	return s.byID[id], nil
}

// AccountByID implements AccountStore.
func (s *MemoryAccountStore) AccountByID(ctx context.Context, id string) (Account, error) {
	if err := ctx.Err(); err != nil {
		return Account{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.byID[id]
	if !ok {
		return Account{}, ErrNotFound
	}
	return a, nil
}

// AccountUpdate implements AccountStore.
func (s *MemoryAccountStore) AccountUpdate(ctx context.Context, id string, change func(*Account) error) (Account, error) {
	if err := ctx.Err(); err != nil {
		return Account{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.byID[id]
	if !ok {
		return Account{}, ErrNotFound
	}
	next := a
	next.LastFailedAt, next.LockedUntil = cloneTime(a.LastFailedAt), cloneTime(a.LockedUntil)
	if err := change(&next); err != nil {
		return Account{}, err
	}
	a.Disabled, a.FailedLogins = next.Disabled, next.FailedLogins
	a.LastFailedAt, a.LockedUntil = microUTC(next.LastFailedAt), microUTC(next.LockedUntil)
	s.byID[id] = a
	return a, nil
}

// AccountDelete implements AccountStore.
func (s *MemoryAccountStore) AccountDelete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.byID[id]
	if !ok {
		return ErrNotFound
	}
	delete(s.byID, id)
	delete(s.byEmail, a.Email)
	return nil
}

func cloneTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := *t
	return &v
}

// microUTC keeps what PostgreSQL keeps of a time, so both stores agree.
func microUTC(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC().Truncate(time.Microsecond)
	return &v
}

// AccountList implements AccountStore.
func (s *MemoryAccountStore) AccountList(ctx context.Context) ([]Account, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	out := make([]Account, 0, len(s.byID))
	for _, a := range s.byID {
		out = append(out, a)
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Account) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}
