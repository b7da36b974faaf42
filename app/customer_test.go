package app_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"guidecall/internal/auth"
	"guidecall/internal/config"
	"guidecall/protocol"
)

const customerSecret = "merchant-customer-secret-long-enough!"

func signCustomer(t *testing.T, secret string, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A shopper the merchant's site signed in joins with its customer token;
// the guide's offer names the customer. Bad tokens, and any token on a node
// without the secret, are refused; the body alone cannot claim a customer.
func TestJoinWithCustomerToken(t *testing.T) {
	t.Parallel()
	node := startAppConfig(t, func(c *config.Serve) { c.CustomerTokenSecret = customerSecret }, nil)
	_, guideTok := accountToken(t, node, "customer-guide@test.local", protocol.RoleGuide)
	g := dialWS(t, node, guideTok)
	g.Send(protocol.TypePresence, "", protocol.SetPresence{Status: "available"})

	claims := jwt.MapClaims{"sub": "customer-42", "name": "Sam Jones", "aud": auth.CustomerAudience, "exp": time.Now().Add(time.Hour).Unix()}
	body := map[string]string{"currency": "EUR", "customer_token": signCustomer(t, customerSecret, claims)}
	r := doJSON(t, "POST", node.URL()+"/api/v1/queue", "", body, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("join with a customer token: %d %s", r.status, r.body)
	}
	var signedIn joined
	if err := json.Unmarshal(r.body, &signedIn); err != nil {
		t.Fatal(err)
	}
	dialWS(t, node, signedIn.Token) // the matcher offers only shoppers with a socket
	var od protocol.Offer
	g.AwaitInto(protocol.TypeOffer, "", &od)
	if od.Shopper.CustomerID != "customer-42" || od.Shopper.Name != "Sam Jones" {
		t.Fatalf("offer shopper %+v, want customer-42 named Sam Jones", od.Shopper)
	}

	for name, tok := range map[string]string{
		"other secret": signCustomer(t, "some-other-secret-that-is-long-enough", claims),
		"expired":      signCustomer(t, customerSecret, jwt.MapClaims{"sub": "c", "aud": auth.CustomerAudience, "exp": time.Now().Add(-time.Hour).Unix()}),
	} {
		r := doJSON(t, "POST", node.URL()+"/api/v1/queue", "", map[string]string{"currency": "EUR", "customer_token": tok}, nil)
		if r.status != http.StatusBadRequest || r.errorCode(t) != "invalid_customer_token" {
			t.Errorf("%s: %d %s, want 400 invalid_customer_token", name, r.status, r.body)
		}
	}
	r = doJSON(t, "POST", node.URL()+"/api/v1/queue", "", map[string]string{"currency": "EUR", "customer_id": "customer-1"}, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("join: %d %s", r.status, r.body)
	}
	var j joined
	if err := json.Unmarshal(r.body, &j); err != nil {
		t.Fatal(err)
	}
	if e, err := node.Queue.Entry(t.Context(), j.EntryID); err != nil || e.CustomerID != "" {
		t.Errorf("a body's customer_id was taken: %+v, %v", e, err)
	}

	plain := startApp(t, nil)
	r = doJSON(t, "POST", plain.URL()+"/api/v1/queue", "", body, nil)
	if r.status != http.StatusBadRequest || r.errorCode(t) != "customer_tokens_disabled" {
		t.Errorf("customer token on a node without the secret: %d %s", r.status, r.body)
	}
}
