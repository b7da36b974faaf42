package auth

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// RefreshToken is the server's record of one refresh token: its jti, the
// family (one login) it belongs to, and when it stops being valid.
type RefreshToken struct {
	ID        string
	FamilyID  string
	AccountID string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// SessionStore keeps refresh-token families, so that a refresh token can be
// used once and a family revoked. Implementations must pass
// authtest.RunSessionStoreSuite.
type SessionStore interface {
	// SessionStart records first as the first token of a new family.
	SessionStart(ctx context.Context, first RefreshToken) error
	// SessionRotate consumes the token currentID and records next (of the
	// same family) in one transaction. A token that is unknown gives
	// ErrInvalidToken; one already consumed, or of a revoked family, gives
	// ErrTokenReused, and then the whole family is revoked as part of the
	// same call, so whoever holds its newest token is logged out too.
	SessionRotate(ctx context.Context, currentID string, next RefreshToken, now time.Time) error
	// SessionRevokeFamily revokes one family; revoking twice is no error.
	SessionRevokeFamily(ctx context.Context, familyID string, now time.Time) error
	// SessionRevokeAccount revokes every live family of an account and
	// returns their ids.
	SessionRevokeAccount(ctx context.Context, accountID string, now time.Time) ([]string, error)
	// SessionFamilyLive reports whether a family exists and is not revoked.
	SessionFamilyLive(ctx context.Context, familyID string) (bool, error)
	// SessionPurge deletes families whose every token expired before
	// before, and returns how many.
	SessionPurge(ctx context.Context, before time.Time) (int, error)
}

// MemorySessionStore is a SessionStore in this process.
type MemorySessionStore struct {
	mu       sync.Mutex
	families map[string]*memFamily
	tokens   map[string]*memToken
}

type memFamily struct {
	accountID string
	revoked   bool
	expires   time.Time // of its newest token
	tokens    []string
}

type memToken struct {
	family string
	used   bool
}

var _ SessionStore = (*MemorySessionStore)(nil)

// NewMemorySessionStore returns an empty store.
func NewMemorySessionStore() *MemorySessionStore {
	return &MemorySessionStore{families: map[string]*memFamily{}, tokens: map[string]*memToken{}}
}

// SessionStart implements SessionStore.
func (s *MemorySessionStore) SessionStart(ctx context.Context, first RefreshToken) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.families[first.FamilyID]; ok {
		return fmt.Errorf("auth: session start: family %s exists", first.FamilyID)
	}
	if _, ok := s.tokens[first.ID]; ok {
		return fmt.Errorf("auth: session start: token %s exists", first.ID)
	}
	s.families[first.FamilyID] = &memFamily{accountID: first.AccountID, expires: first.ExpiresAt, tokens: []string{first.ID}}
	s.tokens[first.ID] = &memToken{family: first.FamilyID}
	return nil
}

// SessionRotate implements SessionStore.
func (s *MemorySessionStore) SessionRotate(ctx context.Context, currentID string, next RefreshToken, _ time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[currentID]
	if !ok {
		return fmt.Errorf("%w: refresh token not on record", ErrInvalidToken)
	}
	f := s.families[t.family]
	if t.used || f.revoked {
		f.revoked = true
		return fmt.Errorf("%w: family %s", ErrTokenReused, t.family)
	}
	if next.FamilyID != t.family {
		return fmt.Errorf("auth: session rotate: next token of family %s, want %s", next.FamilyID, t.family)
	}
	t.used = true
	s.tokens[next.ID] = &memToken{family: t.family}
	f.tokens = append(f.tokens, next.ID)
	f.expires = next.ExpiresAt
	return nil
}

// SessionRevokeFamily implements SessionStore.
func (s *MemorySessionStore) SessionRevokeFamily(ctx context.Context, familyID string, _ time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.families[familyID]; ok {
		f.revoked = true
	}
	return nil
}

// SessionRevokeAccount implements SessionStore.
func (s *MemorySessionStore) SessionRevokeAccount(ctx context.Context, accountID string, _ time.Time) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for id, f := range s.families {
		if f.accountID == accountID && !f.revoked {
			f.revoked = true
			out = append(out, id)
		}
	}
	return out, nil
}

// SessionFamilyLive implements SessionStore.
func (s *MemorySessionStore) SessionFamilyLive(ctx context.Context, familyID string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.families[familyID]
	return ok && !f.revoked, nil
}

// SessionPurge implements SessionStore.
func (s *MemorySessionStore) SessionPurge(ctx context.Context, before time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, f := range s.families {
		if f.expires.Before(before) {
			for _, t := range f.tokens {
				delete(s.tokens, t)
			}
			delete(s.families, id)
			n++
		}
	}
	return n, nil
}
