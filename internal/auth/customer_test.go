package auth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"guidecall/internal/auth"
)

func customerToken(t *testing.T, secret string, method jwt.SigningMethod, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCustomerVerifier(t *testing.T) {
	const secret = "merchant-secret-that-is-long-enough!!"
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	v, err := auth.NewCustomerVerifier([]byte(secret), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	good := jwt.MapClaims{"sub": "customer-42", "name": "Sam Jones", "aud": auth.CustomerAudience, "exp": now.Add(time.Hour).Unix(), "iat": now.Unix()}
	c, err := v.Verify(customerToken(t, secret, jwt.SigningMethodHS256, good))
	if err != nil || c.ID != "customer-42" || c.Name != "Sam Jones" {
		t.Fatalf("Verify good token: %+v, %v", c, err)
	}

	with := func(k string, val any) jwt.MapClaims {
		m := jwt.MapClaims{}
		for kk, vv := range good {
			m[kk] = vv
		}
		if val == nil {
			delete(m, k)
		} else {
			m[k] = val
		}
		return m
	}
	for name, tok := range map[string]string{
		"other secret":     customerToken(t, "another-secret-that-is-long-enough!!", jwt.SigningMethodHS256, good),
		"HS512":            customerToken(t, secret, jwt.SigningMethodHS512, good),
		"expired":          customerToken(t, secret, jwt.SigningMethodHS256, with("exp", now.Add(-time.Minute).Unix())),
		"no exp":           customerToken(t, secret, jwt.SigningMethodHS256, with("exp", nil)),
		"wrong audience":   customerToken(t, secret, jwt.SigningMethodHS256, with("aud", "guidecall-api")),
		"no subject":       customerToken(t, secret, jwt.SigningMethodHS256, with("sub", nil)),
		"valid for a week": customerToken(t, secret, jwt.SigningMethodHS256, with("exp", now.Add(7*24*time.Hour).Unix())),
		"garbage":          "not.a.token",
	} {
		if _, err := v.Verify(tok); !errors.Is(err, auth.ErrCustomerToken) {
			t.Errorf("%s: Verify = %v, want ErrCustomerToken", name, err)
		}
	}
	if _, err := auth.NewCustomerVerifier([]byte("short"), nil); !errors.Is(err, auth.ErrShortSecret) {
		t.Errorf("short secret: %v", err)
	}
}
