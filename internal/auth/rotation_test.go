package auth_test

import (
	"errors"
	"testing"
	"time"

	"guidecall/internal/auth"
)

// A token signed with the old secret verifies on an issuer that accepts
// it as previous, and on no other; new tokens are signed with the new one.
func TestSecretRotation(t *testing.T) {
	oldSecret := []byte("the-old-secret-of-at-least-32-bytes!!")
	newSecret := []byte("the-new-secret-of-at-least-32-bytes!!")
	before, err := auth.NewIssuer(oldSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	oldToken, err := before.IssueShopper("e_1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rotating, err := auth.NewIssuer(newSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rotating.Verify(oldToken, auth.KindAccess); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("without the previous secret the old token verified: %v", err)
	}
	if err := rotating.AcceptPrevious(oldSecret); err != nil {
		t.Fatal(err)
	}
	if c, err := rotating.Verify(oldToken, auth.KindAccess); err != nil || c.EntryID != "e_1" {
		t.Fatalf("old token while rotating: %+v, %v", c, err)
	}
	newToken, err := rotating.IssueShopper("e_2", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	after, err := auth.NewIssuer(newSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := after.Verify(newToken, auth.KindAccess); err != nil {
		t.Fatalf("a token made while rotating is not signed with the new secret: %v", err)
	}
	if _, err := before.Verify(newToken, auth.KindAccess); err == nil {
		t.Fatal("the old issuer verified a token of the new secret")
	}
	if err := rotating.AcceptPrevious([]byte("short")); !errors.Is(err, auth.ErrShortSecret) {
		t.Fatalf("short previous secret: %v", err)
	}
}
