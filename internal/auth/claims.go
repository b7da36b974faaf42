package auth

import (
	"context"

	"github.com/golang-jwt/jwt/v5"

	"guidecall/protocol"
)

// Token kinds.
const (
	KindAccess  = "access"
	KindRefresh = "refresh"
)

// Claims is the payload of every guidecall token.
type Claims struct {
	// Subject is the account id, or the entry id for shoppers. ID is a
	// random jti, unique per token.
	jwt.RegisteredClaims
	// Role is what the holder may do. Shoppers are anonymous and hold a
	// token scoped to one queue entry; guides and admins have accounts.
	Role protocol.Role `json:"role"`
	// EntryID scopes a shopper token to exactly one queue entry. Empty for
	// guides and admins.
	EntryID string `json:"entry,omitempty"`
	Kind    string `json:"kind"`
	// Family names the login an account token belongs to: every token a
	// login and its refreshes issue shares it, and revoking it (logout,
	// reuse of a refresh token, disabling the account) ends them all.
	Family string `json:"fam,omitempty"`
}

type claimsKey struct{}

// WithClaims returns a copy of ctx carrying c.
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFrom returns the claims put in ctx by Issuer.Middleware or
// WithClaims.
func ClaimsFrom(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok && c != nil
}
