// Package authtest holds the conformance suite every auth.AccountStore must
// pass: the memory store runs it in package auth, the Postgres store in its
// own package.
package authtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"guidecall/internal/auth"
	"guidecall/protocol"
)

// RunAccountStoreSuite runs the AccountStore conformance tests. newStore
// must return an empty store for each call; it may register cleanup on t.
func RunAccountStoreSuite(t *testing.T, newStore func(t *testing.T) auth.AccountStore) {
	t.Helper()
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	t.Run("CreateAndGet", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), context.Background()
		in := auth.Account{
			ID: "7d4b1f4e-2d55-4f7b-9a63-8f3c2f6b1a01", Email: "Ada@Example.COM", Name: "Ada",
			Role: protocol.RoleGuide, PasswordHash: "$argon2id$dummy", CreatedAt: base.Add(123456 * time.Microsecond),
		}
		got, err := s.AccountCreate(ctx, in)
		if err != nil {
			t.Fatalf("AccountCreate: %v", err)
		}
		want := in
		want.Email = "ada@example.com"
		assertAccount(t, "created", got, want)

		byEmail, err := s.AccountByEmail(ctx, "ada@example.com")
		if err != nil {
			t.Fatalf("AccountByEmail: %v", err)
		}
		assertAccount(t, "by email", byEmail, want)

		byEmail, err = s.AccountByEmail(ctx, "ADA@example.com")
		if err != nil {
			t.Fatalf("AccountByEmail upper case: %v", err)
		}
		assertAccount(t, "by email upper case", byEmail, want)

		byID, err := s.AccountByID(ctx, in.ID)
		if err != nil {
			t.Fatalf("AccountByID: %v", err)
		}
		assertAccount(t, "by id", byID, want)
	})

	t.Run("CreateFillsIDAndCreatedAt", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), context.Background()
		got, err := s.AccountCreate(ctx, auth.Account{Email: "b@example.com", Name: "B", Role: protocol.RoleAdmin, PasswordHash: "h"})
		if err != nil {
			t.Fatalf("AccountCreate: %v", err)
		}
		if got.ID == "" || got.CreatedAt.IsZero() {
			t.Fatalf("AccountCreate left ID %q / CreatedAt %v empty", got.ID, got.CreatedAt)
		}
		back, err := s.AccountByID(ctx, got.ID)
		if err != nil {
			t.Fatalf("AccountByID: %v", err)
		}
		assertAccount(t, "by id", back, got)
	})

	t.Run("DuplicateEmailCaseInsensitive", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), context.Background()
		if _, err := s.AccountCreate(ctx, auth.Account{Email: "dup@example.com", Name: "One", Role: protocol.RoleGuide, PasswordHash: "h"}); err != nil {
			t.Fatalf("first AccountCreate: %v", err)
		}
		_, err := s.AccountCreate(ctx, auth.Account{Email: "DUP@Example.com", Name: "Two", Role: protocol.RoleGuide, PasswordHash: "h"})
		if !errors.Is(err, auth.ErrDuplicateEmail) {
			t.Fatalf("second AccountCreate: err = %v, want ErrDuplicateEmail", err)
		}
		list, err := s.AccountList(ctx)
		if err != nil {
			t.Fatalf("AccountList: %v", err)
		}
		if len(list) != 1 || list[0].Name != "One" {
			t.Fatalf("AccountList after duplicate = %+v, want only the first account", list)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), context.Background()
		if _, err := s.AccountByEmail(ctx, "nobody@example.com"); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("AccountByEmail: err = %v, want ErrNotFound", err)
		}
		if _, err := s.AccountByID(ctx, "3f0c7a51-9d7e-4a53-8d0e-000000000000"); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("AccountByID: err = %v, want ErrNotFound", err)
		}
		list, err := s.AccountList(ctx)
		if err != nil || len(list) != 0 {
			t.Errorf("AccountList on empty store = %v, %v; want empty, nil", list, err)
		}
	})

	t.Run("ListOrderedByCreated", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), context.Background()
		// Created out of order on purpose.
		for _, c := range []struct {
			email string
			after time.Duration
		}{{"c@example.com", 3 * time.Hour}, {"a@example.com", time.Hour}, {"b@example.com", 2 * time.Hour}} {
			if _, err := s.AccountCreate(ctx, auth.Account{
				Email: c.email, Name: c.email, Role: protocol.RoleGuide, PasswordHash: "h", CreatedAt: base.Add(c.after),
			}); err != nil {
				t.Fatalf("AccountCreate %s: %v", c.email, err)
			}
		}
		list, err := s.AccountList(ctx)
		if err != nil {
			t.Fatalf("AccountList: %v", err)
		}
		var got []string
		for _, a := range list {
			got = append(got, a.Email)
		}
		want := []string{"a@example.com", "b@example.com", "c@example.com"}
		if len(got) != len(want) {
			t.Fatalf("AccountList = %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("AccountList = %v, want %v", got, want)
			}
		}
	})

	t.Run("Update", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), context.Background()
		a, err := s.AccountCreate(ctx, auth.Account{Email: "u@example.com", Name: "U", Role: protocol.RoleGuide, PasswordHash: "h"})
		if err != nil {
			t.Fatal(err)
		}
		failed, locked := base.Add(1500*time.Microsecond), base.Add(time.Hour)
		got, err := s.AccountUpdate(ctx, a.ID, func(x *auth.Account) error {
			x.FailedLogins, x.LastFailedAt, x.LockedUntil, x.Disabled = 4, &failed, &locked, true
			x.Name, x.Email = "changed", "changed@example.com" // not for AccountUpdate to store
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		back, _ := s.AccountByID(ctx, a.ID)
		for _, g := range []auth.Account{got, back} {
			if g.FailedLogins != 4 || g.LastFailedAt == nil || !g.LastFailedAt.Equal(failed) ||
				g.LockedUntil == nil || !g.LockedUntil.Equal(locked) || !g.Disabled || g.Name != "U" || g.Email != "u@example.com" {
				t.Fatalf("after AccountUpdate: %+v", g)
			}
		}
		errNo := errors.New("no")
		if _, err := s.AccountUpdate(ctx, a.ID, func(x *auth.Account) error { x.FailedLogins = 99; return errNo }); !errors.Is(err, errNo) {
			t.Fatalf("AccountUpdate with a failing change: err = %v", err)
		}
		if back, _ := s.AccountByID(ctx, a.ID); back.FailedLogins != 4 {
			t.Fatalf("a failed change was stored: %+v", back)
		}
		if _, err := s.AccountUpdate(ctx, "missing", func(*auth.Account) error { return nil }); !errors.Is(err, auth.ErrNotFound) {
			t.Fatalf("AccountUpdate of a missing account: err = %v", err)
		}
		got, err = s.AccountUpdate(ctx, a.ID, func(x *auth.Account) error {
			x.FailedLogins, x.LastFailedAt, x.LockedUntil, x.Disabled = 0, nil, nil, false
			return nil
		})
		if err != nil || got.LastFailedAt != nil || got.LockedUntil != nil || got.Disabled {
			t.Fatalf("clearing: %+v, %v", got, err)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), context.Background()
		a, _ := s.AccountCreate(ctx, auth.Account{Email: "gone@example.com", Name: "G", Role: protocol.RoleGuide, PasswordHash: "h"})
		keep, _ := s.AccountCreate(ctx, auth.Account{Email: "keep@example.com", Name: "K", Role: protocol.RoleGuide, PasswordHash: "h"})
		if err := s.AccountDelete(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AccountByID(ctx, a.ID); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("deleted account by id: err = %v", err)
		}
		if _, err := s.AccountByEmail(ctx, "gone@example.com"); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("deleted account by email: err = %v", err)
		}
		if _, err := s.AccountByID(ctx, keep.ID); err != nil {
			t.Errorf("the other account: %v", err)
		}
		if err := s.AccountDelete(ctx, a.ID); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("second delete: err = %v", err)
		}
		if _, err := s.AccountCreate(ctx, auth.Account{Email: "gone@example.com", Name: "G2", Role: protocol.RoleGuide, PasswordHash: "h"}); err != nil {
			t.Errorf("the email of a deleted account is free again: %v", err)
		}
	})
}

func assertAccount(t *testing.T, what string, got, want auth.Account) {
	t.Helper()
	if got.ID != want.ID || got.Email != want.Email || got.Name != want.Name || got.Role != want.Role ||
		got.PasswordHash != want.PasswordHash || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Fatalf("%s: got %+v, want %+v", what, got, want)
	}
}
