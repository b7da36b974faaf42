package authtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"guidecall/internal/auth"
)

// RunSessionStoreSuite runs the SessionStore conformance tests. newStore
// must return an empty store for each call.
func RunSessionStoreSuite(t *testing.T, newStore func(t *testing.T) auth.SessionStore) {
	t.Helper()
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tok := func(id, fam, acct string, exp time.Duration) auth.RefreshToken {
		return auth.RefreshToken{ID: id, FamilyID: fam, AccountID: acct, IssuedAt: base, ExpiresAt: base.Add(exp)}
	}

	t.Run("RotateOnceThenReuseRevokesFamily", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), context.Background()
		if err := s.SessionStart(ctx, tok("t1", "f1", "a1", time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.SessionRotate(ctx, "t1", tok("t2", "f1", "a1", time.Hour), base); err != nil {
			t.Fatalf("first rotation: %v", err)
		}
		if live, err := s.SessionFamilyLive(ctx, "f1"); err != nil || !live {
			t.Fatalf("family after rotation: live=%v err=%v", live, err)
		}
		if err := s.SessionRotate(ctx, "t1", tok("t3", "f1", "a1", time.Hour), base); !errors.Is(err, auth.ErrTokenReused) {
			t.Fatalf("reuse of t1: err = %v, want ErrTokenReused", err)
		}
		if live, _ := s.SessionFamilyLive(ctx, "f1"); live {
			t.Fatal("family still live after reuse")
		}
		if err := s.SessionRotate(ctx, "t2", tok("t4", "f1", "a1", time.Hour), base); !errors.Is(err, auth.ErrTokenReused) {
			t.Fatalf("newest token of a revoked family: err = %v, want ErrTokenReused", err)
		}
	})

	t.Run("UnknownToken", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), context.Background()
		err := s.SessionRotate(ctx, "nope", tok("t2", "f1", "a1", time.Hour), base)
		if !errors.Is(err, auth.ErrInvalidToken) || errors.Is(err, auth.ErrTokenReused) {
			t.Fatalf("unknown token: err = %v", err)
		}
	})

	t.Run("RevokeFamilyAndAccount", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), context.Background()
		for _, x := range []auth.RefreshToken{tok("a", "fa", "acct", time.Hour), tok("b", "fb", "acct", time.Hour), tok("c", "fc", "other", time.Hour)} {
			if err := s.SessionStart(ctx, x); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.SessionRevokeFamily(ctx, "fa", base); err != nil {
			t.Fatal(err)
		}
		if err := s.SessionRevokeFamily(ctx, "fa", base); err != nil {
			t.Fatalf("second revoke: %v", err)
		}
		got, err := s.SessionRevokeAccount(ctx, "acct", base)
		if err != nil || len(got) != 1 || got[0] != "fb" {
			t.Fatalf("SessionRevokeAccount = %v, %v; want [fb]", got, err)
		}
		for fam, want := range map[string]bool{"fa": false, "fb": false, "fc": true, "missing": false} {
			if live, err := s.SessionFamilyLive(ctx, fam); err != nil || live != want {
				t.Errorf("family %s live = %v, %v; want %v", fam, live, err, want)
			}
		}
	})

	t.Run("Purge", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), context.Background()
		_ = s.SessionStart(ctx, tok("old", "fold", "a", time.Minute))
		_ = s.SessionStart(ctx, tok("new", "fnew", "a", 2*time.Hour))
		n, err := s.SessionPurge(ctx, base.Add(time.Hour))
		if err != nil || n != 1 {
			t.Fatalf("SessionPurge = %d, %v; want 1", n, err)
		}
		if live, _ := s.SessionFamilyLive(ctx, "fnew"); !live {
			t.Error("purge removed a family with a live token")
		}
		if live, _ := s.SessionFamilyLive(ctx, "fold"); live {
			t.Error("purged family still live")
		}
	})
}
