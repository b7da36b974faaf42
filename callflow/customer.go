package callflow

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// customerClaims are what a merchant's signed customer token says. The
// merchant signs it with its identity secret (HS256); see docs/api.md.
type customerClaims struct {
	jwt.RegisteredClaims
	Name string `json:"name"`
	// Tier maps to a priority when Priority is absent.
	Tier     string `json:"tier"`
	Priority *int   `json:"priority"`
	// CartValue is in minor units; it is recorded in logs, not ranked on.
	CartValue int64 `json:"cart_value"`
}

var tierPriority = map[string]int{"standard": 0, "silver": 10, "gold": 20, "platinum": 30}

// maxPriority bounds what a token may ask for.
const maxPriority = 100

// verifyCustomer checks a customer token and returns the customer id and
// priority it grants. Anything not signed with secret by HS256, expired,
// without a subject or with an unknown tier is refused.
func verifyCustomer(token string, secret []byte, now func() time.Time) (customerID string, priority int, err error) {
	if len(secret) == 0 {
		return "", 0, errors.New("customer_token: this server has no customer token secret configured")
	}
	var c customerClaims
	_, err = jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithTimeFunc(now))
	if err != nil {
		return "", 0, fmt.Errorf("customer_token: %w", err)
	}
	if c.Subject == "" {
		return "", 0, errors.New("customer_token: sub (the customer id) is required")
	}
	switch {
	case c.Priority != nil:
		if *c.Priority < 0 || *c.Priority > maxPriority {
			return "", 0, fmt.Errorf("customer_token: priority must be 0-%d", maxPriority)
		}
		priority = *c.Priority
	case c.Tier != "":
		p, ok := tierPriority[c.Tier]
		if !ok {
			return "", 0, fmt.Errorf("customer_token: unknown tier %q (standard, silver, gold, platinum)", c.Tier)
		}
		priority = p
	}
	return c.Subject, priority, nil
}
