package callflow

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"guidecall/queue"
)

// customerClaims are what a merchant's signed customer token says. The
// merchant signs it with its identity secret (HS256); see docs/api.md.
type customerClaims struct {
	jwt.RegisteredClaims
	Name string `json:"name"`
	// Tier maps to a priority when Priority is absent.
	Tier     string `json:"tier"`
	Priority *int   `json:"priority"`
	// CartValue is the cart in minor units of the join's currency; the
	// guides' queue overview shows it (it is not ranked on). It goes before
	// what the widget added up, being the merchant's own figure.
	CartValue *int64 `json:"cart_value"`
}

// customer is what a verified token grants.
type customer struct {
	ID       string
	Priority int
	// CartValue is nil when the token has no cart_value claim.
	CartValue *int64
}

var tierPriority = map[string]int{"standard": 0, "silver": 10, "gold": 20, "platinum": 30}

// maxPriority bounds what a token may ask for.
const maxPriority = 100

// verifyCustomer checks a customer token and returns the customer id,
// priority and cart value it grants. Anything not signed with secret by
// HS256, expired, without a subject, with an unknown tier or with a
// priority or cart value out of range is refused.
func verifyCustomer(token string, secret []byte, now func() time.Time) (customer, error) {
	if len(secret) == 0 {
		return customer{}, errors.New("customer_token: this server has no customer token secret configured")
	}
	var c customerClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithTimeFunc(now))
	if err != nil {
		return customer{}, fmt.Errorf("customer_token: %w", err)
	}
	if c.Subject == "" {
		return customer{}, errors.New("customer_token: sub (the customer id) is required")
	}
	out := customer{ID: c.Subject}
	switch {
	case c.Priority != nil:
		if *c.Priority < 0 || *c.Priority > maxPriority {
			return customer{}, fmt.Errorf("customer_token: priority must be 0-%d", maxPriority)
		}
		out.Priority = *c.Priority
	case c.Tier != "":
		p, ok := tierPriority[c.Tier]
		if !ok {
			return customer{}, fmt.Errorf("customer_token: unknown tier %q (standard, silver, gold, platinum)", c.Tier)
		}
		out.Priority = p
	}
	if c.CartValue != nil {
		if *c.CartValue < 0 || *c.CartValue > queue.MaxCartValue {
			return customer{}, fmt.Errorf("customer_token: cart_value must be 0-%d minor units", int64(queue.MaxCartValue))
		}
		v := *c.CartValue
		out.CartValue = &v
	}
	return out, nil
}
