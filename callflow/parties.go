package callflow

import (
	"context"
	"errors"
	"fmt"

	"guidecall/internal/auth"
	"guidecall/queue"
	"guidecall/signaling"
)

// identities turns tokens into signaling identities.
type identities struct {
	issuer   *auth.Issuer
	accounts auth.AccountStore
}

func (a identities) Authenticate(ctx context.Context, token string) (signaling.Identity, error) {
	c, err := a.issuer.Verify(token, "access")
	if err != nil {
		return signaling.Identity{}, err
	}
	return a.fromClaims(ctx, c)
}

func (a identities) fromClaims(ctx context.Context, c *auth.Claims) (signaling.Identity, error) {
	switch c.Role {
	case auth.RoleShopper:
		if c.EntryID == "" {
			return signaling.Identity{}, errors.New("shopper token without an entry")
		}
		return signaling.Identity{Address: signaling.Address{Role: signaling.RoleShopper, ID: c.EntryID}}, nil
	case auth.RoleGuide, auth.RoleAdmin:
		acct, err := a.accounts.AccountByID(ctx, c.Subject)
		if err != nil {
			return signaling.Identity{}, fmt.Errorf("account %s: %w", c.Subject, err)
		}
		return signaling.Identity{Address: signaling.Address{Role: signaling.RoleGuide, ID: acct.ID}, Name: acct.Name}, nil
	}
	return signaling.Identity{}, fmt.Errorf("role %q cannot open a socket", c.Role)
}

func partyOf(a signaling.Address) queue.Party {
	if a.Role == signaling.RoleShopper {
		return queue.PartyShopper
	}
	return queue.PartyGuide
}

func otherParty(c queue.Call, p queue.Party) signaling.Address {
	if p == queue.PartyShopper {
		return signaling.Address{Role: signaling.RoleGuide, ID: c.GuideID}
	}
	return signaling.Address{Role: signaling.RoleShopper, ID: c.EntryID}
}

// protocolError maps queue errors to what a client is told.
func protocolError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, queue.ErrNotParty), errors.Is(err, queue.ErrNotFound):
		return signaling.Errorf(signaling.CodeNotInCall, "that call is not yours")
	case errors.Is(err, queue.ErrBadState):
		return signaling.Errorf(signaling.CodeBadState, "%v", err)
	case errors.Is(err, queue.ErrInvalid):
		return signaling.Errorf(signaling.CodeBadMessage, "%v", err)
	case errors.Is(err, queue.ErrUnavailable):
		return signaling.Errorf(signaling.CodeUnavailable, "the service is briefly unavailable; retry")
	}
	return err
}
