package auth_test

import (
	"testing"

	"guidecall/internal/auth"
	"guidecall/internal/auth/authtest"
)

func TestMemoryAccountStore(t *testing.T) {
	authtest.RunAccountStoreSuite(t, func(*testing.T) auth.AccountStore {
		return auth.NewMemoryAccountStore()
	})
}

func TestMemorySessionStore(t *testing.T) {
	t.Parallel()
	authtest.RunSessionStoreSuite(t, func(*testing.T) auth.SessionStore { return auth.NewMemorySessionStore() })
}
