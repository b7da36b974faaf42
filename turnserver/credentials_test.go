package turnserver

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v5"
)

func TestNewCredentialsFormat(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	user, pass := NewCredentials([]byte("s3cret"), "shopper:42", time.Hour, now)
	if want := "1700003600:shopper:42"; user != want {
		t.Fatalf("username = %q, want %q", user, want)
	}
	if pass != restPassword([]byte("s3cret"), user) || len(pass) != 28 { // base64 of 20 bytes
		t.Fatalf("password = %q", pass)
	}
	_, pass2 := NewCredentials([]byte("other"), "shopper:42", time.Hour, now)
	if pass == pass2 {
		t.Fatal("password does not depend on the secret")
	}
}

// The point of the scheme is interchangeability with other implementations
// sharing the secret; pion's own TURN REST handler stands in for coturn.
func TestCredentialsInteropWithPionRESTHandler(t *testing.T) {
	secret := "shared"
	realm := "guidecall"
	user, pass := NewCredentials([]byte(secret), "guide-7", time.Minute, time.Now())
	_, key, ok := turn.LongTermTURNRESTAuthHandler(secret, nil)(&turn.RequestAttributes{Username: user, Realm: realm, SrcAddr: &net.UDPAddr{}})
	if !ok || string(key) != string(turn.GenerateAuthKey(user, realm, pass)) {
		t.Fatal("pion's REST handler disagrees with NewCredentials")
	}

	pUser, pPass, err := turn.GenerateLongTermTURNRESTCredentials(secret, "guide-7", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if restPassword([]byte(secret), pUser) != pPass {
		t.Fatal("pion-minted credentials do not verify with our password function")
	}
}

func TestParseUsername(t *testing.T) {
	for _, tc := range []struct {
		in     string
		id     string
		ok     bool
		expiry int64
	}{
		{"1700000000:abc", "abc", true, 1700000000},
		{"1700000000:a:b", "a:b", true, 1700000000},
		{"1700000000", "", true, 1700000000},
		{"abc:1700000000", "", false, 0},
		{"", "", false, 0},
		{"-5:x", "", false, 0},
		{strings.Repeat("9", 30) + ":x", "", false, 0},
	} {
		exp, id, ok := parseUsername(tc.in)
		if ok != tc.ok || id != tc.id || (ok && exp.Unix() != tc.expiry) {
			t.Errorf("parseUsername(%q) = %v, %q, %v", tc.in, exp, id, ok)
		}
	}
}
